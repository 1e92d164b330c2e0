using System.Collections.Generic;
using System.Linq;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>What diagnostics mean for generation: a clean declaration builds clean; an error stops only its own network.</summary>
public sealed class GenerationGateTests
{
    /// <summary>A small residual network: stem, max pool, two stages of a basic block (the second with a projection shortcut), pooling, dense.</summary>
    private const string Clean = """
        using DslResNet;

        namespace Clean;

        [Network(3, 16, 16)]
        public partial class SmallResNet
        {
            [Conv(16, 3, Padding = 1)] Layer conv1;
            [BatchNorm] Layer bn1;
            [ReLU] Layer relu;
            [MaxPool(3, Stride = 2, Padding = 1)] Layer maxpool;
            [Stage<Basic>(16, Repeat = 2)] Layer layer1;
            [Stage<Basic>(32, Stride = 2)] Layer layer2;
            [Conv(32, 1)] Layer mix;
            [Residual(From = nameof(layer2), Shortcut = ShortcutKind.Identity)] Layer add;
            [GlobalAvgPool] Layer avgpool;
            [Dense(10)] Layer fc;
        }

        [Block]
        public class Basic
        {
            [Conv(3, Padding = 1, Strided = true)] Layer conv1;
            [BatchNorm] Layer bn1;
            [ReLU] Layer relu1;
            [Conv(3, Padding = 1)] Layer conv2;
            [BatchNorm] Layer bn2;
            [Residual] Layer add;
            [ReLU] Layer relu2;
        }

        public static class Use
        {
            public static long Parameters => SmallResNet.ParameterCount;
        }
        """;

