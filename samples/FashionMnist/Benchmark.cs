using System;
using System.Collections.Generic;
using System.Diagnostics;
using DslResNet.Data;
using DslResNet.Runtime;
using DslResNet.Training;

namespace FashionMnistSample;

/// <summary>--benchmark N (and --profile): times training steps and inference batches instead of training.</summary>
internal static class Benchmark
{
    // Times steady-state training steps and inference batches on real data: one warm-up of each (it compiles the
    // specialised kernels), then the median of the timed repeats.
    public static int Run(
        CommandLine options, ModelEntry entry, INetworkModel model, Device device, Optimizer optimizer, BatchLoader loader, Dataset test, int repeats)
    {
        Console.WriteLine($"benchmark: {entry.Info.Name} ({options.Model}), batch {options.Batch}, {device.Description}, {Environment.ProcessorCount} cores");
        IEnumerator<Batch> batches = loader.Epoch(0).GetEnumerator();
        Batch Next()
        {
            if (!batches.MoveNext())
            {
                batches = loader.Epoch(1).GetEnumerator();
                batches.MoveNext();
            }

            return batches.Current;
        }

        Stopwatch watch = Stopwatch.StartNew();
        Batch first = Next();
        model.TrainStep(first.Images, first.Labels, optimizer);
        Console.WriteLine($"  warm-up training step (compiles the kernels): {watch.Elapsed.TotalSeconds:F1} s");
        List<double> trainSeconds = [];
        for (int i = 0; i < repeats; i++)
        {
            Batch batch = Next();
            watch.Restart();
            model.TrainStep(batch.Images, batch.Labels, optimizer);
            trainSeconds.Add(watch.Elapsed.TotalSeconds);
        }

        model.Eval();
        int imageSize = test.ImageSize;
        float[] images = new float[options.Batch * imageSize];
        test.CopyImages(0, options.Batch, images);
        float[] logits = new float[options.Batch * (int)entry.Info.OutputShape.Elements];
        watch.Restart();
        model.Predict(images, logits);
        Console.WriteLine($"  warm-up inference batch: {watch.Elapsed.TotalSeconds:F1} s");
        List<double> inferSeconds = [];
        for (int i = 0; i < repeats; i++)
        {
            watch.Restart();
            model.Predict(images, logits);
            inferSeconds.Add(watch.Elapsed.TotalSeconds);
        }

        if (options.Profile && device.Pool is not null)
        {
            // One more training step and inference batch with every operation timed.
            device.Pool.Profile = new DslResNet.Kernels.Simd.SimdProfile();
            model.Train();
            Batch batch = Next();
            watch.Restart();
            model.TrainStep(batch.Images, batch.Labels, optimizer);
            double step = watch.Elapsed.TotalMilliseconds;
            Console.WriteLine($"  profile of one training step ({step:F1} ms wall):");
            double accounted = 0;
            double convMs = 0;
            long convFlops = 0;
            foreach ((string name, double ms, int calls, long flops) in device.Pool.Profile.Rows())
            {
                accounted += ms;
                convMs += flops > 0 ? ms : 0;
                convFlops += flops;
                string rate = flops > 0 ? $"  {flops / ms / 1e6,6:F1} GFLOP/s" : "";
                Console.WriteLine($"    {ms,8:F2} ms {100 * ms / step,5:F1}%  {calls,3}x  {name}{rate}");
            }

            Console.WriteLine($"    {step - accounted,8:F2} ms {100 * (step - accounted) / step,5:F1}%       outside the pool (loss, optimizer, copies)");
            Console.WriteLine($"  convolutions alone: {convFlops / 1e9:F2} GFLOP in {convMs:F1} ms = {convFlops / convMs / 1e6:F1} GFLOP/s");
            device.Pool.Profile = null;
            model.Eval();
            model.Predict(images, logits); // folds batch norm into the new weights: not part of a steady-state batch
            device.Pool.Profile = new DslResNet.Kernels.Simd.SimdProfile();
            watch.Restart();
            model.Predict(images, logits);
            double batchMs = watch.Elapsed.TotalMilliseconds;
            Console.WriteLine($"  profile of one inference batch ({batchMs:F1} ms wall):");
            convMs = 0;
            convFlops = 0;
            foreach ((string name, double ms, int calls, long flops) in device.Pool.Profile.Rows())
            {
                convMs += flops > 0 ? ms : 0;
                convFlops += flops;
                string rate = flops > 0 ? $"  {flops / ms / 1e6,6:F1} GFLOP/s" : "";
                Console.WriteLine($"    {ms,8:F2} ms {100 * ms / batchMs,5:F1}%  {calls,3}x  {name}{rate}");
            }

            Console.WriteLine($"  convolutions alone: {convFlops / 1e9:F2} GFLOP in {convMs:F1} ms = {convFlops / convMs / 1e6:F1} GFLOP/s");

            device.Pool.Profile = null;
        }

        double train = Median(trainSeconds);
        double infer = Median(inferSeconds);
        int stepsPerEpoch = loader.Dataset.Count / options.Batch;
        Console.WriteLine($"  training:  median {train:F2} s per step of {options.Batch} ({repeats} steps, min {Min(trainSeconds):F2}, max {Max(trainSeconds):F2}): {options.Batch / train:F1} images/s");
        Console.WriteLine($"  inference: median {infer:F2} s per batch of {options.Batch} ({repeats} batches, min {Min(inferSeconds):F2}, max {Max(inferSeconds):F2}): {options.Batch / infer:F1} images/s");
        Console.WriteLine($"  a full epoch ({stepsPerEpoch} steps) would take about {TimeSpan.FromSeconds(stepsPerEpoch * train):h\\:mm\\:ss}, evaluating the 10,000 test images {TimeSpan.FromSeconds(test.Count / (options.Batch / infer)):h\\:mm\\:ss}");
        return 0;
    }

    private static double Median(List<double> values)
    {
        List<double> sorted = [.. values];
        sorted.Sort();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static double Min(List<double> values) => values.Count == 0 ? 0 : System.Linq.Enumerable.Min(values);

    private static double Max(List<double> values) => values.Count == 0 ? 0 : System.Linq.Enumerable.Max(values);
}
