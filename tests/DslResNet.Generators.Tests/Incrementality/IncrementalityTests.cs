using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Reflection;
using DslResNet.Generators.Model;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace DslResNet.Generators.Tests.Incrementality;

/// <summary>
/// Which pipeline steps rerun after one edit: the generator is run once to warm the driver, then again on the
/// compilation with the edit, and the reasons of every tracked step are compared, network by network, with the
/// expected ones (<see cref="StepReasons"/>).
/// </summary>
public sealed class IncrementalityTests
{
    private const string Ns = "DslResNet.Samples.";

    /// <summary>Every sample network that uses <c>BasicBlock</c>, directly or through <c>LayersOf</c>.</summary>
    private static readonly string[] BasicBlockUsers =
    {
        "ResNet20", "Plain20", "ResNet32", "Plain32", "ResNet44", "Plain44", "ResNet56", "Plain56", "ResNet110", "Plain110",
        "ResNet18", "Plain18", "ResNet34", "Plain34",
    };

    [Fact]
    public void Running_again_on_the_same_compilation_caches_every_step()
    {
        var (driver, compilation) = Warm();
        GeneratorDriverRunResult run = driver.RunGenerators(compilation).GetRunResult();

        AssertReasons(run, StepReasons.Cached);
    }

    [Fact]
    public void An_unrelated_new_file_reparses_to_the_same_models_and_caches_the_rest()
    {
        var (driver, compilation) = Warm();
        CSharpCompilation edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText(
            "namespace Other;\n\npublic sealed class Unrelated\n{\n    public int Value { get; set; }\n}\n", Harness.ParseOptions, "/other/Unrelated.cs"));

