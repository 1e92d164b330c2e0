using System.Collections.Generic;
using System.Linq;
using DslResNet.Generators.Infrastructure;
using DslResNet.Generators.Model;
using DslResNet.Generators.Planning;
using DslResNet.Generators.Shapes;

namespace DslResNet.Generators.Emit;

/// <summary>
/// The run-time half of a network class: a constructor that builds each fusion group's operations (shapes as constants,
/// tensors at planned arena offsets) and registers them with <c>NetworkBase</c>, whose passes loop over the groups.
/// Repeated blocks of one shape are built in a loop, so the code grows with the distinct shapes, not with the depth.
/// </summary>
internal static partial class Emitter
{
    private const string Rt = "global::DslResNet.Runtime.";
    private const string Kn = "global::DslResNet.Kernels.";

    private static void WriteRuntime(IndentedWriter w, NetworkPlan plan)
    {
        var program = new RuntimeProgram(plan);
        string name = plan.Network.Identity.Name;
        w.WriteLine($"/// <summary>Builds {Xml(name)} on a device for a batch size: allocates its parameters (initialised as torchvision does, seeded)");
        w.WriteLine("/// and its arenas, and registers every fusion group's operations, bound to its tensors, as a step of each pass.</summary>");
        w.WriteLine("/// <param name=\"device\">The device to run on.</param>");
        w.WriteLine("/// <param name=\"batchSize\">Images per training step (evaluation takes up to this many).</param>");
        w.WriteLine("/// <param name=\"options\">Seed and initialisation options; null for the defaults.</param>");
        w.WriteLine($"public {Id(name)}({Rt}Device device, int batchSize, {Rt}NetworkOptions? options = null)");
        using (w.Indent())
        {
            w.WriteLine($": base(device, batchSize, Info, options, new {Rt}NetworkLayout({Num(plan.TrainingElementsPerImage)}, {Num(plan.GradientElementsPerImage)}, {Num(plan.InferenceBytesPerImage / 4)}, {Num(plan.ScratchElements)}))");
        }

        using (w.WriteBlock())
        {
            w.WriteLine("int n = batchSize;");
            // Repeated blocks of one shape build their groups in a loop (LoopRoller); the rest one group at a time.
            foreach (string line in LoopRoller.Roll(program.Groups))
            {
                w.WriteLine(line);
            }
        }

        w.WriteLine();
        w.WriteLine("/// <inheritdoc />");
        w.WriteLine($"protected override global::ILGPU.ArrayView<float> TrainingOutput => {program.Output.Train};");
        w.WriteLine();
        w.WriteLine("/// <inheritdoc />");
        w.WriteLine($"protected override global::ILGPU.ArrayView<float> TrainingOutputGradient => {program.Output.Grad};");
        w.WriteLine();
        w.WriteLine("/// <inheritdoc />");
        w.WriteLine($"protected override global::ILGPU.ArrayView<float> InputGradientView => {program.Input.Grad};");
        w.WriteLine();
        w.WriteLine("/// <inheritdoc />");
        w.WriteLine($"protected override global::ILGPU.ArrayView<float> InferenceOutput => {program.Output.Infer};");
        foreach (KeyValuePair<string, int[]> geometry in program.Geometries)
        {
            int[] g = geometry.Value;
            w.WriteLine();
            w.WriteLine("/// <summary>A convolution's geometry as constants, for backends that compile their kernels per geometry (the SIMD backend).</summary>");
            w.WriteLine($"private readonly struct {geometry.Key} : {Kn}IConvGeometry");
            using (w.WriteBlock())
            {
                // Groups only where it is not 1 (the interface's default), so dense geometries read as before.
                string[] names = ["InChannels", "Height", "Width", "OutChannels", "Kernel", "Stride", "Padding", "Groups"];
                for (int i = 0; i < names.Length; i++)
                {
                    if (i < 7 || g[i] != 1)
                    {
                        w.WriteLine($"public static int {names[i]} => {Num(g[i])};");
                    }
                }
            }
        }
    }

    /// <summary>A tensor as the three expressions that view it: training arena, gradient arena, inference arena.</summary>
    private sealed record TensorRef(string Train, string Grad, string Infer, long Elements, bool IsInput);

    /// <summary>Works out, group by group, the statements of the constructor and of each pass.</summary>
    private sealed class RuntimeProgram
    {
        private readonly NetworkPlan _plan;
        private readonly IReadOnlyList<ShapedLayer> _layers;
        private readonly Dictionary<int, int> _groupOf = new();

