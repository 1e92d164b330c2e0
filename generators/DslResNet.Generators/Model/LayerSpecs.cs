using DslResNet.Generators.Infrastructure;

namespace DslResNet.Generators.Model;

/// <summary>Where one attribute argument was written, by the parameter or property name it binds to.</summary>
/// <param name="Name">Constructor parameter or property name (<c>kernel</c>, <c>Stride</c>, ...).</param>
/// <param name="Span">The argument's text.</param>
internal sealed record ArgumentSpan(string Name, SourceSpan Span);

/// <summary>A field with a layer attribute that cannot be a layer.</summary>
/// <param name="Name">The field's name.</param>
/// <param name="Problem">Why, as a clause of the message (<c>its type is 'int'</c>, <c>it is static</c>).</param>
/// <param name="Span">The field's name in its declaration.</param>
internal sealed record FieldProblemSpec(string Name, string Problem, SourceSpan Span);

/// <summary>One declared layer: a field with a layer attribute, as written (nothing inferred yet).</summary>
/// <param name="Name">The field's name, which is the layer's name.</param>
/// <param name="Span">The layer attribute.</param>
/// <param name="Arguments">Where each written argument is, so a diagnostic can point at the wrong number.</param>
internal abstract record LayerSpec(string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments)
{
    /// <summary>The span of the argument bound to <paramref name="name"/>, else of the whole attribute.</summary>
    public SourceSpan SpanOf(string name)
    {
        foreach (ArgumentSpan argument in Arguments)
        {
            if (argument.Name == name)
            {
                return argument.Span;
            }
        }

        return Span;
    }

