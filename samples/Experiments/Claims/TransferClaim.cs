using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using DslResNet.Data;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;
using TransferSample;

namespace Experiments;

/// <summary>Claim 6: pretrained weights transfer: pretrain on five classes, fine-tune on the other five from 1%, 10% and 100% of their labels.</summary>
internal static class TransferClaim
{
    // As samples/Transfer: everything but the classifier.
    private static readonly string[] Backbone = ["conv1", "bn1", "layer1", "layer2", "layer3"];
    private static readonly string[] Starts = ["pretrained, backbone frozen", "pretrained, all layers", "from scratch"];

    public static Report Run(Context ctx, Stopwatch clock, Csv csv)
    {
        int pretrainImages = ctx.Pick(640, 4_000, 30_000);
        int pretrainEpochs = ctx.Pick(1, 1, 3);
        int steps = ctx.Pick(4, 80, 400);
        int evalImages = ctx.Pick(64, 600, 5_000);
        double[] fractions = ctx.Pick<double[]>([0.01, 1.0], [0.01, 0.1, 1.0], [0.01, 0.1, 1.0]);
        const int Seed = 1;

        // Classes 0-4 (T-shirt, trouser, pullover, dress, coat) to pretrain; 5-9 (sandal, shirt, sneaker, bag, ankle boot) to transfer to.
        Dataset sourceTrain = Context.Subset(Split.Classes(ctx.Train, 0), pretrainImages, Seed);
        Dataset sourceTest = Split.Classes(ctx.Test, 0);
        Dataset targetTrain = Split.Classes(ctx.Train, 5);
        Dataset targetTest = Split.Classes(ctx.Test, 5);

        // 1. Pretrain (the transfer sample's recipe) with the library's trainer.
        Checkpoint pretrained;
        EpochMetrics pretrainResult;
        using (var source = new FiveWayResNet20(ctx.Device, 64, new NetworkOptions(Seed: Seed)))
        {
            BatchLoader loader = new(sourceTrain, 64, Seed, shuffle: true, dropLast: true);
            var history = new List<EpochMetrics>();
            Trainer trainer = new(source, new Sgd(0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true),
                new CosineAnnealingSchedule(0.05, pretrainEpochs, stepsPerUnit: loader.BatchCount), loader, sourceTest,
                new TrainerOptions { Epochs = pretrainEpochs, EvaluationLimit = Math.Min(evalImages, sourceTest.Count) });
            trainer.EpochCompleted = m =>
            {
                history.Add(m);
                csv.Add("pretraining on classes 0-4", Seed, m, (long)m.Epoch * loader.BatchCount);
            };
            trainer.Run();
            pretrainResult = history[^1];
            pretrained = source.ExportCheckpoint();
            pretrained.Model.Remove("fc.weight");
            pretrained.Model.Remove("fc.bias");
            ctx.Log(clock, $"pretrained on {sourceTrain.Count:N0} images of classes 0-4: test accuracy {Report.Pct(pretrainResult.TestAccuracy)}");
        }

        // 2. Fine-tune three ways at each fraction, the same number of steps each.
        int[] at = [0, steps / 4, steps / 2, steps];
        var curves = new Dictionary<(double Fraction, string Start), double[]>();
        var labelled = new Dictionary<double, int>();
        foreach (double fraction in fractions)
        {
            Dataset few = fraction >= 1 ? targetTrain : Split.Fraction(targetTrain, fraction, Seed);
            labelled[fraction] = few.Count;
            few = Tile(few, 32);
            foreach (string start in Starts)
            {
                using var target = new FiveWayResNet20(ctx.Device, 32, new NetworkOptions(Seed: Seed + 1));
                double rate = 0.05;
                if (start != "from scratch")
                {
                    target.ImportCheckpoint(pretrained, strict: false);
                    if (start.Contains("frozen", StringComparison.Ordinal))
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
                BatchLoader loader = new(few, 32, Seed, shuffle: true, dropLast: true);
                double[] accuracy = FineTune(target, sgd, loader, targetTest, at, Math.Min(evalImages, targetTest.Count));
                for (int i = 0; i < at.Length; i++)
                {
                    csv.Row($"{start} / {Percent(fraction)} of labels", Seed, i, at[i], double.NaN, double.NaN, double.NaN, accuracy[i], rate, 0);
                }

                curves[(fraction, start)] = accuracy;
                ctx.Log(clock, $"{Percent(fraction)} of labels ({few.Count:N0} images), {start}: test accuracy {Report.Pct(accuracy[^1])} after {steps} steps");
            }
        }

        double Advantage(double fraction) =>
            Math.Max(curves[(fraction, Starts[0])][^1], curves[(fraction, Starts[1])][^1]) - curves[(fraction, Starts[2])][^1];
        const double Margin = 0.01;
        double[] scarce = fractions.Where(f => f < 1).ToArray();
        int helped = scarce.Count(f => Advantage(f) > Margin);

        Report report = new("transfer", "Claim 6: pretrained weights transfer")
        {
            Statement = "Weights learnt on one task are a better start for a related task than random ones, most of all when the new task has few labels: pretrain on five Fashion-MNIST classes, fine-tune on the other five.",
            Setup =
                $"`samples/Transfer`'s network and split, reused (`FiveWayResNet20`, `Split.Classes`, `Split.Fraction`): ResNet-20's layers on 1x28x28 with a five-way head. " +
                $"Pretrained on {sourceTrain.Count:N0} images of classes 0-4 (T-shirt, trouser, pullover, dress, coat; {(sourceTrain.Count < 30_000 ? "a seeded subset" : "all of them")}) for {pretrainEpochs} epoch{(pretrainEpochs > 1 ? "s" : "")} (SGD, Nesterov momentum 0.9, weight decay 5e-4, learning rate 0.05 annealed to 0, batch 64): {Report.Pct(pretrainResult.TestAccuracy)} test accuracy on classes 0-4. " +
                $"Its weights, less the classifier, are loaded with `ImportCheckpoint(strict: false)` into a new network for classes 5-9 (sandal, shirt, sneaker, bag, ankle boot), fine-tuned on {string.Join(", ", fractions.Select(f => $"{Percent(f)} ({labelled[f]:N0} images)"))} of their training labels (stratified by class, seeded), " +
                $"{steps} steps of batch 32 each, three ways: backbone frozen (`Freeze(conv1, bn1, layer1-3)`, learning rate 0.05), all layers (0.01), and from scratch (0.05); SGD with momentum 0.9, weight decay 5e-4, constant rate, no augmentation (samples/Transfer uses crop-and-flip). " +
                $"Test accuracy on the first {Math.Min(evalImages, targetTest.Count):N0} test images of classes 5-9 after {string.Join(", ", at)} steps. One seed.",
            Caveats = "The source and target classes are all clothing and footwear photographed alike, so low-level features transfer easily; transfer between less related datasets helps less. The fine-tuning budget is a fixed number of steps: with 100% of the labels, training from scratch for longer catches up, so the advantage there is expected to shrink.",
        };
        report.Verdict = helped == scarce.Length ? Verdict.Held : helped > 0 ? Verdict.Mixed : Verdict.DidNotHold;
        report.VerdictText = "Best pretrained start minus from scratch, final test accuracy: " +
            string.Join(", ", fractions.Select(f => $"{Percent(f)} of labels {Report.Pp(Advantage(f))}")) +
            $". Pretraining helped by more than 1 point at {helped} of the {scarce.Length} label-scarce fractions.";

        report.Heading("Results");
        report.Table(["labels", "start", .. at.Select(s => $"{s} steps")],
            curves.Select(kv => (IReadOnlyList<string>)[$"{Percent(kv.Key.Fraction)} ({labelled[kv.Key.Fraction]:N0})", kv.Key.Start, .. kv.Value.Select(Report.Pct)]));

        double[] xs = at.Select(s => (double)s).ToArray();
        Panel PanelFor(double f) => new($"Classes 5-9 from {Percent(f)} of their labels", "fine-tuning steps (batch 32)", "test accuracy (%)",
            Starts.Select((s, i) => new Series(s, xs, curves[(f, s)].Select(a => 100 * a).ToArray(), Dashed: i == 2, Color: i)).ToList());
        Charts.Save(ctx.OutPath("transfer.png"), fractions.Select(PanelFor).ToArray());
        report.Image("transfer.png", "test accuracy on classes 5-9 against fine-tuning steps, per fraction of labels, for the three starts");
        return report;
    }

    private static string Percent(double f) => (100 * f).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    /// <summary>Repeats a set smaller than one batch until it fills one (only the tiny budget's generated data needs it).</summary>
    private static Dataset Tile(Dataset data, int batch)
    {
        if (data.Count >= batch)
        {
            return data;
        }

        int copies = (batch + data.Count - 1) / data.Count;
        float[] images = Enumerable.Repeat(data.Images, copies).SelectMany(a => a).ToArray();
        int[] labels = Enumerable.Repeat(data.Labels, copies).SelectMany(a => a).ToArray();
        return new Dataset(images, labels, data.ImageShape, data.ClassCount, data.Mean, data.Std);
    }

    /// <summary>Trains for the last of <paramref name="at"/> steps (cycling the loader's epochs), evaluating at each of them.</summary>
    private static double[] FineTune(FiveWayResNet20 net, Sgd sgd, BatchLoader loader, Dataset test, int[] at, int evalImages)
    {
        double[] accuracy = new double[at.Length];
        int step = 0, next = 0;
        for (int epoch = 0; next < at.Length; epoch++)
        {
            foreach (Batch batch in loader.Epoch(epoch))
            {
                while (next < at.Length && step == at[next])
                {
                    accuracy[next++] = Trainer.Evaluate(net, test, evalImages).Accuracy;
                    net.Train();
                }

                if (next == at.Length)
                {
                    break;
                }

                net.TrainStep(batch.Images, batch.Labels, sgd);
                step++;
            }
        }

        return accuracy;
    }
}