        public RuntimeProgram(NetworkPlan plan)
        {
            _plan = plan;
            _layers = plan.Network.Layers.ToList();
            for (int g = 0; g < plan.Groups.Count; g++)
            {
                foreach (int l in plan.Groups[g].Layers)
                {
                    _groupOf[l] = g;
                }
            }

            long inputElements = plan.Network.Input.Elements;
            Input = new TensorRef("InputView", $"GradientTensor({Num(plan.InputGradient)}, {Num(inputElements)})", "InputView", inputElements, true);
            for (int g = 0; g < plan.Groups.Count; g++)
            {
                EmitGroup(g);
            }

            int lastGroup = plan.Groups.Count - 1;
            Output = lastGroup < 0 ? Input : GroupOutput(lastGroup);
        }

        /// <summary>Per fusion group, in execution order, the constructor statements that build and register its operations.</summary>
        public List<IReadOnlyList<string>> Groups { get; } = new();

        // The statements of the group being emitted.
        private readonly List<string> _group = new();

        /// <summary>Distinct convolution geometries by struct name: in channels, height, width, out channels, kernel, stride, padding.</summary>
        public SortedDictionary<string, int[]> Geometries { get; } = new(System.StringComparer.Ordinal);

        public TensorRef Input { get; }

        public TensorRef Output { get; }

        private TensorRef GroupOutput(int g)
        {
            GroupLayout layout = _plan.Layouts[g];
            ShapedLayer last = _layers[_plan.Groups[g].Layers[_plan.Groups[g].Layers.Count - 1]];
            long e = last.Output.Elements;
            string train = layout.OutputNotKept ? $"GradientTensor({Num(layout.Output)}, {Num(e)})" : $"TrainingTensor({Num(layout.Output)}, {Num(e)})";
            return new TensorRef(train, $"GradientTensor({Num(layout.GradientOutput)}, {Num(e)})", $"InferenceTensor({Num(layout.InferenceOutput)}, {Num(e)})", e, false);
        }

        // The tensor holding a layer's output: the output of the group it ends, or the network input.
        private TensorRef Of(int layer) => layer < 0 ? Input : GroupOutput(_groupOf[layer]);

        // // 2: Conv+BatchNorm+Add+ReLU layer1.0.conv2, layer1.0.bn2, layer1.0.add, layer1.0.relu2
        // AddConvolution(2, false,
        //     ConvOp.Create<Geometry>(device, shape, input, weight, ...),      (training convolution)
        //     new EpilogueOp(device, shape, ...), new FoldOp(...),            (its fused pass; batch-norm folding)
        //     ConvOp.Create<Geometry>(device, shape, ...), new EpilogueOp(...)); (inference convolution and pass)
        // RegisterTrace(2, output, inputGradient);
        // ClearBeforeBackward(2, GradientTensor(offset, elements));        (gradients its backward adds into first)
        // RecomputeBeforeBackward(2, 1);                                    (outputs recomputed before its backward)
        private void EmitGroup(int g)
        {
            FusionGroup group = _plan.Groups[g];
            var members = group.Layers.Select(i => _layers[i]).ToList();
            ShapedLayer lead = members[0];
            TensorRef input = Of(lead.Inputs[0]);
            TensorRef output = GroupOutput(g);
            string comment = group.Pattern + " " + string.Join(", ", members.Select(m => m.Name));
            _group.Clear();
            _group.Add("");
            _group.Add($"// {Num(g)}: {comment}");
            if (lead.Kind is LayerKind.Conv or LayerKind.Dense)
            {
                EmitConvolutionGroup(g, members, input, output, _plan.Layouts[g]);
            }
            else
            {
                EmitSingle(g, lead, input, output);
            }

            _group.Add($"RegisterTrace({Num(g)}, {output.Train}, {input.Grad});");
            EmitClears(g);
            for (int producer = 0; producer <= g; producer++)
            {
                if (_plan.Layouts[producer].OutputNotKept && _plan.Layouts[producer].RecomputeBefore == g)
                {
                    _group.Add($"RecomputeBeforeBackward({Num(g)}, {Num(producer)});");
                }
            }

            Groups.Add(_group.ToList());
        }

