using DslResNet;
using DslResNet.Models;

namespace Experiments;

// Claim 1 and 5: the main job's networks (samples/FashionMnist/Networks.cs), ResNet-20/32/44/56 on 1x28x28 with
// projection shortcuts, and their plain twins (every skip connection off, the paper's Figure 6 comparison).

/// <summary>ResNet-20's layers on 1x28x28, projection shortcuts.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet20), Shortcut = ShortcutKind.Projection)]
public partial class ExpResNet20;

/// <summary>ResNet-32's layers on 1x28x28, projection shortcuts.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet32), Shortcut = ShortcutKind.Projection)]
public partial class ExpResNet32;

/// <summary>ResNet-44's layers on 1x28x28, projection shortcuts.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet44), Shortcut = ShortcutKind.Projection)]
public partial class ExpResNet44;

/// <summary>ResNet-56's layers on 1x28x28, projection shortcuts.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet56), Shortcut = ShortcutKind.Projection)]
public partial class ExpResNet56;

/// <summary>The plain twin of <see cref="ExpResNet20"/>.</summary>
[Network(LayersOf = typeof(ExpResNet20), Plain = true)]
public partial class ExpPlain20;

#pragma warning disable DRN0013 // deliberately deep plain twins: claim 1 (degradation) and claim 5 (gradient paths) need them
/// <summary>The plain twin of <see cref="ExpResNet32"/>.</summary>
[Network(LayersOf = typeof(ExpResNet32), Plain = true)]
public partial class ExpPlain32;

/// <summary>The plain twin of <see cref="ExpResNet44"/>.</summary>
[Network(LayersOf = typeof(ExpResNet44), Plain = true)]
public partial class ExpPlain44;

/// <summary>The plain twin of <see cref="ExpResNet56"/>.</summary>
[Network(LayersOf = typeof(ExpResNet56), Plain = true)]
public partial class ExpPlain56;
#pragma warning restore DRN0013
