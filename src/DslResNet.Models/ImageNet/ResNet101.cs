namespace DslResNet.Models;

/// <summary>
/// ResNet-101 as torchvision builds it: a 7x7 stem and max pool, bottleneck blocks (64, 128, 256 and 512 channels, expanded four times)
/// repeated 3, 4, 23 and 3 times, projection shortcuts where the shape changes,
/// global average pooling and a 1000-way layer.
/// </summary>
[Network(3, 224, 224)]
public partial class ResNet101
{
    [Conv(64, 7, Stride = 2, Padding = 3)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] protected Layer maxpool;
    [Stage<Bottleneck>(64, Repeat = 3)] protected Layer layer1;
    [Stage<Bottleneck>(128, Repeat = 4, Stride = 2)] protected Layer layer2;
    [Stage<Bottleneck>(256, Repeat = 23, Stride = 2)] protected Layer layer3;
    [Stage<Bottleneck>(512, Repeat = 3, Stride = 2)] protected Layer layer4;
    [GlobalAvgPool] protected Layer avgpool;
    [Dense(1000)] protected Layer fc;
}
