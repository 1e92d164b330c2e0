using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using DslResNet;
using DslResNet.Data;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;

namespace TransferSample;

/// <summary>
/// Pretrains ResNet-20 on Fashion-MNIST's classes 0-4, saves it as PyTorch .pth and safetensors, then fine-tunes on classes
/// 5-9 from 1% of their training labels three ways: from the pretrained weights with the backbone frozen, from the
/// pretrained weights with everything trained, and from scratch; prints and writes a table and a plot of test accuracy
/// against steps.
/// </summary>
internal static class Program
{
    private const int UsageError = 2;
    private static readonly string[] Backbone = ["conv1", "bn1", "layer1", "layer2", "layer3"];

    private static int Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"transfer: {e.Message}");
            return UsageError;
        }

        if (options.Help)
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }

        Dataset train, test;
        try
        {
            train = FashionMnist.Load(options.Data, train: true);
            test = FashionMnist.Load(options.Data, train: false);
        }
        catch (DatasetException e)
        {
            Console.Error.WriteLine($"transfer: --data '{options.Data}': {e.Message}");
            return UsageError;
        }

        try
        {
            Directory.CreateDirectory(options.Out);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"transfer: --out '{options.Out}': {e.Message}");
            return UsageError;
        }

        var clock = Stopwatch.StartNew();
        using Device device = Device.Create(DeviceKind.Cpu, options.Threads);
        Console.WriteLine($"transfer: {device.Description}; {(options.Quick ? "quick" : "full")} budget, seed {options.Seed}");

        // Classes 0-4 (T-shirt, trouser, pullover, dress, coat) to pretrain; 5-9 (sandal, shirt, sneaker, bag, ankle boot) to transfer to.
        Dataset sourceTrain = Split.Classes(train, 0), sourceTest = Split.Classes(test, 0);
        Dataset targetTest = Split.Classes(test, 5);
        Dataset targetFew = Split.Fraction(Split.Classes(train, 5), 0.01, options.Seed);
        if (sourceTrain.Count < 64 || targetFew.Count < 32 || sourceTest.Count == 0 || targetTest.Count == 0)
        {
            // 1% of a small dataset would give fine-tuning no whole batch of 32 (and pretraining none of 64).
            Console.Error.WriteLine($"transfer: --data '{options.Data}': too few images: {sourceTrain.Count} of classes 0-4 (64 needed), {targetFew.Count} labelled of classes 5-9 after taking 1% (32 needed), {sourceTest.Count} and {targetTest.Count} test images; use the full Fashion-MNIST.");
            return UsageError;
        }

        Console.WriteLine($"pretraining on {sourceTrain.Count} images of classes 0-4; fine-tuning on {targetFew.Count} labelled images of classes 5-9 (1%); testing on {targetTest.Count}");

        // 1. Pretrain.
        string pth = Path.Combine(options.Out, "pretrained-classes0-4.pth");
        string safetensors = Path.ChangeExtension(pth, ".safetensors");
        using (var source = new FiveWayResNet20(device, 64, new NetworkOptions(Seed: options.Seed)))
        {
            int epochs = options.Quick ? 1 : 3;
            Sgd sgd = new(0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true);
            source.AddParametersTo(sgd);
            BatchLoader loader = new(sourceTrain, 64, options.Seed, shuffle: true, dropLast: true, augmentation: Augmentation.Standard);
            for (int epoch = 0; epoch < epochs; epoch++)
            {
                sgd.LearningRate = epoch == epochs - 1 && epochs > 1 ? 0.005 : 0.05;
                source.Train();
                foreach (Batch batch in loader.Epoch(epoch))
                {
                    source.TrainStep(batch.Images, batch.Labels, sgd);
                }

                Console.WriteLine($"pretrain epoch {epoch + 1}/{epochs}: test accuracy on classes 0-4 {Percent(Accuracy(source, sourceTest))}  ({clock.Elapsed.TotalSeconds:F0} s)");
            }

            Checkpoint pretrained = source.ExportCheckpoint();
            pretrained.SavePth(pth);
            pretrained.Save(safetensors);
            Console.WriteLine($"saved {pth} and {safetensors}");
        }

        // 2. Fine-tune three ways on the same 1%.
        int steps = options.Quick ? 120 : 600;
        int[] at = [0, steps / 8, steps / 4, steps / 2, steps];
        var runs = new List<(string Name, double[] Accuracy)>();
        foreach (string variant in new[] { "pretrained, backbone frozen", "pretrained, all layers", "from scratch" })
        {
            using var target = new FiveWayResNet20(device, 32, new NetworkOptions(Seed: options.Seed + 1));
            double rate = 0.05;
            if (variant != "from scratch")
            {
                // The .pth written above, loaded as a user loads torchvision's: the old head left out, the rest by name.
                Checkpoint loaded = Checkpoint.Load(pth);
                loaded.Model.Remove("fc.weight");
                loaded.Model.Remove("fc.bias");
                CheckpointImport report = target.ImportCheckpoint(loaded, strict: false);
                Console.WriteLine($"{variant}: {report}");
                if (variant.Contains("frozen", StringComparison.Ordinal))
                {
                    target.Freeze(Backbone);
                }
                else
                {
                    rate = 0.01;
                }
            }

            Sgd sgd = new(rate, momentum: 0.9, weightDecay: 5e-4);
            target.AddParametersTo(sgd);
            BatchLoader loader = new(targetFew, 32, options.Seed, shuffle: true, dropLast: true, augmentation: Augmentation.Standard);
            double[] accuracy = new double[at.Length];
            int step = 0, epoch = 0, next = 0;
            while (true)
            {
                if (step == at[next])
                {
                    accuracy[next] = Accuracy(target, targetTest);
                    target.Train();
                    if (++next == at.Length)
                    {
                        break;
                    }
                }

                foreach (Batch batch in loader.Epoch(epoch))
                {
                    target.TrainStep(batch.Images, batch.Labels, sgd);
                    if (++step == at[next])
                    {
                        break;
                    }
                }

                epoch++;
            }

            Console.WriteLine($"{variant}: test accuracy on classes 5-9 after {string.Join(", ", at.Select((s, i) => $"{s} steps {Percent(accuracy[i])}"))}  ({clock.Elapsed.TotalSeconds:F0} s)");
            runs.Add((variant, accuracy));
        }

        string table = Table(at, runs, targetFew.Count, clock.Elapsed);
        Console.WriteLine();
        Console.WriteLine(table);
        string markdown = Path.Combine(options.Out, "transfer.md");
        File.WriteAllText(markdown, table);
        string png = Path.Combine(options.Out, "transfer.png");
        Plotting.Save(png, at, runs);
        Console.WriteLine($"wrote {markdown} and {png}");
        return 0;
    }

    private static double Accuracy(FiveWayResNet20 net, Dataset data)
    {
        net.Eval();
        int right = 0;
        int batch = net.BatchSize;
        for (int i = 0; i < data.Count; i += batch)
        {
            int n = Math.Min(batch, data.Count - i);
            int size = (int)data.ImageShape.Elements;
            BatchResult r = net.Evaluate(data.Images.AsSpan(i * size, n * size), data.Labels.AsSpan(i, n));
            right += r.Correct;
        }

        return right / (double)data.Count;
    }

    private static string Percent(double value) => (100 * value).ToString("F2", CultureInfo.InvariantCulture) + "%";

    private static string Table(int[] at, List<(string Name, double[] Accuracy)> runs, int labelled, TimeSpan wall)
    {
        StringBuilder s = new();
        s.AppendLine(CultureInfo.InvariantCulture, $"Test accuracy on Fashion-MNIST classes 5-9 (5,000 images) after fine-tuning on {labelled} labelled images (1%), batch 32:");
        s.AppendLine();
        s.AppendLine("| start | " + string.Join(" | ", at.Select(a => a + " steps")) + " |");
        s.AppendLine("|---|" + string.Concat(at.Select(_ => "---|")));
        foreach ((string name, double[] accuracy) in runs)
        {
            s.AppendLine($"| {name} | " + string.Join(" | ", accuracy.Select(Percent)) + " |");
        }

        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"Wall time, pretraining included: {wall.TotalMinutes:F1} min. The frozen backbone's weight gradients are not computed (DslResNet's Freeze); its batch norm still normalises by batch statistics in training mode.");
        return s.ToString();
    }
}
