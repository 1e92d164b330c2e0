using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using DslResNet.Data;

namespace Experiments;

/// <summary>Claim 1: deeper plain networks get higher training error; residual networks of the same depth do not (He et al. 2016, Figs. 1 and 6).</summary>
internal static class Degradation
{
    private static readonly Dictionary<int, (Arm Plain, Arm Residual)> ByDepth = new()
    {
        [20] = (new("plain-20", (d, b, o) => new ExpPlain20(d, b, o)), new("resnet-20", (d, b, o) => new ExpResNet20(d, b, o))),
        [32] = (new("plain-32", (d, b, o) => new ExpPlain32(d, b, o)), new("resnet-32", (d, b, o) => new ExpResNet32(d, b, o))),
        [44] = (new("plain-44", (d, b, o) => new ExpPlain44(d, b, o)), new("resnet-44", (d, b, o) => new ExpResNet44(d, b, o))),
        [56] = (new("plain-56", (d, b, o) => new ExpPlain56(d, b, o)), new("resnet-56", (d, b, o) => new ExpResNet56(d, b, o))),
    };

    public static Report Run(Context ctx, Stopwatch clock, Csv csv)
    {
        int[] depths = ctx.Pick<int[]>([20], [20, 56], [20, 32, 44, 56]);
        int images = ctx.Pick(640, 2_400, 30_000);
        int epochs = ctx.Pick(1, 2, 4);
        int evalImages = ctx.Pick(64, 500, 10_000);
        const double Rate = 0.1;
        const int Seed = 1;
        Dataset train = ctx.TrainSubset(images);

        var results = new Dictionary<string, RunResult>();
        foreach (int depth in depths)
        {
            foreach (Arm arm in new[] { ByDepth[depth].Plain, ByDepth[depth].Residual })
            {
                results[arm.Name] = Runs.Train(ctx, clock, csv, arm, Seed, train, Rate, epochs, null, evalImages, cosine: true);
            }
        }

        double TrainError(string name) => results[name].Diverged is null ? 1 - results[name].FinalTrain : double.NaN;
        double TestError(string name) => results[name].Diverged is null ? 1 - results[name].FinalTest : double.NaN;
        int shallow = depths[0], deep = depths[^1];
        double plainRise = TrainError($"plain-{deep}") - TrainError($"plain-{shallow}");
        double residualRise = TrainError($"resnet-{deep}") - TrainError($"resnet-{shallow}");
        double gapAtDepth = TrainError($"plain-{deep}") - TrainError($"resnet-{deep}");
        const double Margin = 0.005;
        bool plainDegrades = plainRise > Margin;
        bool residualFine = residualRise <= Margin && gapAtDepth > Margin;

        Report report = new("degradation", "Claim 1: degradation, and residual learning as its cure")
        {
            Statement = "Deeper plain networks get *higher training error* than shallower ones (so it is not overfitting); residual networks of the same depth do not, and improve with depth (He et al. 2016, Figures 1 and 6).",
            Setup =
                $"The main job's networks (`samples/Experiments/Networks.cs`, as `samples/FashionMnist/Networks.cs`): ResNet-{string.Join("/", depths)} on 1x28x28 with projection shortcuts and their plain twins (`Plain = true`: the same layers, every skip connection off). " +
                $"{(depths.Length < 4 ? $"This budget compares depths {string.Join(" and ", depths)} only (the full budget runs 20, 32, 44 and 56). " : "")}" +
                $"Trained on {(train.Count == ctx.Train.Count ? $"all {train.Count:N0}" : $"a fixed subset of {train.Count:N0} (a seeded shuffle's first images)")} training images for {epochs} epoch{(epochs > 1 ? "s" : "")}, batch 64, SGD with Nesterov momentum 0.9, weight decay 5e-4, learning rate {Rate} annealed to 0 (cosine), no augmentation, seed {Seed}. " +
                $"Training error is measured during each epoch (as the paper's curves, batch norm in training mode); test error on the first {Math.Min(evalImages, ctx.Test.Count):N0} test images after each epoch.",
            Caveats = "The paper trains CIFAR-10 for 64,000 iterations of batch 128 (about 164 epochs) with a step schedule; here Fashion-MNIST, a few epochs on a subset (half the training set at the full budget, 4 epochs: about 30 minutes for the eight networks on 2 cores), so every network is still far from converged and the comparison is of how fast each depth trains. Degradation is an optimisation effect that shows early in training, so a short run can show it, but the size of the gaps at the end of a long run can differ. One seed.",
        };
        report.Verdict = plainDegrades && residualFine ? Verdict.Held : plainDegrades || residualFine ? Verdict.Mixed : Verdict.DidNotHold;
        report.VerdictText =
            $"Final training error: plain-{shallow} {Report.Pct(TrainError($"plain-{shallow}"))}, plain-{deep} {Report.Pct(TrainError($"plain-{deep}"))} ({Report.Pp(plainRise)} with depth); " +
            $"resnet-{shallow} {Report.Pct(TrainError($"resnet-{shallow}"))}, resnet-{deep} {Report.Pct(TrainError($"resnet-{deep}"))} ({Report.Pp(residualRise)}). " +
            $"At {deep} layers the plain network's training error is {Report.Pp(gapAtDepth)} above the residual one's. " +
            $"{(plainDegrades ? "The deeper plain network trains worse" : "The deeper plain network does not train worse")} and " +
            $"{(residualFine ? "the residual network does not degrade" : "the residual network does not clearly escape it")} (margin 0.5 points).";

        report.Heading("Results");
        report.Table(["network", "train error (final epoch)", "test error (final)", "train loss (final)", "seconds"],
            depths.SelectMany(d => new[] { $"plain-{d}", $"resnet-{d}" }).Select(n => (IReadOnlyList<string>)
            [
                n, Report.Pct(TrainError(n)), Report.Pct(TestError(n)),
                results[n].Last is { } m ? m.TrainLoss.ToString("F4", CultureInfo.InvariantCulture) : "diverged",
                results[n].History.Sum(e => e.Seconds).ToString("F0", CultureInfo.InvariantCulture),
            ]));

        List<Series> Lines(Func<DslResNet.Training.EpochMetrics, double> value) => depths
            .SelectMany((d, i) => new[]
            {
                new Series($"plain-{d}", Epochs(results[$"plain-{d}"]), results[$"plain-{d}"].History.Select(m => 100 * value(m)).ToArray(), Dashed: true, Color: i),
                new Series($"resnet-{d}", Epochs(results[$"resnet-{d}"]), results[$"resnet-{d}"].History.Select(m => 100 * value(m)).ToArray(), Color: i),
            }).ToList();
        Charts.Save(ctx.OutPath("degradation.png"),
            new Panel("Training error (dashed: plain, solid: residual)", "epoch", "training error (%)", Lines(m => 1 - m.TrainAccuracy), ScottPlot.Alignment.UpperRight),
            new Panel("Test error", "epoch", "test error (%)", Lines(m => 1 - m.TestAccuracy), ScottPlot.Alignment.UpperRight));
        report.Image("degradation.png", "training and test error against epochs, plain (dashed) and residual (solid) networks");
        return report;
    }

    private static double[] Epochs(RunResult r) => r.History.Select(m => (double)m.Epoch).ToArray();
}
