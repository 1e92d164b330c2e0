using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace DslResNet.Benchmarks.Harness;

/// <summary>
/// The side-by-side harness: every (network, threads, task, engine variant) in fresh processes pinned to that many
/// cores, repeated, and one Markdown table with DslResNet's ratio to the best peer. Usage (from the repository root):
/// <c>dotnet run -c Release --project tests/DslResNet.Benchmarks -- sweep [--quick] [--repeats R] [--steps S]
/// [--dslresnet-repeats R] [--networks resnet20,plain20,resnet56,resnet20-cifar,resnet18-224,resnet50-224,main] [--threads 1,2]
/// [--pairs resnet20:1,resnet20:2] [--engines dslresnet,torchsharp,pytorch,onnxruntime] [--out FILE]</c>. <c>--quick</c> leaves
/// out the pytorch engine unless <c>--engines</c> names it (it stays a one-minute check).
/// </summary>
internal static class Sweep
{
    /// <summary>Runs the sweep.</summary>
    public static int Run(IReadOnlyList<string> args)
    {
        bool quick = args.Contains("--quick");
        string Option(string name, string fallback)
        {
            int i = args.ToList().IndexOf(name);
            return i >= 0 && i + 1 < args.Count ? args[i + 1] : fallback;
        }

        int repeats = int.Parse(Option("--repeats", quick ? "1" : "3"), CultureInfo.InvariantCulture);
        int steps = int.Parse(Option("--steps", quick ? "2" : "3"), CultureInfo.InvariantCulture);
        int ourRepeats = int.Parse(Option("--dslresnet-repeats", repeats.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        string[] pairs = Option("--pairs", "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        string[] networks = Option("--networks", quick ? "resnet20" : "resnet20,plain20,resnet56,resnet20-cifar,resnet18-224,resnet50-224,main").Split(',');
        int[] threads = Option("--threads", quick ? "2" : "1,2").Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        string[] engines = Option("--engines", string.Join(",", Engines.Names.Where(e => !quick || e != "pytorch"))).Split(',');
        string output = Option("--out", Path.Combine(RepositoryRoot(), "tests", "DslResNet.Benchmarks", "results", quick ? "quick.md" : "latest.md"));

        Console.WriteLine($"sweep: networks {string.Join(",", networks)}; threads {string.Join(",", threads)}; engines {string.Join(",", engines)}; " +
                          $"{repeats} process(es) per configuration, {steps} timed call(s) after a warm-up in each");
        string? tcmalloc = Tcmalloc.Find(install: true, Console.WriteLine);
        string? pytorch = engines.Contains("pytorch") ? PyTorchEngine.Find(Console.WriteLine) : null;
        Dictionary<int, double> peak = threads.ToDictionary(t => t, FmaPeak.Measure);
        foreach ((int t, double gflops) in peak)
        {
            Console.WriteLine($"FMA peak, {t} thread(s): {gflops:F0} GFLOP/s");
        }

        List<Row> rows = [];
        foreach (string network in networks)
        {
            foreach (int t in threads)
            {
                // --pairs resnet20:1,resnet56:2 limits the grid to those (network, threads) pairs.
                if (pairs.Length > 0 && !pairs.Contains($"{network}:{t}"))
                {
                    continue;
                }

                foreach (string task in Networks.Tasks(network))
                {
                    Row row = new(network, t, task);
                    List<(string Key, MeasureSpec Spec, int Processes, string? Preload, List<MeasureResult> Results, List<string> Failures)> cells = [];
                    foreach (string engine in engines)
                    {
                        foreach (string variant in Engines.Variants(engine, task))
                        {
                            if ((variant.StartsWith("tcmalloc", StringComparison.Ordinal) && tcmalloc is null) || (engine == "pytorch" && pytorch is null))
                            {
                                continue;
                            }

                            // Every engine gets the same number of timed calls (the conv measure times whole training steps).
                            bool peer = engine != "dslresnet";
                            // At 224 a call takes up to a second or two: 10 timed calls (latency 30), as for training at 28.
                            int calls = task switch
                            {
                                "latency" => Math.Max(steps, Networks.IsImageNet(network) ? 30 : 100),
                                "conv" => Math.Max(steps, 5),
                                "startup" or "rss" => 1,
                                _ => Math.Max(steps, 10),
                            };
                            MeasureSpec spec = new(engine, variant, network, task, t, calls);
                            cells.Add(($"{engine}/{variant}", spec, peer ? repeats : ourRepeats, variant.StartsWith("tcmalloc", StringComparison.Ordinal) ? tcmalloc : null, [], []));
                        }
                    }

                    // Round-robin: each round runs one process of every engine in turn, so that a shared host's speed,
                    // which drifts over minutes, weighs on every engine alike (engine after engine, three processes each,
                    // a slow spell could fall on one engine's processes only).
                    int rounds = cells.Count == 0 ? 0 : cells.Max(c => c.Processes);
                    for (int r = 0; r < rounds; r++)
                    {
                        foreach (var cell in cells.Where(c => r < c.Processes))
                        {
                            MeasureResult? result = RunChild(cell.Spec, cell.Preload, out string? failure);
                            if (result is not null)
                            {
                                cell.Results.Add(result);
                            }
                            else
                            {
                                cell.Failures.Add(failure ?? "no result");
                            }
                        }
                    }

                    foreach (var cell in cells.Where(c => c.Results.Count > 0))
                    {
                        row.Cells[cell.Key] = new Cell(cell.Results.Select(x => x.SecondsPerCall).ToList(), cell.Results.Select(x => x.PeakRssMiB).ToList(), cell.Spec.Batch);
                        Console.WriteLine($"  {network} x{t} {task} {cell.Key}: {Describe(row.Cells[cell.Key], task)}");
                    }

                    // A cell whose every process failed is reported as failed, with why (a peer that crashes on this host
                    // leaves its goal unmeasured, not met or dropped from the table).
                    foreach (var cell in cells.Where(c => c.Results.Count == 0 && c.Failures.Count > 0))
                    {
                        row.Failures[cell.Key] = $"{cell.Failures.Count} of {cell.Processes} process(es) failed: {cell.Failures[0]}";
                    }

                    if (row.Cells.Count > 0 || row.Failures.Count > 0)
                    {
                        rows.Add(row);
                    }
                }
            }
        }

        string table = Table(rows, peak, repeats, ourRepeats, steps, tcmalloc, pytorch);
        Console.WriteLine();
        Console.WriteLine(table);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        File.WriteAllText(output, table);
        Console.WriteLine($"written to {output}");
        return 0;
    }

    private static MeasureResult? RunChild(MeasureSpec spec, string? preload, out string? failure)
    {
        failure = null;
        string cpus = string.Join(",", Enumerable.Range(0, Math.Min(spec.Threads, Environment.ProcessorCount)));
        ProcessStartInfo start = new("taskset")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(cpus);
        start.ArgumentList.Add(Environment.ProcessPath ?? "dotnet");
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath ?? "dotnet") == "dotnet")
        {
            start.ArgumentList.Add(typeof(Sweep).Assembly.Location);
        }

        foreach (string a in spec.ToArguments())
        {
            start.ArgumentList.Add(a);
        }

        if (preload is not null)
        {
            start.Environment["LD_PRELOAD"] = preload;
        }

        start.Environment["OMP_NUM_THREADS"] = spec.Threads.ToString(CultureInfo.InvariantCulture);
        // Both streams are drained concurrently: libtorch can write thousands of warnings to stderr (NNPACK on this
        // CPU), and a full stderr pipe would block the child while the parent waits on stdout.
        using Process process = Process.Start(start)!;
        System.Threading.Tasks.Task<string> stderrTask = process.StandardError.ReadToEndAsync();
        System.Threading.Tasks.Task<string> stdoutTask = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(spec.Engine == "dslresnet" ? 30 : 10)))
        {
            process.Kill(entireProcessTree: true);
            failure = "timed out and was killed";
            Console.WriteLine($"  {spec.Engine}/{spec.Variant} {spec.Network} {spec.Task} x{spec.Threads} TIMED OUT and was killed");
            return null;
        }

