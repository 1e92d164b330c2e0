using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace DslResNet.Generators.Tests.Robustness;

/// <summary>
/// The samples mutated into broken declarations (see <see cref="MutantCorpus"/>): each must give diagnostics or
/// compilable output, and neither the generator nor the analyzer may fail on it.
/// </summary>
public sealed class RobustnessTests
{
    private static readonly Lazy<IReadOnlyDictionary<string, Mutant>> Corpus = new(() =>
        MutantCorpus.Build(Harness.SampleSources()).ToDictionary(m => m.Name, StringComparer.Ordinal));

    /// <summary>The unmutated samples, parsed and bound to their references once; each mutant replaces one tree.</summary>
    internal static readonly Lazy<CSharpCompilation> SampleCompilation = new(() =>
        Harness.Compile(Harness.SampleSources().Select(s => (Path(s.Path), s.Source)).ToArray()));

    /// <summary>Every mutant's name.</summary>
    public static IEnumerable<object[]> Mutants() => Corpus.Value.Keys.Select(k => new object[] { k });

    [Fact]
    public void The_corpus_is_large_and_every_mutant_changes_its_file()
    {
        var originals = Harness.SampleSources().ToDictionary(s => s.Path, s => s.Source, StringComparer.Ordinal);
        Assert.True(Corpus.Value.Count >= 150, $"only {Corpus.Value.Count} mutants");
        Assert.All(Corpus.Value.Values, m => Assert.NotEqual(originals[m.Path], m.Source));
    }

    [Theory]
    [MemberData(nameof(Mutants))]
    public void Mutant_gives_diagnostics_or_compilable_output_and_nothing_crashes(string name)
    {
        // (1) Nothing escapes.
        var (result, mutated) = Run(Corpus.Value[name]);

        // (2) No internal error from the generator or the analyzer, and no crashed analyzer or generator.
        Assert.Null(result.Generator.Exception);
        Assert.Empty(result.AnalyzerExceptions);
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Id is "DRN9999" or "CS8784" or "CS8785");
        Assert.DoesNotContain(result.Diagnostics, d => d.Id is "DRN9999" or "AD0001");

        // The generator never writes code that does not compile: any error is in the user's files.
        Assert.DoesNotContain(result.Errors, d => d.Location.SourceTree is { } tree && result.GeneratedTrees.Contains(tree));

