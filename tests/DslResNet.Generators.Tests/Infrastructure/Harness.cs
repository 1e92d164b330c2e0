using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading;
using Basic.Reference.Assemblies;
using DslResNet.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace DslResNet.Generators.Tests.Infrastructure;

/// <summary>What one run of the generator and analyzers over some sources gave.</summary>
/// <param name="Input">The compilation before generation.</param>
/// <param name="Output">The compilation with generated sources added.</param>
/// <param name="Generated">Hint name to generated text.</param>
/// <param name="GeneratorDiagnostics">Diagnostics the generator reported (only DRN9999 is expected there).</param>
/// <param name="Diagnostics">Every diagnostic of the output compilation (compiler and analyzers), suppressions applied and dropped.</param>
/// <param name="RunResult">The driver's run result, for step tracking.</param>
public sealed record HarnessResult(
    CSharpCompilation Input, Compilation Output, IReadOnlyDictionary<string, string> Generated,
    ImmutableArray<Diagnostic> GeneratorDiagnostics, ImmutableArray<Diagnostic> Diagnostics, GeneratorDriverRunResult RunResult)
{
    /// <summary>Our diagnostics (DRN*), ordered by position.</summary>
    public IEnumerable<Diagnostic> Ours => Diagnostics.Where(d => d.Id.StartsWith("DRN", StringComparison.Ordinal));

    /// <summary>Errors from the compiler or from us.</summary>
    public IEnumerable<Diagnostic> Errors => Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error);
}

/// <summary>Compiles sources in memory against .NET 10 reference assemblies and DslResNet, with our generator and analyzers.</summary>
public static class Harness
{
    /// <summary>C# as the SDK uses it.</summary>
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Preview);

    private static readonly Lazy<ImmutableArray<MetadataReference>> LazyReferences = new(() =>
        Net100.References.All.Cast<MetadataReference>()
            .Append(MetadataReference.CreateFromFile(typeof(NetworkAttribute).Assembly.Location))
            .Append(MetadataReference.CreateFromFile(typeof(ILGPU.ArrayView<float>).Assembly.Location))
            .ToImmutableArray());

    /// <summary>Reference assemblies plus DslResNet.dll.</summary>
    public static ImmutableArray<MetadataReference> References => LazyReferences.Value;

    /// <summary>Parses sources named <c>/src/File{i}.cs</c> (or as given) into a library compilation.</summary>
    public static CSharpCompilation Compile(params string[] sources) =>
        Compile(sources.Select((s, i) => ($"/src/File{i}.cs", s)).ToArray());

    /// <summary>Parses named sources into a library compilation.</summary>
    public static CSharpCompilation Compile(params (string Path, string Source)[] files) =>
        Compile("Tests", ImmutableArray<MetadataReference>.Empty, files);

    /// <summary>Parses named sources into a library compilation of the given name, with references beyond <see cref="References"/>.</summary>
    public static CSharpCompilation Compile(string assemblyName, IEnumerable<MetadataReference> extraReferences, params (string Path, string Source)[] files) =>
        CSharpCompilation.Create(
            assemblyName,
            files.Select(f => CSharpSyntaxTree.ParseText(f.Source, ParseOptions, f.Path)),
            References.Concat(extraReferences),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable)
                // As the SDK does: ILGPU is built against an older System.Runtime, which unifies with the current one.
                .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic> { ["CS1701"] = ReportDiagnostic.Suppress, ["CS1702"] = ReportDiagnostic.Suppress }));

    /// <summary>A driver with step tracking on.</summary>
    public static GeneratorDriver Driver() => CSharpGeneratorDriver.Create(
        new[] { new NetworkGenerator().AsSourceGenerator() },
        parseOptions: ParseOptions,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator, then the compiler and our analyzers (and suppressor) on the result.</summary>
    public static HarnessResult Run(params string[] sources) => Run(Compile(sources));

    /// <summary>Runs the generator, then the compiler and our analyzers (and suppressor) on the result.</summary>
    public static HarnessResult Run(CSharpCompilation input)
    {
        GeneratorDriver driver = Driver().RunGeneratorsAndUpdateCompilation(input, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics);
        GeneratorDriverRunResult run = driver.GetRunResult();
        var generated = run.Results.SelectMany(r => r.GeneratedSources)
            .ToDictionary(s => s.HintName, s => s.SourceText.ToString(), StringComparer.Ordinal);
        ImmutableArray<Diagnostic> diagnostics = Analyze(output);
        return new HarnessResult(input, output, generated, generatorDiagnostics, diagnostics, run);
    }

    /// <summary>Compiler and analyzer diagnostics, suppressed ones dropped, ordered by file and position.</summary>
    public static ImmutableArray<Diagnostic> Analyze(Compilation compilation)
    {
        var analyzers = ImmutableArray.Create<DiagnosticAnalyzer>(new NetworkAnalyzer(), new LayerFieldSuppressor());
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty), onAnalyzerException: null,
            concurrentAnalysis: false, logAnalyzerExecutionTime: false, reportSuppressedDiagnostics: false);
        ImmutableArray<Diagnostic> all = compilation.WithAnalyzers(analyzers, options).GetAllDiagnosticsAsync(CancellationToken.None).GetAwaiter().GetResult();
        return all.Where(d => !d.IsSuppressed && d.Severity != DiagnosticSeverity.Hidden)
            .OrderBy(d => d.Location.SourceTree?.FilePath, StringComparer.Ordinal)
            .ThenBy(d => d.Location.SourceSpan.Start)
            .ThenBy(d => d.Id, StringComparer.Ordinal)
            .ToImmutableArray();
    }

    /// <summary>The sample sources shipped beside the tests, by path relative to the samples project.</summary>
    public static IReadOnlyList<(string Path, string Source)> SampleSources()
    {
        string root = Path.Combine(AppContext.BaseDirectory, "SampleSources");
        return Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Select(p => (Full: p, Relative: Path.GetRelativePath(root, p).Replace('\\', '/')))
            .Where(p => !p.Relative.StartsWith("obj/", StringComparison.Ordinal) && !p.Relative.StartsWith("bin/", StringComparison.Ordinal))
            .OrderBy(p => p.Relative, StringComparer.Ordinal)
            .Select(p => (p.Relative, File.ReadAllText(p.Full)))
            .ToList();
    }

    /// <summary>
    /// Compiles a library to an in-memory assembly and returns it as a metadata reference, as a package's DLL is seen.
    /// With <paramref name="generate"/>, the generator completes its networks first (as in a real build); without, its
    /// declarations are emitted as written and no analyzer judges them (a library built without DslResNet's analyzers).
    /// </summary>
    public static MetadataReference Library(string assemblyName, string source, bool generate = true)
    {
        CSharpCompilation library = Compile(assemblyName, ImmutableArray<MetadataReference>.Empty, ($"/{assemblyName}/Library.cs", source));
        Compilation output = generate ? Run(library).Output : library;
        using var image = new MemoryStream();
        var emitted = output.Emit(image);
        if (!emitted.Success)
        {
            throw new InvalidOperationException("The library does not compile:\n" + string.Join("\n", emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        }

        return MetadataReference.CreateFromImage(image.ToArray());
    }

    /// <summary>Prefixes <c>using DslResNet;</c> to a snippet.</summary>
    public static string WithUsing(string source) => "using DslResNet;\n" + source;
}
