using DslResNet;

namespace FashionMnistSample;

// The CIFAR ResNets of He et al. (2015, section 4.2) on 1 x 28 x 28 Fashion-MNIST images: 6n + 2 weighted layers, three
// stages of 16, 32 and 64 channels on 28x28, 14x14 and 7x7 maps, global average pooling and a 10-way layer. Shortcuts
// that change shape are 1x1 convolutions with batch norm (option B, "Projection"); the others are identities.
// Each network has a plain twin with every skip connection off (the paper's Figure 6 comparison).

/// <summary>
/// The basic residual block (torchvision's <c>BasicBlock</c>): two 3x3 convolutions, the first carrying the stage's
/// stride, and the shortcut added before the last ReLU. A copy of the one in <c>samples/DslResNet.Samples</c>.
/// </summary>
[Block]
public class BasicBlock
{
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual] Layer add;
    [ReLU] Layer relu2;
}

/// <summary>ResNet-20 (n = 3) for 1 x 28 x 28 images, projection (option B) shortcuts.</summary>
[Network(1, 28, 28, Shortcut = ShortcutKind.Projection)]
public partial class FashionResNet20
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<BasicBlock>(16, Repeat = 3)] Layer layer1;
    [Stage<BasicBlock>(32, Repeat = 3, Stride = 2)] Layer layer2;
    [Stage<BasicBlock>(64, Repeat = 3, Stride = 2)] Layer layer3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>The plain twin of <see cref="FashionResNet20"/>: the same layers with every skip connection switched off.</summary>
[Network(LayersOf = typeof(FashionResNet20), Plain = true)]
public partial class FashionPlain20;

/// <summary>ResNet-32 (n = 5) for 1 x 28 x 28 images, projection (option B) shortcuts.</summary>
[Network(1, 28, 28, Shortcut = ShortcutKind.Projection)]
public partial class FashionResNet32
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<BasicBlock>(16, Repeat = 5)] Layer layer1;
    [Stage<BasicBlock>(32, Repeat = 5, Stride = 2)] Layer layer2;
    [Stage<BasicBlock>(64, Repeat = 5, Stride = 2)] Layer layer3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

#pragma warning disable DRN0013 // a deliberately deep plain twin: it exists to show the degradation problem
/// <summary>The plain twin of <see cref="FashionResNet32"/>: the same layers with every skip connection switched off.</summary>
[Network(LayersOf = typeof(FashionResNet32), Plain = true)]
public partial class FashionPlain32;
#pragma warning restore DRN0013

/// <summary>ResNet-44 (n = 7) for 1 x 28 x 28 images, projection (option B) shortcuts.</summary>
[Network(1, 28, 28, Shortcut = ShortcutKind.Projection)]
public partial class FashionResNet44
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
/// <summary>The plain twin of <see cref="FashionResNet44"/>: the same layers with every skip connection switched off.</summary>
[Network(LayersOf = typeof(FashionResNet44), Plain = true)]
public partial class FashionPlain44;
#pragma warning restore DRN0013

/// <summary>ResNet-56 (n = 9) for 1 x 28 x 28 images, projection (option B) shortcuts.</summary>
[Network(1, 28, 28, Shortcut = ShortcutKind.Projection)]
public partial class FashionResNet56
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<BasicBlock>(16, Repeat = 9)] Layer layer1;
    [Stage<BasicBlock>(32, Repeat = 9, Stride = 2)] Layer layer2;
    [Stage<BasicBlock>(64, Repeat = 9, Stride = 2)] Layer layer3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

#pragma warning disable DRN0013 // a deliberately deep plain twin: it exists to show the degradation problem
/// <summary>The plain twin of <see cref="FashionResNet56"/>: the same layers with every skip connection switched off.</summary>
[Network(LayersOf = typeof(FashionResNet56), Plain = true)]
public partial class FashionPlain56;
#pragma warning restore DRN0013

/// <summary>ResNet-110 (n = 18) for 1 x 28 x 28 images, projection (option B) shortcuts.</summary>
[Network(1, 28, 28, Shortcut = ShortcutKind.Projection)]
public partial class FashionResNet110
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<BasicBlock>(16, Repeat = 18)] Layer layer1;
    [Stage<BasicBlock>(32, Repeat = 18, Stride = 2)] Layer layer2;
    [Stage<BasicBlock>(64, Repeat = 18, Stride = 2)] Layer layer3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

#pragma warning disable DRN0013 // a deliberately deep plain twin: it exists to show the degradation problem
/// <summary>The plain twin of <see cref="FashionResNet110"/>: the same layers with every skip connection switched off.</summary>
[Network(LayersOf = typeof(FashionResNet110), Plain = true)]
public partial class FashionPlain110;
#pragma warning restore DRN0013
