using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using DslResNet.Generators.Diagnostics;
using DslResNet.Generators.Infrastructure;
using DslResNet.Generators.Model;

namespace DslResNet.Generators.Shapes;

/// <summary>
/// Instantiates every block, infers every shape, names every tensor as torchvision would, and counts parameters and
/// FLOPs. Shape problems become diagnostics here; the walk stops at the first, since every later shape depends on it.
/// A problem inside a block is reported where the network uses the block (the stage), naming the full layer path.
/// </summary>
internal static partial class ShapeInference
{
    /// <summary>Infers a (statically valid) network.</summary>
    public static ShapedNetwork Infer(NetworkSpec network)
    {
        var walk = new Walk(network);
        var input = new Shape(network.Channels, network.Height, network.Width, false);
        var output = input;
        try
        {
            SourceSpan? anchor = network.LayersOf is null ? null : network.AttributeSpan;
            (_, output) = walk.Layers(network.Layers, prefix: string.Empty, -1, input, context: null, anchor, member: null);
            walk.CheckTotals();
            walk.Advise();
        }
        catch (ShapeError)
        {
            // Already reported; the shapes after it are unknown.
        }

        var identity = new NetworkIdentity(network.FullName, network.Name, network.Namespace, network.ContainingTypes);
        return new ShapedNetwork(
            identity, input, output, walk.Result.ToEquatableArray(), walk.Parameters.ToEquatableArray(),
            walk.MemberRows().ToEquatableArray(), walk.Diagnostics.Distinct().ToEquatableArray());
    }

    /// <summary>
    /// The most primitive layers a network may instantiate. ResNet-1202, the deepest of the paper, has under 5,000; a
    /// typo such as <c>Repeat = 100000</c> must become a diagnostic, not hold the compiler while millions are built.
    /// Generated code still grows with depth (about 1.7 KB a layer), so 70,000 layers (<c>Repeat = 9999</c> of a basic
    /// block, which the fuzz test found) meant 100 MB of C# and minutes in the compiler: hence twice ResNet-1202.
    /// </summary>
    internal const int MaxLayers = 10_000;

    /// <summary>What a block instance receives from its stage.</summary>
    private sealed record BlockContext(int Channels, int Stride, string BlockName);

    /// <summary>Thrown after an error has been reported, to stop the walk.</summary>
    private sealed class ShapeError : Exception
    {
    }

    private sealed partial class Walk
    {
        private readonly NetworkSpec _network;
        private readonly Dictionary<string, string> _parameterOwners = new(StringComparer.Ordinal);

        public Walk(NetworkSpec network) => _network = network;

        public List<ShapedLayer> Result { get; } = new();

        public List<ParameterSpec> Parameters { get; } = new();

        public List<DiagnosticInfo> Diagnostics { get; } = new();

        private string Owner => _network.FullName;

        /// <summary>Walks a layer list; returns the index and shape of its output.</summary>
        public (int Index, Shape Shape) Layers(
            EquatableArray<LayerSpec> specs, string prefix, int input, Shape inputShape, BlockContext? context, SourceSpan? anchor, string? member)
        {
            var outputs = new Dictionary<string, (int, Shape)>(StringComparer.Ordinal);
            (int Index, Shape Shape) current = (input, inputShape);
            foreach (LayerSpec spec in specs)
            {
                string top = member ?? spec.Name;
                var site = new Site(this, spec, prefix + spec.Name, anchor, top);
                try
                {
                    current = spec switch
                    {
                        ConvSpec conv => Conv(site, conv, current, context),
                        BatchNormSpec bn => Add(site, LayerKind.BatchNorm, $"BatchNorm{(current.Shape.Flat ? "1d" : "2d")}({current.Shape.C})", current, current.Shape, parameters: 2L * current.Shape.C, multiplyAdds: 0, flops: 2 * current.Shape.Elements, bn: bn),
                        ActivationSpec act => Add(site, Activations.LayerKindOf(act.Activation), Activations.Name(act.Activation), current, current.Shape, 0, 0, current.Shape.Elements),
                        ResidualSpec residual => Residual(site, residual, current, input, inputShape, outputs, context),
                        PoolSpec pool => Pool(site, pool, current, context),
                        GlobalAvgPoolSpec => Add(site, LayerKind.GlobalAvgPool, "GlobalAvgPool", current, new Shape(current.Shape.C, 1, 1, true), 0, 0, current.Shape.Elements),
                        FlattenSpec => Add(site, LayerKind.Flatten, "Flatten", current, new Shape(Checked(site, current.Shape.Elements), 1, 1, true), 0, 0, 0),
                        DenseSpec dense => Dense(site, dense, current),
                        SqueezeExciteSpec se => SqueezeExcite(site, se, current),
                        DropoutSpec dropout => Add(site, LayerKind.Dropout, "Dropout(p=" + Validation.Validator.Format(dropout.Rate) + ")", current, current.Shape, 0, 0, current.Shape.Elements, rate: dropout.Rate),
                        StageSpec stage => Stage(site, stage, current, context, anchor, top),
                        // A layer record without a case is a generator bug: the analyzer reports it as DRN9999.
                        _ => throw new InvalidOperationException($"No shape rule for layer '{spec.Name}' ({spec.GetType().Name})."),
                    };
                }
                catch (OverflowException)
                {
                    // Every size is checked against its limit first; a count (FLOPs) past 64 bits is all that is left.
                    site.Fail(Descriptors.InvalidNumber, null, "Operation count", site.FullName, "over " + Emit.Emitter.Num(long.MaxValue), "at most " + Emit.Emitter.Num(long.MaxValue) + " per image");
                }

                outputs[spec.Name] = current;
            }

            return current;
        }

