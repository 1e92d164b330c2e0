namespace DslResNet.Generators.Diagnostics;

/// <summary>
/// Keys of the properties a diagnostic carries for its code fix: what the analyzer, which knows the shapes, found would
/// remove the diagnostic. A code fix is offered only where its property is present. Shared, as a linked source file,
/// with DslResNet.CodeFixes, which must not reference the generator assembly.
/// </summary>
internal static class FixProperties
{
    /// <summary>
    /// DRN0007: the <c>ShortcutKind</c> names (comma-separated, in the order to offer them) that would bridge the
    /// residual's shapes if set on its <c>[Residual]</c>.
    /// </summary>
    public const string Shortcuts = "DslResNet.Shortcuts";

    /// <summary>DRN0005 and DRN0006: the <c>Padding</c> (kernel / 2, as an invariant integer) with which the window fits and reads every row.</summary>
    public const string Padding = "DslResNet.Padding";
}