        // The gradient buffers group g's backward adds into first (they share memory with buffers used before), adjacent
        // ones as one range.
        private void EmitClears(int g)
        {
            var ranges = new List<(long Offset, long Elements)>();
            foreach (GradientBufferSpec buffer in _plan.Gradients.Where(b => b.ClearBefore == g).OrderBy(b => b.Offset))
            {
                if (ranges.Count > 0 && ranges[ranges.Count - 1].Offset + ranges[ranges.Count - 1].Elements == buffer.Offset)
                {
                    ranges[ranges.Count - 1] = (ranges[ranges.Count - 1].Offset, ranges[ranges.Count - 1].Elements + buffer.Elements);
                }
                else
                {
                    ranges.Add((buffer.Offset, buffer.Elements));
                }
            }

            foreach ((long offset, long elements) in ranges)
            {
                _group.Add($"ClearBeforeBackward({Num(g)}, GradientTensor({Num(offset)}, {Num(elements)}));");
            }
        }

        private void EmitConvolutionGroup(int g, List<ShapedLayer> members, TensorRef input, TensorRef output, GroupLayout layout)
        {
            ShapedLayer lead = members[0];
            ShapedLayer? norm = members.FirstOrDefault(m => m.Kind == LayerKind.BatchNorm);
            ShapedLayer? add = members.FirstOrDefault(m => m.Kind == LayerKind.Add);
            int addAt = add is null ? -1 : members.IndexOf(add);
            var activations = members.Skip(1).Where(m => LayerKinds.IsActivation(m.Kind)).ToList();
            ShapedLayer? act1 = activations.FirstOrDefault(a => addAt < 0 ? a == activations[0] : members.IndexOf(a) < addAt);
            ShapedLayer? act2 = activations.FirstOrDefault(a => a != act1);
            bool epilogue = members.Count > 1;
            // The add's other input (the chain fused the one its previous member produced).
            TensorRef residual = add is null ? Input : Of(add.Inputs[0] == members[addAt - 1].Index ? add.Inputs[1] : add.Inputs[0]);

            string shape = ConvShape(lead, lead.Bias);
            string weight = $"Parameter({Str(lead.Name + ".weight")})";
            string bias = lead.Bias ? $"Parameter({Str(lead.Name + ".bias")})" : "default";
            string dWeight = $"ParameterGradient({Str(lead.Name + ".weight")})";
            string dBias = lead.Bias ? $"ParameterGradient({Str(lead.Name + ".bias")})" : "default";
            long convElements = lead.Output.Elements;
            string convOut = epilogue ? $"TrainingTensor({Num(layout.ConvOutput)}, {Num(convElements)})" : output.Train;
            string convGrad = epilogue ? $"GradientTensor({Num(layout.GradientConvOutput)}, {Num(convElements)})" : output.Grad;
            string geometry = Geometry(lead);

            _group.Add($"AddConvolution({Num(g)}, {Bool(input.IsInput)},");
            var args = new List<string>
            {
                $"{Rt}ConvOp.Create<{geometry}>(device, {shape}, {input.Train}, {weight}, {bias}, {convOut}, {convGrad}, {input.Grad}, {dWeight}, {dBias})",
            };
            if (epilogue)
            {
                string bn = norm is null ? "default" : $"BatchNormTensors({Str(norm.Name)})";
                string dbn = norm is null ? "default" : $"BatchNormGradients({Str(norm.Name)})";
                string stats = norm is null ? "default" : $"Scratch({Num(layout.Statistics)}, {Num(4L * norm.Output.C)})";
                string trainShape = EpilogueShape(lead.Output, norm, true, act1, add is not null, act2);
                args.Add($"new {Rt}EpilogueOp(device, {trainShape}, {convOut}, {bn}, {stats}, {(add is null ? "default" : residual.Train)}, {output.Train}, {output.Grad}, {convGrad}, {(add is null ? "default" : residual.Grad)}, {dbn})");
            }
            else
            {
                args.Add("null");
            }

            // Inference: batch norm folded into the convolution, the rest of the pass in its store.
            if (norm is not null)
            {
                long weights = lead.Parameters - (lead.Bias ? lead.Output.C : 0);
                string folded = $"Scratch({Num(layout.Folded)}, {Num(weights)})";
                string foldedBias = $"Scratch({Num(layout.Folded + weights)}, {Num(lead.Output.C)})";
                args.Add($"new {Rt}FoldOp(device, {shape}, {weight}, {bias}, BatchNormTensors({Str(norm.Name)}), {Flt(norm.Eps)}, {folded}, {foldedBias})");
                args.Add($"{Rt}ConvOp.Create<{geometry}>(device, {ConvShape(lead, true)}, {input.Infer}, {folded}, {foldedBias}, {output.Infer})");
            }
            else
            {
                args.Add("null");
                args.Add($"{Rt}ConvOp.Create<{geometry}>(device, {shape}, {input.Infer}, {weight}, {bias}, {output.Infer})");
            }

            if (act1 is not null || add is not null || act2 is not null)
            {
                string evalShape = EpilogueShape(lead.Output, null, false, act1, add is not null, act2);
                args.Add($"new {Rt}EpilogueOp(device, {evalShape}, {output.Infer}, default, default, {(add is null ? "default" : residual.Infer)}, {output.Infer})");
            }
            else
            {
                args.Add("null");
            }

            for (int i = 0; i < args.Count; i++)
            {
                _group.Add("    " + args[i] + (i == args.Count - 1 ? ");" : ","));
            }
        }

