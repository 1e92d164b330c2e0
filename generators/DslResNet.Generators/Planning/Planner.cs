using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.Generators.Infrastructure;
using DslResNet.Generators.Model;
using DslResNet.Generators.Shapes;

namespace DslResNet.Generators.Planning;

/// <summary>
/// Plans execution: fuses conv -> batch norm -> activation (-> residual add -> activation) into groups, works out
/// when each group's output is alive, and packs inference buffers into one arena (buffers whose lifetimes do not
/// overlap share memory).
/// </summary>
internal static class Planner
{
    private const int BytesPerElement = sizeof(float);

    /// <summary>Plans a network without errors.</summary>
    public static NetworkPlan Plan(ShapedNetwork network)
    {
        IReadOnlyList<ShapedLayer> layers = network.Layers.ToList();
        int[] consumers = new int[layers.Count];
        foreach (ShapedLayer layer in layers)
        {
            foreach (int input in layer.Inputs)
            {
                if (input >= 0)
                {
                    consumers[input]++;
                }
            }
        }

        List<FusionGroup> groups = Fuse(layers, consumers);
        int[] groupOf = new int[layers.Count];
        for (int g = 0; g < groups.Count; g++)
        {
            foreach (int l in groups[g].Layers)
            {
                groupOf[l] = g;
            }
        }

        // Each group's output (its last layer's) is a buffer, alive until the last group that reads it.
        var lastUse = new int[groups.Count];
        for (int g = 0; g < groups.Count; g++)
        {
            lastUse[g] = g;
        }

        foreach (ShapedLayer layer in layers)
        {
            foreach (int input in layer.Inputs)
            {
                // Only a group's last layer is read from outside it (fusion absorbs single-consumer outputs only).
                if (input >= 0 && groups[groupOf[input]].Layers[groups[groupOf[input]].Layers.Count - 1] == input)
                {
                    lastUse[groupOf[input]] = Math.Max(lastUse[groupOf[input]], groupOf[layer.Index]);
                }
            }
        }

        // A group that adds another group's output, read by nothing after it, writes its own output over that residual: the
        // add reads each residual value where it then stores the sum, so the two are one buffer, and so is a chain of such
        // blocks (a stage of identity blocks). Backends that apply the add as the convolution stores (the SIMD backend) save
        // the residual's separate read and the output's; the others give the convolution a buffer of its own (see
        // NetworkBase.AddConvolution). ResNet-50 at batch 8, `profile resnet50-224 infer 2 24 ab`: the 64x56x56->256 layers
        // 0.91-0.96 of their time, 128x28x28->512 0.87-0.98, the call 0.961 and 0.972.
        int[] shares = Enumerable.Range(0, groups.Count).ToArray();
        for (int g = 0; g < groups.Count; g++)
        {
            shares[g] = ResidualOverwritten(layers, groups, groupOf, lastUse, g) is int residual ? shares[residual] : g;
        }

        var buffers = new List<BufferSpec>();
        for (int g = 0; g < groups.Count; g++)
        {
            if (shares[g] != g)
            {
                continue;
            }

            long bytes = 0;
            int end = g;
            for (int m = g; m < groups.Count; m++)
            {
                if (shares[m] == g)
                {
                    bytes = Math.Max(bytes, layers[groups[m].Layers[groups[m].Layers.Count - 1]].Output.Elements * BytesPerElement);
                    end = Math.Max(end, lastUse[m]);
                }
            }

            buffers.Add(new BufferSpec(g, bytes, g, end, 0));
        }

        var packed = Pack(buffers).ToDictionary(b => b.Group);
        var placed = new List<BufferSpec>();
        for (int g = 0; g < groups.Count; g++)
        {
            ShapedLayer last = layers[groups[g].Layers[groups[g].Layers.Count - 1]];
            placed.Add(new BufferSpec(g, last.Output.Elements * BytesPerElement, g, lastUse[g], packed[shares[g]].Offset));
        }

        long arena = packed.Count == 0 ? 0 : packed.Values.Max(b => b.Offset + b.BytesPerImage);

        // Training keeps every group's output and, where a convolution leads a longer group, the convolution's output
        // (batch norm's input) for backward. Each has a gradient of the same size, and the input has one too; see
        // PlanGradients for how those share memory.
        var layouts = new List<GroupLayout>();
        long trainingElements = 0;
        long scratch = 0;
        var placedByGroup = placed.ToDictionary(b => b.Group);
        for (int g = 0; g < groups.Count; g++)
        {
            ShapedLayer lead = layers[groups[g].Layers[0]];
            ShapedLayer last = layers[groups[g].Layers[groups[g].Layers.Count - 1]];
            bool convolution = lead.Kind is LayerKind.Conv or LayerKind.Dense;
            long convOutput = -1;
            if (convolution && groups[g].Layers.Count > 1)
            {
                convOutput = trainingElements;
                trainingElements += lead.Output.Elements;
            }

            // A group that ends a convolution's pass without an add (conv -> batch norm -> activation) and is not the network's
            // output keeps only the convolution output: its own output is recomputed from it for backward (see GroupLayout).
            bool recomputed = convOutput >= 0 && g < groups.Count - 1 && !groups[g].Layers.Any(l => layers[l].Kind == LayerKind.Add);

            // A zero-pad shortcut whose readers' backward reads no values (its add's does not, nor does its own) is not kept
            // either, and never recomputed.
            recomputed |= groups[g].Layers.Count == 1 && lead.Kind == LayerKind.ZeroPadShortcut && g < groups.Count - 1
                && BackwardReaders(layers, groups, groupOf, g).Count == 0;
            long output = recomputed ? -1 : trainingElements;
            if (!recomputed)
            {
                trainingElements += last.Output.Elements;
            }

            ShapedLayer? norm = groups[g].Layers.Select(l => layers[l]).FirstOrDefault(l => l.Kind == LayerKind.BatchNorm);
            long statistics = -1;
            long folded = -1;
            if (norm is not null)
            {
                statistics = scratch;
                scratch += 4L * norm.Output.C;
                if (convolution)
                {
                    folded = scratch;
                    scratch += (lead.Parameters - (lead.Bias ? lead.Output.C : 0)) + lead.Output.C;
                }
            }

            // Recomputed before the backward of its last reader whose backward reads it (none: never recomputed).
            int recomputeBefore = recomputed ? BackwardReaders(layers, groups, groupOf, g).DefaultIfEmpty(-1).Max() : -1;
            layouts.Add(new GroupLayout(convOutput, output, placedByGroup[g].Offset / BytesPerElement, statistics, folded, -1, -1, recomputed, recomputeBefore));
        }

        int inputLastUse = 0;
        foreach (ShapedLayer layer in layers)
        {
            if (layer.Inputs.Any(input => input < 0))
            {
                inputLastUse = Math.Max(inputLastUse, groupOf[layer.Index]);
            }
        }

        List<GradientBufferSpec> gradients = PlanGradients(network, layers, groups, groupOf, layouts, lastUse, inputLastUse);
        var gradientOffsets = gradients.Where(b => !b.IsUnkeptOutput).ToDictionary(b => (b.Group, b.IsConvOutput), b => b.Offset);
        var recomputedOffsets = gradients.Where(b => b.IsUnkeptOutput).ToDictionary(b => b.Group, b => b.Offset);
        for (int g = 0; g < groups.Count; g++)
        {
            // The convolution output's gradient is the group output's own memory (see PlanGradients).
            long gradientConvOutput = layouts[g].ConvOutput < 0 ? -1 : gradientOffsets[(g, false)];
            long output = layouts[g].OutputNotKept ? recomputedOffsets[g] : layouts[g].Output;
            layouts[g] = layouts[g] with { GradientOutput = gradientOffsets[(g, false)], GradientConvOutput = gradientConvOutput, Output = output };
        }

        long inputGradient = gradientOffsets[(-1, false)];
        long gradientElements = gradients.Count == 0 ? 0 : gradients.Max(b => b.Offset + b.Elements);
        long training = (trainingElements + gradientElements) * BytesPerElement;

        return new NetworkPlan(
            network, groups.ToEquatableArray(), placed.OrderBy(b => b.Group).ToEquatableArray(), arena, training,
            layouts.ToEquatableArray(), trainingElements, gradientElements, scratch, inputGradient,
            gradients.OrderBy(b => b.ClearBefore).ThenBy(b => b.Offset).ToEquatableArray());
    }