        private (int, Shape) Conv(Site site, ConvSpec conv, (int Index, Shape Shape) input, BlockContext? context)
        {
            Shape x = input.Shape;
            int outChannels = conv.OutChannels > 0 ? conv.OutChannels : Channels(site, context, conv.Expansion);
            int stride = conv.Strided ? context?.Stride ?? 1 : conv.Stride;
            int groups = conv.Groups;
            string op = $"Conv2d {x.C}->{outChannels}, {conv.Kernel}x{conv.Kernel}" + (stride != 1 ? $", stride {stride}" : "") + (conv.Padding != 0 ? $", pad {conv.Padding}" : "") + (groups != 1 ? $", groups {groups}" : "") + (conv.Bias ? ", bias" : "");
            if (groups > 1 && (x.C % groups != 0 || outChannels % groups != 0))
            {
                // Each group must get a whole number of input and output channels, as PyTorch requires.
                site.Fail(
                    Descriptors.InvalidNumber, "Groups", "Groups", site.FullName, groups.ToString(CultureInfo.InvariantCulture),
                    $"a divisor of both its input channels ({x.C.ToString(CultureInfo.InvariantCulture)}) and output channels ({outChannels.ToString(CultureInfo.InvariantCulture)})");
            }

            groups = Math.Max(groups, 1);
            int h = Window(site, op, x, conv.Kernel, stride, conv.Padding, "kernel", conv.Strided ? "Strided" : "Stride");
            var output = Fits(site, new Shape(outChannels, h, OutSize(x.W, conv.Kernel, stride, conv.Padding), false));
            long weights = TensorElements(site, "outChannels", site.FullName + ".weight", outChannels, x.C / groups, conv.Kernel, conv.Kernel);
            long macs = checked((long)output.H * output.W * weights);
            int index = Add(site, LayerKind.Conv, op, input, output, weights + (conv.Bias ? outChannels : 0), macs, checked((2 * macs) + (conv.Bias ? output.Elements : 0)), kernel: conv.Kernel, stride: stride, padding: conv.Padding, bias: conv.Bias, weight: new[] { outChannels, x.C / groups, conv.Kernel, conv.Kernel }, groups: groups).Item1;
            return (index, output);
        }

        private (int, Shape) Pool(Site site, PoolSpec pool, (int Index, Shape Shape) input, BlockContext? context)
        {
            Shape x = input.Shape;
            int stride = pool.Strided ? context?.Stride ?? 1 : pool.Stride;
            string op = (pool.IsMax ? "MaxPool" : "AvgPool") + $" {pool.Kernel}x{pool.Kernel}" + (stride != 1 ? $", stride {stride}" : "") + (pool.Padding != 0 ? $", pad {pool.Padding}" : "");
            int h = Window(site, op, x, pool.Kernel, stride, pool.Padding, "kernel", pool.Strided ? "Strided" : "Stride");
            var output = Fits(site, new Shape(x.C, h, OutSize(x.W, pool.Kernel, stride, pool.Padding), false));
            return Add(site, pool.IsMax ? LayerKind.MaxPool : LayerKind.AvgPool, op, input, output, 0, 0, checked(output.Elements * pool.Kernel * pool.Kernel), kernel: pool.Kernel, stride: stride, padding: pool.Padding);
        }

