using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using DslResNet.Kernels.Simd;
using DslResNet.Runtime;
using DslResNet.Training;

namespace DslResNet.Benchmarks.Harness;

/// <summary>
/// Where DslResNet's time goes: <c>profile NETWORK TASK THREADS [CALLS]</c> (task train, infer or latency) runs the calls
/// with the SIMD pool's profile on and prints each parallel operation's share of the wall time, its calls and its
/// GFLOP/s (operations with a FLOP count), then the time outside the pool's operations (serial code, the pool's
/// dispatch). From the repository root: <c>dotnet run -c Release --project tests/DslResNet.Benchmarks -- profile resnet50-224 infer 2</c>.
/// <c>profile NETWORK TASK THREADS CALLS ab</c> compares two ways of the code under trial in one process (see
/// <see cref="SimdPool.Experiment"/>): on this shared host, separate processes of one build differ by 5-20%, alternated calls
/// of one process by a few percent. <c>abmodels</c> builds and warms up a second model under Experiment 1 (for a choice made
/// when a model is built or first run, such as its memory layout) and alternates the two models' calls; two models of one build read within 1%.
/// An argument <c>batch=N</c> after CALLS runs another batch than the harness's for the task (ResNet-50 inference at batch
/// 2 against 8: where a layer's time per image depends on the batch).
/// </summary>
internal static class Profile
{
    public static int Run(IReadOnlyList<string> args)
    {
        if (args.Count < 3)
        {
            Console.Error.WriteLine("profile: expected NETWORK TASK THREADS [CALLS].");
            return 2;
        }

        string network = args[0];
        string task = args[1];
        int threads = int.Parse(args[2], CultureInfo.InvariantCulture);
        int calls = args.Count > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5;
        using Device device = Device.Create(DeviceKind.Cpu, threads);
        // The harness's batch for the task, unless a later argument names one (batch=N).
        string? asked = args.Skip(4).FirstOrDefault(a => a.StartsWith("batch=", StringComparison.Ordinal));
        int batch = asked is not null ? int.Parse(asked["batch=".Length..], CultureInfo.InvariantCulture) : new MeasureSpec("dslresnet", "default", network, task, threads, calls).Batch;
        args = args.Where(a => !a.StartsWith("batch=", StringComparison.Ordinal)).ToList();
        using INetworkModel model = DslResNetEngine.Create(network, device, batch);
        (float[] images, int[] labels) = DslResNetEngine.RandomBatch(model, batch);
        int classes = (int)model.Definition.OutputShape.Elements;

        Action call = Prepare(model, task, images, labels, batch * classes);
        if (args.Count > 4 && args[4] == "ab")
        {
            return CompareVariants(network, task, threads, calls, batch, device.Pool!, call, call);
        }

        if (args.Count > 4 && args[4] == "abmodels")
        {
            // The variant chosen when a model is built or first run: a second model built and warmed up under Experiment 1.
            SimdPool.Experiment = 1;
            using INetworkModel other = DslResNetEngine.Create(network, device, batch);
            Action otherCall = Prepare(other, task, images, labels, batch * classes);
            SimdPool.Experiment = 0;
            return CompareVariants(network, task, threads, calls, batch, device.Pool!, call, otherCall);
        }

        SimdProfile profile = new();
        device.Pool!.Profile = profile;
        Stopwatch clock = Stopwatch.StartNew();
        for (int i = 0; i < calls; i++)
        {
            call();
        }

        double wall = clock.Elapsed.TotalMilliseconds;
        device.Pool.Profile = null;
        var rows = profile.Rows().ToList();
        double inside = rows.Sum(r => r.Milliseconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{network} {task}, batch {batch}, {threads} thread(s): {wall / calls:F2} ms per call over {calls} calls; {100 * inside / wall:F1}% inside the pool's operations"));
        Console.WriteLine("  share    ms/call  calls/call  GFLOP/s  idle  operation");
        foreach ((string name, double ms, int n, long flops) in rows)
        {
            string rate = flops > 0 ? (flops / (ms / 1000) / 1e9).ToString("F1", CultureInfo.InvariantCulture) : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {100 * ms / wall,5:F1}%  {ms / calls,9:F3}  {n / (double)calls,10:F1}  {rate,7}  {100 * profile.IdleShare(name, threads),3:F0}%  {name}"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {100 * (wall - inside) / wall,5:F1}%  {(wall - inside) / calls,9:F3}              outside the pool's operations"));
        if (model is NetworkBase net)
        {
            // Where the memory goes: the generator's arenas (per image, then for the batch) beside the process's peak.
            const double MiB = 1 << 20;
            NetworkLayout layout = net.Layout;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"memory: parameters {net.Store.Bytes / MiB:F1} MiB; per image: activations kept for backward {layout.TrainingElementsPerImage * 4 / MiB:F2} MiB, their gradients {layout.GradientElementsPerImage * 4 / MiB:F2} MiB, inference {layout.InferenceElementsPerImage * 4 / MiB:F2} MiB; scratch {layout.ScratchElements * 4 / MiB:F1} MiB; batch {batch}: arenas {net.Memory.TotalBytes / MiB:F1} MiB; native blocks {DslResNet.Kernels.Simd.NativeBlocks.LiveBytes / MiB:F1} MiB; managed heap {GC.GetTotalMemory(false) / MiB:F1} MiB; process RSS {Environment.WorkingSet / MiB:F0} MiB now, {System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / MiB:F0} MiB peak"));
            if (task != "train")
            {
                Console.WriteLine(net.WindowedSteps > 0
                    ? string.Create(CultureInfo.InvariantCulture, $"inference windows: the first {net.WindowedSteps} steps ran {device.Threads} image(s) at a time")
                    : "inference windows: none (no step with a 56x56 map first, or a batch of one window)");
            }
        }

        return 0;
    }

    // The call to time, with its own optimiser (training) or logits, in eval mode for inference, after three warm-up calls.
    private static Action Prepare(INetworkModel model, string task, float[] images, int[] labels, int logitCount)
    {
        Sgd sgd = new(0.01, momentum: 0.9, weightDecay: 1e-4);
        model.AddParametersTo(sgd);
        float[] logits = new float[logitCount];
        Action call = task == "train" ? () => model.TrainStep(images, labels, sgd) : () => model.Predict(images, logits);
        if (task != "train")
        {
            model.Eval();
        }

        for (int i = 0; i < 3; i++)
        {
            call();
        }

        return call;
    }

    // An A/B trial in one process: calls in the order A B B A (drift cancels), SimdPool.Experiment 0 for A and 1 for B, each
    // variant profiled apart; per operation the sum of its calls' times per call, then each variant's median call.
    private static int CompareVariants(string network, string task, int threads, int calls, int batch, SimdPool pool, Action callA, Action callB)
    {
        // Variant B warmed up as A was (see Prepare): code that only B runs is compiled in these calls, not in the timed ones.
        SimdPool.Experiment = 1;
        for (int i = 0; i < 2; i++)
        {
            callB();
        }

        SimdPool.Experiment = 0;
        SimdProfile[] profiles = [new(), new()];
        List<double>[] walls = [[], []];
        for (int i = 0; i < calls; i++)
        {
            int variant = (i % 4) is 0 or 3 ? 0 : 1;
            SimdPool.Experiment = variant;
            pool.Profile = profiles[variant];
            long t0 = Stopwatch.GetTimestamp();
            (variant == 0 ? callA : callB)();
            walls[variant].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }

        pool.Profile = null;
        SimdPool.Experiment = 0;
        var b = profiles[1].Rows().ToDictionary(r => r.Name, r => r.Milliseconds / walls[1].Count);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{network} {task}, batch {batch}, {threads} thread(s), {calls} calls alternated A B B A"));
        Console.WriteLine("     A ms     B ms    B/A  operation");
        double totalA = 0, totalB = 0;
        foreach ((string name, double ms, int n, long flops) in profiles[0].Rows())
        {
            double a = ms / walls[0].Count;
            double other = b.GetValueOrDefault(name);
            totalA += a;
            totalB += other;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {a,7:F3}  {other,7:F3}  {other / a,5:F3}  {name}"));
        }

        // Operations only the second variant runs (a layer that changed its algorithm), counted in its total too.
        var namesA = profiles[0].Rows().Select(r => r.Name).ToHashSet();
        foreach ((string name, double ms) in b.Where(r => !namesA.Contains(r.Key)).OrderByDescending(r => r.Value))
        {
            totalB += ms;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {0,7:F3}  {ms,7:F3}      -  {name} (B only)"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {totalA,7:F3}  {totalB,7:F3}  {totalB / totalA,5:F3}  all operations"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {Median(walls[0]),7:F3}  {Median(walls[1]),7:F3}  {Median(walls[1]) / Median(walls[0]),5:F3}  median call"));
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
