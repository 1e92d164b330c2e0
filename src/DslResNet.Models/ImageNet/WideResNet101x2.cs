namespace DslResNet.Models;

/// <summary>
/// torchvision's <c>wide_resnet101_2</c> (Zagoruyko and Komodakis's wide bottlenecks on ResNet-101): ResNet-101's stem and
/// stages with <see cref="WideBottleneck"/> blocks (twice the inner width) repeated 3, 4, 23 and 3 times, projection
/// shortcuts, global average pooling and a 1000-way layer. 126,886,696 parameters, as torchvision counts them.
/// </summary>
[Network(3, 224, 224)]
public partial class WideResNet101x2
{
    [Conv(64, 7, Stride = 2, Padding = 3)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] protected Layer maxpool;
    [Stage<WideBottleneck>(64, Repeat = 3)] protected Layer layer1;
    [Stage<WideBottleneck>(128, Repeat = 4, Stride = 2)] protected Layer layer2;
    [Stage<WideBottleneck>(256, Repeat = 23, Stride = 2)] protected Layer layer3;
    [Stage<WideBottleneck>(512, Repeat = 3, Stride = 2)] protected Layer layer4;
    [GlobalAvgPool] protected Layer avgpool;
    [Dense(1000)] protected Layer fc;
}