        private (int, Shape) Dense(Site site, DenseSpec dense, (int Index, Shape Shape) input)
        {
            Shape x = input.Shape;
            if (!x.Flat && (x.H != 1 || x.W != 1))
            {
                site.Fail(Descriptors.DenseNeedsFlatInput, "outFeatures", site.FullName, x.ToString(), x.Elements.ToString(CultureInfo.InvariantCulture), x.C.ToString(CultureInfo.InvariantCulture));
            }

            var output = new Shape(dense.OutFeatures, 1, 1, true);
            long macs = TensorElements(site, "outFeatures", site.FullName + ".weight", dense.OutFeatures, x.C);
            return Add(site, LayerKind.Dense, $"Linear {x.C}->{dense.OutFeatures}" + (dense.Bias ? "" : ", no bias"), input, output, macs + (dense.Bias ? dense.OutFeatures : 0), macs, checked((2 * macs) + (dense.Bias ? dense.OutFeatures : 0)), bias: dense.Bias, weight: new[] { dense.OutFeatures, x.C });
        }

        private (int, Shape) Stage(Site site, StageSpec stage, (int Index, Shape Shape) input, BlockContext? context, SourceSpan? anchor, string member)
        {
            BlockSpec block = stage.Block.Definition!;
            int channels = stage.Channels > 0 ? stage.Channels : Channels(site, context, stage.Expansion);
            (int, Shape) current = input;
            if (Result.Count + ((long)stage.Repeat * block.Layers.Count) > MaxLayers)
            {
                site.Fail(Descriptors.InvalidNumber, "Repeat", "Repeat", site.FullName, stage.Repeat.ToString(CultureInfo.InvariantCulture), "small enough for at most " + MaxLayers.ToString(CultureInfo.InvariantCulture) + " layers in all");
            }

            for (int r = 0; r < stage.Repeat; r++)
            {
                int stride = r > 0 ? 1 : stage.Strided ? context?.Stride ?? 1 : stage.Stride;
                var inner = new BlockContext(channels, stride, block.DisplayName);
                current = Layers(block.Layers, site.FullName + "." + r.ToString(CultureInfo.InvariantCulture) + ".", current.Item1, current.Item2, inner, anchor ?? stage.Span, member);
            }

            return current;
        }

        private (int, Shape) Residual(
            Site site, ResidualSpec residual, (int Index, Shape Shape) body, int blockInput, Shape blockInputShape,
            Dictionary<string, (int, Shape)> outputs, BlockContext? context)
        {
            if (_network.Plain)
            {
                return body;
            }

            (int Index, Shape Shape) source = residual.From is { } from && outputs.TryGetValue(from, out var named) ? named : (blockInput, blockInputShape);
            ShortcutKind kind = residual.Shortcut == ShortcutKind.Default ? _network.Shortcut : residual.Shortcut;
            Shape a = source.Shape, b = body.Shape;
            if (a == b)
            {
                return Add(site, LayerKind.Add, "Add (identity shortcut)", body, b, 0, 0, b.Elements, extraInput: source.Index);
            }

            string why;
            int stride = 0;
            if (a.Flat || b.Flat)
            {
                why = "a flat tensor can only be added to one of the same length";
            }
            else if ((stride = FindStride(a, b)) == 0)
            {
                why = $"no stride takes {a.H}x{a.W} to {b.H}x{b.W}, so no shortcut can bridge them";
            }
            else if (kind == ShortcutKind.Identity)
            {
                why = "an identity shortcut needs equal shapes; set Shortcut = ShortcutKind.Projection (1x1 conv + batch norm) or ShortcutKind.ZeroPad on the residual or the network";
            }
            else if (kind == ShortcutKind.ZeroPad && b.C < a.C)
            {
                why = $"a zero-padding shortcut can add channels but not remove them ({a.C} -> {b.C}); use ShortcutKind.Projection";
            }
            else if (kind == ShortcutKind.AvgPoolProjection && (a.H % stride != 0 || a.W % stride != 0))
            {
                why = $"an average-pool shortcut needs a height and width divisible by the stride {stride} (PyTorch's ceil_mode partial windows are not supported); use ShortcutKind.Projection or an input size that divides";
            }
            else
            {
                why = string.Empty;
            }

            if (why.Length > 0)
            {
                site.FailWith(ShortcutFix(residual, a, b, stride, kind, outputs), Descriptors.ResidualShapeMismatch, null, site.FullName, a.ToString(), b.ToString(), why);
            }

            string prefix = site.FullName.Substring(0, site.FullName.Length - residual.Name.Length);
            if (residual.ProjectionFrom is { } projectFrom && outputs.TryGetValue(projectFrom, out var projected))
            {
                // A pre-activation block projects its pre-activated input but adds its raw input when shapes match.
                if (projected.Item2 != a)
                {
                    site.Fail(Descriptors.ResidualShapeMismatch, "ProjectionFrom", site.FullName, a.ToString(), b.ToString(), $"ProjectionFrom = '{projectFrom}' gives {projected.Item2}, but the layer it projects must have the shortcut's shape {a} (a batch norm or activation of the block's input has it)");
                }

                source = projected;
            }

            int shortcut;
            if (kind == ShortcutKind.ZeroPad)
            {
                var zeroSite = new Site(this, residual, site.FullName + ".shortcut", site.Anchor, site.Member, site.FullName);
                shortcut = Add(zeroSite, LayerKind.ZeroPadShortcut, $"Shortcut: subsample by {stride}, zero-pad {a.C}->{b.C} channels", source, b, 0, 0, 0, stride: stride, onShortcut: true).Item1;
            }
            else
            {
                shortcut = Projection(site, residual, kind, prefix + residual.ProjectionName, source, b, stride);
            }

            return Add(site, LayerKind.Add, kind == ShortcutKind.ZeroPad ? "Add (zero-pad shortcut)" : "Add (projection shortcut)", body, b, 0, 0, b.Elements, extraInput: shortcut);
        }

