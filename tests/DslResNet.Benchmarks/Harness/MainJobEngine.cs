using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text.RegularExpressions;

namespace DslResNet.Benchmarks.Harness;

/// <summary>
/// The main job (samples/FashionMnist, built beside the harness) as a process on the real dataset: <c>startup</c> runs
/// one training step (<c>--epochs 1 --max-steps 1 --eval-limit 0</c>) and reads the job's own "startup:" line (process
/// start to the end of the first step); <c>rss</c> runs one whole epoch with the README's options (<c>--augment</c>,
/// the full test-set evaluation, the checkpoint and the plot) and reads its "peak resident memory" line. The process
/// inherits the harness's core pinning; <c>--threads</c> is the measure's thread count.
/// </summary>
internal static partial class MainJobEngine
{
    public static MeasureResult Measure(MeasureSpec spec)
    {
        string job = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "FashionMnist.exe" : "FashionMnist");
        if (!File.Exists(job))
        {
            throw new FileNotFoundException($"The main job's executable is not beside the harness: '{job}' (build tests/DslResNet.Benchmarks, which references samples/FashionMnist).");
        }

        string work = Path.Combine(Path.GetTempPath(), $"dslresnet-mainjob-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            string threads = spec.Threads.ToString(CultureInfo.InvariantCulture);
            if (spec.Task == "startup")
            {
                // Three runs in this process, the median; the first also warms the file cache for the dataset.
                List<double> seconds = [];
                double peak = 0;
                for (int i = 0; i < 3; i++)
                {
                    string output = Run(job, work, ["--epochs", "1", "--max-steps", "1", "--eval-limit", "0", "--plot", "none", "--checkpoint", "none", "--threads", threads]);
                    seconds.Add(Number(StartupLine(), output, "startup"));
                    peak = Math.Max(peak, Number(PeakLine(), output, "peak resident memory"));
                }

                return new MeasureResult(Timing.Median(seconds), peak, "main job, first step");
            }

            Stopwatch clock = Stopwatch.StartNew();
            string epoch = Run(job, work, ["--epochs", "1", "--augment", "--threads", threads, "--checkpoint", Path.Combine(work, "job.safetensors"), "--plot", Path.Combine(work, "job.png")]);
            return new MeasureResult(clock.Elapsed.TotalSeconds, Number(PeakLine(), epoch, "peak resident memory"), "main job, one epoch --augment");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string Run(string job, string work, string[] arguments)
    {
        ProcessStartInfo start = new(job) { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using Process process = Process.Start(start)!;
        System.Threading.Tasks.Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            // Its standard error last: the sweep shows a failed cell's last lines, and the job says there why it stopped
            // (a missing dataset, say).
            throw new InvalidOperationException($"The main job failed (exit {process.ExitCode}): {stdout[Math.Max(0, stdout.Length - 2000)..]}{stderr.GetAwaiter().GetResult()}");
        }

        return stdout;
    }

    private static double Number(Regex line, string output, string what)
    {
        Match m = line.Match(output);
        return m.Success
            ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"The main job printed no '{what}' line: {output[Math.Max(0, output.Length - 2000)..]}");
    }

    [GeneratedRegex(@"startup: ([0-9.]+) s from")]
    private static partial Regex StartupLine();

    [GeneratedRegex(@"peak resident memory: ([0-9.]+) MiB")]
    private static partial Regex PeakLine();
}