        // (3) Either something is reported, or the output compiles and every network of the mutated file is generated.
        if (!result.Errors.Any())
        {
            foreach (INamedTypeSymbol network in result.NetworksIn(mutated))
            {
                Assert.True(
                    network.DeclaringSyntaxReferences.Any(r => result.GeneratedTrees.Contains(r.SyntaxTree)),
                    $"{network.Name} compiles without errors but has no generated part");
            }
        }
    }

    [Fact]
    public void The_checks_see_our_diagnostics_the_compilers_errors_and_a_clean_edit()
    {
        MutantRun invalid = Run(Edit("Cifar/ResNet20.cs", "[Dense(10)]", "[Dense(0)]")).Result;
        Assert.Contains(invalid.Diagnostics, d => d.Id == "DRN0004");

        MutantRun broken = Run(Edit("Cifar/ResNet20.cs", "[Dense(10)]", "[Dense(10 10)]")).Result;
        Assert.Contains(broken.Errors, d => d.Id.StartsWith("CS", StringComparison.Ordinal));

        // A block's error is reported once, at the block; its networks generate nothing.
        MutantRun block = Run(Edit("Blocks/BasicBlock.cs", "[Conv(3, Padding = 1)] Layer conv2;", "[Conv(3, Padding = 1, Stride = 0)] Layer conv2;")).Result;
        Assert.Single(block.Diagnostics, d => d.Id == "DRN0004");
        Assert.DoesNotContain(block.Generator.GeneratedSources, s => s.HintName.Contains("ResNet56", StringComparison.Ordinal));

        var (clean, tree) = Run(Edit("Cifar/ResNet20.cs", "[Dense(10)]", "[Dense(100)]"));
        Assert.Empty(clean.Errors);
        Assert.Equal(2, clean.NetworksIn(tree).Count());
        Assert.Contains("TensorShape.Flat(100)", clean.Generator.GeneratedSources.Single(s => s.HintName == "DslResNet.Samples.ResNet20.g.cs").SourceText.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_huge_repeat_is_reported_at_the_repeat_instead_of_exhausting_memory()
    {
        // Before the layer cap, this built two billion block instances and took the test host down.
        MutantRun run = Run(Edit("Cifar/ResNet20.cs", "Repeat = 3)]", "Repeat = int.MaxValue)]")).Result;

        Assert.Contains(run.Diagnostics, d => d.Id == "DRN0004" && d.Location.SourceTree!.GetText().ToString(d.Location.SourceSpan) == "int.MaxValue");
        Assert.DoesNotContain(run.Generator.GeneratedSources, s => s.HintName.Contains("20.g.cs", StringComparison.Ordinal));
    }

    [Fact]
    public void Generating_ResNet110_twice_gives_byte_identical_output()
    {
        var sources = Harness.SampleSources().Where(s => s.Path is "Cifar/ResNet110.cs" || s.Path.StartsWith("Blocks/", StringComparison.Ordinal)).ToArray();
        var first = Generate(sources);
        var second = Generate(sources);
        var reordered = Generate(sources.Reverse().ToArray());

        Assert.Equal(new[] { "DslResNet.Samples.Plain110.g.cs", "DslResNet.Samples.ResNet110.g.cs" }, first.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (hint, bytes) in first)
        {
            Assert.Equal(bytes, second[hint]);
            Assert.Equal(bytes, reordered[hint]);
        }

        // Each run parses afresh and uses a new driver, so nothing is shared but the reference assemblies.
        static Dictionary<string, byte[]> Generate((string Path, string Source)[] files) =>
            Harness.Driver().RunGenerators(Harness.Compile(files)).GetRunResult().Results[0].GeneratedSources
                .ToDictionary(s => s.HintName, s => s.SourceText.Encoding!.GetPreamble().Concat(s.SourceText.Encoding.GetBytes(s.SourceText.ToString())).ToArray(), StringComparer.Ordinal);
    }

    /// <summary>Runs the generator and analyzers on the samples with one file replaced by the mutant.</summary>
    private static (MutantRun Result, SyntaxTree Mutated) Run(Mutant mutant)
    {
        SyntaxTree mutated = CSharpSyntaxTree.ParseText(mutant.Source, Harness.ParseOptions, Path(mutant.Path));
        CSharpCompilation input = SampleCompilation.Value.ReplaceSyntaxTree(
            SampleCompilation.Value.SyntaxTrees.Single(t => t.FilePath == mutated.FilePath), mutated);
        return (MutantRun.Run(input, mutated), mutated);
    }

    private static Mutant Edit(string path, string oldText, string newText)
    {
        string source = Harness.SampleSources().Single(s => s.Path == path).Source;
        Assert.Contains(oldText, source, StringComparison.Ordinal);
        return new Mutant("edit", path, source.Replace(oldText, newText, StringComparison.Ordinal));
    }

    /// <summary>Where the tests put a sample file.</summary>
    internal static string Path(string relative) => "/samples/" + relative;
}

/// <summary>
/// What the generator and analyzers made of one mutant: what <see cref="Harness.Run(CSharpCompilation)"/> gives, made
/// cheap enough for hundreds of mutants. The samples generate a megabyte of tables; parsing, declaring and binding
/// all of it again for every mutant would cost a fifth of a second each. So a driver warmed on the samples runs
/// again (only the networks the mutation touches are validated, shaped and emitted anew, as in the IDE), the output
/// compilation reuses the samples' parsed generated trees where the text is unchanged, and only what the mutation
/// can have changed is checked (see <see cref="Run"/>); the snapshot tests check the rest.
/// </summary>
internal sealed class MutantRun
{
    private static readonly Lazy<(GeneratorDriver Driver, Compilation Output, IReadOnlyDictionary<string, SyntaxTree> Generated)> Warm = new(() =>
    {
        GeneratorDriver driver = Harness.Driver().RunGeneratorsAndUpdateCompilation(RobustnessTests.SampleCompilation.Value, out Compilation output, out _);
        var generated = driver.GetRunResult().Results[0].GeneratedSources.ToDictionary(
            s => s.HintName, s => output.SyntaxTrees.Single(t => t.FilePath == s.SyntaxTree.FilePath), StringComparer.Ordinal);
        output.GetDiagnostics(); // parse, declare and bind once, so that every mutant's compilation starts from it
        return (driver, output, generated);
    });

    /// <summary>For each of the samples' generated files, the hand-written file of its network.</summary>
    private static readonly Lazy<IReadOnlyDictionary<string, string>> NetworkFiles = new(() =>
        Warm.Value.Generated.Keys.ToDictionary(
            hint => hint,
            hint => Warm.Value.Output.GetTypeByMetadataName(hint.Substring(0, hint.Length - ".g.cs".Length))!
                .DeclaringSyntaxReferences.Select(r => r.SyntaxTree.FilePath).First(p => !p.EndsWith(".g.cs", StringComparison.Ordinal)),
            StringComparer.Ordinal));

    private MutantRun(Compilation output, GeneratorRunResult generator, ImmutableArray<Diagnostic> generatorDiagnostics, ImmutableHashSet<SyntaxTree> generatedTrees)
    {
        Output = output;
        Generator = generator;
        GeneratorDiagnostics = generatorDiagnostics;
        GeneratedTrees = generatedTrees;
    }

    /// <summary>The samples, with the mutant, and everything generated.</summary>
    public Compilation Output { get; }

    public GeneratorRunResult Generator { get; }

    public ImmutableArray<Diagnostic> GeneratorDiagnostics { get; }

    /// <summary>The generated trees of <see cref="Output"/>.</summary>
    public ImmutableHashSet<SyntaxTree> GeneratedTrees { get; }

    /// <summary>Compiler diagnostics of the checked files, and our analyzer's.</summary>
    public List<Diagnostic> Diagnostics { get; } = new();

    /// <summary>Exceptions thrown by the analyzer or the suppressor (Roslyn would report each as AD0001).</summary>
    public List<string> AnalyzerExceptions { get; } = new();

    public IEnumerable<Diagnostic> Errors => Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error);

    /// <summary>The <c>[Network]</c> classes declared in <paramref name="tree"/>.</summary>
    public IEnumerable<INamedTypeSymbol> NetworksIn(SyntaxTree tree)
    {
        SemanticModel model = Output.GetSemanticModel(tree);
        return tree.GetRoot().DescendantNodes().OfType<TypeDeclarationSyntax>()
            .Select(d => model.GetDeclaredSymbol(d))
            .OfType<INamedTypeSymbol>()
            .Where(t => t.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == "DslResNet.NetworkAttribute"))
            .Distinct<INamedTypeSymbol>(SymbolEqualityComparer.Default)
            .ToList();
    }

    /// <summary>Runs the generator and analyzers on <paramref name="input"/>: the samples with <paramref name="mutated"/> in place of one file.</summary>
    public static MutantRun Run(CSharpCompilation input, SyntaxTree mutated)
    {
        var (warmDriver, warmOutput, warmGenerated) = Warm.Value;
        GeneratorRunResult generator = warmDriver.RunGenerators(input).GetRunResult().Results[0];

        // The output compilation: the warm one with the mutated file and the generated files whose text changed swapped in.
        Compilation output = warmOutput.ReplaceSyntaxTree(warmOutput.SyntaxTrees.Single(t => t.FilePath == mutated.FilePath), mutated);
        var changed = new List<SyntaxTree>();
        var generated = new HashSet<SyntaxTree>();
        foreach (GeneratedSourceResult source in generator.GeneratedSources)
        {
            if (warmGenerated.TryGetValue(source.HintName, out SyntaxTree? old) && old.GetText().ContentEquals(source.SourceText))
            {
                generated.Add(old);
                continue;
            }

            output = old is null ? output.AddSyntaxTrees(source.SyntaxTree) : output.ReplaceSyntaxTree(old, source.SyntaxTree);
            changed.Add(source.SyntaxTree);
            generated.Add(source.SyntaxTree);
        }

        var vanished = warmGenerated.Where(g => !generator.GeneratedSources.Any(s => s.HintName == g.Key)).ToList();
        output = output.RemoveSyntaxTrees(vanished.Select(g => g.Value));
        var run = new MutantRun(output, generator, generator.Diagnostics, generated.ToImmutableHashSet());

        // Compiler diagnostics: the mutated file, and the generated files that are new, changed or extend one of its types.
        var extending = run.NetworksIn(mutated).SelectMany(t => t.DeclaringSyntaxReferences).Select(r => r.SyntaxTree).Where(generated.Contains);
        foreach (SyntaxTree tree in changed.Union(extending).Prepend(mutated))
        {
            run.Diagnostics.AddRange(output.GetSemanticModel(tree).GetDiagnostics());
        }

        // Our analyzer and suppressor: the mutated file, every file that names one of its types (a block's users, a
        // LayersOf twin), and every file whose network's generated file changed or vanished.
        var names = mutated.GetRoot().DescendantNodes().OfType<BaseTypeDeclarationSyntax>().Select(d => d.Identifier.ValueText).ToHashSet(StringComparer.Ordinal);
        var touched = warmGenerated.Keys.Where(hint => !generated.Contains(warmGenerated[hint])).Select(hint => NetworkFiles.Value[hint]).ToHashSet(StringComparer.Ordinal);
        var analyzed = input.SyntaxTrees.Where(t =>
            t == mutated || touched.Contains(t.FilePath) || names.Any(n => Regex.IsMatch(t.GetText().ToString(), @"\b" + n + @"\b")));
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
            onAnalyzerException: (e, analyzer, _) => run.AnalyzerExceptions.Add(analyzer.GetType().Name + ": " + e),
            concurrentAnalysis: false, logAnalyzerExecutionTime: false, reportSuppressedDiagnostics: false);
        CompilationWithAnalyzers analysis = output.WithAnalyzers(
            ImmutableArray.Create<DiagnosticAnalyzer>(new NetworkAnalyzer(), new LayerFieldSuppressor()), options);
        foreach (SyntaxTree tree in analyzed)
        {
            SemanticModel model = analysis.Compilation.GetSemanticModel(tree);
            run.Diagnostics.AddRange(analysis.GetAnalyzerSemanticDiagnosticsAsync(model, null, CancellationToken.None).GetAwaiter().GetResult());
        }

        return run;
    }
}