        /// <summary>
        /// The shortcut kinds that would bridge <paramref name="a"/> to <paramref name="b"/> if set on the residual, for the
        /// DRN0007 code fix: none when no stride relates the sizes, a tensor is flat or <c>ProjectionFrom</c> has another shape;
        /// a projection always, and zero-padding where it only adds channels.
        /// </summary>
        private static DiagnosticProperty? ShortcutFix(ResidualSpec residual, Shape a, Shape b, int stride, ShortcutKind current, Dictionary<string, (int, Shape)> outputs)
        {
            if (stride == 0 || a.Flat || b.Flat
                || (residual.ProjectionFrom is { } from && (!outputs.TryGetValue(from, out var projected) || projected.Item2 != a)))
            {
                return null;
            }

            var kinds = new List<string>();
            if (current != ShortcutKind.Projection)
            {
                kinds.Add(nameof(ShortcutKind.Projection));
            }

            if (current != ShortcutKind.ZeroPad && b.C >= a.C)
            {
                kinds.Add(nameof(ShortcutKind.ZeroPad));
            }

            return kinds.Count == 0 ? null : new DiagnosticProperty(FixProperties.Shortcuts, string.Join(",", kinds));
        }

        /// <summary>
        /// The layers of a projection shortcut, named as PyTorch names them: <c>name.0</c> conv and <c>name.1</c> batch norm
        /// (<see cref="ShortcutKind.Projection"/>), <c>name.0</c> conv alone (<see cref="ShortcutKind.ProjectionWithoutNorm"/>),
        /// or <c>name.0</c> average pool, <c>name.1</c> conv, <c>name.2</c> batch norm (<see cref="ShortcutKind.AvgPoolProjection"/>;
        /// the pool is left out without a stride). Returns the index of the last.
        /// </summary>
        private int Projection(Site site, ResidualSpec residual, ShortcutKind kind, string name, (int Index, Shape Shape) source, Shape b, int stride)
        {
            Shape a = source.Shape;
            (int Index, Shape Shape) input = source;
            int module = 0;
            int convStride = stride;
            if (kind == ShortcutKind.AvgPoolProjection)
            {
                if (stride != 1)
                {
                    var poolSite = new Site(this, residual, name + ".0", site.Anchor, site.Member, site.FullName);
                    var pooled = new Shape(a.C, b.H, b.W, false);
                    input = Add(poolSite, LayerKind.AvgPool, $"AvgPool {stride}x{stride}, stride {stride} (projection)", source, pooled, 0, 0, checked(pooled.Elements * stride * stride), kernel: stride, stride: stride, onShortcut: true);
                    convStride = 1;
                }

                module = 1;
            }

            var convSite = new Site(this, residual, name + "." + module.ToString(CultureInfo.InvariantCulture), site.Anchor, site.Member, site.FullName);
            string op = $"Conv2d {a.C}->{b.C}, 1x1" + (convStride != 1 ? $", stride {convStride}" : "") + " (projection)";
            long weights = TensorElements(convSite, null, convSite.FullName + ".weight", b.C, a.C);
            long macs = checked(b.Elements * a.C);
            var conv = Add(convSite, LayerKind.Conv, op, input, b, weights, macs, checked(2 * macs), kernel: 1, stride: convStride, weight: new[] { b.C, a.C, 1, 1 }, onShortcut: true);
            if (kind == ShortcutKind.ProjectionWithoutNorm)
            {
                return conv.Item1;
            }

            var bnSite = new Site(this, residual, name + "." + (module + 1).ToString(CultureInfo.InvariantCulture), site.Anchor, site.Member, site.FullName);
            var defaults = new BatchNormSpec(bnSite.FullName, SourceSpan.None, EquatableArray<ArgumentSpan>.Empty, 1e-5, 0.1);
            return Add(bnSite, LayerKind.BatchNorm, $"BatchNorm2d({b.C}) (projection)", conv, b, 2L * b.C, 0, 2 * b.Elements, bn: defaults, onShortcut: true).Item1;
        }

