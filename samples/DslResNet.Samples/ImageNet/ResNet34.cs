namespace DslResNet.Samples;

/// <summary>ResNet-34 (He et al. 2015, Table 1): basic blocks repeated 3, 4, 6 and 3 times.</summary>
[Network(3, 224, 224)]
public partial class ResNet34
{
    [Conv(64, 7, Stride = 2, Padding = 3)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] Layer maxpool;
    [Stage<BasicBlock>(64, Repeat = 3)] Layer layer1;
    [Stage<BasicBlock>(128, Repeat = 4, Stride = 2)] Layer layer2;
    [Stage<BasicBlock>(256, Repeat = 6, Stride = 2)] Layer layer3;
    [Stage<BasicBlock>(512, Repeat = 3, Stride = 2)] Layer layer4;
    [GlobalAvgPool] Layer avgpool;
    [Dense(1000)] Layer fc;
}

#pragma warning disable DRN0013 // a deliberately deep plain twin: it exists to show the degradation problem
/// <summary>Plain-34, the paper's counter-example: the same 34 layers without skip connections train worse than Plain-18.</summary>
[Network(LayersOf = typeof(ResNet34), Plain = true)]
public partial class Plain34;
#pragma warning restore DRN0013
