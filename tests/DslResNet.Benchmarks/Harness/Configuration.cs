using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace DslResNet.Benchmarks.Harness;

/// <summary>What one measuring process measures.</summary>
/// <param name="Engine">dslresnet, torchsharp or onnxruntime.</param>
/// <param name="Variant">The engine's variant (torchsharp: default, tcmalloc, tcmalloc-cl; others: default).</param>
/// <param name="Network">resnet20, plain20, resnet56 (1x28x28), resnet20-cifar (3x32x32), resnet18-224 or resnet50-224
/// (torchvision's, 3x224x224), or main (the main job as a process).</param>
/// <param name="Task">train (batch 128; 8 at 224), infer (batch 128; 8 at 224), latency (batch 1), conv (the convolutions
/// alone, GFLOP/s); for main: startup (process start to the end of the first step) or rss (peak resident memory over one
/// whole epoch with the README's options).</param>
/// <param name="Threads">Threads (and cores the process may run on).</param>
/// <param name="Steps">Timed repetitions inside the process, after one warm-up.</param>
internal sealed record MeasureSpec(string Engine, string Variant, string Network, string Task, int Threads, int Steps)
{
    /// <summary>Images per call.</summary>
    public int Batch => Task is "latency" or "conv" ? 1 : Networks.IsImageNet(Network) ? 8 : 128;

    /// <summary>The child's command-line arguments.</summary>
    public string[] ToArguments() =>
        ["measure", Engine, Variant, Network, Task, Threads.ToString(CultureInfo.InvariantCulture), Steps.ToString(CultureInfo.InvariantCulture)];

    /// <summary>Parses <see cref="ToArguments"/>'s output (without the leading "measure").</summary>
    public static MeasureSpec Parse(IReadOnlyList<string> a)
    {
        if (a.Count != 6)
        {
            throw new ArgumentException("measure: expected ENGINE VARIANT NETWORK TASK THREADS STEPS.");
        }

        if (!int.TryParse(a[4], NumberStyles.None, CultureInfo.InvariantCulture, out int threads) || threads < 1
            || !int.TryParse(a[5], NumberStyles.None, CultureInfo.InvariantCulture, out int steps) || steps < 1)
        {
            throw new ArgumentException($"measure: THREADS and STEPS must be positive integers (got '{a[4]}', '{a[5]}').");
        }

        return new MeasureSpec(a[0], a[1], a[2], a[3], threads, steps);
    }
}

/// <summary>A measuring process's result: seconds per call (median of its timed calls) and its peak resident memory.</summary>
/// <param name="SecondsPerCall">Median seconds per training step or inference call.</param>
/// <param name="PeakRssMiB">Peak resident set size of the process (VmHWM).</param>
/// <param name="Note">Anything the engine wants said (e.g. which tcmalloc was preloaded).</param>
internal sealed record MeasureResult(double SecondsPerCall, double PeakRssMiB, string Note)
{
    /// <summary>The line a child prints for the parent.</summary>
    public string ToLine() => string.Create(CultureInfo.InvariantCulture, $"RESULT {SecondsPerCall:R} {PeakRssMiB:R} {Note}");

    /// <summary>Finds the result line in a child's output.</summary>
    public static MeasureResult? FromOutput(string output)
    {
        string? line = output.Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (line is null)
        {
            return null;
        }

        string[] parts = line.Trim().Split(' ', 4);
        return new MeasureResult(
            double.Parse(parts[1], CultureInfo.InvariantCulture), double.Parse(parts[2], CultureInfo.InvariantCulture), parts.Length > 3 ? parts[3] : "");
    }
}
