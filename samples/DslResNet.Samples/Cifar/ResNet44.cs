namespace DslResNet.Samples;

/// <summary>
/// ResNet-44 for CIFAR-10 (He et al. 2015, section 4.2): 6n+2 layers with n = 7, three stages of 16, 32 and 64
/// channels on 32x32, 16x16 and 8x8 maps, zero-padding (option A) shortcuts, global average pooling and a 10-way layer.
/// </summary>
[Network(3, 32, 32, Shortcut = ShortcutKind.ZeroPad)]
public partial class ResNet44
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<BasicBlock>(16, Repeat = 7)] Layer layer1;
    [Stage<BasicBlock>(32, Repeat = 7, Stride = 2)] Layer layer2;
    [Stage<BasicBlock>(64, Repeat = 7, Stride = 2)] Layer layer3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

#pragma warning disable DRN0013 // a deliberately deep plain twin: it exists to show the degradation problem
/// <summary>The plain twin of <see cref="ResNet44"/>: the same layers with every skip connection switched off.</summary>
[Network(LayersOf = typeof(ResNet44), Plain = true)]
public partial class Plain44;
#pragma warning restore DRN0013