        AssertReasons(driver.RunGenerators(edited).GetRunResult(), StepReasons.Reparsed);
    }

    [Fact]
    public void A_comment_at_the_end_of_a_network_class_moves_nothing_of_it()
    {
        var (driver, compilation) = Warm();
        CSharpCompilation edited = Edit(compilation, "Cifar/ResNet20.cs", "[Dense(10)] Layer fc;\n", "[Dense(10)] Layer fc;\n    // the classifier\n");

        // ResNet20's spans are all before the comment; Plain20 is declared after it, so its own spans moved.
        AssertReasons(driver.RunGenerators(edited).GetRunResult(), StepReasons.Reparsed, (Ns + "Plain20", StepReasons.Moved));
    }

    [Fact]
    public void A_comment_above_a_network_class_moves_its_spans_but_validation_drops_them()
    {
        var (driver, compilation) = Warm();
        CSharpCompilation edited = Edit(compilation, "Cifar/ResNet20.cs", "[Network(3, 32, 32", "// An edit that moves text.\n[Network(3, 32, 32");

        AssertReasons(
            driver.RunGenerators(edited).GetRunResult(), StepReasons.Reparsed,
            (Ns + "ResNet20", StepReasons.Moved), (Ns + "Plain20", StepReasons.Moved));
    }

    [Fact]
    public void A_comment_inside_a_network_class_between_layers_moves_its_spans_but_validation_drops_them()
    {
        var (driver, compilation) = Warm();
        CSharpCompilation edited = Edit(compilation, "Cifar/ResNet20.cs", "[ReLU] Layer relu;\n", "[ReLU] Layer relu;\n    // Three stages follow.\n");

        // Plain20 takes ResNet20's layers (and their spans) by LayersOf, and is declared below the edit.
        AssertReasons(
            driver.RunGenerators(edited).GetRunResult(), StepReasons.Reparsed,
            (Ns + "ResNet20", StepReasons.Moved), (Ns + "Plain20", StepReasons.Moved));
    }

    [Fact]
    public void Changing_a_layer_number_reruns_every_step_and_changes_the_generated_text()
    {
        var (driver, compilation) = Warm();
        string before = Generated(driver, Ns + "ResNet20.g.cs");
        CSharpCompilation edited = Edit(compilation, "Cifar/ResNet20.cs", "[Dense(10)] Layer fc;", "[Dense(100)] Layer fc;");

        GeneratorDriver next = driver.RunGenerators(edited);

        AssertReasons(
            next.GetRunResult(), StepReasons.Reparsed,
            (Ns + "ResNet20", StepReasons.Modified), (Ns + "Plain20", StepReasons.Modified));
        string after = Generated(next, Ns + "ResNet20.g.cs");
        Assert.NotEqual(before, after);
        Assert.Contains("TensorShape.Flat(100)", after, StringComparison.Ordinal);
    }

    [Fact]
    public void Changing_a_stage_channel_count_reruns_every_step_of_that_network()
    {
        var (driver, compilation) = Warm();
        CSharpCompilation edited = Edit(compilation, "ImageNet/ResNet50.cs", "[Stage<Bottleneck>(512, Repeat = 3", "[Stage<Bottleneck>(256, Repeat = 3");

        GeneratorDriver next = driver.RunGenerators(edited);

        AssertReasons(
            next.GetRunResult(), StepReasons.Reparsed,
            (Ns + "ResNet50", StepReasons.Modified), (Ns + "Plain50", StepReasons.Modified));
        Assert.NotEqual(Generated(driver, Ns + "ResNet50.g.cs"), Generated(next, Ns + "ResNet50.g.cs"));
    }

    [Fact]
    public void Editing_a_block_in_another_file_reruns_every_network_that_embeds_it()
    {
        var (driver, compilation) = Warm();
        CSharpCompilation edited = Edit(compilation, "Blocks/BasicBlock.cs", "[Conv(3, Padding = 1)] Layer conv2;", "[Conv(3, Padding = 1, Bias = true)] Layer conv2;");

        GeneratorDriver next = driver.RunGenerators(edited);

        AssertReasons(next.GetRunResult(), StepReasons.Reparsed, BasicBlockUsers.Select(n => (Ns + n, StepReasons.Modified)).ToArray());
        foreach (string network in BasicBlockUsers)
        {
            Assert.NotEqual(Generated(driver, Ns + network + ".g.cs"), Generated(next, Ns + network + ".g.cs"));
        }

        Assert.Equal(Generated(driver, Ns + "ResNet50.g.cs"), Generated(next, Ns + "ResNet50.g.cs"));
    }

    [Fact]
    public void A_comment_in_a_block_file_leaves_the_networks_that_embed_it_cached_after_validation()
    {
        var (driver, compilation) = Warm();
        CSharpCompilation edited = Edit(compilation, "Blocks/BasicBlock.cs", "[Block]", "// Used by ResNet-18/34 and the CIFAR nets.\n[Block]");

        // The block's layer spans moved, so every embedding network's parse differs; nothing else does.
        AssertReasons(driver.RunGenerators(edited).GetRunResult(), StepReasons.Reparsed, BasicBlockUsers.Select(n => (Ns + n, StepReasons.Moved)).ToArray());
    }

    [Fact]
    public void Editing_one_of_two_networks_in_one_file_leaves_the_other_cached()
    {
        const string source = """
            namespace Pair;

            [Network(1, 28, 28)]
            public partial class First
            {
                [Conv(8, 3, Padding = 1)] Layer conv;
                [ReLU] Layer relu;
                [Flatten] Layer flatten;
                [Dense(10)] Layer fc;
            }

            [Network(1, 28, 28)]
            public partial class Second
            {
                [Conv(8, 3, Padding = 1)] Layer conv;
                [ReLU] Layer relu;
                [Flatten] Layer flatten;
                [Dense(10)] Layer fc;
            }
            """;
        var (driver, compilation) = Warm(("/src/Pair.cs", Harness.WithUsing(source)));
        Assert.Equal(2, driver.GetRunResult().GeneratedTrees.Length);
        string second = Generated(driver, "Pair.Second.g.cs");

        // Edit the last layer of the second network, so the first's spans do not move.
        int at = Harness.WithUsing(source).LastIndexOf("[Dense(10)]", StringComparison.Ordinal);
        CSharpCompilation edited = Edit(compilation, "/src/Pair.cs", at, "[Dense(10)]", "[Dense(12)]");
        GeneratorDriver next = driver.RunGenerators(edited);

        AssertReasons(next.GetRunResult(), StepReasons.Reparsed, ("Pair.Second", StepReasons.Modified));
        Assert.Equal(Generated(driver, "Pair.First.g.cs"), Generated(next, "Pair.First.g.cs"));
        Assert.NotEqual(second, Generated(next, "Pair.Second.g.cs"));
    }

    [Fact]
    public void Networks_that_use_a_referenced_assemblys_block_or_LayersOf_stay_cached_on_unrelated_edits()
    {
        MetadataReference library = Harness.Library("Shared.Blocks", """
            using DslResNet;
            namespace Shared;

            [Block]
            public class SharedBlock
            {
                [Conv(3, Padding = 1, Strided = true)] protected Layer conv1;
                [BatchNorm] protected Layer bn1;
                [Residual] protected Layer add;
                [ReLU] protected Layer relu;
            }

            [Network(3, 16, 16)]
            public partial class SharedNet
            {
                [Conv(8, 3, Padding = 1)] protected Layer conv1;
                [Stage<SharedBlock>(8, Repeat = 2)] protected Layer layer1;
                [GlobalAvgPool] protected Layer pool;
                [Dense(10)] protected Layer fc;
            }
            """);
        CSharpCompilation compilation = Harness.Compile(
            "Consumer", new[] { library },
            ("/src/Users.cs", Harness.WithUsing("""
                namespace Users;

                [Network(1, 12, 12)]
                public partial class UsesBlock
                {
                    [Conv(8, 3, Padding = 1)] Layer conv1;
                    [Stage<Shared.SharedBlock>(8, Repeat = 2)] Layer layer1;
                    [GlobalAvgPool] Layer pool;
                    [Dense(4)] Layer fc;
                }

                [Network(LayersOf = typeof(Shared.SharedNet), Plain = true)]
                public partial class Twin;
                """)),
            ("/src/Other.cs", Harness.WithUsing("""
                namespace Users;

                [Network(1, 8, 8)]
                public partial class Other
                {
                    [Flatten] Layer flatten;
                    [Dense(10)] Layer fc;
                }
                """)));
        GeneratorDriver driver = Harness.Driver().RunGenerators(compilation);
        Assert.Equal(3, driver.GetRunResult().GeneratedTrees.Length);

        CSharpCompilation newFile = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Users; public sealed class Unrelated { }", Harness.ParseOptions, "/src/Unrelated.cs"));
        AssertReasons(driver.RunGenerators(newFile).GetRunResult(), StepReasons.Reparsed);

        CSharpCompilation otherEdited = Edit(compilation, "/src/Other.cs", "[Dense(10)]", "[Dense(12)]");
        AssertReasons(driver.RunGenerators(otherEdited).GetRunResult(), StepReasons.Reparsed, ("Users.Other", StepReasons.Modified));

        // Editing the network itself still reruns it (the metadata block is embedded by value, not looked up later).
        CSharpCompilation ownEdited = Edit(compilation, "/src/Users.cs", "[Dense(4)]", "[Dense(5)]");
        AssertReasons(driver.RunGenerators(ownEdited).GetRunResult(), StepReasons.Reparsed, ("Users.UsesBlock", StepReasons.Modified));
    }

    [Fact]
    public void Editing_a_network_leaves_the_networks_of_other_files_cached()
    {
        var (driver, compilation) = Warm();
        CSharpCompilation edited = Edit(compilation, "Small/TanhNet.cs", "[Dense(128)] Layer fc1;", "[Dense(64)] Layer fc1;");

        AssertReasons(driver.RunGenerators(edited).GetRunResult(), StepReasons.Reparsed, (Ns + "TanhNet", StepReasons.Modified));
    }

    [Fact]
    public void A_network_that_becomes_invalid_stops_at_validation()
    {
        var (driver, compilation) = Warm();
        CSharpCompilation edited = Edit(compilation, "Small/TanhNet.cs", "[Dense(128)] Layer fc1;", "[Dense(0)] Layer fc1;");

        GeneratorDriver next = driver.RunGenerators(edited);

        // Validate now yields null (an error stops generation); Shapes and Plan rerun on it and yield null too.
        AssertReasons(next.GetRunResult(), StepReasons.Reparsed, (Ns + "TanhNet", StepReasons.Modified));
        Assert.DoesNotContain(next.GetRunResult().GeneratedTrees, t => t.FilePath.EndsWith("TanhNet.g.cs", StringComparison.Ordinal));
    }

    [Fact]
    public void No_tracked_output_holds_a_symbol_syntax_or_compilation()
    {
        var (driver, compilation) = Warm();
        CSharpCompilation edited = Edit(compilation, "Blocks/BasicBlock.cs", "[BatchNorm] Layer bn2;", "[BatchNorm(Eps = 1e-3)] Layer bn2;");
        var runs = new[] { driver.GetRunResult(), driver.RunGenerators(edited).GetRunResult() };

        var walker = new ModelWalker();
        foreach (GeneratorDriverRunResult run in runs)
        {
            foreach (string name in TrackingNames())
            {
                foreach (IncrementalGeneratorRunStep step in run.Results[0].TrackedSteps[name])
                {
                    foreach (var (value, _) in step.Outputs)
                    {
                        walker.Walk(value, name);
                    }
                }
            }
        }

        Assert.Empty(walker.Violations);

        // The walk reached the leaves: spans in Parse, primitive layers in Shapes, fusion groups in Plan.
        Assert.Contains("SourceSpan", walker.SeenTypes);
        Assert.Contains("ShapedLayer", walker.SeenTypes);
        Assert.Contains("FusionGroup", walker.SeenTypes);
        Assert.Contains("StageSpec", walker.SeenTypes);
    }

    [Fact]
    public void The_walker_finds_a_location_hidden_in_a_collection()
    {
        var walker = new ModelWalker();
        walker.Walk(new { Items = ImmutableArray.Create<object>(1, "x", new[] { Location.None }) }, "self-test");

        Assert.Single(walker.Violations);
    }

    // ---- helpers ----

    /// <summary>Runs the generator once over the samples (or the given files), so the next run can be compared.</summary>
    private static (GeneratorDriver Driver, CSharpCompilation Compilation) Warm(params (string Path, string Source)[] files)
    {
        CSharpCompilation compilation = Harness.Compile(files.Length > 0 ? files : Harness.SampleSources().ToArray());
        GeneratorDriver driver = Harness.Driver().RunGenerators(compilation);
        GeneratorRunResult result = driver.GetRunResult().Results[0];
        Assert.Null(result.Exception);
        Assert.NotEmpty(result.GeneratedSources);
        return (driver, compilation);
    }

    /// <summary>Replaces the first occurrence of <paramref name="oldText"/> in one file, as the IDE does: an incremental text change.</summary>
    private static CSharpCompilation Edit(CSharpCompilation compilation, string path, string oldText, string newText)
    {
        SyntaxTree tree = Tree(compilation, path);
        int at = tree.GetText().ToString().IndexOf(oldText, StringComparison.Ordinal);
        return Edit(compilation, path, at, oldText, newText);
    }

    private static CSharpCompilation Edit(CSharpCompilation compilation, string path, int at, string oldText, string newText)
    {
        SyntaxTree tree = Tree(compilation, path);
        SourceText text = tree.GetText();
        Assert.True(at >= 0 && text.ToString().Substring(at, oldText.Length) == oldText, $"'{oldText}' not found in {path}");
        SyntaxTree edited = tree.WithChangedText(text.WithChanges(new TextChange(new TextSpan(at, oldText.Length), newText)));
        return compilation.ReplaceSyntaxTree(tree, edited);
    }

    private static SyntaxTree Tree(CSharpCompilation compilation, string path) =>
        Assert.Single(compilation.SyntaxTrees, t => t.FilePath == path);

    private static string Generated(GeneratorDriver driver, string hintName) =>
        Assert.Single(driver.GetRunResult().Results[0].GeneratedSources, s => s.HintName == hintName).SourceText.ToString();

    private static IEnumerable<string> TrackingNames() => new[]
    {
        Generators.TrackingNames.Parse, Generators.TrackingNames.Validate, Generators.TrackingNames.Shapes, Generators.TrackingNames.Plan,
    };

    /// <summary>Asserts the reasons of every network: <paramref name="others"/> unless listed in <paramref name="expected"/>.</summary>
    private static void AssertReasons(GeneratorDriverRunResult run, StepReasons others, params (string Network, StepReasons Reasons)[] expected)
    {
        Assert.Null(run.Results[0].Exception);
        IReadOnlyDictionary<string, StepReasons> actual = StepReasons.ByNetwork(run);
        foreach (var (network, _) in expected)
        {
            Assert.True(actual.ContainsKey(network), $"{network} is not among the tracked networks: {string.Join(", ", actual.Keys)}");
        }

        var wanted = actual.Keys.ToDictionary(k => k, k => expected.Where(e => e.Network == k).Select(e => e.Reasons).FirstOrDefault() ?? others);
        Assert.Equal(Describe(wanted), Describe(actual));

        static string Describe(IReadOnlyDictionary<string, StepReasons> reasons) =>
            string.Join("\n", reasons.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => r.Key + ": " + r.Value));
    }

    /// <summary>The run reason of each tracked step for one network.</summary>
    private sealed record StepReasons(
        IncrementalStepRunReason Parse, IncrementalStepRunReason Validate, IncrementalStepRunReason Shapes, IncrementalStepRunReason Plan)
    {
        /// <summary>Nothing reran.</summary>
        public static readonly StepReasons Cached = new(
            IncrementalStepRunReason.Cached, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Cached);

        /// <summary>
        /// The compilation changed but nothing this network reads: Parse reran (it reads symbols, so it follows the
        /// compilation) and built an equal model; everything after it is cached.
        /// </summary>
        public static readonly StepReasons Reparsed = Cached with { Parse = IncrementalStepRunReason.Unchanged };

        /// <summary>Only text positions moved: Parse's spans changed, Validate dropped them and gave an equal model.</summary>
        public static readonly StepReasons Moved = Reparsed with { Parse = IncrementalStepRunReason.Modified, Validate = IncrementalStepRunReason.Unchanged };

        /// <summary>The architecture changed: every step gives a new output.</summary>
        public static readonly StepReasons Modified = new(
            IncrementalStepRunReason.Modified, IncrementalStepRunReason.Modified, IncrementalStepRunReason.Modified, IncrementalStepRunReason.Modified);

        /// <summary>
        /// The reasons per network (by full name), following each Parse output through the steps that consume it: each
        /// later step is a <c>Select</c>, so it has one input, the previous step's output, and one output.
        /// </summary>
        public static IReadOnlyDictionary<string, StepReasons> ByNetwork(GeneratorDriverRunResult run)
        {
            ImmutableDictionary<string, ImmutableArray<IncrementalGeneratorRunStep>> steps = run.Results[0].TrackedSteps;
            var result = new Dictionary<string, StepReasons>(StringComparer.Ordinal);
            foreach (IncrementalGeneratorRunStep parse in steps[Generators.TrackingNames.Parse])
            {
                for (int i = 0; i < parse.Outputs.Length; i++)
                {
                    var (value, reason) = parse.Outputs[i];
                    string network = Assert.IsType<NetworkSpec>(value).FullName;
                    IncrementalGeneratorRunStep validate = Consumer(steps[Generators.TrackingNames.Validate], parse, i);
                    IncrementalGeneratorRunStep shapes = Consumer(steps[Generators.TrackingNames.Shapes], validate, 0);
                    IncrementalGeneratorRunStep plan = Consumer(steps[Generators.TrackingNames.Plan], shapes, 0);
                    result.Add(network, new StepReasons(reason, Single(validate), Single(shapes), Single(plan)));
                }
            }

            return result;

            static IncrementalStepRunReason Single(IncrementalGeneratorRunStep step) => Assert.Single(step.Outputs).Reason;
        }

        private static IncrementalGeneratorRunStep Consumer(ImmutableArray<IncrementalGeneratorRunStep> candidates, IncrementalGeneratorRunStep source, int index) =>
            Assert.Single(candidates, c => c.Inputs.Length == 1 && ReferenceEquals(c.Inputs[0].Source, source) && c.Inputs[0].OutputIndex == index);
    }

    /// <summary>
    /// Walks a pipeline output by reflection (every instance field, base classes included, and every element of a
    /// collection) and records any value that would pin a compilation in the generator's cache.
    /// </summary>
    private sealed class ModelWalker
    {
        private static readonly Type[] Forbidden =
        {
            typeof(ISymbol), typeof(SyntaxNode), typeof(SyntaxTree), typeof(Location), typeof(SemanticModel), typeof(Compilation),
            typeof(SyntaxToken), typeof(SyntaxTrivia), typeof(SyntaxReference), typeof(AttributeData), typeof(TypedConstant),
        };

        private readonly HashSet<object> _seen = new(ReferenceEqualityComparer.Instance);

        public List<string> Violations { get; } = new();

        public HashSet<string> SeenTypes { get; } = new(StringComparer.Ordinal);

        public void Walk(object? value, string path)
        {
            if (value is null)
            {
                return;
            }

            Type type = value.GetType();
            SeenTypes.Add(type.Name);
            if (Forbidden.Any(f => f.IsAssignableFrom(type)))
            {
                Violations.Add($"{path}: {type.FullName}");
                return;
            }

            if (type.IsPrimitive || type.IsEnum || value is string || value is decimal)
            {
                return;
            }

            if (!type.IsValueType && !_seen.Add(value))
            {
                return;
            }

            if (value is IEnumerable items)
            {
                int i = 0;
                foreach (object? item in items)
                {
                    Walk(item, $"{path}[{i++}]");
                }

                return;
            }

            for (Type? t = type; t is not null && t != typeof(object); t = t.BaseType)
            {
                foreach (FieldInfo field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (Forbidden.Any(f => f.IsAssignableFrom(field.FieldType)))
                    {
                        Violations.Add($"{path}.{field.Name}: declared as {field.FieldType.FullName}");
                        continue;
                    }

                    Walk(field.GetValue(value), path + "." + field.Name);
                }
            }
        }
    }
}