/// <summary>One broken variant of a sample file.</summary>
/// <param name="Name">Unique, readable name: file, operation, where.</param>
/// <param name="Path">The sample file it replaces.</param>
/// <param name="Source">Its mutated text.</param>
internal sealed record Mutant(string Name, string Path, string Source);

/// <summary>
/// Builds the corpus deterministically from the sample sources: deleted attributes and fields, integers in attributes
/// replaced by edge values, wrong argument types, NaN and infinite doubles, bad block type arguments, a missing
/// <c>partial</c>, generic networks and generic containers, swapped and duplicated lines, truncations, garbage tokens,
/// missing braces. Every operation is applied everywhere it can be, then a seeded sample of each (file, operation)
/// is kept: nearly all for one focus file, a few of each file, so the corpus stays near 250.
/// </summary>
internal static class MutantCorpus
{
    private static readonly Regex LayerLine = new(@"^(?<indent>\s*)\[(?<attr>.+)\]\s*Layer\s+(?<field>\w+);\s*$", RegexOptions.CultureInvariant);
    private static readonly Regex AttributeLine = new(@"^\s*\[(?<attr>.+)\]", RegexOptions.CultureInvariant);
    private static readonly Regex Integer = new(@"(?<![\w.])\d+(?![\w.])", RegexOptions.CultureInvariant);
    private static readonly Regex ClassLine = new(@"^public (?<partial>partial )?class (?<name>\w+)", RegexOptions.CultureInvariant);