    /// <summary>
    /// Packs the gradient buffers of training by their lifetimes in the backward pass, which runs the groups last to
    /// first. The gradient of group g's output is first added into by the backward of its last reader (lastUse[g]) and
    /// last read by g's own backward: it is alive over [g, lastUse[g]], the same interval as the output in the forward
    /// pass. The gradient of a convolution's output inside a group takes the group output gradient's memory: the fused
    /// pass reads each element of the output gradient and then writes the same element of the input gradient (it is the
    /// only writer and the output gradient's last reader), and the convolution reads it after. The input's gradient is first added into by its last reader and read after the
    /// pass (<c>InputGradient</c>): [0, its last reader]. Intervals are closed (a step reads one buffer while it adds into
    /// another), so buffers of one step never share. Because shared memory holds a previous buffer's values, each buffer
    /// is cleared right before the backward step that first adds into it (<see cref="GradientBufferSpec.ClearBefore"/>;
    /// at run time the SIMD device lets that step's first writer overwrite it instead where the writer covers it, see
    /// NetworkBase.PlanOverwrites); the last group's output gradient is written, not added into, by the loss, and is not cleared. Recomputed group
    /// outputs (<see cref="GroupLayout.OutputNotKept"/>) are packed here too, over the same interval as their gradients.
    /// </summary>
    private static List<GradientBufferSpec> PlanGradients(
        ShapedNetwork network, IReadOnlyList<ShapedLayer> layers, List<FusionGroup> groups, int[] groupOf, List<GroupLayout> layouts,
        int[] lastUse, int inputLastUse)
    {
        int lastGroup = groups.Count - 1;
        var buffers = new List<BufferSpec>();
        var specs = new Dictionary<int, GradientBufferSpec>();
        var backward = new Dictionary<int, (int, int)?>();
        void Add(GradientBufferSpec spec)
        {
            int id = buffers.Count;
            buffers.Add(new BufferSpec(id, spec.Elements, spec.FirstUse, spec.LastUse, 0));
            specs[id] = spec;
        }

        // The input's first: a network without groups has only it (its gradient is then the output's, written by the loss).
        Add(new GradientBufferSpec(-1, false, network.Input.Elements, 0, inputLastUse, lastGroup < 0 ? -1 : inputLastUse, 0));
        for (int g = 0; g < groups.Count; g++)
        {
            long elements = layers[groups[g].Layers[groups[g].Layers.Count - 1]].Output.Elements;
            Add(new GradientBufferSpec(g, false, elements, g, lastUse[g], g == lastGroup ? -1 : lastUse[g], 0));
            if (layouts[g].OutputNotKept)
            {
                // Alive over [g, lastUse[g]] in the forward pass (written by g, read by its readers), and in the backward
                // pass from its recomputation before the last backward that reads it to the first such backward
                // (backward[id]); in between, other buffers may use the memory.
                List<int> readers = BackwardReaders(layers, groups, groupOf, g);
                backward[buffers.Count] = readers.Count == 0 ? null : (readers.Min(), readers.Max());
                Add(new GradientBufferSpec(g, false, elements, g, lastUse[g], -1, 0, IsUnkeptOutput: true));
            }
        }

        // Gradients live only in the backward pass; recomputed outputs in the forward pass over [FirstUse, LastUse] and in
        // the backward pass over their readers' interval. Two buffers may share memory when neither pass has both alive.
        bool Meet((int First, int Last)? a, (int First, int Last)? b) => a is { } x && b is { } y && x.First <= y.Last && y.First <= x.Last;
        (int, int)? Backward(BufferSpec b) => specs[b.Group].IsUnkeptOutput ? backward[b.Group] : (b.FirstUse, b.LastUse);
        (int, int)? Forward(BufferSpec b) => specs[b.Group].IsUnkeptOutput ? (b.FirstUse, b.LastUse) : null;
        bool Overlap(BufferSpec a, BufferSpec b) => Meet(Backward(a), Backward(b)) || Meet(Forward(a), Forward(b));

        // Pack's sizes are floats here (it only compares them).
        return Pack(buffers, Overlap).Select(b => specs[b.Group] with { Offset = b.Offset }).ToList();
    }

