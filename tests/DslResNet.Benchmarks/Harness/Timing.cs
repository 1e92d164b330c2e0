using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;

namespace DslResNet.Benchmarks.Harness;

/// <summary>Timing helpers shared by the engines.</summary>
internal static class Timing
{
    /// <summary>Untimed warm-up calls (they compile kernels and fill caches), then the median of <paramref name="steps"/> timed calls.</summary>
    public static double MedianSeconds(int steps, Action call, int warmups = 1)
    {
        for (int i = 0; i < warmups; i++)
        {
            call();
        }

        List<double> times = [];
        for (int i = 0; i < steps; i++)
        {
            Stopwatch watch = Stopwatch.StartNew();
            call();
            times.Add(watch.Elapsed.TotalSeconds);
        }

        return Median(times);
    }

    /// <summary>The median.</summary>
    public static double Median(IEnumerable<double> values)
    {
        List<double> sorted = values.OrderBy(v => v).ToList();
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>This process's peak resident set (VmHWM from /proc/self/status), in MiB; NaN where unavailable.</summary>
    public static double PeakRssMiB()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    string kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                    return double.Parse(kb, CultureInfo.InvariantCulture) / 1024.0;
                }
            }
        }
        catch (IOException)
        {
        }

        return double.NaN;
    }
}
