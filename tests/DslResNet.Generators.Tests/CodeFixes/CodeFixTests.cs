using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using DslResNet.CodeFixes;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace DslResNet.Generators.Tests.CodeFixes;

/// <summary>
/// The code fixes of DslResNet.CodeFixes. For each fix and each of its code actions: Roslyn's code-fix harness applies it
/// to markup (the diagnostic where <see cref="NetworkAnalyzer"/> reports it) and compares the result with the exact
/// expected source, then checks that the analyzer reports nothing on it; and the expected source, compiled with the
/// generator, has no error and no DslResNet diagnostic and generates the network. Separately: which actions are offered,
/// with which titles, and none where the analyzer found no fix.
/// </summary>
public sealed class CodeFixTests
{
    /// <summary>One fix applied: the source with the diagnostic in markup, the action's equivalence key, the expected result.</summary>
    public sealed record Case(Type Fix, string Markup, string Key, string Fixed, int Iterations = 1);

    private const string Head = "using DslResNet;\n\n";

    /// <summary>Every case, by name.</summary>
    public static readonly IReadOnlyDictionary<string, Case> Cases = new Dictionary<string, Case>(StringComparer.Ordinal)
    {
        // DRN0001, with a containing type that is not partial either: one action fixes both diagnostics.
        ["partial"] = new(typeof(MakePartialCodeFix), Head + """
            public class Models
            {
                [Network(3, 8, 8)]
                public class {|DRN0001:{|DRN0001:Net|}|}
                {
                    [Conv(4, 3, Padding = 1)] Layer conv1;
                }
            }
            """, "MakePartialCodeFix", Head + """
            public partial class Models
            {
                [Network(3, 8, 8)]
                public partial class Net
                {
                    [Conv(4, 3, Padding = 1)] Layer conv1;
                }
            }
            """),
        // DRN0001 on a class with no modifiers at all: partial takes the keyword's indentation.
        ["partial-bare"] = new(typeof(MakePartialCodeFix), Head + """
            [Network(3, 8, 8)]
            class {|DRN0001:Net|}
            {
                [Conv(4, 3, Padding = 1)] Layer conv1;
            }
            """, "MakePartialCodeFix", Head + """
            [Network(3, 8, 8)]
            partial class Net
            {
                [Conv(4, 3, Padding = 1)] Layer conv1;
            }
            """),
        ["projection"] = new(typeof(ShortcutCodeFix), Head + ResidualNet("[{|DRN0007:Residual(From = nameof(conv1))|}]"), "ShortcutCodeFix.Projection",
            Head + ResidualNet("[Residual(From = nameof(conv1), Shortcut = ShortcutKind.Projection)]")),
        ["zeropad"] = new(typeof(ShortcutCodeFix), Head + ResidualNet("[{|DRN0007:Residual(From = nameof(conv1))|}]"), "ShortcutCodeFix.ZeroPad",
            Head + ResidualNet("[Residual(From = nameof(conv1), Shortcut = ShortcutKind.ZeroPad)]")),
        // A residual in a block is reported at the network's stage; the fix edits the block's [Residual] (replacing its Shortcut).
        ["zeropad-block"] = new(typeof(ShortcutCodeFix), Head + BlockNet("[Residual(Shortcut = ShortcutKind.Identity)]", "[{|DRN0007:Stage<Body>(16, Stride = 2)|}]"), "ShortcutCodeFix.ZeroPad",
            Head + BlockNet("[Residual(Shortcut = ShortcutKind.ZeroPad)]", "[Stage<Body>(16, Stride = 2)]")),
        ["projection-block"] = new(typeof(ShortcutCodeFix), Head + BlockNet("[Residual]", "[{|DRN0007:Stage<Body>(16, Stride = 2)|}]", network: "Shortcut = ShortcutKind.Identity"), "ShortcutCodeFix.Projection",
            Head + BlockNet("[Residual(Shortcut = ShortcutKind.Projection)]", "[Stage<Body>(16, Stride = 2)]", network: "Shortcut = ShortcutKind.Identity")),
        // DRN0005: a 7x7 kernel on a 4x4 input; Padding = 3 keeps 4x4.
        ["padding-collapse"] = new(typeof(PaddingCodeFix), Head + """
            [Network(3, 4, 4)]
            public partial class Net
            {
                [Conv(8, {|DRN0005:7|})] Layer conv1;
            }
            """, "PaddingCodeFix", Head + """
            [Network(3, 4, 4)]
            public partial class Net
            {
                [Conv(8, 7, Padding = 3)] Layer conv1;
            }
            """),
        // DRN0006 at Stride: a 3x3 stride-2 convolution on 32x32 without padding drops the last row; Padding = 1 reads it.
        ["padding-stride"] = new(typeof(PaddingCodeFix), Head + """
            [Network(3, 32, 32)]
            public partial class Net
            {
                [Conv(16, 3, Stride = {|DRN0006:2|})] Layer conv1;
            }
            """, "PaddingCodeFix", Head + """
            [Network(3, 32, 32)]
            public partial class Net
            {
                [Conv(16, 3, Stride = 2, Padding = 1)] Layer conv1;
            }
            """),
        // DRN0006 at the attribute (stride not written): a 2x2 average pool on 7x7.
        ["padding-pool"] = new(typeof(PaddingCodeFix), Head + """
            [Network(8, 7, 7)]
            public partial class Net
            {
                [{|DRN0006:AvgPool(2)|}] Layer pool;
            }
            """, "PaddingCodeFix", Head + """
            [Network(8, 7, 7)]
            public partial class Net
            {
                [AvgPool(2, Padding = 1)] Layer pool;
            }
            """),
        ["avgpool"] = new(typeof(FlatInputCodeFix), Head + DenseNet("[Dense({|DRN0010:10|})] Layer fc;"), "FlatInputCodeFix.GlobalAvgPool",
            Head + DenseNet("[GlobalAvgPool] Layer avgpool;\n    [Dense(10)] Layer fc;")),
        ["flatten"] = new(typeof(FlatInputCodeFix), Head + DenseNet("[Dense({|DRN0010:10|})] Layer fc;"), "FlatInputCodeFix.Flatten",
            Head + DenseNet("[Flatten] Layer flatten;\n    [Dense(10)] Layer fc;")),
        // The name avgpool is taken; the new field copies the dense field's modifiers and type, and leaves its comment.
        ["avgpool-named"] = new(typeof(FlatInputCodeFix), Head + DenseNet("public int avgpool;\n    // the classifier\n    public DslResNet.Layer fc2 = default, fc;\n    [DslResNet.Dense({|DRN0010:10|})] public DslResNet.Layer head; // (10)"), "FlatInputCodeFix.GlobalAvgPool",
            Head + DenseNet("public int avgpool;\n    // the classifier\n    public DslResNet.Layer fc2 = default, fc;\n    [DslResNet.GlobalAvgPool] public DslResNet.Layer avgpool2;\n    [DslResNet.Dense(10)] public DslResNet.Layer head; // (10)")),
        ["batchnorm"] = new(typeof(BatchNormOrderCodeFix), Head + """
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [{|DRN0011:BatchNorm|}] Layer bn1; // normalises
                [Tanh] Layer act1;
            }
            """, "BatchNormOrderCodeFix", Head + """
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(16, 3, Padding = 1, Bias = true)] Layer conv1;
                [Tanh] Layer act1;
                [BatchNorm] Layer bn1; // normalises
            }
            """),
        // In a block, after a dense layer (no bias to add): the block's own diagnostic, fixed in the block.
        ["batchnorm-block"] = new(typeof(BatchNormOrderCodeFix), Head + """
            [Block]
            public class Head
            {
                [Dense(4)] Layer fc;
                [{|DRN0011:BatchNorm(Eps = 1e-3)|}] Layer bn;
                [Sigmoid] Layer gate;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [GlobalAvgPool] Layer pool;
                [Stage<Head>(4)] Layer head;
            }
            """, "BatchNormOrderCodeFix", Head + """
            [Block]
            public class Head
            {
                [Dense(4)] Layer fc;
                [Sigmoid] Layer gate;
                [BatchNorm(Eps = 1e-3)] Layer bn;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [GlobalAvgPool] Layer pool;
                [Stage<Head>(4)] Layer head;
            }
            """),
        // DRN0021 at each layer of a class marked neither [Network] nor [Block], and DRN0008 at the stage that uses it: one
        // action marks it [Block] (below its comment).
        ["block"] = new(typeof(MarkBlockCodeFix), Head + """
            // A basic block.
            public class Body
            {
                [{|DRN0021:Conv(3, Padding = 1)|}] Layer conv1;
                [{|DRN0021:Residual|}] Layer add;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [{|DRN0008:Stage<Body>(3)|}] Layer layer1;
            }
            """, "MarkBlockCodeFix", Head + """
            // A basic block.
            [Block]
            public class Body
            {
                [Conv(3, Padding = 1)] Layer conv1;
                [Residual] Layer add;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Stage<Body>(3)] Layer layer1;
            }
            """),
        // DRN0024: Expansion on a conv that states its channels, and Stride on a Strided layer, are removed.
        ["ignored-expansion"] = new(typeof(RemoveIgnoredSettingCodeFix), Head + """
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(64, 1, Expansion = {|DRN0024:4|})] Layer conv3;
            }
            """, "RemoveIgnoredSettingCodeFix", Head + """
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(64, 1)] Layer conv3;
            }
            """),
        ["ignored-stride"] = new(typeof(RemoveIgnoredSettingCodeFix), Head + """
            [Block]
            public class Body
            {
                [Conv(3, Stride = {|DRN0024:2|}, Strided = true, Padding = 1)] Layer conv1;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Stage<Body>(4, Stride = 2)] Layer layer1;
            }
            """, "RemoveIgnoredSettingCodeFix", Head + """
            [Block]
            public class Body
            {
                [Conv(3, Strided = true, Padding = 1)] Layer conv1;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Stage<Body>(4, Stride = 2)] Layer layer1;
            }
            """),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public Task Fix_gives_the_expected_source(string name)
    {
        Case c = Cases[name];
        return (Task)typeof(CodeFixTests).GetMethod(nameof(RunFix), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(c.Fix).Invoke(null, new object[] { c })!;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Fixed_source_compiles_with_the_generator_and_no_DslResNet_diagnostic(string name)
    {
        HarnessResult result = Harness.Run(Cases[name].Fixed);
        Assert.True(!result.Ours.Any() && !result.Errors.Any(), "Diagnostics left:\n" + string.Join("\n", result.Diagnostics));
        Assert.Contains(result.Generated.Keys, k => k.EndsWith("Net.g.cs", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Offers_each_shortcut_that_bridges_the_shapes_and_titles_say_what_they_do()
    {
        Assert.Equal(
            new[]
            {
                "Set Shortcut = ShortcutKind.Projection on 'add' (a 1x1 convolution and batch norm)",
                "Set Shortcut = ShortcutKind.ZeroPad on 'add' (subsample and zero-pad channels, no parameters)",
            },
            await Titles(new ShortcutCodeFix(), Cases["projection"].Markup));

        // Fewer channels: zero-padding cannot remove channels, so only the projection.
        string shrinking = ResidualNet("[Residual(From = nameof(conv1))]").Replace("[Conv(32, 3, Padding = 1, Stride = 2)]", "[Conv(8, 3, Padding = 1, Stride = 2)]", StringComparison.Ordinal);
        Assert.Equal(new[] { "Set Shortcut = ShortcutKind.Projection on 'add' (a 1x1 convolution and batch norm)" }, await Titles(new ShortcutCodeFix(), Head + shrinking));

        // Sizes no stride relates (8x8 to 6x6): no shortcut bridges them, so no fix.
        string unrelated = ResidualNet("[Residual(From = nameof(conv1))]").Replace("[Conv(32, 3, Padding = 1, Stride = 2)]", "[Conv(32, 3)]", StringComparison.Ordinal);
        Assert.Equal("DRN0007", Assert.Single(Harness.Run(Head + unrelated).Ours).Id);
        Assert.Empty(await Titles(new ShortcutCodeFix(), Head + unrelated));
    }

    [Fact]
    public async Task Titles_of_the_other_fixes()
    {
        Assert.Equal(new[] { "Make 'Net', 'Models' partial" }, await Titles(new MakePartialCodeFix(), Cases["partial"].Markup));
        Assert.Equal(new[] { "Set Padding = 3 on 'conv1'" }, await Titles(new PaddingCodeFix(), Cases["padding-collapse"].Markup));
        Assert.Equal(
            new[] { "Insert [GlobalAvgPool] Layer avgpool; before 'fc' (average each channel)", "Insert [Flatten] Layer flatten; before 'fc' (keep every value)" },
            await Titles(new FlatInputCodeFix(), Cases["avgpool"].Markup));
        Assert.Equal(new[] { "Move batch norm 'bn1' after 'act1' and give 'conv1' a bias" }, await Titles(new BatchNormOrderCodeFix(), Cases["batchnorm"].Markup));
        Assert.Equal(new[] { "Move batch norm 'bn' after 'gate'" }, await Titles(new BatchNormOrderCodeFix(), Cases["batchnorm-block"].Markup));
        Assert.Equal(new[] { "Mark 'Body' [Block]" }, await Titles(new MarkBlockCodeFix(), Cases["block"].Markup, "DRN0021"));
        Assert.Equal(new[] { "Mark 'Body' [Block]" }, await Titles(new MarkBlockCodeFix(), Cases["block"].Markup, "DRN0008"));
        Assert.Equal(new[] { "Remove 'Expansion = 4' (it has no effect)" }, await Titles(new RemoveIgnoredSettingCodeFix(), Cases["ignored-expansion"].Markup));
    }

    [Fact]
    public async Task No_padding_fix_where_half_the_kernel_would_not_read_every_row()
    {
        // 3x3 stride 3 on 9x9 with padding 1: (9 + 2 - 3) % 3 - 1 = 1 row never read, and kernel / 2 = 1 is no more padding.
        string source = Head + """
            [Network(3, 9, 9)]
            public partial class Net
            {
                [Conv(16, 3, Stride = 3, Padding = 1)] Layer conv1;
            }
            """;
        HarnessResult result = Harness.Run(source);
        Assert.Equal("DRN0006", Assert.Single(result.Ours).Id);
        Assert.Empty(await Titles(new PaddingCodeFix(), source));
    }

    private static string ResidualNet(string residual) => $$"""
        [Network(3, 8, 8, Shortcut = ShortcutKind.Identity)]
        public partial class Net
        {
            [Conv(16, 3, Padding = 1)] Layer conv1;
            [Conv(32, 3, Padding = 1, Stride = 2)] Layer conv2;
            {{residual}} Layer add;
            [GlobalAvgPool] Layer pool;
            [Dense(10)] Layer fc;
        }
        """;

    private static string BlockNet(string residual, string stage, string network = "") => $$"""
        [Block]
        public class Body
        {
            [Conv(3, Padding = 1, Strided = true)] Layer conv1;
            [BatchNorm] Layer bn1;
            {{residual}} Layer add;
            [ReLU] Layer relu;
        }

        [Network(3, 8, 8{{(network.Length > 0 ? ", " + network : "")}})]
        public partial class Net
        {
            [Conv(8, 3, Padding = 1)] Layer conv1;
            {{stage}} Layer layer1;
        }
        """;

    private static string DenseNet(string dense) => $$"""
        [Network(3, 8, 8)]
        public partial class Net
        {
            [Conv(4, 3, Padding = 1)] Layer conv1;
            {{dense}}
        }
        """;

    private static async Task RunFix<TFix>(Case c)
        where TFix : CodeFixProvider, new()
    {
        var test = new CSharpCodeFixTest<NetworkAnalyzer, TFix, DefaultVerifier>
        {
            TestCode = c.Markup,
            FixedCode = c.Fixed,
            CodeActionEquivalenceKey = c.Key,
            // The references come from Basic.Reference.Assemblies (as the other tests'), not downloaded at test time.
            ReferenceAssemblies = new ReferenceAssemblies("net10.0"),
            NumberOfFixAllIterations = c.Iterations,
            NumberOfIncrementalIterations = c.Iterations,
        };
        test.TestState.AdditionalReferences.AddRange(Harness.References);
        await test.RunAsync(CancellationToken.None);
    }

    /// <summary>The titles of the actions a fix offers for the markup's diagnostics, in order.</summary>
    private static async Task<IReadOnlyList<string>> Titles(CodeFixProvider fix, string markup, string? id = null)
    {
        string source = Markup.Parse(markup).Source;
        using var workspace = new AdhocWorkspace();
        Project project = workspace.AddProject("Tests", LanguageNames.CSharp)
            .WithCompilationOptions(new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary))
            .WithParseOptions(Harness.ParseOptions)
            .WithMetadataReferences(Harness.References);
        Document document = project.AddDocument("Test0.cs", SourceText.From(source));
        Compilation compilation = (await document.Project.GetCompilationAsync())!;
        ImmutableArray<Diagnostic> diagnostics = await compilation
            .WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new NetworkAnalyzer()))
            .GetAnalyzerDiagnosticsAsync();
        var titles = new List<string>();
        foreach (Diagnostic diagnostic in diagnostics.Where(d => fix.FixableDiagnosticIds.Contains(d.Id) && (id is null || d.Id == id)).Take(1))
        {
            var context = new CodeFixContext(document, diagnostic, (action, _) => titles.Add(action.Title), CancellationToken.None);
            await fix.RegisterCodeFixesAsync(context);
        }

        return titles;
    }
}