    /// <summary>Edge values each integer literal of an attribute is replaced by.</summary>
    private static readonly string[] EdgeValues = { "0", "-1", "1", "100000", "int.MaxValue" };

    /// <summary>The file that keeps (nearly) every mutant: a CIFAR network with stages, a dense head and a twin.</summary>
    private const string FocusFile = "Cifar/ResNet20.cs";

    /// <summary>How many mutants of each operation the focus file keeps (0: all).</summary>
    private static readonly Dictionary<Op, int> FocusSampleSize = new()
    {
        [Op.DeleteAttribute] = 0, [Op.DeleteField] = 0, [Op.Integer] = 0, [Op.WrongType] = 4, [Op.Double] = 6, [Op.BlockType] = 0,
        [Op.Declaration] = 0, [Op.Container] = 0, [Op.Shuffle] = 6, [Op.Truncate] = 4, [Op.Garbage] = 6,
    };

    /// <summary>How many mutants every other file keeps, taken from its operations in turn.</summary>
    private const int OtherSampleSize = 9;

    /// <summary>The block most networks embed also keeps every integer replacement.</summary>
    private const string IntegerSweepFile = "Blocks/BasicBlock.cs";

    /// <summary>The kinds of mutation.</summary>
    private enum Op
    {
        DeleteAttribute, DeleteField, Integer, WrongType, Double, BlockType, Declaration, Container, Shuffle, Truncate, Garbage,
    }