        private void EmitSingle(int g, ShapedLayer layer, TensorRef input, TensorRef output)
        {
            string count = $"(long)n * {Num(output.Elements)}";
            string training, inference;
            switch (layer.Kind)
            {
                case LayerKind.BatchNorm:
                case LayerKind.ReLU:
                case LayerKind.Tanh:
                case LayerKind.Sigmoid:
                case LayerKind.GELU:
                case LayerKind.SiLU:
                case LayerKind.Add:
                {
                    bool isNorm = layer.Kind == LayerKind.BatchNorm;
                    bool isAdd = layer.Kind == LayerKind.Add;
                    ShapedLayer? act = isNorm || isAdd ? null : layer;
                    TensorRef residual = isAdd ? Of(layer.Inputs[1]) : Input;
                    string bn = isNorm ? $"BatchNormTensors({Str(layer.Name)})" : "default";
                    string dbn = isNorm ? $"BatchNormGradients({Str(layer.Name)})" : "default";
                    string stats = isNorm ? $"Scratch({Num(_plan.Layouts[g].Statistics)}, {Num(4L * layer.Output.C)})" : "default";
                    string r = isAdd ? residual.Train : "default";
                    string dr = isAdd ? residual.Grad : "default";
                    training = $"new {Rt}EpilogueOp(device, {EpilogueShape(layer.Output, isNorm ? layer : null, true, act, isAdd, null)}, {input.Train}, {bn}, {stats}, {r}, {output.Train}, {output.Grad}, {input.Grad}, {dr}, {dbn})";
                    inference = $"new {Rt}EpilogueOp(device, {EpilogueShape(layer.Output, isNorm ? layer : null, false, act, isAdd, null)}, {input.Infer}, {bn}, default, {(isAdd ? residual.Infer : "default")}, {output.Infer})";
                    break;
                }

                case LayerKind.MaxPool:
                case LayerKind.AvgPool:
                case LayerKind.GlobalAvgPool:
                {
                    string kind = layer.Kind switch { LayerKind.MaxPool => "Max", LayerKind.AvgPool => "Average", LayerKind.GlobalAvgPool => "GlobalAverage", _ => throw new System.InvalidOperationException($"Not a pooling: {layer.Kind}.") };
                    Shape i = layer.Input;
                    // Global pooling has no window; 1s keep the specialised kernel free of constant divisions by zero.
                    bool global = layer.Kind == LayerKind.GlobalAvgPool;
                    string shape = $"new {Kn}PoolShape(n, {Num(i.C)}, {Num(i.H)}, {Num(i.W)}, {Num(global ? 1 : layer.Kernel)}, {Num(global ? 1 : layer.Stride)}, {Num(global ? 0 : layer.Padding)}, {Kn}PoolKind.{kind})";
                    training = $"new {Rt}PoolOp(device, {shape}, {input.Train}, {output.Train}, {output.Grad}, {input.Grad})";
                    inference = $"new {Rt}PoolOp(device, {shape}, {input.Infer}, {output.Infer})";
                    break;
                }

                case LayerKind.ZeroPadShortcut:
                {
                    Shape i = layer.Input;
                    string shape = $"new {Kn}ShortcutShape(n, {Num(i.C)}, {Num(i.H)}, {Num(i.W)}, {Num(layer.Output.C)}, {Num(layer.Stride)})";
                    training = $"new {Rt}ShortcutOp(device, {shape}, {input.Train}, {output.Train}, {output.Grad}, {input.Grad})";
                    inference = $"new {Rt}ShortcutOp(device, {shape}, {input.Infer}, {output.Infer})";
                    break;
                }

                case LayerKind.ChannelScale:
                {
                    // x (the map, the first input) times the gate (the second input, C x 1 x 1), channel by channel.
                    TensorRef gate = Of(layer.Inputs[1]);
                    Shape o = layer.Output;
                    string shape = $"new {Kn}ChannelScaleShape(n, {Num(o.C)}, {Num((long)o.H * o.W)})";
                    training = $"new {Rt}ChannelScaleOp(device, {shape}, {input.Train}, {gate.Train}, {output.Train}, {output.Grad}, {input.Grad}, {gate.Grad})";
                    inference = $"new {Rt}ChannelScaleOp(device, {shape}, {input.Infer}, {gate.Infer}, {output.Infer})";
                    break;
                }

                case LayerKind.Dropout:
                    training = $"new {Rt}DropoutOp(device, {count}, {Flt(layer.Rate)}, unchecked((Options.Seed * 7919) + {Num(layer.Index)}), {input.Train}, {output.Train}, {output.Grad}, {input.Grad}, {Map(layer.Input)})";
                    inference = $"new {Rt}CopyOp(device, {count}, {input.Infer}, {output.Infer}, {Map(layer.Input)})";
                    break;

                case LayerKind.Flatten: // the same values under a flat shape
                    training = $"new {Rt}CopyOp(device, {count}, {input.Train}, {output.Train}, {output.Grad}, {input.Grad}, {Map(layer.Input)}, flatten: true)";
                    inference = $"new {Rt}CopyOp(device, {count}, {input.Infer}, {output.Infer}, {Map(layer.Input)}, flatten: true)";
                    break;

                // Conv and Dense lead convolution groups and never come here; an unknown kind is a generator bug, which
                // the generator reports as its internal-error diagnostic.
                case LayerKind.Conv:
                case LayerKind.Dense:
                default:
                    throw new System.InvalidOperationException($"No single-layer step for layer kind '{layer.Kind}' ({layer.Name}).");
            }

            _group.Add($"AddStep({Num(g)},");
            _group.Add("    " + training + ",");
            _group.Add("    " + inference + ");");
        }

