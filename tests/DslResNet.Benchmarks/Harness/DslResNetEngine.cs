using System;
using System.Collections.Generic;
using DslResNet.Runtime;
using DslResNet.Training;

namespace DslResNet.Benchmarks.Harness;

/// <summary>Measures DslResNet's generated networks on its CPU device.</summary>
internal static class DslResNetEngine
{
    /// <summary>Builds the named network for a batch size.</summary>
    public static INetworkModel Create(string network, Device device, int batch) => network switch
    {
        "resnet20" => new FashionMnistSample.FashionResNet20(device, batch),
        "plain20" => new FashionMnistSample.FashionPlain20(device, batch),
        "resnet56" => new FashionMnistSample.FashionResNet56(device, batch),
        "resnet20-cifar" => new DslResNet.Samples.ResNet20(device, batch),
        "resnet18-224" => new DslResNet.Models.ResNet18(device, batch),
        "resnet50-224" => new DslResNet.Models.ResNet50(device, batch),
        _ => throw new ArgumentException($"Unknown network '{network}'."),
    };

    /// <summary>A fixed batch of uniform images in [-1, 1] and random labels for <paramref name="model"/> (seed 7).</summary>
    public static (float[] Images, int[] Labels) RandomBatch(INetworkModel model, int batch)
    {
        int imageSize = (int)model.Definition.InputShape.Elements;
        int classes = (int)model.Definition.OutputShape.Elements;
        Random random = new(7);
        float[] images = new float[batch * imageSize];
        for (int i = 0; i < images.Length; i++)
        {
            images[i] = (float)((random.NextDouble() * 2) - 1);
        }

        int[] labels = new int[batch];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = random.Next(classes);
        }

        return (images, labels);
    }

    /// <summary>Runs one measurement in this process.</summary>
    public static MeasureResult Measure(MeasureSpec spec)
    {
        // The SIMD backend with as many threads as the process has cores (the sweep pins it with taskset).
        using Device device = Device.Create(DeviceKind.Cpu, spec.Threads);
        // The conv measure reads GFLOP/s (its "batch" is 1 in the table) but trains at batch 128.
        int batch = spec.Task == "conv" ? 128 : spec.Batch;
        using INetworkModel model = Create(spec.Network, device, batch);
        (float[] images, int[] labels) = RandomBatch(model, batch);
        int classes = (int)model.Definition.OutputShape.Elements;

        double seconds;
        if (spec.Task == "conv")
        {
            // The convolutions alone, inside real training steps: the pool's profile times every run and counts its FLOPs.
            // The result is seconds per GFLOP (so that "images/s" in the table reads GFLOP/s).
            Sgd sgd = new(0.01, momentum: 0.9, weightDecay: 1e-4);
            model.AddParametersTo(sgd);
            for (int i = 0; i < 3; i++)
            {
                model.TrainStep(images, labels, sgd);
            }

            List<double> perGflop = [];
            for (int i = 0; i < spec.Steps; i++)
            {
                var profile = new DslResNet.Kernels.Simd.SimdProfile();
                device.Pool!.Profile = profile;
                model.TrainStep(images, labels, sgd);
                device.Pool.Profile = null;
                double ms = 0;
                long flops = 0;
                foreach ((string _, double milliseconds, int _, long f) in profile.Rows())
                {
                    if (f > 0)
                    {
                        ms += milliseconds;
                        flops += f;
                    }
                }

                perGflop.Add(ms / 1000 / (flops / 1e9));
            }

            seconds = Timing.Median(perGflop);
        }
        else if (spec.Task == "train")
        {
            Sgd sgd = new(0.01, momentum: 0.9, weightDecay: 1e-4);
            model.AddParametersTo(sgd);
            seconds = Timing.MedianSeconds(spec.Steps, warmups: 3, call: () => model.TrainStep(images, labels, sgd));
        }
        else
        {
            model.Eval();
            float[] logits = new float[batch * classes];
            seconds = Timing.MedianSeconds(spec.Steps, warmups: 3, call: () => model.Predict(images, logits));
        }

        return new MeasureResult(seconds, Timing.PeakRssMiB(), $"{device.Description}");
    }
}