    /// <summary>The corpus, in a stable order, with unique names.</summary>
    public static IReadOnlyList<Mutant> Build(IReadOnlyList<(string Path, string Source)> samples)
    {
        var mutants = new List<Mutant>();
        foreach (var (path, source) in samples)
        {
            var file = new SampleFile(path, source);
            DeleteAttributesAndFields(file);
            ReplaceIntegers(file);
            WrongTypes(file);
            BlockTypeArguments(file);
            Declarations(file);
            LineShuffles(file);
            Truncations(file);
            Garbage(file);
            var groups = file.Mutants.GroupBy(m => m.Op)
                .Select(g => (g.Key, Shuffled: Shuffle(g.Select(m => m.Mutant), Seed(path + g.Key))))
                .ToList();
            if (path == FocusFile)
            {
                mutants.AddRange(groups.SelectMany(g => FocusSampleSize[g.Key] == 0 ? g.Shuffled : g.Shuffled.Take(FocusSampleSize[g.Key])));
            }
            else
            {
                // Round robin over the operations, in a seeded order, so that each file shows a bit of everything.
                if (path == IntegerSweepFile)
                {
                    mutants.AddRange(groups.Single(g => g.Key == Op.Integer).Shuffled);
                    groups.RemoveAll(g => g.Key == Op.Integer);
                }

                var order = groups.OrderBy(g => Seed(path + g.Key)).ToList();
                mutants.AddRange(Enumerable.Range(0, order.Max(g => g.Shuffled.Count))
                    .SelectMany(i => order.Where(g => i < g.Shuffled.Count).Select(g => g.Shuffled[i]))
                    .Take(OtherSampleSize));
            }
        }

        // Unique names: a second identical name gets a counter.
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        return mutants.Select(m =>
        {
            int n = seen.TryGetValue(m.Name, out int c) ? c + 1 : 1;
            seen[m.Name] = n;
            return n == 1 ? m : m with { Name = $"{m.Name} #{n}" };
        }).ToList();
    }

    private static void DeleteAttributesAndFields(SampleFile file)
    {
        for (int i = 0; i < file.Lines.Length; i++)
        {
            Match layer = LayerLine.Match(file.Lines[i]);
            if (layer.Success)
            {
                string field = layer.Groups["field"].Value;
                file.Add(Op.DeleteAttribute, $"L{i + 1} delete [{Head(layer.Groups["attr"].Value)}] of {field}", file.WithLine(i, layer.Groups["indent"].Value + "Layer " + field + ";"));
                file.Add(Op.DeleteField, $"L{i + 1} delete field {field}", file.WithoutLine(i));
            }
            else if (AttributeLine.Match(file.Lines[i]) is { Success: true } attribute)
            {
                file.Add(Op.DeleteAttribute, $"L{i + 1} delete [{Head(attribute.Groups["attr"].Value)}]", file.WithLine(i, file.Lines[i].Replace("[" + attribute.Groups["attr"].Value + "]", string.Empty, StringComparison.Ordinal)));
            }
        }
    }

    private static void ReplaceIntegers(SampleFile file)
    {
        for (int i = 0; i < file.Lines.Length; i++)
        {
            if (!AttributeLine.IsMatch(file.Lines[i]))
            {
                continue;
            }

            foreach (Match literal in Integer.Matches(file.Lines[i]))
            {
                foreach (string value in EdgeValues)
                {
                    string line = file.Lines[i].Substring(0, literal.Index) + value + file.Lines[i].Substring(literal.Index + literal.Length);
                    file.Add(Op.Integer, $"L{i + 1} integer {literal.Value} at col {literal.Index + 1} -> {value}", file.WithLine(i, line));
                }
            }
        }
    }

