using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using DslResNet.Data;

namespace Experiments;

/// <summary>Claim 3: batch norm regularises, so dropout can often go.</summary>
internal static class DropoutClaim
{
    public static Report Run(Context ctx, Stopwatch clock, Csv csv)
    {
        int images = ctx.Pick(640, 2_500, 10_000);
        int epochs = ctx.Pick(1, 5, 10);
        int[] seeds = ctx.Pick<int[]>([1], [1, 2], [1, 2, 3]);
        int evalImages = ctx.Pick(64, 1_500, 10_000);
        const double Rate = 0.05;
        Dataset train = ctx.TrainSubset(images);
        (string Group, double P, Arm Arm)[] arms =
        [
            ("batch norm", 0, new("batch norm, no dropout", (d, b, o) => new SmallBn(d, b, o))),
            ("batch norm", 0.2, new("batch norm, dropout 0.2", (d, b, o) => new SmallBnDrop02(d, b, o))),
            ("batch norm", 0.5, new("batch norm, dropout 0.5", (d, b, o) => new SmallBnDrop05(d, b, o))),
            ("no batch norm", 0, new("no batch norm, no dropout", (d, b, o) => new SmallPlain(d, b, o))),
            ("no batch norm", 0.2, new("no batch norm, dropout 0.2", (d, b, o) => new SmallPlainDrop02(d, b, o))),
            ("no batch norm", 0.5, new("no batch norm, dropout 0.5", (d, b, o) => new SmallPlainDrop05(d, b, o))),
        ];

        var results = arms.ToDictionary(a => a.Arm.Name, a => seeds.Select(seed =>
            Runs.Train(ctx, clock, csv, a.Arm, seed, train, Rate, epochs, null, evalImages, cosine: true, weightDecay: 0)).ToList());

        (double Mean, double Spread) Test(string arm) => Context.MeanSpread(results[arm].Where(r => r.Diverged is null).Select(r => r.FinalTest).ToList());
        (double Mean, double Spread) TrainAcc(string arm) => Context.MeanSpread(results[arm].Where(r => r.Diverged is null).Select(r => r.FinalTrain).ToList());
        (double Gain, double Noise, string Best) GainOf(string group)
        {
            var mine = arms.Where(a => a.Group == group).ToArray();
            double baseline = Test(mine[0].Arm.Name).Mean;
            var best = mine.Skip(1).MaxBy(a => Test(a.Arm.Name).Mean);
            // Noise: the largest seed-to-seed spread among the group's arms, at least 0.2 points.
            double noise = Math.Max(0.002, mine.Max(a => Test(a.Arm.Name).Spread is var s && double.IsFinite(s) ? s : 0));
            return (Test(best.Arm.Name).Mean - baseline, noise, best.Arm.Name);
        }

        (double gainBn, double noiseBn, string bestBn) = GainOf("batch norm");
        (double gainPlain, double noisePlain, string bestPlain) = GainOf("no batch norm");

        Report report = new("dropout", "Claim 3: batch norm regularises, so dropout can often go")
        {
            Statement = "Batch norm regularises on its own: with it, dropout adds little or nothing (Ioffe and Szegedy 2015, section 4.2.1, removed dropout from their batch-normalised Inception without more overfitting); without batch norm, dropout helps more.",
            Setup =
                $"The small network of `samples/Experiments/SmallNetworks.cs` with batch norm (`SmallBn`) and without (`SmallPlain`), each with no dropout and with dropout 0.2 and 0.5 on the 128-unit hidden layer, right before the classifier (`SmallBnDrop02` ...). " +
                $"To give regularisation something to do, a fixed subset of {train.Count:N0} training images (a seeded shuffle's first), {epochs} epochs, and no other regulariser: no weight decay, no augmentation. " +
                $"SGD with Nesterov momentum 0.9, batch 64, learning rate {Rate} annealed to 0 (cosine); seeds {string.Join(", ", seeds)} (initialisation, data order and dropout masks); test accuracy on the first {Math.Min(evalImages, ctx.Test.Count):N0} test images. Mean over seeds, spread = max - min.",
            Caveats = "Ioffe and Szegedy's observation is about Inception on ImageNet with augmentation; here a small network on a small subset of Fashion-MNIST, where the hidden layer's 400,000 weights overfit quickly, so dropout there has more to do than in a convolutional trunk. The claim is \"often\", not always.",
        };
        // Both halves of the claim: with batch norm dropout adds nothing beyond seed noise, and without batch norm it adds
        // more than with it (else the experiment cannot tell "batch norm made dropout unnecessary" from "dropout does not
        // help this network at this budget").
        bool bnNeedsNoDropout = gainBn <= noiseBn;
        bool dropoutMattersMoreWithout = gainPlain > gainBn;
        report.Verdict = bnNeedsNoDropout && dropoutMattersMoreWithout ? Verdict.Held
            : bnNeedsNoDropout || dropoutMattersMoreWithout ? Verdict.Mixed
            : Verdict.DidNotHold;
        report.VerdictText =
            $"With batch norm the best dropout arm ({bestBn}) changed mean test accuracy by {Report.Pp(gainBn)} against no dropout (seed noise {Report.Pp(noiseBn)}); " +
            $"without batch norm the best dropout arm ({bestPlain}) changed it by {Report.Pp(gainPlain)} (noise {Report.Pp(noisePlain)}). " +
            $"Batch norm without dropout: {Report.Pct(Test(arms[0].Arm.Name).Mean)}; no batch norm, no dropout: {Report.Pct(Test(arms[3].Arm.Name).Mean)}. " +
            $"{(bnNeedsNoDropout ? "With batch norm dropout added nothing beyond seed noise" : "With batch norm dropout still helped")}; " +
            $"{(dropoutMattersMoreWithout ? "without batch norm it helped more." : "without batch norm it did not help more, so this run cannot credit batch norm for dropout's being unnecessary.")}";

        report.Heading("Results");
        report.Table(["network", "test accuracy (mean)", "spread over seeds", "train accuracy (final epoch)", "train - test gap"],
            arms.Select(a => (IReadOnlyList<string>)
            [
                a.Arm.Name, Report.Pct(Test(a.Arm.Name).Mean), Report.Pp(Test(a.Arm.Name).Spread).TrimStart('+'),
                Report.Pct(TrainAcc(a.Arm.Name).Mean), Report.Pp(TrainAcc(a.Arm.Name).Mean - Test(a.Arm.Name).Mean),
            ]));
        if (results.Values.SelectMany(r => r).Any(r => r.Diverged is not null))
        {
            report.Paragraph("Diverged runs (left out of the means): " + string.Join("; ", results.Values.SelectMany(r => r).Where(r => r.Diverged is not null).Select(r => $"{r.Arm}, seed {r.Seed}")) + ".");
        }

        List<Series> Lines(string group) => arms.Where(a => a.Group == group).SelectMany((a, i) => new[]
        {
            new Series($"p = {a.P} test", MeanCurve(results[a.Arm.Name], m => m.Epoch), MeanCurve(results[a.Arm.Name], m => 100 * m.TestAccuracy), Color: i),
            new Series($"p = {a.P} train", MeanCurve(results[a.Arm.Name], m => m.Epoch), MeanCurve(results[a.Arm.Name], m => 100 * m.TrainAccuracy), Dashed: true, Color: i),
        }).ToList();
        Charts.Save(ctx.OutPath("dropout.png"),
            new Panel("With batch norm: accuracy (solid: test, dashed: train), mean over seeds", "epoch", "accuracy (%)", Lines("batch norm")),
            new Panel("Without batch norm", "epoch", "accuracy (%)", Lines("no batch norm")));
        report.Image("dropout.png", "train and test accuracy against epochs for dropout 0, 0.2 and 0.5, with and without batch norm");
        return report;
    }

    /// <summary>The mean over seeds of a per-epoch value, over the epochs every run completed.</summary>
    public static double[] MeanCurve(IReadOnlyList<RunResult> runs, Func<DslResNet.Training.EpochMetrics, double> value)
    {
        int n = runs.Min(r => r.History.Count);
        return Enumerable.Range(0, n).Select(e => runs.Average(r => value(r.History[e]))).ToArray();
    }
}