    /// <summary>Whether the argument <paramref name="name"/> was written.</summary>
    public bool Has(string name)
    {
        foreach (ArgumentSpan argument in Arguments)
        {
            if (argument.Name == name)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The same layer with every span cleared (see <see cref="SpanStripper"/>).</summary>
    public abstract LayerSpec WithoutSpans();
}

/// <summary><c>[Conv]</c>.</summary>
/// <param name="OutChannels">Output channels; 0 when taken from the block (times <paramref name="Expansion"/>).</param>
/// <param name="Groups">Groups (PyTorch's <c>groups</c>); 1 for a dense convolution.</param>
internal sealed record ConvSpec(
    string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments,
    int OutChannels, int Kernel, int Stride, int Padding, bool Bias, bool Strided, int Expansion, int Groups)
    : LayerSpec(Name, Span, Arguments)
{
    /// <inheritdoc />
    public override LayerSpec WithoutSpans() => this with { Span = SourceSpan.None, Arguments = EquatableArray<ArgumentSpan>.Empty };
}

/// <summary><c>[BatchNorm]</c>.</summary>
internal sealed record BatchNormSpec(string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments, double Eps, double Momentum)
    : LayerSpec(Name, Span, Arguments)
{
    /// <inheritdoc />
    public override LayerSpec WithoutSpans() => this with { Span = SourceSpan.None, Arguments = EquatableArray<ArgumentSpan>.Empty };
}

/// <summary><c>[ReLU]</c>, <c>[Tanh]</c>, <c>[Sigmoid]</c>, <c>[GELU]</c>, <c>[SiLU]</c> (<see cref="Model.Activation"/> is shared with the runtime).</summary>
internal sealed record ActivationSpec(string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments, Activation Activation)
    : LayerSpec(Name, Span, Arguments)
{
    /// <inheritdoc />
    public override LayerSpec WithoutSpans() => this with { Span = SourceSpan.None, Arguments = EquatableArray<ArgumentSpan>.Empty };
}

/// <summary><c>[Residual]</c>.</summary>
/// <param name="From">The layer the shortcut starts from; null for the block's input.</param>
/// <param name="ProjectionFrom">The layer a bridging shortcut (projection or zero-pad) reads when the shapes differ; null for <paramref name="From"/>.</param>
internal sealed record ResidualSpec(
    string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments, string? From, ShortcutKind Shortcut, string ProjectionName, string? ProjectionFrom = null)
    : LayerSpec(Name, Span, Arguments)
{
    /// <inheritdoc />
    public override LayerSpec WithoutSpans() => this with { Span = SourceSpan.None, Arguments = EquatableArray<ArgumentSpan>.Empty };
}

/// <summary><c>[MaxPool]</c> and <c>[AvgPool]</c>.</summary>
/// <param name="Stride">The written stride, or the kernel when none was written.</param>
internal sealed record PoolSpec(
    string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments, bool IsMax, int Kernel, int Stride, int Padding, bool Strided)
    : LayerSpec(Name, Span, Arguments)
{
    /// <inheritdoc />
    public override LayerSpec WithoutSpans() => this with { Span = SourceSpan.None, Arguments = EquatableArray<ArgumentSpan>.Empty };
}

/// <summary><c>[GlobalAvgPool]</c>.</summary>
internal sealed record GlobalAvgPoolSpec(string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments)
    : LayerSpec(Name, Span, Arguments)
{
    /// <inheritdoc />
    public override LayerSpec WithoutSpans() => this with { Span = SourceSpan.None, Arguments = EquatableArray<ArgumentSpan>.Empty };
}

/// <summary><c>[SqueezeExcite]</c>.</summary>
/// <param name="Reduction">The reduction ratio (hidden channels C / Reduction, rounded as timm).</param>
/// <param name="Channels">The hidden channels, exactly; 0 to derive them from <paramref name="Reduction"/>.</param>
internal sealed record SqueezeExciteSpec(string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments, int Reduction, int Channels)
    : LayerSpec(Name, Span, Arguments)
{
    /// <inheritdoc />
    public override LayerSpec WithoutSpans() => this with { Span = SourceSpan.None, Arguments = EquatableArray<ArgumentSpan>.Empty };
}

/// <summary><c>[Flatten]</c>.</summary>
internal sealed record FlattenSpec(string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments)
    : LayerSpec(Name, Span, Arguments)
{
    /// <inheritdoc />
    public override LayerSpec WithoutSpans() => this with { Span = SourceSpan.None, Arguments = EquatableArray<ArgumentSpan>.Empty };
}

/// <summary><c>[Dense]</c>.</summary>
internal sealed record DenseSpec(string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments, int OutFeatures, bool Bias)
    : LayerSpec(Name, Span, Arguments)
{
    /// <inheritdoc />
    public override LayerSpec WithoutSpans() => this with { Span = SourceSpan.None, Arguments = EquatableArray<ArgumentSpan>.Empty };
}

/// <summary><c>[Dropout]</c>.</summary>
internal sealed record DropoutSpec(string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments, double Rate)
    : LayerSpec(Name, Span, Arguments)
{
    /// <inheritdoc />
    public override LayerSpec WithoutSpans() => this with { Span = SourceSpan.None, Arguments = EquatableArray<ArgumentSpan>.Empty };
}

/// <summary><c>[Stage&lt;TBlock&gt;]</c>: repeated uses of a block, whose definition is embedded by value.</summary>
/// <param name="Channels">The block's channels; 0 when taken from the enclosing block (times <paramref name="Expansion"/>).</param>
/// <param name="Block">The block's definition, or what is wrong with the type argument.</param>
internal sealed record StageSpec(
    string Name, SourceSpan Span, EquatableArray<ArgumentSpan> Arguments,
    int Channels, int Repeat, int Stride, bool Strided, int Expansion, BlockRef Block)
    : LayerSpec(Name, Span, Arguments)
{
    /// <inheritdoc />
    public override LayerSpec WithoutSpans() => this with
    {
        Span = SourceSpan.None,
        Arguments = EquatableArray<ArgumentSpan>.Empty,
        Block = Block with { Definition = Block.Definition?.WithoutSpans() },
    };
}

/// <summary>A stage's block type: its definition when it is a usable block.</summary>
/// <param name="TypeName">The type as written (for messages).</param>
/// <param name="IsBlock">Whether the type carries <c>[Block]</c>.</param>
/// <param name="Cycle">When the block uses itself (directly or through others), the chain, e.g. <c>A -> B -> A</c>; else null.</param>
/// <param name="Definition">The block's layers; null when not a block or recursive.</param>
internal sealed record BlockRef(string TypeName, bool IsBlock, string? Cycle, BlockSpec? Definition);

/// <summary>A <c>[Block]</c> class's declaration.</summary>
/// <param name="Name">Fully qualified name.</param>
/// <param name="DisplayName">Short name for messages.</param>
/// <param name="Span">The class's identifier.</param>
/// <param name="Layers">Its layers in declaration order.</param>
/// <param name="Facts">Facts about the class declaration itself.</param>
internal sealed record BlockSpec(string Name, string DisplayName, SourceSpan Span, EquatableArray<LayerSpec> Layers, DeclarationFacts Facts)
{
    /// <summary>
    /// The referenced assembly the block was read from (its layers then have no spans: their diagnostics are reported
    /// at the stage that uses the block), or null for a block declared in this compilation's source.
    /// </summary>
    public string? Assembly { get; init; }

    /// <summary>The same block with every span cleared.</summary>
    public BlockSpec WithoutSpans() => this with
    {
        Span = SourceSpan.None,
        Layers = SpanStripper.Strip(Layers),
        Facts = Facts.WithoutSpans(),
    };
}

/// <summary>Facts about a class declaration that validation turns into diagnostics.</summary>
/// <param name="IsGeneric">The class has type parameters.</param>
/// <param name="InGenericType">A containing type has type parameters.</param>
/// <param name="SplitLayers">When layer fields are spread over more than one partial declaration, the first layer of the second; else null.</param>
/// <param name="ExtraLayerAttributes">Fields with more than one layer attribute: the field and the span of each extra attribute.</param>
/// <param name="BindingErrors">Some layer attribute did not bind (the compiler already reports why).</param>
internal sealed record DeclarationFacts(
    bool IsGeneric, bool InGenericType, SourceSpan? SplitLayers, EquatableArray<ArgumentSpan> ExtraLayerAttributes, bool BindingErrors)
{
    /// <summary>For a network declared as something the generator cannot extend (a record, a struct, a static class): what it is; else null.</summary>
    public string? UnsupportedKind { get; init; }

    /// <summary>Members whose names the generated part or <c>NetworkBase</c> already uses (networks only).</summary>
    public EquatableArray<NameCollisionSpec> NameCollisions { get; init; } = EquatableArray<NameCollisionSpec>.Empty;

    /// <summary>Fields marked with a <c>LayerAttribute</c> subclass that is not a DslResNet layer.</summary>
    public EquatableArray<UnknownLayerSpec> UnknownLayers { get; init; } = EquatableArray<UnknownLayerSpec>.Empty;

    /// <summary>Fields with a layer attribute that cannot be layers (not an instance field of type <c>Layer</c>); they are not read as layers.</summary>
    public EquatableArray<FieldProblemSpec> NotLayerFields { get; init; } = EquatableArray<FieldProblemSpec>.Empty;

    /// <summary>Whether the layers read are incomplete (a layer attribute that did not bind, a field that is not a layer).</summary>
    public bool LayersIncomplete => BindingErrors || NotLayerFields.Count > 0;

    /// <summary>The same facts with spans cleared.</summary>
    public DeclarationFacts WithoutSpans() => this with
    {
        NameCollisions = new EquatableArray<NameCollisionSpec>(System.Linq.Enumerable.Select(NameCollisions, c => c with { Span = SourceSpan.None })),
        UnknownLayers = new EquatableArray<UnknownLayerSpec>(System.Linq.Enumerable.Select(UnknownLayers, u => u with { Span = SourceSpan.None })),
        SplitLayers = SplitLayers is null ? null : SourceSpan.None,
        ExtraLayerAttributes = new EquatableArray<ArgumentSpan>(System.Linq.Enumerable.Select(ExtraLayerAttributes, a => a with { Span = SourceSpan.None })),
        NotLayerFields = new EquatableArray<FieldProblemSpec>(System.Linq.Enumerable.Select(NotLayerFields, f => f with { Span = SourceSpan.None })),
    };
}

/// <summary>Helpers to clear spans, so that an edit that only moves text leaves later pipeline steps cached.</summary>
internal static class SpanStripper
{
    /// <summary>Strips every layer.</summary>
    public static EquatableArray<LayerSpec> Strip(EquatableArray<LayerSpec> layers) =>
        new(System.Linq.Enumerable.Select(layers, l => l.WithoutSpans()));
}
