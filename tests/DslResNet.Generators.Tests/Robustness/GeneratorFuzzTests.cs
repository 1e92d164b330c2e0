using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace DslResNet.Generators.Tests.Robustness;

/// <summary>
/// Seeded fuzzing (issue 12): 1,000 mutants of the sample networks and of the generator tests' own sources, each run
/// through the generator and the analyzer in-process. None may make the generator or analyzer throw (CS8784/CS8785,
/// DRN9999, AD0001), take longer than <see cref="PerMutantLimit"/>, or get generated code that does not compile.
/// The seed is fixed, so a failure names a mutant that reproduces.
/// </summary>
public sealed class GeneratorFuzzTests
{
    private const int Seed = 20261205;
    private const int MutantCount = 1000;
    private static readonly TimeSpan PerMutantLimit = TimeSpan.FromSeconds(20);

    private readonly ITestOutputHelper _output;

    /// <summary>Creates the test with xunit's output.</summary>
    public GeneratorFuzzTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Seeded_mutants_never_crash_hang_or_get_generated_code_that_does_not_compile()
    {
        var seeds = Seeds();
        Assert.True(seeds.Count(s => s.FromSample) >= 10 && seeds.Count(s => !s.FromSample) >= 50, $"{seeds.Count} seeds");
        var mutants = Mutants(seeds).ToList();
        Assert.True(mutants.Count >= 1000, $"only {mutants.Count} mutants");
        foreach (var (name, _) in FuzzMutations.All)
        {
            Assert.True(mutants.Count(m => m.Operator == name) >= 20, $"operator '{name}' made {mutants.Count(m => m.Operator == name)} mutants");
        }

        // Mutants run side by side, one per processor; each has its own time limit.
        var clock = Stopwatch.StartNew();
        using var throttle = new SemaphoreSlim(Math.Max(1, Environment.ProcessorCount));
        var results = await Task.WhenAll(mutants.Select(async mutant =>
        {
            await throttle.WaitAsync();
            try
            {
                var run = Task.Run(() => Check(mutant));
                return await Task.WhenAny(run, Task.Delay(PerMutantLimit)) == run
                    ? await run
                    : (Problems: new List<string> { $"still running after {PerMutantLimit.TotalSeconds} s" }, Generated: 0);
            }
            finally
            {
                throttle.Release();
            }
        }));

        var failures = mutants.Zip(results, (m, r) => r.Problems.Select(p => $"{m}: {p}")).SelectMany(f => f).ToList();
        int generated = results.Sum(r => r.Generated);
        _output.WriteLine($"{mutants.Count} mutants of {seeds.Count} seeds, {generated} networks generated, {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(generated >= 100, $"only {generated} networks generated: the mutants are too broken to reach the emitter");
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n" + string.Join("\n\n", failures.Take(15)));
    }

    [Fact]
    public void The_deep_network_the_fuzz_found_is_reported_instead_of_generating_a_hundred_megabytes()
    {
        // Mutant 161 (ResNet34, layer3's Repeat = 9999: 70,000 layers) held the compiler for minutes. Now DRN0004.
        var (path, source) = Harness.SampleSources().Single(s => s.Path == "ImageNet/ResNet34.cs");
        string mutated = source.Replace("[Stage<BasicBlock>(256, Repeat = 6, Stride = 2)]", "[Stage<BasicBlock>(256, Repeat = 9999, Stride = 2)]", StringComparison.Ordinal);
        Assert.NotEqual(source, mutated);
        var clock = Stopwatch.StartNew();
        HarnessResult result = Harness.Run(SampleBase.Value.AddSyntaxTrees(CSharpSyntaxTree.ParseText(mutated, Harness.ParseOptions, "/samples/" + path)));

        // At the Repeat for ResNet34; its plain twin (LayersOf) reports the same at its [Network].
        Assert.Contains(result.Diagnostics, d => d.Id == "DRN0004" && d.Location.SourceTree!.GetText().ToString(d.Location.SourceSpan) == "9999");
        Assert.All(result.Errors, d => Assert.Equal("DRN0004", d.Id));
        Assert.Empty(result.Generated);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public void The_mutants_are_the_same_every_run()
    {
        var seeds = Seeds();
        var first = Mutants(seeds).Take(200).Select(m => m.Source).ToList();
        var second = Mutants(seeds).Take(200).Select(m => m.Source).ToList();
        Assert.Equal(first, second);
        Assert.True(first.Distinct(StringComparer.Ordinal).Count() > 150);
    }

    /// <summary>Runs one mutant: what went wrong (empty when nothing did), and how many networks it generated.</summary>
    private static (List<string> Problems, int Generated) Check(FuzzMutant mutant)
    {
        var problems = new List<string>();
        using var timeout = new CancellationTokenSource(PerMutantLimit);
        CancellationToken ct = timeout.Token;
        SyntaxTree tree = CSharpSyntaxTree.ParseText(mutant.Source, Harness.ParseOptions, "/src/Mutant.cs", cancellationToken: ct);
        Compilation input = (mutant.FromSample ? SampleBase.Value : SnippetBase.Value).AddSyntaxTrees(tree);

        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new NetworkGenerator().AsSourceGenerator() }, parseOptions: Harness.ParseOptions)
            .RunGeneratorsAndUpdateCompilation(input, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics, ct);
        GeneratorRunResult result = driver.GetRunResult().Results[0];
        if (result.Exception is not null)
        {
            problems.Add("generator threw " + result.Exception);
        }

        problems.AddRange(generatorDiagnostics.Where(d => d.Id is "CS8784" or "CS8785" or "DRN9999").Select(d => "generator: " + d));

        // No error in the generated trees (declarations and bodies). Binding a sample's generated part costs a tenth of a
        // second, and many mutants generate the same text beside the same declarations: what the compiler says about a
        // generated file depends only on its text and on the names the user's file declares (generated code names types
        // with global::, and members by simple name), so equal keys are bound once.
        string declared = DeclaredNames(tree, ct);
        foreach (GeneratedSourceResult source in result.GeneratedSources)
        {
            string key = source.HintName + "\0" + declared + "\0" + source.SourceText;
            string[] errors = GeneratedErrors.GetOrAdd(key, _ => output.GetSemanticModel(source.SyntaxTree).GetDiagnostics(cancellationToken: ct)
                .Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToArray());
            problems.AddRange(errors.Select(e => $"error in generated {source.HintName}: {e}"));
        }

        // The analyzer over the mutated file: no exception, no internal error.
        var exceptions = new List<string>();
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty), (e, a, d) => exceptions.Add(a.GetType().Name + ": " + e.GetType().Name + ": " + e.Message),
            concurrentAnalysis: false, logAnalyzerExecutionTime: false);
        var analyzers = output.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new NetworkAnalyzer()), options);
        ImmutableArray<Diagnostic> analyzerDiagnostics = analyzers.GetAnalyzerSemanticDiagnosticsAsync(output.GetSemanticModel(tree), null, ct).GetAwaiter().GetResult();
        problems.AddRange(exceptions.Select(e => "analyzer threw " + e));
        problems.AddRange(analyzerDiagnostics.Where(d => d.Id is "DRN9999" or "AD0001").Select(d => "analyzer: " + d));
        return (problems, result.GeneratedSources.Length);
    }

    private static readonly ConcurrentDictionary<string, string[]> GeneratedErrors = new(StringComparer.Ordinal);

    // Every name the file declares (namespaces, types, members, fields, parameters aside), in order.
    private static string DeclaredNames(SyntaxTree tree, CancellationToken ct) => string.Join(",", tree.GetRoot(ct).DescendantNodes().Select(n => n switch
    {
        BaseNamespaceDeclarationSyntax ns => "namespace " + ns.Name,
        BaseTypeDeclarationSyntax t => t.Modifiers + " " + t.Kind() + " " + t.Identifier.ValueText + t.BaseList,
        MethodDeclarationSyntax m => m.Modifiers + " " + m.Identifier.ValueText + m.ParameterList,
        ConstructorDeclarationSyntax c => "ctor" + c.ParameterList,
        PropertyDeclarationSyntax p => p.Modifiers + " " + p.Identifier.ValueText,
        EventDeclarationSyntax e => e.Identifier.ValueText,
        VariableDeclaratorSyntax v => v.Parent?.Parent is BaseFieldDeclarationSyntax f ? f.Modifiers + " " + f.Declaration.Type + " " + v.Identifier.ValueText : null,
        DelegateDeclarationSyntax d => d.Identifier.ValueText,
        UsingDirectiveSyntax u => u.ToString(),
        _ => null,
    }).Where(n => n is not null));

    /// <summary>Mutants in a fixed order: operators in turn, each on a seed source drawn by the seeded generator.</summary>
    private static IEnumerable<FuzzMutant> Mutants(IReadOnlyList<SeedSource> seeds)
    {
        var rng = new Random(Seed);
        var samples = seeds.Where(s => s.FromSample).ToList();
        var snippets = seeds.Where(s => !s.FromSample).ToList();
        for (int made = 0; made < MutantCount; made++)
        {
            // Operators in turn; each tries seeds drawn by the seeded generator until one it applies to.
            var (name, apply) = FuzzMutations.All[made % FuzzMutations.All.Count];
            for (int attempt = 0; attempt < 200; attempt++)
            {
                // One mutant in ten starts from a sample: their generated parts are 100-560 KB each and cost a tenth of a
                // second to bind, the snippets' a few KB.
                var from = rng.Next(10) == 0 ? samples : snippets;
                SeedSource seed = from[rng.Next(from.Count)];
                string? source = apply(rng, seed.Source);

                // Sometimes a second operator on top of the first, for combinations.
                if (source is not null && rng.Next(4) == 0)
                {
                    source = FuzzMutations.All[rng.Next(FuzzMutations.All.Count)].Apply(rng, source) ?? source;
                }

                if (source is not null && source != seed.Source)
                {
                    yield return new FuzzMutant(made + 1, name, seed.Name, seed.FromSample, source);
                    break;
                }
            }
        }
    }

    // The samples' blocks, parsed once: sample mutants use them. References are shared by every compilation built from these.
    private static readonly Lazy<CSharpCompilation> SampleBase = new(() =>
        Harness.Compile(Harness.SampleSources().Where(s => s.Path.StartsWith("Blocks/", StringComparison.Ordinal)).Select(s => ("/samples/" + s.Path, s.Source)).ToArray()));

    // The block the generator tests share (TestSources.BasicBlock), in its own namespace so that snippets may declare their own.
    private static readonly Lazy<CSharpCompilation> SnippetBase = new(() =>
        Harness.Compile(("/src/Shared.cs", Harness.WithUsing(TestSources.BasicBlock))));

    /// <summary>The seeds: every sample network file, and every raw C# snippet of the generator tests that declares a network.</summary>
    private static IReadOnlyList<SeedSource> Seeds([CallerFilePath] string here = "")
    {
        var seeds = Harness.SampleSources().Where(s => !s.Path.StartsWith("Blocks/", StringComparison.Ordinal))
            .Select(s => new SeedSource("samples/" + s.Path, s.Source, true)).ToList();
        string testRoot = Path.GetDirectoryName(Path.GetDirectoryName(here))!;
        foreach (string file in Directory.EnumerateFiles(testRoot, "*.cs", SearchOption.AllDirectories)
                     .Where(f => !f.Contains(Path.DirectorySeparatorChar + "obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                         && !f.Contains(Path.DirectorySeparatorChar + "bin" + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                         && !f.Contains("Snapshots", StringComparison.Ordinal))
                     .OrderBy(f => f, StringComparer.Ordinal))
        {
            var root = CSharpSyntaxTree.ParseText(File.ReadAllText(file)).GetRoot();
            int index = 0;
            foreach (SyntaxToken token in root.DescendantTokens().Where(t => t.IsKind(SyntaxKind.MultiLineRawStringLiteralToken) || t.IsKind(SyntaxKind.SingleLineRawStringLiteralToken)))
            {
                string text = Markup.Replace(token.ValueText, string.Empty).Replace("|}", string.Empty, StringComparison.Ordinal);
                if (text.Contains("[Network", StringComparison.Ordinal))
                {
                    string source = text.Contains("using DslResNet;", StringComparison.Ordinal) ? text : Harness.WithUsing(text);
                    seeds.Add(new SeedSource($"{Path.GetRelativePath(testRoot, file).Replace('\\', '/')}#{index++}", source, false));
                }
            }
        }

        return seeds;
    }

    private static readonly Regex Markup = new(@"\{\|[A-Z]+[0-9]+:", RegexOptions.CultureInvariant);

    /// <summary>A source a mutant starts from.</summary>
    private sealed record SeedSource(string Name, string Source, bool FromSample);

    /// <summary>One mutant: its number, the operator that made it, its seed, and its text.</summary>
    private sealed record FuzzMutant(int Number, string Operator, string SeedName, bool FromSample, string Source)
    {
        public override string ToString() => $"mutant {Number} ({Operator} of {SeedName}):\n{Source}";
    }
}
