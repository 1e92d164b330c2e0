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
        int batch = new MeasureSpec("dslresnet", "default", network, task, threads, calls).Batch;
        using INetworkModel model = DslResNetEngine.Create(network, device, batch);
        (float[] images, int[] labels) = DslResNetEngine.RandomBatch(model, batch);
        int classes = (int)model.Definition.OutputShape.Elements;

        Sgd sgd = new(0.01, momentum: 0.9, weightDecay: 1e-4);
        model.AddParametersTo(sgd);
        float[] logits = new float[batch * classes];
        Action call = task == "train" ? () => model.TrainStep(images, labels, sgd) : () => model.Predict(images, logits);
        if (task != "train")
        {
            model.Eval();
        }

        for (int i = 0; i < 3; i++)
        {
            call();
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
        }

        return 0;
    }
}