    /// <summary>
    /// The groups whose backward reads group <paramref name="g"/>'s output values: every reader, except an add fused into a
    /// convolution's pass that takes it as the residual with no activation after it that needs its input (GELU, SiLU), and
    /// a zero-pad shortcut, whose backward routes gradients only.
    /// </summary>
    private static List<int> BackwardReaders(IReadOnlyList<ShapedLayer> layers, List<FusionGroup> groups, int[] groupOf, int g)
    {
        int last = groups[g].Layers[groups[g].Layers.Count - 1];
        var readers = new List<int>();
        foreach (ShapedLayer layer in layers)
        {
            if (!layer.Inputs.Contains(last) || groupOf[layer.Index] == g)
            {
                continue;
            }

            int c = groupOf[layer.Index];
            List<ShapedLayer> members = groups[c].Layers.Select(l => layers[l]).ToList();
            bool fusedResidual = layer.Kind == LayerKind.Add && members.Count > 1 && members[0].Kind is LayerKind.Conv or LayerKind.Dense
                && members.IndexOf(layer) > 0 && members[members.IndexOf(layer) - 1].Index != last
                && !members.Skip(members.IndexOf(layer) + 1).Any(m => m.Kind is LayerKind.GELU or LayerKind.SiLU);
            if (!fusedResidual && layer.Kind != LayerKind.ZeroPadShortcut)
            {
                readers.Add(c);
            }
        }

        return readers;
    }

