namespace DslResNet.Models;

/// <summary>
/// torchvision's <c>resnext50_32x4d</c> (Xie et al.'s aggregated residual transformations): ResNet-50's stem and stages with
/// <see cref="ResNeXtBottleneck32x4d"/> blocks (grouped 3x3 convolutions) repeated 3, 4, 6 and 3 times, projection shortcuts,
/// global average pooling and a 1000-way layer. 25,028,904 parameters, as torchvision counts them.
/// </summary>
[Network(3, 224, 224)]
public partial class ResNeXt50x32x4d
{
    [Conv(64, 7, Stride = 2, Padding = 3)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] protected Layer maxpool;
    [Stage<ResNeXtBottleneck32x4d>(64, Repeat = 3)] protected Layer layer1;
    [Stage<ResNeXtBottleneck32x4d>(128, Repeat = 4, Stride = 2)] protected Layer layer2;
    [Stage<ResNeXtBottleneck32x4d>(256, Repeat = 6, Stride = 2)] protected Layer layer3;
    [Stage<ResNeXtBottleneck32x4d>(512, Repeat = 3, Stride = 2)] protected Layer layer4;
    [GlobalAvgPool] protected Layer avgpool;
    [Dense(1000)] protected Layer fc;
}
