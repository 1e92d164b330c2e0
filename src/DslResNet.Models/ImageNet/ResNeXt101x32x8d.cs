namespace DslResNet.Models;

/// <summary>
/// torchvision's <c>resnext101_32x8d</c> (Xie et al.'s aggregated residual transformations): ResNet-101's stem and stages with
/// <see cref="ResNeXtBottleneck32x8d"/> blocks (grouped 3x3 convolutions) repeated 3, 4, 23 and 3 times, projection shortcuts,
/// global average pooling and a 1000-way layer. 88,791,336 parameters, as torchvision counts them.
/// </summary>
[Network(3, 224, 224)]
public partial class ResNeXt101x32x8d
{
    [Conv(64, 7, Stride = 2, Padding = 3)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] protected Layer maxpool;
    [Stage<ResNeXtBottleneck32x8d>(64, Repeat = 3)] protected Layer layer1;
    [Stage<ResNeXtBottleneck32x8d>(128, Repeat = 4, Stride = 2)] protected Layer layer2;
    [Stage<ResNeXtBottleneck32x8d>(256, Repeat = 23, Stride = 2)] protected Layer layer3;
    [Stage<ResNeXtBottleneck32x8d>(512, Repeat = 3, Stride = 2)] protected Layer layer4;
    [GlobalAvgPool] protected Layer avgpool;
    [Dense(1000)] protected Layer fc;
}
