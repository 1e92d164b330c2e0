using DslResNet;
using DslResNet.Models;

namespace FashionMnistSample;

// The CIFAR ResNets of He et al. (2015, section 4.2) on 1 x 28 x 28 Fashion-MNIST images: 6n + 2 weighted layers, three
// stages of 16, 32 and 64 channels on 28x28, 14x14 and 7x7 maps, global average pooling and a 10-way layer. The layers
// are DslResNet.Models' CIFAR networks (and its BasicBlock), taken by LayersOf from that assembly; only the input and
// the shortcuts differ: shortcuts that change shape are 1x1 convolutions with batch norm (option B, "Projection"); the
// others are identities. Each network has a plain twin with every skip connection off (the paper's Figure 6 comparison).

/// <summary>ResNet-20 (n = 3) for 1 x 28 x 28 images, projection (option B) shortcuts: the layers of <see cref="ResNet20"/>.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet20), Shortcut = ShortcutKind.Projection)]
public partial class FashionResNet20;

/// <summary>The plain twin of <see cref="FashionResNet20"/>: the same layers with every skip connection switched off.</summary>
[Network(LayersOf = typeof(FashionResNet20), Plain = true)]
public partial class FashionPlain20;

/// <summary>ResNet-32 (n = 5) for 1 x 28 x 28 images, projection (option B) shortcuts: the layers of <see cref="ResNet32"/>.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet32), Shortcut = ShortcutKind.Projection)]
public partial class FashionResNet32;

#pragma warning disable DRN0013 // a deliberately deep plain twin: it exists to show the degradation problem
/// <summary>The plain twin of <see cref="FashionResNet32"/>: the same layers with every skip connection switched off.</summary>
[Network(LayersOf = typeof(FashionResNet32), Plain = true)]
public partial class FashionPlain32;
#pragma warning restore DRN0013

/// <summary>ResNet-44 (n = 7) for 1 x 28 x 28 images, projection (option B) shortcuts: the layers of <see cref="ResNet44"/>.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet44), Shortcut = ShortcutKind.Projection)]
public partial class FashionResNet44;

#pragma warning disable DRN0013 // a deliberately deep plain twin: it exists to show the degradation problem
/// <summary>The plain twin of <see cref="FashionResNet44"/>: the same layers with every skip connection switched off.</summary>
[Network(LayersOf = typeof(FashionResNet44), Plain = true)]
public partial class FashionPlain44;
#pragma warning restore DRN0013

/// <summary>ResNet-56 (n = 9) for 1 x 28 x 28 images, projection (option B) shortcuts: the layers of <see cref="ResNet56"/>.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet56), Shortcut = ShortcutKind.Projection)]
public partial class FashionResNet56;

#pragma warning disable DRN0013 // a deliberately deep plain twin: it exists to show the degradation problem
/// <summary>The plain twin of <see cref="FashionResNet56"/>: the same layers with every skip connection switched off.</summary>
[Network(LayersOf = typeof(FashionResNet56), Plain = true)]
public partial class FashionPlain56;
#pragma warning restore DRN0013

/// <summary>ResNet-110 (n = 18) for 1 x 28 x 28 images, projection (option B) shortcuts: the layers of <see cref="ResNet110"/>.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet110), Shortcut = ShortcutKind.Projection)]
public partial class FashionResNet110;

#pragma warning disable DRN0013 // a deliberately deep plain twin: it exists to show the degradation problem
/// <summary>The plain twin of <see cref="FashionResNet110"/>: the same layers with every skip connection switched off.</summary>
[Network(LayersOf = typeof(FashionResNet110), Plain = true)]
public partial class FashionPlain110;
#pragma warning restore DRN0013
