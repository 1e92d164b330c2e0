using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using DslResNet.Generators;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace DslResNet.Generators.Tests.Snapshots;

/// <summary>The generated source of every sample network, read from the samples' own files, against committed snapshots.</summary>
public sealed class SampleSnapshotTests
{
    private static readonly HarnessResult Samples = Harness.Run(Harness.Compile(Harness.SampleSources().Select(s => ("/samples/" + s.Path, s.Source)).ToArray()));

    /// <summary>Every generated file's hint name.</summary>
    public static IEnumerable<object[]> HintNames() =>
        Samples.Generated.Keys.OrderBy(k => k, System.StringComparer.Ordinal).Select(k => new object[] { k });

    [Theory]
    [MemberData(nameof(HintNames))]
    public void Generated_source_matches_snapshot(string hintName) =>
        Snapshot.Verify(Samples.Generated[hintName], nameof(SampleSnapshotTests), "Generated", hintName);

    [Fact]
    public void Every_sample_network_generates_and_the_samples_compile_without_errors_or_warnings()
    {
        int networks = Harness.SampleSources().Sum(s => s.Source.Split('\n').Count(l => l.TrimStart().StartsWith("[Network(", System.StringComparison.Ordinal)));
        Assert.Equal(networks, Samples.Generated.Count);
        Assert.Empty(Samples.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }

    [Fact]
    public async System.Threading.Tasks.Task Only_the_deep_plain_twins_get_advice_and_each_silences_it_with_a_pragma()
    {
        // The hints are warnings, so the samples (built with TreatWarningsAsErrors) silence them where they mean it.
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty), onAnalyzerException: null,
            concurrentAnalysis: false, logAnalyzerExecutionTime: false, reportSuppressedDiagnostics: true);
        var advised = (await Samples.Output.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new NetworkAnalyzer()), options)
            .GetAnalyzerDiagnosticsAsync(CancellationToken.None))
            .Where(d => d.Id.StartsWith("DRN", System.StringComparison.Ordinal))
            .ToList();
        Assert.All(advised, a => Assert.Equal(("DRN0013", DiagnosticSeverity.Warning, true), (a.Id, a.Severity, a.IsSuppressed)));
        Assert.Equal(
            new[] { "/samples/Cifar/ResNet110.cs", "/samples/Cifar/ResNet32.cs", "/samples/Cifar/ResNet44.cs", "/samples/Cifar/ResNet56.cs", "/samples/ImageNet/ResNet34.cs", "/samples/ImageNet/ResNet50.cs" },
            advised.Select(a => a.Location.SourceTree!.FilePath).OrderBy(p => p, System.StringComparer.Ordinal));
    }
}
