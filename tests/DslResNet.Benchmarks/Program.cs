using System;
using System.IO;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace DslResNet.Benchmarks;

/// <summary>
/// Entry point: BenchmarkDotNet's switcher, so <c>--filter</c>, <c>--job</c> and the other options work. From the
/// repository root: <c>dotnet run -c Release --project tests/DslResNet.Benchmarks -- --filter '*' --job short</c>.
/// </summary>
public static class Program
{
    /// <summary>Runs the benchmarks the arguments select.</summary>
    public static void Main(string[] args)
    {
        // Reports go beside the build output (ignored by git), not into the folder the command was started from;
        // --artifacts still chooses another place.
        IConfig config = DefaultConfig.Instance.WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"));
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
    }
}