        // A map as the SIMD backend's copy sees it: channels and pixels per channel, as named arguments.
        private static string Map(Shape shape) => shape.Flat ? $"channels: {Num(shape.C)}, spatial: 1" : $"channels: {Num(shape.C)}, spatial: {Num((long)shape.H * shape.W)}";

        // The name of the geometry struct of a convolution or dense layer (registered on first use).
        private string Geometry(ShapedLayer conv)
        {
            Shape i = conv.Input;
            int[] g = conv.Kind == LayerKind.Dense
                ? [(int)i.Elements, 1, 1, conv.Output.C, 1, 1, 0, 1]
                : [i.C, i.H, i.W, conv.Output.C, conv.Kernel, conv.Stride, conv.Padding, conv.Groups];
            string name = $"Conv{g[0]}x{g[1]}x{g[2]}To{g[3]}K{g[4]}S{g[5]}P{g[6]}" + (g[7] != 1 ? $"G{g[7]}" : "");
            Geometries[name] = g;
            return name;
        }

        private static string ConvShape(ShapedLayer conv, bool bias)
        {
            Shape i = conv.Input;
            return conv.Kind == LayerKind.Dense
                ? $"new {Kn}ConvShape(n, {Num(i.Elements)}, 1, 1, {Num(conv.Output.C)}, 1, 1, 0, {Bool(bias)})"
                : $"new {Kn}ConvShape(n, {Num(i.C)}, {Num(i.H)}, {Num(i.W)}, {Num(conv.Output.C)}, {Num(conv.Kernel)}, {Num(conv.Stride)}, {Num(conv.Padding)}, {Bool(bias)}" + (conv.Groups != 1 ? $", {Num(conv.Groups)})" : ")");
        }

        private static string EpilogueShape(Shape output, ShapedLayer? norm, bool training, ShapedLayer? act1, bool add, ShapedLayer? act2)
        {
            long spatial = output.Flat ? 1 : (long)output.H * output.W;
            string eps = norm is null ? "0f" : Flt(norm.Eps);
            string momentum = norm is null ? "0f" : Flt(norm.Momentum);
            return $"new {Kn}EpilogueShape(n, {Num(output.C)}, {Num(spatial)}, {Bool(norm is not null)}, {Bool(training)}, {Act(act1)}, {Bool(add)}, {Act(act2)}, {eps}, {momentum})";
        }

        private static string Act(ShapedLayer? layer) => Kn + "Activation." + (layer is null ? Activation.None : LayerKinds.ActivationOf(layer.Kind));

        private static string Bool(bool value) => value ? "true" : "false";
    }

    /// <summary>A float literal that round-trips.</summary>
    private static string Flt(double value)
    {
        float f = (float)value;
        return float.IsPositiveInfinity(f) ? "float.PositiveInfinity" : f.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "f";
    }
}
