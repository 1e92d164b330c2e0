namespace DslResNet.Models;

/// <summary>
/// SE-ResNet-50 as timm's <c>seresnet50</c> builds it: ResNet-50 (7x7 stem, max pool, bottlenecks of 64, 128, 256 and 512
/// channels expanded four times, repeated 3, 4, 6 and 3 times, projection shortcuts) whose every block squeezes and
/// excites its output before the residual add (<see cref="SEBottleneck"/>); parameter names as timm's state dict.
/// </summary>
[Network(3, 224, 224)]
public partial class SEResNet50
{
    [Conv(64, 7, Stride = 2, Padding = 3)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] protected Layer maxpool;
    [Stage<SEBottleneck>(64, Repeat = 3)] protected Layer layer1;
    [Stage<SEBottleneck>(128, Repeat = 4, Stride = 2)] protected Layer layer2;
    [Stage<SEBottleneck>(256, Repeat = 6, Stride = 2)] protected Layer layer3;
    [Stage<SEBottleneck>(512, Repeat = 3, Stride = 2)] protected Layer layer4;
    [GlobalAvgPool] protected Layer avgpool;
    [Dense(1000)] protected Layer fc;
}
