using System;
using DslResNet;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;

namespace GpuCheck;

/// <summary>
/// parity: for each network, fixed weights (the library's seeded initialisation, batch norm moved off identity), a fixed
/// batch, one training step's forward and backward (SGD at learning rate 0, so the weights stay as saved) and then one
/// evaluation-mode forward. Writes, per network, into the folder:
/// <list type="bullet">
/// <item><c>{net}.weights.safetensors</c>: the checkpoint before the step (torchvision names);</item>
/// <item><c>{net}.data.safetensors</c>: <c>images</c>, <c>labels</c> (I64), <c>loss</c> [1], <c>logits.train</c>,
/// <c>logits.eval</c>, <c>grad.{parameter}</c> for every trainable parameter, <c>after.{buffer}</c> for the running
/// statistics after the step;</item>
/// <item><c>{net}.json</c>: the device, batch, loss and timings.</item>
/// </list>
/// tests/Gpu/torch_parity.py loads them into PyTorch and compares.
/// </summary>
internal static class Parity
{
    private const int Seed = 20170;

    public static int Run(Options options)
    {
        string dir = Path.GetFullPath(options.Dir!);
        Directory.CreateDirectory(dir);
        using Device device = Device.Create(options.Device);
        Console.WriteLine($"parity on {device.Description}");
        foreach (string name in options.Nets)
        {
            NetCase net = NetCase.Get(name);
            RunOne(net, device, dir);
        }

        return 0;
    }

    private static void RunOne(NetCase net, Device device, string dir)
    {
        Stopwatch watch = Stopwatch.StartNew();
        int batch = net.ParityBatch;
        using NetworkBase model = net.Create(device, batch, new NetworkOptions(Seed: Seed));
        RandomizeBatchNorm(model, Seed + 1);
        model.ExportCheckpoint().Save(Path.Combine(dir, $"{net.Name}.weights.safetensors"));

        Random random = new(Seed + 2);
        int classes = (int)net.Info.OutputShape.Elements;
        float[] images = Normal(random, checked((int)(batch * net.Info.InputShape.Elements)), 1);
        int[] labels = Enumerable.Range(0, batch).Select(_ => random.Next(classes)).ToArray();

        model.Train();
        Sgd sgd = new(learningRate: 0);
        model.AddParametersTo(sgd);
        double built = watch.Elapsed.TotalSeconds;
        watch.Restart();
        BatchResult step = model.TrainStep(images, labels, sgd);
        double stepSeconds = watch.Elapsed.TotalSeconds;
        float[] trainLogits = model.Output();

        List<KeyValuePair<string, TensorData>> data =
        [
            new("images", TensorData.Float([batch, .. net.Info.InputShape.Dimensions], images)),
            new("labels", TensorData.Int64([batch], labels.Select(l => (long)l).ToArray())),
            new("loss", TensorData.Float([1], [(float)step.Loss])),
            new("logits.train", TensorData.Float([batch, classes], trainLogits)),
        ];
        foreach (ParameterInfo p in net.Info.Parameters.Where(p => p.IsTrainable))
        {
            data.Add(new("grad." + p.Name, TensorData.Float(p.Shape, model.GetGradient(p.Name))));
        }

        Checkpoint after = model.ExportCheckpoint();
        foreach (ParameterInfo p in net.Info.Parameters.Where(p => p.Role is ParameterRole.RunningMean or ParameterRole.RunningVar or ParameterRole.BatchesTracked))
        {
            data.Add(new("after." + p.Name, after.Model[p.Name]));
        }

        model.Eval();
        float[] evalLogits = new float[batch * classes];
        watch.Restart();
        model.Predict(images, evalLogits);
        double evalSeconds = watch.Elapsed.TotalSeconds;
        data.Add(new("logits.eval", TensorData.Float([batch, classes], evalLogits)));
        SafeTensors.Write(Path.Combine(dir, $"{net.Name}.data.safetensors"), data);

        var meta = new
        {
            network = net.Info.Name,
            device = device.Description,
            device_kind = device.Kind.ToString(),
            batch,
            input = net.Info.InputShape.Dimensions,
            loss = step.Loss,
            build_seconds = built,
            train_step_seconds = stepSeconds,
            eval_seconds = evalSeconds,
            trainable_parameters = net.Info.ParameterCount,
        };
        File.WriteAllText(Path.Combine(dir, $"{net.Name}.json"), JsonSerializer.Serialize(meta, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {net.Name}: batch {batch}, loss {step.Loss:G9}, first step {stepSeconds:F2} s (with kernel compilation), eval {evalSeconds:F2} s -> {dir}"));
    }

    // Batch norm moved away from its initial identity (scale 1, shift 0, mean 0, variance 1), so that a mix-up of scale and
    // shift, or of batch and running statistics, shows (as the TorchSharp parity tests do).
    private static void RandomizeBatchNorm(NetworkBase net, int seed)
    {
        Random random = new(seed);
        foreach (ParameterInfo p in net.Definition.Parameters)
        {
            int n = (int)p.Elements;
            float[]? values = p.Role switch
            {
                ParameterRole.BatchNormScale => Uniform(random, n, 0.5, 1.5),
                ParameterRole.BatchNormShift or ParameterRole.RunningMean => Normal(random, n, 0.2),
                ParameterRole.RunningVar => Uniform(random, n, 0.5, 2.0),
                _ => null,
            };
            if (values is not null)
            {
                net.SetParameter(p.Name, values);
            }
        }
    }

    internal static float[] Normal(Random random, int count, double scale)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            values[i] = (float)(scale * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return values;
    }

    private static float[] Uniform(Random random, int count, double low, double high)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)(low + ((high - low) * random.NextDouble()));
        }

        return values;
    }
}
