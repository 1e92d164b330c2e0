using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using DslResNet.Data;
using DslResNet.Runtime;

namespace Experiments;

/// <summary>What every claim gets: the options, the data, the device, the output folder and a clock.</summary>
internal sealed class Context(Options options, Dataset train, Dataset test, Device device)
{
    public Options Options { get; } = options;

    public Dataset Train { get; } = train;

    public Dataset Test { get; } = test;

    public Device Device { get; } = device;

    public string Budget => Options.Budget;

    public bool Full => Options.Budget == "full";

    public bool Tiny => Options.Budget == "tiny";

    /// <summary>Picks the figure of the run's budget.</summary>
    public T Pick<T>(T tiny, T quick, T full) => Options.Budget switch { "tiny" => tiny, "full" => full, _ => quick };

    /// <summary>The first <paramref name="count"/> images of a seeded shuffle of the training set (the whole set when it has no more), a fixed subset for a budget.</summary>
    public Dataset TrainSubset(int count, int seed = 12345) => Subset(Train, count, seed);

    /// <summary>The first <paramref name="count"/> images of a seeded shuffle of <paramref name="data"/>, in their original order.</summary>
    public static Dataset Subset(Dataset data, int count, int seed)
    {
        if (count >= data.Count)
        {
            return data;
        }

        int[] chosen = BatchLoader.Permutation(data.Count, seed, 0).Take(count).Order().ToArray();
        int size = data.ImageSize;
        float[] images = new float[chosen.Length * size];
        int[] labels = new int[chosen.Length];
        for (int k = 0; k < chosen.Length; k++)
        {
            data.CopyImage(chosen[k], images.AsSpan(k * size, size));
            labels[k] = data.Labels[chosen[k]];
        }

        return new Dataset(images, labels, data.ImageShape, data.ClassCount, data.Mean, data.Std);
    }

    /// <summary>Prints a progress line with the elapsed time.</summary>
    public void Log(Stopwatch clock, string line) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{clock.Elapsed.TotalSeconds,6:F0} s] {line}"));

    /// <summary>The path of an output file.</summary>
    public string OutPath(string file) => Path.Combine(Options.Out, file);

    /// <summary>The one-minute load average (Linux), to say how busy the machine was; null elsewhere.</summary>
    public static double? LoadAverage()
    {
        try
        {
            string text = File.ReadAllText("/proc/loadavg");
            return double.Parse(text.Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Mean and spread (max - min) of some values.</summary>
    public static (double Mean, double Spread) MeanSpread(IReadOnlyCollection<double> values) =>
        values.Count == 0 ? (double.NaN, double.NaN) : (values.Average(), values.Max() - values.Min());
}
