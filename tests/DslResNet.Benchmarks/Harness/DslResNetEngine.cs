using System;
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
        _ => throw new ArgumentException($"Unknown network '{network}'."),
    };

    /// <summary>Runs one measurement in this process.</summary>
    public static MeasureResult Measure(MeasureSpec spec)
    {
        using Device device = Device.Create(DeviceKind.Cpu);
        using INetworkModel model = Create(spec.Network, device, spec.Batch);
        int imageSize = (int)model.Definition.InputShape.Elements;
        Random random = new(7);
        float[] images = new float[spec.Batch * imageSize];
        for (int i = 0; i < images.Length; i++)
        {
            images[i] = (float)((random.NextDouble() * 2) - 1);
        }

        int[] labels = new int[spec.Batch];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = random.Next(10);
        }

        double seconds;
        if (spec.Task == "train")
        {
            Sgd sgd = new(0.01, momentum: 0.9, weightDecay: 1e-4);
            model.AddParametersTo(sgd);
            seconds = Timing.MedianSeconds(spec.Steps, () => model.TrainStep(images, labels, sgd));
        }
        else
        {
            model.Eval();
            float[] logits = new float[spec.Batch * 10];
            seconds = Timing.MedianSeconds(spec.Steps, () => model.Predict(images, logits));
        }

        return new MeasureResult(seconds, Timing.PeakRssMiB(), $"{device.Description}");
    }
}
