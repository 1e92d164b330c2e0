using DslResNet;

namespace PackageSmoke.Broken;

/// <summary>An identity shortcut from an 8x16x16 tensor to a 16x8x8 one: no identity can add those.</summary>
[Network(3, 16, 16)]
public partial class BrokenNet
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [Conv(16, 3, Padding = 1, Stride = 2)] Layer conv2;
    [Residual(From = nameof(conv1), Shortcut = ShortcutKind.Identity)] Layer add; // run.sh expects DRN0007 on this line
}