        /// <summary>Appends a layer (and its parameters) and returns its index and output shape.</summary>
        private (int, Shape) Add(
            Site site, LayerKind kind, string operation, (int Index, Shape Shape) input, Shape output, long parameters, long multiplyAdds, long flops,
            int kernel = 0, int stride = 0, int padding = 0, bool bias = false, BatchNormSpec? bn = null, double rate = 0,
            int[]? weight = null, int extraInput = int.MinValue, bool onShortcut = false, int groups = 1)
        {
            Fits(site, output);

            if (Result.Count >= MaxLayers)
            {
                // Nested stages multiply; the check in Stage only sees one level.
                site.Fail(Descriptors.InvalidNumber, null, "Layer count", _network.Name, "over " + MaxLayers.ToString(CultureInfo.InvariantCulture), "at most " + MaxLayers.ToString(CultureInfo.InvariantCulture));
            }

            int[] inputs = extraInput == int.MinValue ? new[] { input.Index } : new[] { input.Index, extraInput };
            int index = Result.Count;
            Result.Add(new ShapedLayer(
                index, site.FullName, kind, operation, inputs.ToEquatableArray(), input.Shape, output, parameters, multiplyAdds, flops,
                kernel, stride, padding, bias, bn?.Eps ?? 0, bn?.Momentum ?? 0, rate, site.Member, onShortcut, groups));

            if (weight is not null)
            {
                Parameter(site, ".weight", ParameterRole.Weight, weight);
                if (bias)
                {
                    Parameter(site, ".bias", ParameterRole.Bias, weight[0]);
                }
            }
            else if (kind == LayerKind.BatchNorm)
            {
                Parameter(site, ".weight", ParameterRole.BatchNormScale, output.C);
                Parameter(site, ".bias", ParameterRole.BatchNormShift, output.C);
                Parameter(site, ".running_mean", ParameterRole.RunningMean, output.C);
                Parameter(site, ".running_var", ParameterRole.RunningVar, output.C);
                Parameter(site, ".num_batches_tracked", ParameterRole.BatchesTracked);
            }

            return (index, output);
        }

        private void Parameter(Site site, string suffix, ParameterRole role, params int[] shape)
        {
            string name = site.FullName + suffix;
            if (_parameterOwners.TryGetValue(name, out string? other))
            {
                site.Fail(Descriptors.DuplicateParameterName, null, site.Declared, name, other);
            }

            _parameterOwners[name] = site.Declared;
            CountParameter(site, name, role, shape);
            Parameters.Add(new ParameterSpec(name, site.FullName, role, shape.ToEquatableArray()));
        }