        string stdout = stdoutTask.GetAwaiter().GetResult();
        string stderr = stderrTask.GetAwaiter().GetResult();
        MeasureResult? result = MeasureResult.FromOutput(stdout);
        if (process.ExitCode != 0 || result is null)
        {
            failure = $"{ExitDescription(process.ExitCode)}{(Last(stderr + stdout) is { Length: > 0 } last ? ": " + last : "")}";
            Console.WriteLine($"  {spec.Engine}/{spec.Variant} {spec.Network} {spec.Task} x{spec.Threads} FAILED ({failure})");
            return null;
        }

        return result;
    }

    // A child killed by a signal exits with 128 + the signal's number (here libtorch's oneDNN has died of SIGFPE, a
    // division by zero in its convolution blocking, on a virtual machine whose CPUID reports no cache sizes).
    internal static string ExitDescription(int code) => code switch
    {
        > 128 and < 160 => $"exit {code}: killed by signal {code - 128}{(code - 128) switch { 4 => " (SIGILL)", 6 => " (SIGABRT)", 7 => " (SIGBUS)", 8 => " (SIGFPE)", 9 => " (SIGKILL)", 11 => " (SIGSEGV)", _ => "" }}",
        _ => $"exit {code}",
    };

    private static string Last(string text) => string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));

    private static string Describe(Cell cell, string task) => task switch
    {
        "latency" => $"{cell.Median * 1000:F2} ms ({cell.Min * 1000:F2}..{cell.Max * 1000:F2}), peak {cell.PeakMiB:F0} MiB",
        "startup" => $"{cell.Median:F2} s ({cell.Min:F2}..{cell.Max:F2}), peak {cell.PeakMiB:F0} MiB",
        "rss" => $"peak {cell.PeakMiB:F0} MiB ({cell.Peaks.Min():F0}..{cell.Peaks.Max():F0}), {cell.Median:F0} s",
        _ => $"{cell.ImagesPerSecond:F1} images/s ({cell.Batch / cell.Max:F1}..{cell.Batch / cell.Min:F1}), peak {cell.PeakMiB:F0} MiB",
    };

    private static string Table(List<Row> rows, Dictionary<int, double> peak, int repeats, int ourRepeats, int steps, string? tcmalloc, string? pytorch)
    {
        StringBuilder md = new();
        md.AppendLine(CultureInfo.InvariantCulture, $"# DslResNet side by side — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- CPU: {CpuModel()}, {Environment.ProcessorCount} cores; FMA peak {string.Join(", ", peak.Select(p => $"{p.Value:F0} GFLOP/s on {p.Key} thread(s)"))}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- .NET {Environment.Version}; {Engines.Versions(pytorch)}; tcmalloc: {tcmalloc ?? "not found (tcmalloc variants skipped)"}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- each cell: median over fresh processes pinned to that many cores (taskset): {ourRepeats} for DslResNet, {repeats} for each peer, run round-robin (one process of each engine in turn); in each, the median of at least {Math.Max(steps, 10)} timed calls (latency: 100, 30 at 224; convolutions alone: {Math.Max(steps, 5)} profiled training steps) after three warm-up calls, for every engine; min..max over the processes in brackets");
        md.AppendLine("- training: SGD step (forward, softmax cross-entropy, backward, update) at batch 128 (8 at 224); inference: batch 128 (8 at 224) in eval mode; latency: one image; peak: the training process's peak RSS (per image at 224: divided by the batch)");
        md.AppendLine("- ratio: DslResNet over the best peer (training: best TorchSharp or PyTorch variant; inference and latency: best of TorchSharp, PyTorch and ONNX Runtime); above 1 means DslResNet is faster (latency: the peer's time over ours)");
        md.AppendLine("- PyTorch: Debian's python3-torch (real PyTorch, its own oneDNN) with the TorchSharp engine's protocol and variants (Peers/pytorch_measure.py); its column shows its best variant, named");
        md.AppendLine("- main job: samples/FashionMnist on the real dataset as a process; start-up: process start to the end of the first training step, as the job prints it (median of 3 runs in each measuring process); peak memory: the job's peak resident set over one whole epoch with the README's options (--augment, full test evaluation, checkpoint, plot)");
        md.AppendLine();
        md.AppendLine("| network | threads | measure | DslResNet | TorchSharp | +tcmalloc | +tcmalloc+channels-last | PyTorch (best variant) | ONNX Runtime | DslResNet / best peer |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (Row row in rows)
        {
            string F(string key)
            {
                if (!row.Cells.TryGetValue(key, out Cell? c))
                {
                    return row.Failures.ContainsKey(key) ? "failed" : "—";
                }

                return row.Task == "latency"
                    ? $"{c.Median * 1000:F2} ms ({c.Min * 1000:F2}..{c.Max * 1000:F2})"
                    : $"{c.ImagesPerSecond:F1} ({c.Batch / c.Max:F1}..{c.Batch / c.Min:F1})";
            }

            row.Cells.TryGetValue("dslresnet/default", out Cell? ours);
            if (row.Task == "conv")
            {
                string share = ours is not null && peak.TryGetValue(row.Threads, out double fma)
                    ? $"{100 / ours.Median / fma:F0}% of {fma:F0}"
                    : "—";
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {row.Network} | {row.Threads} | convolutions alone, GFLOP/s | {F("dslresnet/default")} | — | — | — | — | — | {share} |");
                continue;
            }

            if (row.Task == "startup")
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {row.Network} | {row.Threads} | process start to first step done | {(ours is null ? "—" : $"{ours.Median:F2} s ({ours.Min:F2}..{ours.Max:F2})")} | — | — | — | — | — | |");
                continue;
            }

            if (row.Task == "rss")
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {row.Network} | {row.Threads} | peak resident memory, one epoch | {(ours is null ? "—" : $"{ours.PeakMiB:F0} MiB ({ours.Median:F0} s)")} | — | — | — | — | — | |");
                continue;
            }

            string measure = row.Task switch { "train" => "training images/s", "infer" => "inference images/s", _ => "batch-1 latency" };
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Network} | {row.Threads} | {measure} | {F("dslresnet/default")} | {F("torchsharp/default")} | {F("torchsharp/tcmalloc")} | {F("torchsharp/tcmalloc-cl")} | {PyTorch(row, F)} | {F("onnxruntime/default")} | {Ratio(row)} |");
            if (row.Task == "train")
            {
                bool perImage = Networks.IsImageNet(row.Network);
                string M(string key) => row.Cells.TryGetValue(key, out Cell? c) ? perImage ? $"{c.PeakMiB / c.Batch:F0} MiB" : $"{c.PeakMiB:F0} MiB" : row.Failures.ContainsKey(key) ? "failed" : "—";
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {row.Network} | {row.Threads} | training peak memory{(perImage ? " per image" : "")} | {M("dslresnet/default")} | {M("torchsharp/default")} | {M("torchsharp/tcmalloc")} | {M("torchsharp/tcmalloc-cl")} | {(BestOf(row, "pytorch/") is { } py ? $"{M(py.Key)} ({Variant(py.Key)})" : M("pytorch/default"))} | — | |");
            }
        }

        if (rows.Any(r => r.Failures.Count > 0))
        {
            md.AppendLine();
            md.AppendLine("Failed measurements (no result from any of the cell's processes):");
            md.AppendLine();
            foreach (Row row in rows)
            {
                foreach ((string key, string why) in row.Failures)
                {
                    md.AppendLine(CultureInfo.InvariantCulture, $"- {row.Network}, {row.Threads} thread(s), {row.Task}, {key}: {why}");
                }
            }
        }

        md.AppendLine();
        md.AppendLine("## Goals of issue 19");
        md.AppendLine();
        md.AppendLine("They must be reached at 2 threads; the same rows at 1 thread are reported. Peers, as the issue names them: training");
        md.AppendLine("against the best TorchSharp variant, inference and latency against the best of TorchSharp and ONNX Runtime. PyTorch");
        md.AppendLine("stands in where every one of those failed, and is reported on a row of its own beside them otherwise. The main");
        md.AppendLine("job's memory goal is for a full run; the harness measures one whole epoch (every later epoch repeats its work).");
        md.AppendLine();
        md.AppendLine("| network | threads | goal | measured | must reach | met |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach (Row row in rows)
        {
            void Goal(string goal, double value, string shown, double must, string mustShown, bool higherIsBetter = true) =>
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {row.Network} | {row.Threads} | {goal} | {shown} | {mustShown} | {((higherIsBetter ? value >= must : value < must) ? "yes" : $"**no** ({(higherIsBetter ? value / must : must / value):F2}x of it)")} |");
            if (!row.Cells.TryGetValue("dslresnet/default", out Cell? ours))
            {
                if (row.Failures.TryGetValue("dslresnet/default", out string? why))
                {
                    md.AppendLine(CultureInfo.InvariantCulture, $"| {row.Network} | {row.Threads} | {row.Task} | DslResNet failed: {why} | | **not measured** |");
                }

                continue;
            }

            if (row.Network == Networks.MainJob)
            {
                if (row.Task == "startup")
                {
                    Goal("process start to first step done", ours.Median, $"{ours.Median:F2} s", 2.0, "under 2 s", higherIsBetter: false);
                }
                else
                {
                    Goal("peak resident memory (one epoch)", ours.PeakMiB, $"{ours.PeakMiB:F0} MiB", 600 / 1.048576, "under 600 MB (572 MiB)", higherIsBetter: false);
                }

                continue;
            }

            bool imageNet = Networks.IsImageNet(row.Network);
            if (row.Task == "conv" || (!imageNet && row.Network != "resnet20") || (row.Network == "resnet18-224" && row.Task == "train"))
            {
                continue;
            }

            string name = row.Task switch { "train" => "training speed", "infer" => "inference speed", _ => "batch-1 latency" };
            double must = imageNet ? 1.2 : row.Task switch { "train" => 1.5, "infer" => 1.3, _ => 1.5 };
            // The issue's peers judge a goal (training: TorchSharp; inference and latency: TorchSharp and ONNX Runtime);
            // PyTorch stands in only where every one of them failed, and is reported beside them otherwise.
            KeyValuePair<string, Cell>? issuePeer = BestOf(row, null, issuePeersOnly: true);
            KeyValuePair<string, Cell>? pytorchPeer = BestOf(row, "pytorch/");
            KeyValuePair<string, Cell>? best = issuePeer ?? pytorchPeer;
            if (best is null)
            {
                // Every peer this goal compares with failed: reported as not measured (the failures are listed above).
                string[] failed = row.Failures.Keys.Where(k => IsPeer(row, k)).ToArray();
                if (failed.Length > 0)
                {
                    md.AppendLine(CultureInfo.InvariantCulture,
                        $"| {row.Network} | {row.Threads} | {name}{(row.Task == "train" ? " and memory" : "")} | not measured: {string.Join(", ", failed)} failed | {must:F1}x | **not measured** |");
                }

                continue;
            }

            double ratio = best.Value.Value.Median / ours.Median;
            string against = issuePeer is not null ? best.Value.Key
                : $"{best.Value.Key} (stand-in: the issue's peers {(row.Failures.Keys.Any(k => IsPeer(row, k) && !k.StartsWith("pytorch/", StringComparison.Ordinal)) ? "failed" : "were not run")})";
            Goal($"{name} / {against}", ratio, $"{ratio:F2}x", must, $"{must:F1}x");
            if (issuePeer is not null && pytorchPeer is not null)
            {
                double other = pytorchPeer.Value.Value.Median / ours.Median;
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {row.Network} | {row.Threads} | {name} / {pytorchPeer.Value.Key} (not the issue's peer) | {other:F2}x | {must:F1}x | {(other >= must ? "would be met" : $"would not be ({other / must:F2}x of it)")} |");
            }

            if (row.Task == "train" && row.Network == "resnet20")
            {
                Goal("training peak memory", ours.PeakMiB, $"{ours.PeakMiB:F0} MiB", 200, "under 200 MiB", higherIsBetter: false);
            }
            else if (row.Task == "train")
            {
                double peer = best.Value.Value.PeakMiB / best.Value.Value.Batch;
                Goal($"training memory per image vs {against}", ours.PeakMiB / ours.Batch, $"{ours.PeakMiB / ours.Batch:F0} MiB (peer {peer:F0})", peer, $"at most {peer:F0} MiB", higherIsBetter: false);
            }
        }

        return md.ToString();
    }

    // A peer of a row: every engine but DslResNet; for training only those that train (TorchSharp and PyTorch).
    private static bool IsPeer(Row row, string key) => !key.StartsWith("dslresnet", StringComparison.Ordinal)
        && (row.Task != "train" || key.StartsWith("torchsharp", StringComparison.Ordinal) || key.StartsWith("pytorch", StringComparison.Ordinal));

    private static KeyValuePair<string, Cell>? BestPeer(Row row) => BestOf(row, null);

    // The fastest measured cell among a row's peers (issuePeersOnly: without PyTorch, which the issue does not name),
    // or among the keys starting with prefix.
    private static KeyValuePair<string, Cell>? BestOf(Row row, string? prefix, bool issuePeersOnly = false)
    {
        var cells = row.Cells.Where(c => IsPeer(row, c.Key) && (prefix is null || c.Key.StartsWith(prefix, StringComparison.Ordinal))
            && !(issuePeersOnly && c.Key.StartsWith("pytorch/", StringComparison.Ordinal))).ToList();
        return cells.Count == 0 ? null : cells.MinBy(p => p.Value.Median);
    }

    private static string Variant(string key) => key[(key.IndexOf('/') + 1)..];

    // The PyTorch column: its best variant's figure, named; "failed" where every variant failed.
    private static string PyTorch(Row row, Func<string, string> figure) =>
        BestOf(row, "pytorch/") is { } best ? $"{figure(best.Key)} {Variant(best.Key)}"
        : row.Failures.Keys.Any(k => k.StartsWith("pytorch/", StringComparison.Ordinal)) ? "failed" : "—";

    private static string Ratio(Row row)
    {
        if (!row.Cells.TryGetValue("dslresnet/default", out Cell? ours))
        {
            return "—";
        }

        return BestPeer(row) is { } best ? $"{best.Value.Median / ours.Median:F3}x ({best.Key})" : "—";
    }

    private static string CpuModel()
    {
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown" : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    /// <summary>The repository root: the nearest folder above the working directory holding DslResNet.sln.</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? d = new(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "DslResNet.sln")))
            {
                return d.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }

    private sealed record Row(string Network, int Threads, string Task)
    {
        public Dictionary<string, Cell> Cells { get; } = new(StringComparer.Ordinal);

        /// <summary>Engine variants whose every process failed, with why.</summary>
        public Dictionary<string, string> Failures { get; } = new(StringComparer.Ordinal);
    }

    private sealed record Cell(List<double> Seconds, List<double> Peaks, int Batch)
    {
        public double Median => Timing.Median(Seconds);

        public double Min => Seconds.Min();

        public double Max => Seconds.Max();

        public double ImagesPerSecond => Batch / Median;

        public double PeakMiB => Timing.Median(Peaks);
    }
}