    private static List<FusionGroup> Fuse(IReadOnlyList<ShapedLayer> layers, int[] consumers)
    {
        var groups = new List<FusionGroup>();
        var placed = new bool[layers.Count];
        for (int i = 0; i < layers.Count; i++)
        {
            if (placed[i])
            {
                continue;
            }

            var members = new List<int> { i };
            int hoisted = -1;
            if (layers[i].Kind is LayerKind.Conv or LayerKind.Dense)
            {
                // Absorb the chain that reads only the previous member's output: BN, activation, add, activation.
                // Every activation fuses: the pass recomputes an activation's input in backward where it needs it (GELU, SiLU).
                Func<LayerKind, bool>[] steps =
                {
                    k => k == LayerKind.BatchNorm,
                    LayerKinds.IsActivation,
                    k => k == LayerKind.Add,
                    LayerKinds.IsActivation,
                };
                // An add fuses whichever of its inputs the chain produced: the other is the residual, computed earlier
                // (in a torchvision bottleneck's first block the add follows the projection shortcut's convolution, so it
                // fuses there, with the main path's output as the residual, instead of running as passes of its own).
                int next = i + 1;
                foreach (Func<LayerKind, bool> step in steps)
                {
                    int previous = members[members.Count - 1];
                    int candidate = next;
                    int hoist = -1;
                    if (HoistableShortcut(layers, consumers, members, previous, candidate))
                    {
                        // An option-A shortcut declared between the chain and its add: it reads the block's input only, so
                        // it runs as its own group before the chain, and the add joins the chain.
                        hoist = candidate;
                        candidate++;
                    }

                    if (candidate < layers.Count && step(layers[candidate].Kind) && consumers[previous] == 1
                        && (layers[candidate].Inputs[0] == previous
                            || (layers[candidate].Kind == LayerKind.Add && layers[candidate].Inputs.Count == 2 && layers[candidate].Inputs[1] == previous)))
                    {
                        if (hoist >= 0)
                        {
                            hoisted = hoist;
                        }

                        members.Add(candidate);
                        next = candidate + 1;
                    }
                }
            }

            if (hoisted >= 0)
            {
                placed[hoisted] = true;
                groups.Add(new FusionGroup(layers[hoisted].Name, layers[hoisted].Kind.ToString(), new[] { hoisted }.ToEquatableArray()));
            }

            foreach (int m in members)
            {
                placed[m] = true;
            }

            string pattern = string.Join("+", members.Select(m => layers[m].Kind.ToString()));
            groups.Add(new FusionGroup(layers[i].Name, pattern, members.ToEquatableArray()));
        }

        return groups;
    }

