using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Basic.Reference.Assemblies;
using DslResNet.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace DslResNet.Benchmarks;

/// <summary>
/// The generator alone on the ResNet-110 sample (ResNet110 and its plain twin Plain110, over BasicBlock): 110 layers
/// and 54 blocks to parse, check, shape, plan and emit. The analyzer and the rest of the compiler are not timed.
/// </summary>
[MemoryDiagnoser]
public class GeneratorBenchmarks
{
    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Preview);

    private ImmutableArray<MetadataReference> _references;
    private SyntaxTree[] _trees = Array.Empty<SyntaxTree>();
    private CSharpCompilation _compilation = null!;
    private GeneratorDriver _warmDriver = null!;
    private SyntaxTree _networkTree = null!;
    private SourceText _editedNetworkText = null!;

    /// <summary>Loads the reference assemblies, parses the samples and runs the driver once for the incremental case.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _references = Net100.References.All.Cast<MetadataReference>()
            .Append(MetadataReference.CreateFromFile(typeof(NetworkAttribute).Assembly.Location))
            .ToImmutableArray();
        _networkTree = Parse("Samples/Cifar/ResNet110.cs");
        _trees = new[] { _networkTree, Parse("Samples/Blocks/BasicBlock.cs") };

        // A comment edit: a line appended after the declarations, so no span of the network moves.
        SourceText text = _networkTree.GetText();
        _editedNetworkText = text.WithChanges(new TextChange(new TextSpan(text.Length, 0), "// an edited comment\n"));

        // Loads the reference assemblies' metadata (shared by every later compilation) and checks the output once.
        _compilation = NewCompilation();
        _warmDriver = NewDriver(track: false).RunGenerators(_compilation);
        Check(_warmDriver.GetRunResult(), "the first run");

        // The incremental case must really be served from the cache: after the edit, no output may be New or Modified.
        GeneratorDriver tracked = NewDriver(track: true).RunGenerators(_compilation).RunGenerators(EditedCompilation());
        GeneratorRunResult run = tracked.GetRunResult().Results.Single();
        Check(tracked.GetRunResult(), "the rerun");
        foreach (IncrementalGeneratorRunStep step in run.TrackedOutputSteps.SelectMany(s => s.Value))
        {
            foreach ((object _, IncrementalStepRunReason reason) in step.Outputs)
            {
                if (reason is not (IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged))
                {
                    throw new InvalidOperationException($"After a comment edit the output step {step.Name} was {reason}, not cached.");
                }
            }
        }
    }

    /// <summary>
    /// A full first run: a new driver on a new compilation (nothing bound yet), as when a project is opened or built
    /// from scratch. The reference assemblies are already loaded, as they are in the compiler server or the IDE.
    /// </summary>
    [Benchmark(Description = "ResNet-110: first run (new driver, new compilation)")]
    public GeneratorDriver FirstRun() => NewDriver(track: false).RunGenerators(NewCompilation());

    /// <summary>The rerun after a comment edit in the network's file: what every keystroke there costs.</summary>
    [Benchmark(Description = "ResNet-110: rerun after a comment edit (incremental)")]
    public GeneratorDriver RerunAfterCommentEdit() => _warmDriver.RunGenerators(EditedCompilation());

    private CSharpCompilation NewCompilation() => CSharpCompilation.Create(
        "ResNet110Benchmark",
        _trees,
        _references,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    // A new compilation per call, as the IDE makes one per edit: its semantic state starts empty.
    private CSharpCompilation EditedCompilation() =>
        _compilation.ReplaceSyntaxTree(_networkTree, _networkTree.WithChangedText(_editedNetworkText));

    private static GeneratorDriver NewDriver(bool track) => CSharpGeneratorDriver.Create(
        new[] { new NetworkGenerator().AsSourceGenerator() },
        parseOptions: ParseOptions,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: track));

    private static SyntaxTree Parse(string resource)
    {
        using Stream stream = typeof(GeneratorBenchmarks).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The sample {resource} is not embedded.");
        return CSharpSyntaxTree.ParseText(SourceText.From(stream), ParseOptions, "/src/" + resource);
    }

    private static void Check(GeneratorDriverRunResult result, string what)
    {
        string[] hints = result.GeneratedTrees.Select(t => Path.GetFileName(t.FilePath)).OrderBy(h => h, StringComparer.Ordinal).ToArray();
        if (!result.Diagnostics.IsEmpty || !hints.SequenceEqual(new[] { "DslResNet.Samples.Plain110.g.cs", "DslResNet.Samples.ResNet110.g.cs" }))
        {
            throw new InvalidOperationException(
                $"{what} of the generator gave [{string.Join(", ", hints)}] and {result.Diagnostics.Length} diagnostics, " +
                "not the ResNet110 and Plain110 sources alone.");
        }
    }
}