    private static void WrongTypes(SampleFile file)
    {
        for (int i = 0; i < file.Lines.Length; i++)
        {
            if (AttributeLine.IsMatch(file.Lines[i]) && Integer.Match(file.Lines[i]) is { Success: true } literal)
            {
                file.Add(Op.WrongType, $"L{i + 1} integer {literal.Value} -> \"x\"", file.WithLine(i, file.Lines[i].Substring(0, literal.Index) + "\"x\"" + file.Lines[i].Substring(literal.Index + literal.Length)));
                file.Add(Op.WrongType, $"L{i + 1} integer {literal.Value} -> 2.5", file.WithLine(i, file.Lines[i].Substring(0, literal.Index) + "2.5" + file.Lines[i].Substring(literal.Index + literal.Length)));
            }
        }

        // Doubles: the first batch norm of a file with NaN, infinities and out-of-range settings; an inserted dropout likewise.
        int bn = file.FindLine(l => l.TrimStart().StartsWith("[BatchNorm]", StringComparison.Ordinal));
        if (bn >= 0)
        {
            foreach (string setting in new[] { "Eps = double.NaN", "Momentum = double.NaN", "Eps = 0", "Eps = -1e-5", "Momentum = double.PositiveInfinity", "Momentum = 2.5", "Eps = 1e300" })
            {
                file.Add(Op.Double, $"L{bn + 1} BatchNorm({setting})", file.WithLine(bn, file.Lines[bn].Replace("[BatchNorm]", $"[BatchNorm({setting})]", StringComparison.Ordinal)));
            }

            string indent = file.Lines[bn].Substring(0, file.Lines[bn].Length - file.Lines[bn].TrimStart().Length);
            foreach (string rate in new[] { "double.NaN", "-0.5", "1.0", "2", "double.NegativeInfinity", "0" })
            {
                file.Add(Op.Double, $"L{bn + 1} insert Dropout({rate})", file.WithLineAfter(bn, indent + $"[Dropout({rate})] Layer drop;"));
            }
        }
    }

    private static void BlockTypeArguments(SampleFile file)
    {
        int stage = file.FindLine(l => l.Contains("[Stage<", StringComparison.Ordinal));
        if (stage >= 0)
        {
            Match m = Regex.Match(file.Lines[stage], @"Stage<(?<block>\w+)>");
            foreach (string replacement in new[] { "NoSuchBlock", "string", "int", "Layer", "ResNet20", "System.Collections.Generic.List<int>", "Stage<BasicBlock>" })
            {
                file.Add(Op.BlockType, $"L{stage + 1} Stage<{m.Groups["block"].Value}> -> Stage<{replacement}>", file.WithLine(stage, file.Lines[stage].Replace(m.Value, $"Stage<{replacement}>", StringComparison.Ordinal)));
            }
        }

        // A block that uses itself, or another block.
        int block = file.FindLine(l => l.TrimStart() == "[Block]");
        int last = file.FindLastLine(l => LayerLine.IsMatch(l));
        if (block >= 0 && last >= 0)
        {
            string self = ClassLine.Match(file.Lines[block + 1]).Groups["name"].Value;
            file.Add(Op.BlockType, "block uses itself", file.WithLineAfter(last, $"    [Stage<{self}>(0)] Layer inner;"));
            file.Add(Op.BlockType, "block uses PreActBlock", file.WithLineAfter(last, "    [Stage<PreActBlock>(0, Repeat = 2)] Layer inner;"));
            file.Add(Op.BlockType, "block uses a block with explicit channels", file.WithLineAfter(last, "    [Stage<PreActBlock>(16, Stride = 2)] Layer inner;"));
            file.Add(Op.BlockType, "block marked [Network] too", file.WithLine(block, "[Block, Network(3, 32, 32)]"));
        }
    }