    // Whether layer <paramref name="candidate"/> is a zero-pad shortcut whose only reader is the add right after it, which
    // also reads the chain's last member, and which reads nothing the chain computes.
    private static bool HoistableShortcut(IReadOnlyList<ShapedLayer> layers, int[] consumers, List<int> members, int previous, int candidate)
    {
        if (candidate + 1 >= layers.Count || layers[candidate].Kind != LayerKind.ZeroPadShortcut || consumers[candidate] != 1)
        {
            return false;
        }

        ShapedLayer add = layers[candidate + 1];
        return add.Kind == LayerKind.Add && add.Inputs.Count == 2 && add.Inputs.Contains(candidate) && add.Inputs.Contains(previous)
            && !layers[candidate].Inputs.Any(members.Contains);
    }

    /// <summary>
    /// The group whose output group <paramref name="g"/> may write its own over (see Plan): the residual of an add in
    /// <paramref name="g"/> that is another group's output, as large as <paramref name="g"/>'s, read by no layer of
    /// <paramref name="g"/> but the add and by no group after it; null when there is none.
    /// </summary>
    private static int? ResidualOverwritten(IReadOnlyList<ShapedLayer> layers, List<FusionGroup> groups, int[] groupOf, int[] lastUse, int g)
    {
        ShapedLayer last = layers[groups[g].Layers[groups[g].Layers.Count - 1]];
        foreach (int l in groups[g].Layers)
        {
            if (layers[l].Kind != LayerKind.Add)
            {
                continue;
            }

            foreach (int input in layers[l].Inputs)
            {
                if (input < 0 || groupOf[input] == g || lastUse[groupOf[input]] != g
                    || layers[input].Output.Elements != last.Output.Elements
                    || groups[g].Layers.Any(m => m != l && layers[m].Inputs.Contains(input))
                    || layers[l].Inputs.Count(i => i == input) != 1)
                {
                    continue;
                }

                return groupOf[input];
            }
        }

        return null;
    }

    /// <summary>First-fit packing, largest buffers first: each goes at the lowest offset free for its whole lifetime.</summary>
    /// <param name="buffers">The buffers.</param>
    /// <param name="overlap">Whether two buffers are alive at once (default: their [FirstUse, LastUse] intervals meet).</param>
    private static List<BufferSpec> Pack(List<BufferSpec> buffers, Func<BufferSpec, BufferSpec, bool>? overlap = null)
    {
        overlap ??= (a, b) => a.FirstUse <= b.LastUse && b.FirstUse <= a.LastUse;
        var placed = new List<BufferSpec>();
        foreach (BufferSpec buffer in buffers.OrderByDescending(b => b.BytesPerImage).ThenBy(b => b.Group))
        {
            var overlapping = placed
                .Where(p => overlap(p, buffer))
                .OrderBy(p => p.Offset)
                .ToList();
            long offset = 0;
            foreach (BufferSpec p in overlapping)
            {
                if (offset + buffer.BytesPerImage <= p.Offset)
                {
                    break;
                }

                offset = Math.Max(offset, p.Offset + p.BytesPerImage);
            }

            placed.Add(buffer with { Offset = offset });
        }

        return placed;
    }
}
