namespace DslResNet.Models;

/// <summary>
/// ResNet-18 as torchvision builds it: a 7x7 stem and max pool, basic blocks (64, 128, 256 and 512 channels)
/// repeated 2, 2, 2 and 2 times, projection shortcuts where the shape changes,
/// global average pooling and a 1000-way layer.
/// </summary>
[Network(3, 224, 224)]
public partial class ResNet18
{
    [Conv(64, 7, Stride = 2, Padding = 3)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] protected Layer maxpool;
    [Stage<BasicBlock>(64, Repeat = 2)] protected Layer layer1;
    [Stage<BasicBlock>(128, Repeat = 2, Stride = 2)] protected Layer layer2;
    [Stage<BasicBlock>(256, Repeat = 2, Stride = 2)] protected Layer layer3;
    [Stage<BasicBlock>(512, Repeat = 2, Stride = 2)] protected Layer layer4;
    [GlobalAvgPool] protected Layer avgpool;
    [Dense(1000)] protected Layer fc;
}
