using DslResNet.Generators.Infrastructure;

namespace DslResNet.Generators.Model;

/// <summary>A type that encloses a nested network, written back around the generated part.</summary>
/// <param name="Keyword">The declaration keyword (<c>class</c>, <c>struct</c>, <c>record</c>, ...).</param>
/// <param name="Name">Its name.</param>
/// <param name="IsPartial">Whether it is partial (it must be, to be extended).</param>
internal sealed record ContainingTypeSpec(string Keyword, string Name, bool IsPartial);

/// <summary>A <c>[Network]</c> class as declared: the output of the <c>Parse</c> step.</summary>
/// <param name="FullName">Fully qualified metadata name, used to pick the diagnostics this network reports.</param>
/// <param name="Name">The class name.</param>
/// <param name="Namespace">Its namespace, or empty for the global namespace.</param>
/// <param name="ContainingTypes">Enclosing types, outermost first.</param>
/// <param name="IsPartial">Whether every declaration is <c>partial</c>.</param>
/// <param name="Span">The class identifier.</param>
/// <param name="AttributeSpan">The <c>[Network]</c> attribute.</param>
/// <param name="AttributeArguments">Where the attribute's arguments are.</param>
/// <param name="Channels">Input channels.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="Plain">Skip connections switched off.</param>
/// <param name="Shortcut">Network-wide shortcut kind (never Default).</param>
/// <param name="Layers">Declared layers, in order (a <c>LayersOf</c> network's come from its source).</param>
/// <param name="Facts">Facts about the declaration.</param>
/// <param name="LayersOf">The <c>LayersOf</c> source's name, or null.</param>
/// <param name="LayersOfProblem">What is wrong with <c>LayersOf</c> (not a network, a cycle), or null.</param>
/// <param name="InternalError">When parsing failed unexpectedly, the exception text; else null.</param>
internal sealed record NetworkSpec(
    string FullName, string Name, string Namespace, EquatableArray<ContainingTypeSpec> ContainingTypes, bool IsPartial,
    SourceSpan Span, SourceSpan AttributeSpan, EquatableArray<ArgumentSpan> AttributeArguments,
    int Channels, int Height, int Width, bool Plain, ShortcutKind Shortcut,
    EquatableArray<LayerSpec> Layers, DeclarationFacts Facts, string? LayersOf, string? LayersOfProblem, string? InternalError)
{
    /// <summary>
    /// When <see cref="LayersOf"/>'s layers were read from a referenced assembly, its name (the layers then have no spans:
    /// their diagnostics are reported at the <c>LayersOf</c> argument); else null.
    /// </summary>
    public string? LayersOfAssembly { get; init; }

    /// <summary><c>Classes =</c>: the new head's output count; 0 when not set (already applied to <see cref="Layers"/>).</summary>
    public int Classes { get; init; }

    /// <summary>Why <c>Until</c> or <c>Classes</c> cannot apply, with the argument it is reported at; null when they apply or are not set.</summary>
    public (string Argument, string Problem)? HeadProblem { get; init; }

    /// <summary>The span of a <c>[Network]</c> argument, else of the attribute.</summary>
    public SourceSpan SpanOf(string name)
    {
        foreach (ArgumentSpan argument in AttributeArguments)
        {
            if (argument.Name == name)
            {
                return argument.Span;
            }
        }

        return AttributeSpan;
    }

    /// <summary>The same network with every span cleared: what later pipeline steps see.</summary>
    public NetworkSpec WithoutSpans() => this with
    {
        Span = SourceSpan.None,
        AttributeSpan = SourceSpan.None,
        AttributeArguments = EquatableArray<ArgumentSpan>.Empty,
        Layers = SpanStripper.Strip(Layers),
        Facts = Facts.WithoutSpans(),
    };
}
