using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using DslResNet.Generators.Planning;
using DslResNet.Generators.Shapes;

namespace DslResNet.Generators.Emit;

/// <summary>Formats the layer tables: the full one (every primitive layer) and the compact one (one row per declared member).</summary>
internal static class SummaryTable
{
    private static readonly string[] Header = { "Layer", "Operation", "Output shape", "Param #", "FLOPs" };

    /// <summary>The table for the class's XML doc: one row per declared member.</summary>
    public static IEnumerable<string> Compact(ShapedNetwork n)
    {
        var rows = n.Members.Select(m => new[] { m.Name, m.Operation, m.Output.ToString(), Emitter.Group(m.Parameters), Emitter.Group(m.Flops) }).ToList();
        foreach (string line in Table(rows))
        {
            yield return line;
        }

        yield return "Total params: " + Emitter.Group(n.ParameterCount);
    }

    /// <summary>The full summary, like Keras' <c>model.summary()</c>.</summary>
    public static IEnumerable<string> Full(NetworkPlan plan)
    {
        ShapedNetwork n = plan.Network;
        yield return $"Network: {n.Identity.Name}";
        yield return $"Input: {n.Input}";
        var rows = n.Layers.Select(l => new[] { l.Name, l.Operation, l.Output.ToString(), Emitter.Group(l.Parameters), Emitter.Group(l.Flops) }).ToList();
        foreach (string line in Table(rows))
        {
            yield return line;
        }

        long buffers = n.Parameters.Where(p => !p.IsTrainable).Sum(p => p.Elements);
        yield return $"Total params: {Emitter.Group(n.ParameterCount)} (trainable; plus {Emitter.Group(buffers)} buffer elements)";
        yield return $"Multiply-adds per image: {Emitter.Group(n.Layers.Sum(l => l.MultiplyAdds))}";
        yield return $"Forward FLOPs per image: {Emitter.Group(n.Layers.Sum(l => l.Flops))} (2 per multiply-add, 1 per element-wise operation)";
        yield return $"Activation memory per image: training {Bytes(plan.TrainingBytesPerImage)}, inference {Bytes(plan.InferenceBytesPerImage)}";
        yield return $"Fusion groups: {plan.Groups.Count} passes for {n.Layers.Count} layers";
    }

    private static IEnumerable<string> Table(List<string[]> rows)
    {
        int[] widths = Header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        string rule = new string('-', widths.Sum() + (2 * (widths.Length - 1)));
        yield return Row(Header, widths);
        yield return rule.Replace('-', '=');
        foreach (string[] row in rows)
        {
            yield return Row(row, widths);
        }

        yield return rule;
    }

    private static string Row(string[] cells, int[] widths)
    {
        // Text columns left-aligned, numbers right-aligned.
        var parts = cells.Select((c, i) => i >= 3 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]));
        return string.Join("  ", parts).TrimEnd();
    }

    private static string Bytes(long bytes) => bytes >= 1 << 20
        ? (bytes / (double)(1 << 20)).ToString("0.00", CultureInfo.InvariantCulture) + " MiB"
        : (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB";
}
