using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using Basic.Reference.Assemblies;
using DslResNet.Generators.Emit;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace DslResNet.Generators.Tests.Emit;

/// <summary>
/// <see cref="LoopRoller"/> must be exact: rolled code does what the items it replaces do. Checked by running both: random
/// item sequences (repeated patterns whose numbers stay, step, alternate or jump; dotted names with stepping indexes; real
/// literals; noise between) are compiled unrolled and rolled, and the two methods must return the same values in order.
/// </summary>
public sealed class LoopRollerTests
{
    private const int Cases = 160;

    [Fact]
    public void Rolled_code_computes_exactly_what_the_unrolled_items_compute()
    {
        var source = new StringBuilder();
        source.AppendLine("using System.Collections.Generic;");
        source.AppendLine("public static class Rolls {");
        source.AppendLine("  static string F(long a, string b, float c, long d) => a.ToString(System.Globalization.CultureInfo.InvariantCulture) + \"|\" + b + \"|\" + c.ToString(\"R\", System.Globalization.CultureInfo.InvariantCulture) + \"|\" + d.ToString(System.Globalization.CultureInfo.InvariantCulture);");
        int rolledItems = 0, items = 0, loops = 0;
        for (int seed = 0; seed < Cases; seed++)
        {
            List<IReadOnlyList<string>> sequence = Sequence(new Random(seed));
            List<string> rolled = LoopRoller.Roll(sequence);
            items += sequence.Count;
            loops += rolled.Count(l => l.TrimStart().StartsWith("for (", StringComparison.Ordinal));
            rolledItems += rolled.Count(l => l.Contains("t.Add(", StringComparison.Ordinal));
            Method(source, "U" + seed, sequence.SelectMany(i => i));
            Method(source, "R" + seed, rolled);
        }

        source.AppendLine("}");
        Type rolls = Load(source.ToString());
        for (int seed = 0; seed < Cases; seed++)
        {
            var unrolled = (List<string>)rolls.GetMethod("U" + seed)!.Invoke(null, null)!;
            var rolled = (List<string>)rolls.GetMethod("R" + seed)!.Invoke(null, null)!;
            Assert.True(unrolled.SequenceEqual(rolled), $"seed {seed}: the rolled code computes other values");
        }

        // The test means something only if it rolled a lot: most items end up inside loops.
        Assert.True(loops > Cases, $"only {loops} loops in {Cases} cases");
        Assert.True(rolledItems * 3 < items, $"{rolledItems} statements written for {items} items");
    }

    [Fact]
    public void A_stage_of_equal_blocks_becomes_one_readable_loop()
    {
        var items = Enumerable.Range(0, 6).Select(b => (IReadOnlyList<string>)new[]
        {
            $"// {b}: layer1.{b}.conv1",
            $"Add({b * 2}, \"layer1.{b}.conv1.weight\", Tensor({1000 + (b * 64)}, 64), 0.1f, {(b % 2 == 0 ? 0 : 32)});",
        }).ToList();
        Assert.Equal(
            [
                "for (int r = 0; r < 3; r++)",
                "{",
                "    // {2 * r}: layer1.{2 * r}.conv1",
                "    Add(4 * r, $\"layer1.{2 * r}.conv1.weight\", Tensor(1000 + 128 * r, 64), 0.1f, 0);",
                "    // {1 + 2 * r}: layer1.{1 + 2 * r}.conv1",
                "    Add(2 + 4 * r, $\"layer1.{1 + 2 * r}.conv1.weight\", Tensor(1064 + 128 * r, 64), 0.1f, 32);",
                "}",
            ],
            LoopRoller.Roll(items));
    }

    [Fact]
    public void Two_repetitions_and_different_items_stay_as_they_are()
    {
        var items = new[] { "A(1);", "A(2);", "B(3);", "C(4);" }.Select(s => (IReadOnlyList<string>)new[] { s }).ToList();
        Assert.Equal(items.SelectMany(i => i), LoopRoller.Roll(items));
    }

    // Writes: public static List<string> Name() { var t = new List<string>(); ...lines... return t; }
    private static void Method(StringBuilder source, string name, IEnumerable<string> lines)
    {
        source.AppendLine($"  public static List<string> {name}() {{ var t = new List<string>();");
        foreach (string line in lines)
        {
            source.AppendLine("    " + line);
        }

        source.AppendLine("    return t; }");
    }

    // Noise items and repeated patterns; each item is t.Add(F(number, "dotted.name", real, number)); with a comment line.
    private static List<IReadOnlyList<string>> Sequence(Random random)
    {
        var items = new List<IReadOnlyList<string>>();
        int segments = random.Next(1, 6);
        for (int s = 0; s < segments; s++)
        {
            if (random.Next(3) == 0)
            {
                items.Add(Item(random.Next(-50, 50), $"stem{random.Next(3)}.{random.Next(4)}", random.Next(2) == 0 ? "0.1f" : "1E-05f", random.Next(100), "noise"));
                continue;
            }

            int period = random.Next(1, 5), reps = random.Next(1, 14);
            // Per item of the period: how each of its two numbers and its name's index behave across repetitions.
            var kinds = Enumerable.Range(0, period).Select(_ => (A: random.Next(5), D: random.Next(5), Start: random.Next(-1000, 1000), Step: random.Next(-300, 300))).ToArray();
            string stage = "layer" + random.Next(1, 5);
            for (int r = 0; r < reps; r++)
            {
                foreach (var k in kinds)
                {
                    items.Add(Item(Value(k.A, k.Start, k.Step, r, random), $"{stage}.{r}.conv{k.A}", "0.5f", Value(k.D, k.Start * 7L, k.Step, r, random), $"{stage} block {r}"));
                }
            }
        }

        return items;
    }

    private static long Value(int kind, long start, long step, int r, Random random) => kind switch
    {
        0 => start,
        1 => start + (step * r),
        2 => r % 2 == 0 ? start : start + step,
        3 => r == 0 ? start - 5 : start + (step * r),
        _ => random.Next(2) == 0 ? start : random.Next(0, 3_000_000) * 1000L, // jumps, some past int
    };

    private static IReadOnlyList<string> Item(long a, string name, string real, long d, string comment) =>
    [
        "// " + comment,
        $"t.Add(F({a.ToString(CultureInfo.InvariantCulture)}, \"{name}\", {real}, {d.ToString(CultureInfo.InvariantCulture)}));",
    ];

    private static Type Load(string source)
    {
        CSharpCompilation compilation = CSharpCompilation.Create(
            "Rolls",
            [CSharpSyntaxTree.ParseText(source, Harness.ParseOptions)],
            Net100.References.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10)));
        stream.Position = 0;
        Assembly assembly = new AssemblyLoadContext("rolls", isCollectible: true).LoadFromStream(stream);
        return assembly.GetType("Rolls")!;
    }
}