    [Fact]
    public void Clean_declaration_has_no_diagnostic_and_compiles_without_warnings()
    {
        HarnessResult result = Harness.Run(Clean);

        Assert.Empty(result.Diagnostics);
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Equal(new[] { "Clean.SmallResNet.g.cs" }, result.Generated.Keys);
        Assert.Contains("downsample", result.Generated["Clean.SmallResNet.g.cs"], System.StringComparison.Ordinal);

        // The layer fields are never read, so the compiler alone warns; only the suppressor keeps the build clean.
        var unsuppressed = result.Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Warning).Select(d => d.Id).Distinct().ToList();
        Assert.Equal(new[] { "CS0169" }, unsuppressed);
    }

    [Fact]
    public void Network_with_a_residual_shape_mismatch_generates_nothing_while_others_still_generate()
    {
        HarnessResult result = Harness.Run(Harness.WithUsing("""
            namespace Mixed;

            [Network(3, 8, 8)]
            public partial class Good
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Conv(8, 3, Padding = 1)] Layer conv2;
                [Residual(From = nameof(conv1))] Layer add;
            }

            [Network(3, 8, 8)]
            public partial class Bad
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Conv(8, 3)] Layer conv2;
                [Residual(From = nameof(conv1))] Layer add;
            }

            [Network(3, 8, 8)]
            public partial class AlsoGood
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Flatten] Layer flat;
                [Dense(10)] Layer fc;
            }
            """));

        Assert.Equal(new[] { "Mixed.AlsoGood.g.cs", "Mixed.Good.g.cs" }, result.Generated.Keys.OrderBy(k => k, System.StringComparer.Ordinal));
        Diagnostic error = Assert.Single(result.Errors);
        Assert.Equal("DRN0007", error.Id);
        Assert.Empty(result.GeneratorDiagnostics);
    }

    /// <summary>Unusual but legal declarations: each may earn catalogue diagnostics, never an internal error.</summary>
    public static IEnumerable<object[]> StrangeInputs() => new Dictionary<string, string>
    {
        ["huge numbers"] = """
            [Network(int.MaxValue, int.MaxValue, int.MaxValue)]
            public partial class Huge
            {
                [Conv(int.MaxValue, int.MaxValue, Stride = int.MaxValue, Padding = int.MaxValue)] Layer conv1;
                [Dense(int.MaxValue)] Layer fc;
            }
            """,
        ["huge padding"] = """
            [Network(3, 8, 8)]
            public partial class Padded
            {
                [Conv(8, 3, Padding = int.MaxValue)] Layer conv1;
            }
            """,
        ["huge flatten"] = """
            [Network(4096, 4096, 4096)]
            public partial class Wide
            {
                [Flatten] Layer flat;
                [Dense(10)] Layer fc;
            }
            """,
        ["negative and NaN settings"] = """
            [Network(-3, 8, 8, Shortcut = (ShortcutKind)42)]
            public partial class Negative
            {
                [Conv(-8, 3, Stride = -1, Padding = -1, Expansion = -2)] Layer conv1;
                [BatchNorm(Eps = double.NaN, Momentum = double.NegativeInfinity)] Layer bn1;
                [Dropout(double.NaN)] Layer drop;
                [Residual(From = null, ProjectionName = null, Shortcut = (ShortcutKind)(-1))] Layer add;
                [MaxPool(0, Stride = 0)] Layer pool;
            }
            """,
        ["parameterless network attribute"] = """
            [Network]
            public partial class NoInput
            {
                [Conv(8, 3)] Layer conv1;
            }
            """,
        ["several layers in one field declaration, named arguments out of order"] = """
            [Network(width: 8, height: 8, channels: 3)]
            public partial class Pairs
            {
                [Conv(kernel: 3, outChannels: 8, Padding = 1)] Layer a, b;
                [System.Obsolete, ReLU] Layer relu;
            }
            """,
        ["record, verbatim and unicode names, deep nesting"] = """
            public partial class Outer
            {
                public partial record Middle
                {
                    [Network(3, 8, 8)]
                    public partial record @class
                    {
                        [Conv(8, 3, Padding = 1)] Layer @int;
                        [BatchNorm] Layer réseau_1;
                    }
                }
            }
            """,
        ["block nested in its network, static and initialised fields"] = """
            [Network(3, 8, 8)]
            public abstract partial class Host
            {
                [Conv(8, 3, Padding = 1)] static Layer conv1;
                [Stage<Host.Inner>(8, Repeat = 3)] Layer layer1 = default;

                [Block]
                public sealed class Inner
                {
                    [Conv(3, Padding = 1)] Layer conv;
                    [Residual] Layer add;
                }
            }
            """,
        ["generic block used with a type argument, LayersOf chain"] = """
            [Block]
            public class Body<T>
            {
                [Conv(3, Padding = 1)] Layer conv;
            }

            [Network(3, 8, 8)]
            public partial class UsesGeneric
            {
                [Stage<Body<int>>(8)] Layer layer1;
            }

            [Network(3, 8, 8)]
            public partial class Root
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
            }

            [Network(LayersOf = typeof(Root), Plain = true)]
            public partial class Twin1;

            [Network(1, 4, 4, LayersOf = typeof(Twin1))]
            public partial class Twin2;

            [Network(LayersOf = typeof(System.Collections.Generic.List<int>))]
            public partial class Twin3;
            """,
        ["stage without block type argument resolution"] = """
            [Network(3, 8, 8)]
            public partial class Empty
            {
                [Stage<Nothing>(8, Repeat = 0, Stride = 0, Expansion = 0)] Layer layer1;
            }

            [Block]
            public class Nothing
            {
            }
            """,
    }.Select(kv => new object[] { kv.Key, kv.Value });

    [Theory]
    [MemberData(nameof(StrangeInputs))]
    public void DRN9999_is_never_reported_for_strange_but_legal_input(string name, string source)
    {
        HarnessResult result = Harness.Run(Harness.WithUsing(source));

        // An analyzer that throws past its own catch shows as AD0001; a generator that throws shows as CS8784/CS8785.
        var failures = result.Diagnostics.Concat(result.GeneratorDiagnostics)
            .Where(d => d.Id is "DRN9999" or "AD0001" or "CS8784" or "CS8785")
            .ToList();
        Assert.True(failures.Count == 0, name + ":\n" + string.Join("\n", failures));
    }
}
