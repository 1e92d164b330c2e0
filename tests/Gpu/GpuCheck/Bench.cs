using System;
using DslResNet;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using DslResNet.Runtime;
using DslResNet.Training;

namespace GpuCheck;

/// <summary>One measure of issue 17's table: a network, a mode and a batch size.</summary>
/// <param name="Id">Its name in the JSON and the report (tests/Gpu/torch_bench.py uses the same names and sizes).</param>
/// <param name="Net">resnet20 or resnet50.</param>
/// <param name="Mode">train (images/s of SGD steps), infer (images/s of evaluation batches) or latency (ms per batch of 1).</param>
/// <param name="Batch">The batch size.</param>
internal sealed record Measure(string Id, string Net, string Mode, int Batch);

/// <summary>
/// bench: issue 17's measures on one device. Each builds its network for its batch size, runs warm-up calls (the first
/// compiles the kernels), then times repeats of whole calls (TrainStep and Predict return only when the device is done:
/// they synchronise and read the loss or logits back) and reports the median. The JSON is rewritten after each measure,
/// so a stage cut off by its time limit still leaves the measures it finished.
/// </summary>
internal static class Bench
{
    /// <summary>The measures at full size (issue 17) and at --quick size (a CPU dry run), in one order.</summary>
    private static readonly (string Id, string Net, string Mode, int Full, int Quick)[] Table =
    [
        ("r20_train_b128", "resnet20", "train", 128, 16),
        ("r20_train_b512", "resnet20", "train", 512, 32),
        ("r20_infer_b1024", "resnet20", "infer", 1024, 64),
        ("r20_latency_b1", "resnet20", "latency", 1, 1),
        ("r50_train_b64", "resnet50", "train", 64, 2),
        ("r50_infer_b256", "resnet50", "infer", 256, 4),
    ];

    public static readonly string[] MeasureIds = Table.Select(t => t.Id).ToArray();

    public static int Run(Options options)
    {
        int warmup = options.Warmup ?? (options.Quick ? 1 : 3);
        int repeats = options.Repeats ?? (options.Quick ? 3 : 10);
        List<Measure> measures = Table
            .Where(t => options.Nets.Contains(t.Net) && (options.Only is null || options.Only.Contains(t.Id)))
            .Select(t => new Measure(t.Id, t.Net, t.Mode, options.Quick ? t.Quick : t.Full))
            .ToList();
        string output = Path.GetFullPath(options.Out!);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        using Device device = Device.Create(options.Device);
        Console.WriteLine($"bench on {device.Description}: warm-up {warmup}, repeats {repeats}{(options.Quick ? ", quick sizes" : "")}");
        List<Dictionary<string, object?>> results = [];
        foreach (Measure m in measures)
        {
            Dictionary<string, object?> row = new() { ["id"] = m.Id, ["net"] = m.Net, ["mode"] = m.Mode, ["batch"] = m.Batch };
            try
            {
                List<double> seconds = Time(m, device, warmup, repeats);
                double median = Median(seconds);
                row["median_s"] = median;
                row["min_s"] = seconds.Min();
                row["max_s"] = seconds.Max();
                row["repeats"] = seconds.Count;
                row["value"] = m.Mode == "latency" ? median * 1e3 : m.Batch / median;
                row["unit"] = m.Mode == "latency" ? "ms" : "images/s";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {m.Id,-16} {(double)row["value"]!,12:F1} {row["unit"]}  (median {median * 1e3:F2} ms, min {seconds.Min() * 1e3:F2}, max {seconds.Max() * 1e3:F2})"));
            }
            catch (Exception e) when (e is not StackOverflowException)
            {
                // A measure that cannot run (device memory, a kernel failure) is reported, and the others still run.
                row["error"] = $"{e.GetType().Name}: {e.Message}";
                Console.WriteLine($"  {m.Id,-16} failed: {row["error"]}");
            }

            results.Add(row);
            Write(output, device, options, warmup, repeats, results);
        }

        Write(output, device, options, warmup, repeats, results);
        Console.WriteLine($"  -> {output}");
        return results.Any(r => r.ContainsKey("error")) ? 1 : 0;
    }

    private static List<double> Time(Measure m, Device device, int warmup, int repeats)
    {
        NetCase net = NetCase.Get(m.Net);
        using NetworkBase model = net.Create(device, m.Batch, new NetworkOptions(Seed: 1));
        Random random = new(2);
        int classes = (int)net.Info.OutputShape.Elements;
        float[] images = Parity.Normal(random, checked((int)(m.Batch * net.Info.InputShape.Elements)), 1);
        int[] labels = Enumerable.Range(0, m.Batch).Select(_ => random.Next(classes)).ToArray();
        Action call;
        if (m.Mode == "train")
        {
            model.Train();
            Sgd sgd = new(learningRate: 0.01, momentum: 0.9);
            model.AddParametersTo(sgd);
            call = () => model.TrainStep(images, labels, sgd);
        }
        else
        {
            model.Eval();
            float[] logits = new float[m.Batch * classes];
            call = () => model.Predict(images, logits);
        }

        for (int i = 0; i < warmup; i++)
        {
            call();
        }

        List<double> seconds = [];
        Stopwatch watch = new();
        for (int i = 0; i < repeats; i++)
        {
            watch.Restart();
            call();
            seconds.Add(watch.Elapsed.TotalSeconds);
        }

        return seconds;
    }

    private static void Write(string path, Device device, Options options, int warmup, int repeats, List<Dictionary<string, object?>> results)
    {
        var document = new
        {
            tool = "dslresnet",
            variant = "DslResNet fp32",
            device = device.Description,
            device_kind = device.Kind.ToString(),
            quick = options.Quick,
            warmup,
            repeats,
            date = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
            measures = results,
        };
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temporary, path, overwrite: true);
    }

    private static double Median(List<double> values)
    {
        List<double> sorted = [.. values];
        sorted.Sort();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