    private static void Declarations(SampleFile file)
    {
        for (int i = 0; i < file.Lines.Length; i++)
        {
            Match c = ClassLine.Match(file.Lines[i]);
            if (!c.Success)
            {
                continue;
            }

            string name = c.Groups["name"].Value;
            if (c.Groups["partial"].Success)
            {
                file.Add(Op.Declaration, $"L{i + 1} {name} not partial", file.WithLine(i, file.Lines[i].Replace("partial ", string.Empty, StringComparison.Ordinal)));
            }

            file.Add(Op.Declaration, $"L{i + 1} {name} generic", file.WithLine(i, file.Lines[i].Replace("class " + name, "class " + name + "<T>", StringComparison.Ordinal)));
            file.Add(Op.Declaration, $"L{i + 1} {name} static", file.WithLine(i, file.Lines[i].Replace("public ", "public static ", StringComparison.Ordinal)));
            file.Add(Op.Declaration, $"L{i + 1} {name} abstract", file.WithLine(i, file.Lines[i].Replace("public ", "public abstract ", StringComparison.Ordinal)));
        }

        // Containers: everything after the namespace line nested in a type, or moved out of the namespace.
        int ns = file.FindLine(l => l.StartsWith("namespace ", StringComparison.Ordinal));
        string head = string.Join("\n", file.Lines.Take(ns + 1));
        string body = string.Join("\n", file.Lines.Skip(ns + 1));
        foreach (string outer in new[] { "public partial class Outer<T>", "public partial class Outer", "public class Outer", "public partial struct Outer", "public partial record Outer", "public static partial class Outer<T, U>" })
        {
            file.Add(Op.Container, $"nested in '{outer}'", head + "\n" + outer + "\n{\n" + body + "\n}\n");
        }

        file.Add(Op.Container, "global namespace", body);
        file.Add(Op.Container, "block-scoped namespace", file.Lines[ns].TrimEnd(';') + "\n{\n" + body + "\n}\n");

        // A [Network] attribute that names itself or a non-network as its layers' source, or a shortcut out of range.
        int network = file.FindLine(l => l.StartsWith("[Network(", StringComparison.Ordinal));
        if (network >= 0)
        {
            string self = ClassLine.Match(file.Lines[network + 1]).Groups["name"].Value;
            file.Add(Op.Declaration, "LayersOf itself", file.WithLine(network, $"[Network(LayersOf = typeof({self}))]"));
            file.Add(Op.Declaration, "LayersOf string", file.WithLine(network, "[Network(3, 32, 32, LayersOf = typeof(string))]"));
            file.Add(Op.Declaration, "Shortcut 42", file.WithLine(network, file.Lines[network].Replace(")]", ", Shortcut = (ShortcutKind)42)]", StringComparison.Ordinal)));
            file.Add(Op.Declaration, "LayersOf null", file.WithLine(network, "[Network(LayersOf = null!)]"));
        }
    }

    private static void LineShuffles(SampleFile file)
    {
        var layers = Enumerable.Range(0, file.Lines.Length).Where(i => LayerLine.IsMatch(file.Lines[i])).ToList();
        foreach (int a in layers.Where(a => a + 1 < file.Lines.Length))
        {
            file.Add(Op.Shuffle, $"swap L{a + 1} and L{a + 2}", file.WithLines(a, file.Lines[a + 1], a + 1, file.Lines[a]));
        }

        foreach (int d in layers)
        {
            Match m = LayerLine.Match(file.Lines[d]);
            string field = m.Groups["field"].Value;
            file.Add(Op.Shuffle, $"L{d + 1} duplicated", file.WithLineAfter(d, file.Lines[d]));
            file.Add(Op.Shuffle, $"L{d + 1} duplicated as {field}_copy", file.WithLineAfter(d, file.Lines[d].Replace(" " + field + ";", " " + field + "_copy;", StringComparison.Ordinal)));
            file.Add(Op.Shuffle, $"L{d + 1} two layer attributes", file.WithLine(d, file.Lines[d].Replace("] Layer", "][ReLU] Layer", StringComparison.Ordinal)));
            file.Add(Op.Shuffle, $"L{d + 1} layer field typed int", file.WithLine(d, file.Lines[d].Replace("] Layer ", "] int ", StringComparison.Ordinal)));
            file.Add(Op.Shuffle, $"L{d + 1} layer on a property", file.WithLine(d, file.Lines[d].Replace(";", " { get; set; }", StringComparison.Ordinal)));
            file.Add(Op.Shuffle, $"L{d + 1} layer made static", file.WithLine(d, file.Lines[d].Replace("] Layer ", "] static Layer ", StringComparison.Ordinal)));
        }
    }

