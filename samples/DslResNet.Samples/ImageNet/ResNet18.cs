namespace DslResNet.Samples;

/// <summary>ResNet-18 (He et al. 2015, Table 1) as torchvision builds it: 7x7 stem, max pool, four stages of two basic blocks.</summary>
[Network(3, 224, 224)]
public partial class ResNet18
{
    [Conv(64, 7, Stride = 2, Padding = 3)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] Layer maxpool;
    [Stage<BasicBlock>(64, Repeat = 2)] Layer layer1;
    [Stage<BasicBlock>(128, Repeat = 2, Stride = 2)] Layer layer2;
    [Stage<BasicBlock>(256, Repeat = 2, Stride = 2)] Layer layer3;
    [Stage<BasicBlock>(512, Repeat = 2, Stride = 2)] Layer layer4;
    [GlobalAvgPool] Layer avgpool;
    [Dense(1000)] Layer fc;
}

/// <summary>Plain-18, the twin of <see cref="ResNet18"/> without skip connections.</summary>
[Network(LayersOf = typeof(ResNet18), Plain = true)]
public partial class Plain18;
