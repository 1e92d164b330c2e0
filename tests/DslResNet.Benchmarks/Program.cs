using System;
using System.IO;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace DslResNet.Benchmarks;

/// <summary>
/// Entry point. <c>sweep</c> runs the side-by-side harness (<see cref="Harness.Sweep"/>); <c>profile</c> prints where DslResNet's
/// time goes (<see cref="Harness.Profile"/>); <c>poolprobe</c> what an empty parallel run costs (<see cref="Harness.PoolProbe"/>);
/// <c>measure</c> is one of its
/// measuring processes; anything else goes to BenchmarkDotNet's switcher, so <c>--filter</c>, <c>--job</c> and the other
/// options work. From the repository root: <c>dotnet run -c Release --project tests/DslResNet.Benchmarks -- --filter '*' --job short</c>.
/// </summary>
public static class Program
{
    /// <summary>Runs the benchmarks the arguments select.</summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "sweep")
        {
            return Harness.Sweep.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "poolprobe")
        {
            return Harness.PoolProbe.Run();
        }

        if (args.Length > 0 && args[0] == "microkernel")
        {
            return Harness.MicroKernelPeak.Run();
        }

        if (args.Length > 0 && args[0] == "profile")
        {
            return Harness.Profile.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "measure")
        {
            try
            {
                Harness.MeasureResult result = Harness.Engines.Measure(Harness.MeasureSpec.Parse(args[1..]));
                Console.WriteLine(result.ToLine());
                return 0;
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                // The sweep shows the last lines of a failed cell: the reason, not a stack trace.
                Console.Error.WriteLine($"measure failed: {e.Message}");
                return 1;
            }
        }

        // Reports go beside the build output (ignored by git), not into the folder the command was started from;
        // --artifacts still chooses another place.
        IConfig config = DefaultConfig.Instance.WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"));
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return 0;
    }
}