    private static void Truncations(SampleFile file)
    {
        var random = new Random(Seed(file.Path));
        for (int n = 0; n < 6; n++)
        {
            int at = random.Next(file.Source.Length);
            file.Add(Op.Truncate, $"truncated at {at}", file.Source.Substring(0, at));
        }

        int lastBrace = file.Source.LastIndexOf('}');
        file.Add(Op.Truncate, "last closing brace removed", file.Source.Remove(lastBrace, 1));
        int firstBrace = file.Source.IndexOf('}', StringComparison.Ordinal);
        if (firstBrace != lastBrace)
        {
            file.Add(Op.Truncate, "first closing brace removed", file.Source.Remove(firstBrace, 1));
        }
    }

    private static void Garbage(SampleFile file)
    {
        for (int i = 0; i < file.Lines.Length; i++)
        {
            if (!AttributeLine.IsMatch(file.Lines[i]) || !file.Lines[i].Contains(')', StringComparison.Ordinal))
            {
                continue;
            }

            int close = file.Lines[i].IndexOf(')', StringComparison.Ordinal);
            int open = file.Lines[i].IndexOf('(', StringComparison.Ordinal);
            foreach (string garbage in new[] { ", ;; @#", " 16 16", ", = =", ")(", ", Repeat = ", ", Stride: 2", ", nameof(", ", typeof(" })
            {
                file.Add(Op.Garbage, $"L{i + 1} garbage '{garbage.Trim()}'", file.WithLine(i, file.Lines[i].Insert(close, garbage)));
            }

            file.Add(Op.Garbage, $"L{i + 1} empty argument list", file.WithLine(i, file.Lines[i].Remove(open + 1, close - open - 1)));
            file.Add(Op.Garbage, $"L{i + 1} unclosed argument list", file.WithLine(i, file.Lines[i].Remove(close, 1)));
        }
    }

    private static List<Mutant> Shuffle(IEnumerable<Mutant> items, int seed)
    {
        var random = new Random(seed);
        return items.Select(m => (Key: random.Next(), m)).OrderBy(p => p.Key).Select(p => p.m).ToList();
    }

    private static string Head(string attribute)
    {
        int paren = attribute.IndexOf('(', StringComparison.Ordinal);
        return paren < 0 ? attribute : attribute.Substring(0, paren);
    }

    /// <summary>A stable seed (string.GetHashCode is randomised per process).</summary>
    private static int Seed(string text)
    {
        int seed = 17;
        foreach (char c in text)
        {
            seed = unchecked((seed * 31) + c);
        }

        return seed;
    }

    /// <summary>One sample file, split into lines, and the mutants made of it so far.</summary>
    private sealed class SampleFile
    {
        public SampleFile(string path, string source)
        {
            Path = path;
            Source = source.Replace("\r\n", "\n", StringComparison.Ordinal);
            Lines = Source.Split('\n');
        }

        public string Path { get; }

        public string Source { get; }

        public string[] Lines { get; }

        public List<(Op Op, Mutant Mutant)> Mutants { get; } = new();

        public void Add(Op op, string what, string source)
        {
            if (source != Source)
            {
                Mutants.Add((op, new Mutant($"{Path}: {what}", Path, source)));
            }
        }

        public int FindLine(Func<string, bool> predicate) => Array.FindIndex(Lines, l => predicate(l));

        public int FindLastLine(Func<string, bool> predicate) => Array.FindLastIndex(Lines, l => predicate(l));

        public string WithLine(int index, string line) => WithLines(index, line);

        public string WithLines(int index, string line, int index2 = -1, string? line2 = null)
        {
            string[] copy = (string[])Lines.Clone();
            copy[index] = line;
            if (index2 >= 0)
            {
                copy[index2] = line2!;
            }

            return string.Join("\n", copy);
        }

        public string WithoutLine(int index) => string.Join("\n", Lines.Where((_, i) => i != index));

        public string WithLineAfter(int index, string line) => string.Join("\n", Lines.Take(index + 1).Append(line).Concat(Lines.Skip(index + 1)));
    }
}
