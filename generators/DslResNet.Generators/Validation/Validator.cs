using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using DslResNet.Generators.Diagnostics;
using DslResNet.Generators.Infrastructure;
using DslResNet.Generators.Model;

namespace DslResNet.Generators.Validation;

/// <summary>
/// Checks what can be judged from a declaration alone: the declaration's form, every number, the references
/// between layers, and the literature's advice that does not need shapes. Shape problems come from
/// <see cref="Shapes.ShapeInference"/>, with the same catalogue.
/// </summary>
internal static class Validator
{
    /// <summary>
    /// A network's diagnostics, including those of every block it uses (owned by the block, so the analyzer reports
    /// them once, at the block), so that the generator knows whether anything stands in the way.
    /// </summary>
    public static EquatableArray<DiagnosticInfo> ValidateNetwork(NetworkSpec network)
    {
        var sink = new List<DiagnosticInfo>();
        string owner = network.FullName;
        if (network.InternalError is not null)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.InternalError, network.Span, owner, network.Name, network.InternalError));
            return sink.ToEquatableArray();
        }

        if (!network.IsPartial)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.NotPartial, network.Span, owner, network.Name, network.Name));
        }

        foreach (ContainingTypeSpec outer in network.ContainingTypes)
        {
            if (!outer.IsPartial)
            {
                sink.Add(DiagnosticInfo.Create(Descriptors.NotPartial, network.Span, owner, outer.Name, network.Name));
            }
        }

        CheckDeclaration(network.Name, "network", network.Span, network.Facts, owner, sink);
        if (network.LayersOfProblem is not null)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.InvalidLayersOf, network.SpanOf("LayersOf"), owner, network.Name, network.LayersOfProblem));
        }

        foreach (var (name, value) in new[] { ("channels", network.Channels), ("height", network.Height), ("width", network.Width) })
        {
            if (value <= 0 && network.LayersOfProblem is null)
            {
                string what = network.LayersOf is not null && !HasArgument(network, name) ? "inherited " + name : "Input " + name;
                sink.Add(DiagnosticInfo.Create(Descriptors.InvalidNumber, network.SpanOf(name), owner, what, network.Name, Format(value), "at least 1"));
            }
        }

        long inputElements = (long)network.Channels * network.Height * network.Width;
        if (network.Channels > 0 && network.Height > 0 && network.Width > 0 && inputElements > int.MaxValue && network.LayersOfProblem is null)
        {
            // At the largest of the three, the likeliest typo.
            var largest = new[] { ("channels", network.Channels), ("height", network.Height), ("width", network.Width) }.OrderByDescending(a => a.Item2).First();
            string value = $"({Format(network.Channels)}, {Format(network.Height)}, {Format(network.Width)}), {inputElements.ToString("N0", CultureInfo.InvariantCulture)} elements";
            sink.Add(DiagnosticInfo.Create(Descriptors.InvalidNumber, network.SpanOf(largest.Item1), owner, "Input size", network.Name, value, "at most 2,147,483,647 elements"));
        }

        if (network.HeadProblem is { } head)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.HeadSettingInvalid, network.SpanOf(head.Argument), owner, network.Name, head.Problem));
        }

        if (HasArgument(network, "Classes") && network.Classes < 1)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.InvalidNumber, network.SpanOf("Classes"), owner, "Classes", network.Name, Format(network.Classes), "at least 1"));
        }

        if (!Enum.IsDefined(typeof(ShortcutKind), network.Shortcut))
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.InvalidNumber, network.SpanOf("Shortcut"), owner, "Shortcut", network.Name, Format((int)network.Shortcut), "a ShortcutKind value"));
        }

        if (network.Layers.Count == 0 && network.LayersOfProblem is null && !network.Facts.LayersIncomplete)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.NoLayers, network.Span, owner, "Network", network.Name));
        }

        // A LayersOf network's layers are written (and checked) in its source network: validate them without reporting.
        string layerOwner = network.LayersOf is null ? owner : "(source of " + owner + ")";
        if (network.LayersOfAssembly is { } assembly)
        {
            // ... unless the source is in a referenced assembly, where nothing reports them: its errors are reported here,
            // at LayersOf, naming the assembly (a span in metadata could not be shown).
            var foreign = new List<DiagnosticInfo>();
            CheckLayers(network.Layers, inBlock: false, network.Name, layerOwner, foreign, inMetadata: true);
            foreign.AddRange(UsedBlocks(network.Layers).SelectMany(b => ValidateBlock(b)));
            foreach (string problem in ForeignErrors(foreign))
            {
                sink.Add(DiagnosticInfo.Create(
                    Descriptors.InvalidLayersOf, network.SpanOf("LayersOf"), owner, network.Name,
                    $"names '{network.LayersOf}' from assembly '{assembly}', whose layers are invalid here: {problem}"));
            }

            sink.AddRange(foreign);
            return sink.ToEquatableArray();
        }

        CheckLayers(network.Layers, inBlock: false, network.Name, layerOwner, sink, inMetadata: false);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (BlockSpec block in UsedBlocks(network.Layers))
        {
            // A referenced assembly's block is judged where a stage of this source uses it (DRN0036), with the blocks it uses.
            if (block.Assembly is null && seen.Add(block.Name))
            {
                sink.AddRange(ValidateBlock(block));
            }
        }

        return sink.ToEquatableArray();
    }

    /// <summary>
    /// The errors of a block read from a referenced assembly and of the blocks it uses (owned by them, so reported by
    /// nothing unless the using stage reports them), each as "ID: message".
    /// </summary>
    private static IEnumerable<string> ForeignBlockErrors(BlockSpec block)
    {
        if (block.Layers.Count == 0 && !block.Facts.LayersIncomplete)
        {
            // Private fields of a referenced assembly's class are not imported, so a block declared with them looks empty.
            return new[] { "its layer fields are not visible here; a block used from another assembly must declare its layer fields public" };
        }

        var all = new List<DiagnosticInfo>(ValidateBlock(block));
        all.AddRange(UsedBlocks(block.Layers).SelectMany(b => ValidateBlock(b)));
        var problems = ForeignErrors(all).ToList();
        if (problems.Count == 0 && Poisoned(block))
        {
            problems.Add("some of its layer attributes do not bind here (was it built against another version of DslResNet?)");
        }

        return problems;
    }

    /// <summary>The errors among diagnostics of layers read from metadata, each once, as "ID: message".</summary>
    private static IEnumerable<string> ForeignErrors(IEnumerable<DiagnosticInfo> diagnostics) =>
        diagnostics.Where(d => d.IsError)
            .Select(d => d.Id + ": " + string.Format(
                CultureInfo.InvariantCulture, d.Descriptor.MessageFormat.ToString(CultureInfo.InvariantCulture), d.Arguments.Cast<object>().ToArray()))
            .Distinct(StringComparer.Ordinal);

    /// <summary>A block's own diagnostics (not those of blocks it uses, which own theirs).</summary>
    public static EquatableArray<DiagnosticInfo> ValidateBlock(BlockSpec block)
    {
        var sink = new List<DiagnosticInfo>();
        CheckDeclaration(block.DisplayName, "block", block.Span, block.Facts, block.Name, sink);
        if (block.Layers.Count == 0 && !block.Facts.LayersIncomplete)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.NoLayers, block.Span, block.Name, "Block", block.DisplayName));
        }

        CheckLayers(block.Layers, inBlock: true, block.DisplayName, block.Name, sink, inMetadata: block.Assembly is not null);
        return sink.ToEquatableArray();
    }

    /// <summary>Every block a layer list uses, directly or through other blocks, each once, in first-use order.</summary>
    public static IEnumerable<BlockSpec> UsedBlocks(EquatableArray<LayerSpec> layers)
    {
        foreach (LayerSpec layer in layers)
        {
            if (layer is StageSpec { Block.Definition: { } block })
            {
                yield return block;
                foreach (BlockSpec inner in UsedBlocks(block.Layers))
                {
                    yield return inner;
                }
            }
        }
    }

    /// <summary>
    /// Whether part of the network's declaration or of a block it uses was not read as layers (an attribute the compiler
    /// rejects, a duplicate field, a field that is not a Layer): the layers read are then incomplete, and anything judged
    /// from them (shapes, strides) would be a follow-on of that error, so it is not judged.
    /// </summary>
    public static bool Poisoned(NetworkSpec network) =>
        network.Facts.LayersIncomplete || UsedBlocks(network.Layers).Any(b => b.Facts.LayersIncomplete);

    /// <summary>Whether the compiler rejects part of the block or of a block it uses (see <see cref="Poisoned(NetworkSpec)"/>).</summary>
    public static bool Poisoned(BlockSpec block) =>
        block.Facts.LayersIncomplete || UsedBlocks(block.Layers).Any(b => b.Facts.LayersIncomplete);

    private static bool HasArgument(NetworkSpec network, string name) => network.AttributeArguments.Any(a => a.Name == name);

    private static void CheckDeclaration(string name, string what, SourceSpan span, DeclarationFacts facts, string owner, List<DiagnosticInfo> sink)
    {
        if (facts.IsGeneric)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.UnsupportedDeclaration, span, owner, name, what, "it is generic; every shape must be known at compile time"));
        }

        if (facts.UnsupportedKind is { } kind)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.UnsupportedDeclaration, span, owner, name, what, "it is " + kind + "; declare it as a (non-static) partial class with no base class"));
        }

        if (facts.InGenericType)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.UnsupportedDeclaration, span, owner, name, what, "it is nested in a generic type"));
        }

        if (facts.SplitLayers is { } split)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.LayersSplit, split, owner, name));
        }

        foreach (ArgumentSpan extra in facts.ExtraLayerAttributes)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.MultipleLayerAttributes, extra.Span, owner, extra.Name));
        }

        foreach (NameCollisionSpec collision in facts.NameCollisions)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.GeneratedNameCollision, collision.Span, owner, collision.Member, name, collision.Owner));
        }

        foreach (UnknownLayerSpec layer in facts.UnknownLayers)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.UnknownLayerAttribute, layer.Span, owner, layer.Field, name, layer.Attribute));
        }

        foreach (FieldProblemSpec field in facts.NotLayerFields)
        {
            sink.Add(DiagnosticInfo.Create(Descriptors.FieldIsNotALayer, field.Span, owner, field.Name, field.Problem));
        }
    }

    // A segment of a parameter name ("downsample" in "layer2.0.downsample.0.weight"): it is written into generated
    // strings, comments and checkpoint names, so nothing that could end a line, quote, escape or separate.
    private static bool IsNameSegment(string name) => name.Length > 0 && name.All(c => char.IsLetterOrDigit(c) || c == '_');

    /// <summary>
    /// Checks a class's layers. <paramref name="inMetadata"/>: the class was read from a referenced assembly, so a stage
    /// in it that uses another such block is not where that block's errors are reported (the first stage in source is).
    /// </summary>
    private static void CheckLayers(EquatableArray<LayerSpec> layers, bool inBlock, string className, string owner, List<DiagnosticInfo> sink, bool inMetadata)
    {
        var earlier = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < layers.Count; i++)
        {
            LayerSpec layer = layers[i];
            var check = new LayerCheck(layer, owner, sink);
            switch (layer)
            {
                case ConvSpec conv:
                    if (conv.Has("outChannels"))
                    {
                        check.AtLeast("outChannels", "Output channels", conv.OutChannels, 1);
                        if (conv.Has("Expansion"))
                        {
                            check.Ignored("Expansion", "Expansion", "it scales the block's channels, which only happens when the channels are left out");
                        }
                    }
                    else if (!inBlock)
                    {
                        check.BlockOnly(conv.Span, "leaves out its output channels (they would come from a block)");
                    }

                    check.AtLeast("kernel", "Kernel size", conv.Kernel, 1);
                    check.AtLeast("Stride", "Stride", conv.Stride, 1);
                    check.AtLeast("Padding", "Padding", conv.Padding, 0);
                    check.AtLeast("Expansion", "Expansion", conv.Expansion, 1);
                    check.AtLeast("Groups", "Groups", conv.Groups, 1);
                    CheckStrided(check, conv.Strided, conv.Has("Stride"), inBlock);
                    break;
                case BatchNormSpec bn:
                    if (!(bn.Eps > 0) || double.IsInfinity(bn.Eps))
                    {
                        check.Invalid("Eps", "Eps", Format(bn.Eps), "a positive, finite number (PyTorch's default is 1e-5)");
                    }

                    if (!(bn.Momentum >= 0 && bn.Momentum <= 1))
                    {
                        check.Invalid("Momentum", "Momentum", Format(bn.Momentum), "between 0 and 1 (PyTorch's default is 0.1)");
                    }

                    if (i + 1 < layers.Count && layers[i + 1] is ActivationSpec act && Activations.IsSaturating(act.Activation))
                    {
                        sink.Add(DiagnosticInfo.Create(Descriptors.BatchNormBeforeSaturating, bn.Span, owner, bn.Name, Activations.Name(act.Activation), act.Name));
                    }

                    break;
                case PoolSpec pool:
                    check.AtLeast("kernel", "Kernel size", pool.Kernel, 1);
                    check.AtLeast("Stride", "Stride", pool.Stride, 1);
                    check.AtLeast("Padding", "Padding", pool.Padding, 0);
                    if (pool.Kernel >= 1 && pool.Padding > pool.Kernel / 2)
                    {
                        check.Invalid("Padding", "Padding", Format(pool.Padding), "at most half the kernel size, " + Format(pool.Kernel / 2) + " (a window must never lie wholly in the padding)");
                    }

                    CheckStrided(check, pool.Strided, pool.Has("Stride"), inBlock);
                    break;
                case DenseSpec dense:
                    check.AtLeast("outFeatures", "Output features", dense.OutFeatures, 1);
                    break;
                case SqueezeExciteSpec se:
                    check.AtLeast("Reduction", "Reduction", se.Reduction, 1);
                    if (se.Has("Channels"))
                    {
                        check.AtLeast("Channels", "Channels", se.Channels, 1);
                        if (se.Has("Reduction"))
                        {
                            check.Ignored("Reduction", "Reduction", "Channels gives the hidden channels exactly");
                        }
                    }

                    break;
                case DropoutSpec dropout:
                    if (!(dropout.Rate >= 0 && dropout.Rate < 1))
                    {
                        check.Invalid("rate", "Dropout rate", Format(dropout.Rate), "at least 0 and below 1");
                    }

                    break;
                case ResidualSpec residual:
                    if (residual.From is null)
                    {
                        if (!inBlock)
                        {
                            sink.Add(DiagnosticInfo.Create(Descriptors.ShortcutSourceRequired, residual.Span, owner, residual.Name));
                        }
                    }
                    else if (!earlier.Contains(residual.From))
                    {
                        sink.Add(DiagnosticInfo.Create(Descriptors.UnknownShortcutSource, residual.SpanOf("From"), owner, residual.Name, residual.From, className));
                    }

                    if (residual.ProjectionFrom is not null && !earlier.Contains(residual.ProjectionFrom))
                    {
                        sink.Add(DiagnosticInfo.Create(Descriptors.UnknownShortcutSource, residual.SpanOf("ProjectionFrom"), owner, residual.Name, residual.ProjectionFrom, className));
                    }

                    if (!Enum.IsDefined(typeof(ShortcutKind), residual.Shortcut))
                    {
                        check.Invalid("Shortcut", "Shortcut", Format((int)residual.Shortcut), "a ShortcutKind value");
                    }

                    if (!IsNameSegment(residual.ProjectionName))
                    {
                        check.Invalid("ProjectionName", "ProjectionName", CSharpLiteral.Quote(residual.ProjectionName), "a name of letters, digits and underscores (it becomes part of parameter names)");
                    }

                    break;
                case StageSpec stage:
                    if (stage.Has("channels"))
                    {
                        check.AtLeast("channels", "Channels", stage.Channels, 1);
                        if (stage.Has("Expansion"))
                        {
                            check.Ignored("Expansion", "Expansion", "it scales the enclosing block's channels, which only happens when the channels are left out");
                        }
                    }
                    else if (!inBlock)
                    {
                        check.BlockOnly(stage.Span, "leaves out its channels (they would come from an enclosing block)");
                    }

                    check.AtLeast("Repeat", "Repeat", stage.Repeat, 1);
                    check.AtLeast("Stride", "Stride", stage.Stride, 1);
                    check.AtLeast("Expansion", "Expansion", stage.Expansion, 1);
                    CheckStrided(check, stage.Strided, stage.Has("Stride"), inBlock);
                    if (!stage.Block.IsBlock)
                    {
                        sink.Add(DiagnosticInfo.Create(Descriptors.NotABlock, stage.Span, owner, stage.Name, stage.Block.TypeName));
                    }
                    else if (stage.Block.Cycle is not null)
                    {
                        sink.Add(DiagnosticInfo.Create(Descriptors.RecursiveBlock, stage.Span, owner, stage.Name, stage.Block.TypeName, stage.Block.Cycle));
                    }
                    else if (inBlock && stage.Block.Definition is { } used && CycleBackTo(used, className) is { } cycle)
                    {
                        // A uses B uses A: parsed from A, the cycle closes in B, whose diagnostics A does not report.
                        sink.Add(DiagnosticInfo.Create(Descriptors.RecursiveBlock, stage.Span, owner, stage.Name, className, cycle));
                    }
                    else if (stage.Block.Definition is { } block && (stage.Stride > 1 || stage.Strided) && !AppliesStride(block) && !Poisoned(block))
                    {
                        sink.Add(DiagnosticInfo.Create(Descriptors.StageStrideUnused, stage.SpanOf(stage.Strided ? "Strided" : "Stride"), owner, stage.Name, block.DisplayName));
                    }

                    if (!inMetadata && stage.Block.Definition is { Assembly: { } assembly } foreignBlock)
                    {
                        foreach (string problem in ForeignBlockErrors(foreignBlock))
                        {
                            sink.Add(DiagnosticInfo.Create(Descriptors.ForeignBlockInvalid, stage.Span, owner, stage.Name, foreignBlock.DisplayName, assembly, problem));
                        }
                    }

                    break;
            }

            earlier.Add(layer.Name);
        }
    }

    private static void CheckStrided(LayerCheck check, bool strided, bool strideGiven, bool inBlock)
    {
        if (!strided)
        {
            return;
        }

        if (!inBlock)
        {
            check.BlockOnly(check.Layer.SpanOf("Strided"), "is Strided (it would take the stride a stage passes to its block)");
        }
        else if (strideGiven)
        {
            check.Ignored("Stride", "Stride", "Strided = true takes the stride from the stage instead");
        }
    }

    /// <summary>
    /// The cycle by which <paramref name="used"/> (directly or through the blocks it uses) leads back to the block
    /// <paramref name="root"/>, as the parser wrote it (<c>root -> ... -> root</c>); else null.
    /// </summary>
    private static string? CycleBackTo(BlockSpec used, string root)
    {
        foreach (LayerSpec layer in used.Layers)
        {
            if (layer is not StageSpec stage)
            {
                continue;
            }

            if (stage.Block.Cycle is { } cycle && cycle.StartsWith(root + " -> ", StringComparison.Ordinal))
            {
                return cycle;
            }

            if (stage.Block.Definition is { } inner && CycleBackTo(inner, root) is { } deeper)
            {
                return deeper;
            }
        }

        return null;
    }

    /// <summary>Whether some layer of the block takes the stage's stride.</summary>
    public static bool AppliesStride(BlockSpec block) => block.Layers.Any(l => l switch
    {
        ConvSpec c => c.Strided,
        PoolSpec p => p.Strided,
        StageSpec s => s.Strided,
        _ => false,
    });

    /// <summary>Numbers in messages: invariant culture, shortest round-trip form.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Integers in messages.</summary>
    public static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Adds a layer's diagnostics at the right argument.</summary>
    private readonly struct LayerCheck
    {
        private readonly string _owner;
        private readonly List<DiagnosticInfo> _sink;

        public LayerCheck(LayerSpec layer, string owner, List<DiagnosticInfo> sink)
        {
            Layer = layer;
            _owner = owner;
            _sink = sink;
        }

        public LayerSpec Layer { get; }

        public void AtLeast(string argument, string what, int value, int minimum)
        {
            if (value < minimum)
            {
                Invalid(argument, what, Format(value), minimum == 0 ? "0 or more" : "at least " + Format(minimum));
            }
        }

        public void Invalid(string argument, string what, string value, string expected) =>
            _sink.Add(DiagnosticInfo.Create(Descriptors.InvalidNumber, Layer.SpanOf(argument), _owner, what, Layer.Name, value, expected));

        public void Ignored(string argument, string what, string why) =>
            _sink.Add(DiagnosticInfo.Create(Descriptors.IgnoredSetting, Layer.SpanOf(argument), _owner, what, Layer.Name, why));

        public void BlockOnly(SourceSpan span, string what) =>
            _sink.Add(DiagnosticInfo.Create(Descriptors.BlockSettingOutsideBlock, span, _owner, Layer.Name, what));
    }
}
