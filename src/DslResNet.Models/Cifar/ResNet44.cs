namespace DslResNet.Models;

/// <summary>
/// ResNet-44 for CIFAR-10 (He et al. 2015, section 4.2): 6n+2 layers with n = 7, three stages of 16, 32 and 64
/// channels on 32x32, 16x16 and 8x8 maps, zero-padding (option A) shortcuts, global average pooling and a 10-way layer.
/// </summary>
/// <remarks>
/// Another input size or shortcut option reuses these layers:
/// <c>[Network(1, 28, 28, LayersOf = typeof(ResNet44), Shortcut = ShortcutKind.Projection)]</c>.
/// </remarks>
[Network(3, 32, 32, Shortcut = ShortcutKind.ZeroPad)]
public partial class ResNet44
{
    [Conv(16, 3, Padding = 1)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu;
    [Stage<BasicBlock>(16, Repeat = 7)] protected Layer layer1;
    [Stage<BasicBlock>(32, Repeat = 7, Stride = 2)] protected Layer layer2;
    [Stage<BasicBlock>(64, Repeat = 7, Stride = 2)] protected Layer layer3;
    [GlobalAvgPool] protected Layer avgpool;
    [Dense(10)] protected Layer fc;
}