        /// <summary>Advice that needs the whole instantiated network.</summary>
        public void Advise()
        {
            // Only a batch norm after the dropout sees its train/inference variance shift; dropout before the classifier is fine.
            // Once per declared member: a stage repeating a block with dropout gets one hint, not one per repetition.
            var advised = new HashSet<string>(StringComparer.Ordinal);
            foreach (ShapedLayer dropout in Result.Where(l => l.Kind == LayerKind.Dropout))
            {
                if (Result.FirstOrDefault(l => l.Kind == LayerKind.BatchNorm && l.Index > dropout.Index) is { } bn && advised.Add(dropout.Member))
                {
                    SourceSpan span = SpanOfMember(dropout.Member) ?? _network.AttributeSpan;
                    Diagnostics.Add(DiagnosticInfo.Create(Descriptors.DropoutWithBatchNorm, span, Owner, dropout.Name, bn.Name));
                }
            }

            if (!Result.Any(l => l.Kind == LayerKind.Add))
            {
                int weighted = Result.Count(l => (l.Kind == LayerKind.Conv || l.Kind == LayerKind.Dense) && !l.OnShortcut);
                if (weighted > 20)
                {
                    SourceSpan span = _network.Plain ? _network.SpanOf("Plain") : _network.Span;
                    Diagnostics.Add(DiagnosticInfo.Create(Descriptors.DeepPlainNetwork, span, Owner, _network.Name, weighted.ToString(CultureInfo.InvariantCulture)));
                }
            }
        }

        private SourceSpan? SpanOfMember(string member)
        {
            if (_network.LayersOf is not null)
            {
                return _network.AttributeSpan;
            }

            foreach (LayerSpec layer in _network.Layers)
            {
                if (layer.Name == member)
                {
                    return layer.Span;
                }
            }

            return null;
        }

        /// <summary>The compact table: one row per declared member.</summary>
        public IEnumerable<MemberRow> MemberRows()
        {
            foreach (LayerSpec spec in Overflowed ? Enumerable.Empty<LayerSpec>() : _network.Layers)
            {
                var layers = Result.Where(l => l.Member == spec.Name).ToList();

                // After a shape error the walk may have stopped inside a member, with only its shortcut layers added.
                if (!layers.Any(l => !l.OnShortcut))
                {
                    continue;
                }

                string op = spec is StageSpec stage
                    ? $"{stage.Repeat} x {stage.Block.TypeName}" + (stage.Stride != 1 ? $", stride {stage.Stride}" : "")
                    : layers.Count == 1 ? layers[0].Operation : layers[layers.Count - 1].Operation;
                Shape output = layers.Last(l => !l.OnShortcut).Output;
                yield return new MemberRow(spec.Name, op, output, layers.Sum(l => l.Parameters), layers.Sum(l => l.Flops));
            }
        }

        /// <summary>Where a layer's diagnostics go: its own argument at the top level, else the anchor (the stage, or the twin's attribute).</summary>
        private readonly struct Site
        {
            private readonly Walk _walk;
            private readonly LayerSpec _spec;

            public Site(Walk walk, LayerSpec spec, string fullName, SourceSpan? anchor, string member, string? declared = null)
            {
                _walk = walk;
                _spec = spec;
                FullName = fullName;
                Anchor = anchor;
                Member = member;
                Declared = declared ?? fullName;
            }

            public string FullName { get; }

            /// <summary>The declared layer behind this one, for messages: the residual, for its shortcut's layers.</summary>
            public string Declared { get; }

            public SourceSpan? Anchor { get; }

            public string Member { get; }

            public void Fail(Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, string? argument, params string[] arguments)
            {
                Warn(descriptor, argument, arguments);
                throw new ShapeError();
            }

            public void Warn(Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, string? argument, params string[] arguments) =>
                Report(descriptor, argument, null, arguments);

            /// <summary>As <see cref="Fail"/>, with a property for the code fix (null for none).</summary>
            public void FailWith(DiagnosticProperty? fix, Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, string? argument, params string[] arguments)
            {
                Report(descriptor, argument, fix, arguments);
                throw new ShapeError();
            }

            /// <summary>As <see cref="Warn"/>, with a property for the code fix (null for none).</summary>
            public void WarnWith(DiagnosticProperty? fix, Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, string? argument, params string[] arguments) =>
                Report(descriptor, argument, fix, arguments);

            private void Report(Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, string? argument, DiagnosticProperty? fix, string[] arguments)
            {
                SourceSpan own = argument is null ? _spec.Span : _spec.SpanOf(argument);
                DiagnosticInfo info = DiagnosticInfo.Create(descriptor, Anchor ?? own, _walk.Owner, arguments);
                if (fix is not null)
                {
                    info = info with { Properties = new[] { fix }.ToEquatableArray() };
                }

                if (Anchor is not null && own.Path.Length > 0)
                {
                    info = info with { Additional = new[] { own }.ToEquatableArray() };
                }

                _walk.Diagnostics.Add(info);
            }
        }
    }
}
