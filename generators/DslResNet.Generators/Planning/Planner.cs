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

        var buffers = new List<BufferSpec>();
        for (int g = 0; g < groups.Count; g++)
        {
            ShapedLayer last = layers[groups[g].Layers[groups[g].Layers.Count - 1]];
            buffers.Add(new BufferSpec(g, last.Output.Elements * BytesPerElement, g, lastUse[g], 0));
        }

        List<BufferSpec> placed = Pack(buffers);
        long arena = placed.Count == 0 ? 0 : placed.Max(b => b.Offset + b.BytesPerImage);

        // Training keeps every group's output and, where a convolution leads a longer group, the convolution's output
        // (batch norm's input) for backward; each has a gradient of the same size, plus the input's gradient.
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

            long output = trainingElements;
            trainingElements += last.Output.Elements;
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

            layouts.Add(new GroupLayout(convOutput, output, placedByGroup[g].Offset / BytesPerElement, statistics, folded));
        }

        long gradientElements = trainingElements + network.Input.Elements;
        long training = (trainingElements + gradientElements) * BytesPerElement;

        return new NetworkPlan(
            network, groups.ToEquatableArray(), placed.OrderBy(b => b.Group).ToEquatableArray(), arena, training,
            layouts.ToEquatableArray(), trainingElements, gradientElements, scratch);
    }

    private static List<FusionGroup> Fuse(IReadOnlyList<ShapedLayer> layers, int[] consumers)
    {
        var groups = new List<FusionGroup>();
        int i = 0;
        while (i < layers.Count)
        {
            var members = new List<int> { i };
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
                int next = i + 1;
                foreach (Func<LayerKind, bool> step in steps)
                {
                    int previous = members[members.Count - 1];
                    if (next < layers.Count && step(layers[next].Kind)
                        && layers[next].Inputs[0] == previous && consumers[previous] == 1)
                    {
                        members.Add(next);
                        next++;
                    }
                }
            }

            string pattern = string.Join("+", members.Select(m => layers[m].Kind.ToString()));
            groups.Add(new FusionGroup(layers[i].Name, pattern, members.ToEquatableArray()));
            i += members.Count;
        }

        return groups;
    }

    /// <summary>First-fit packing, largest buffers first: each goes at the lowest offset free for its whole lifetime.</summary>
    private static List<BufferSpec> Pack(List<BufferSpec> buffers)
    {
        var placed = new List<BufferSpec>();
        foreach (BufferSpec buffer in buffers.OrderByDescending(b => b.BytesPerImage).ThenBy(b => b.Group))
        {
            var overlapping = placed
                .Where(p => p.FirstUse <= buffer.LastUse && buffer.FirstUse <= p.LastUse)
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
