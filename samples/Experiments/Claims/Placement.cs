using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using DslResNet.Data;

namespace Experiments;

/// <summary>Claim 4: batch norm before or after the activation; after suits the s-shaped functions.</summary>
internal static class Placement
{
    public static Report Run(Context ctx, Stopwatch clock, Csv csv)
    {
        int images = ctx.Pick(640, 3_000, 20_000);
        int epochs = ctx.Pick(1, 4, 6);
        int[] seeds = ctx.Pick<int[]>([1], [1, 2], [1, 2, 3]);
        int evalImages = ctx.Pick(64, 1_500, 10_000);
        const double Rate = 0.05;
        Dataset train = ctx.TrainSubset(images);
        (string Activation, bool After, Arm Arm)[] arms =
        [
            ("ReLU", false, new("ReLU, batch norm before", (d, b, o) => new SmallBn(d, b, o))),
            ("ReLU", true, new("ReLU, batch norm after", (d, b, o) => new BnAfterReLU(d, b, o))),
            ("tanh", false, new("tanh, batch norm before", (d, b, o) => new BnBeforeTanh(d, b, o))),
            ("tanh", true, new("tanh, batch norm after", (d, b, o) => new BnAfterTanh(d, b, o))),
            ("sigmoid", false, new("sigmoid, batch norm before", (d, b, o) => new BnBeforeSigmoid(d, b, o))),
            ("sigmoid", true, new("sigmoid, batch norm after", (d, b, o) => new BnAfterSigmoid(d, b, o))),
        ];

        var results = arms.ToDictionary(a => a.Arm.Name, a => seeds.Select(seed =>
            Runs.Train(ctx, clock, csv, a.Arm, seed, train, Rate, epochs, null, evalImages, cosine: true)).ToList());
        (double Mean, double Spread) Test(string arm) => Context.MeanSpread(results[arm].Where(r => r.Diverged is null).Select(r => r.FinalTest).ToList());

        // After minus before, per activation; a difference counts when it exceeds both arms' seed spread (and 0.2 points).
        var diffs = new[] { "ReLU", "tanh", "sigmoid" }.ToDictionary(act => act, act =>
        {
            string before = arms.First(a => a.Activation == act && !a.After).Arm.Name, after = arms.First(a => a.Activation == act && a.After).Arm.Name;
            double noise = Math.Max(0.002, Math.Max(Test(before).Spread, Test(after).Spread));
            return (Diff: Test(after).Mean - Test(before).Mean, Noise: double.IsFinite(noise) ? noise : 0.002);
        });
        int afterWins = new[] { "tanh", "sigmoid" }.Count(a => diffs[a].Diff > diffs[a].Noise);
        int beforeWins = new[] { "tanh", "sigmoid" }.Count(a => diffs[a].Diff < -diffs[a].Noise);

        Report report = new("placement", "Claim 4: batch norm before or after the activation")
        {
            Statement = "Batch norm after the activation suits the s-shaped functions (tanh, sigmoid) better than before it: normalised inputs fall in their nearly linear middle (Ioffe and Szegedy 2015 put it before; the DRN0011 hint advises after for tanh and the sigmoid). For ReLU either order is used.",
            Setup =
                $"The small network's trunk (`samples/Experiments/PlacementNetworks.cs`; `SmallBn` is the ReLU-before arm): three 3x3 convolutions and a 128-unit hidden layer, each followed by batch norm then the activation (\"before\") or the activation then batch norm (\"after\"), for ReLU, tanh and the sigmoid. " +
                $"A fixed subset of {train.Count:N0} training images, {epochs} epochs, batch 64, SGD with Nesterov momentum 0.9, weight decay 5e-4, learning rate {Rate} annealed to 0 (cosine), no augmentation; seeds {string.Join(", ", seeds)}; test accuracy on the first {Math.Min(evalImages, ctx.Test.Count):N0} test images. Mean over seeds, spread = max - min. " +
                "The \"before\" arms for tanh and the sigmoid are declared under `#pragma warning disable DRN0011`: they are what the hint warns about.",
            Caveats = "A shallow network (4 activations deep) on Fashion-MNIST for a few epochs; the saturation that makes the order matter grows with depth, and the gap may close or widen with longer training.",
        };
        report.Verdict = afterWins == 2 ? Verdict.Held : afterWins == 1 ? Verdict.Mixed : Verdict.DidNotHold;
        report.VerdictText =
            $"After minus before, mean test accuracy: tanh {Report.Pp(diffs["tanh"].Diff)} (noise {Report.Pp(diffs["tanh"].Noise)}), sigmoid {Report.Pp(diffs["sigmoid"].Diff)} (noise {Report.Pp(diffs["sigmoid"].Noise)}), ReLU {Report.Pp(diffs["ReLU"].Diff)} (noise {Report.Pp(diffs["ReLU"].Noise)}). " +
            $"After was clearly better for {afterWins} of the 2 s-shaped functions{(beforeWins > 0 ? $", before for {beforeWins}" : "")}.";

        report.Heading("Results");
        report.Table(["activation", "batch norm", "test accuracy (mean)", "spread over seeds", "train accuracy (final epoch)"],
            arms.Select(a => (IReadOnlyList<string>)
            [
                a.Activation, a.After ? "after" : "before", Report.Pct(Test(a.Arm.Name).Mean), Report.Pp(Test(a.Arm.Name).Spread).TrimStart('+'),
                Report.Pct(Context.MeanSpread(results[a.Arm.Name].Where(r => r.Diverged is null).Select(r => r.FinalTrain).ToList()).Mean),
            ]));

        List<Series> Lines(Func<DslResNet.Training.EpochMetrics, double> value) => arms.Select(a => new Series(
            a.Arm.Name, DropoutClaim.MeanCurve(results[a.Arm.Name], m => m.Epoch), DropoutClaim.MeanCurve(results[a.Arm.Name], value),
            Dashed: !a.After, Color: Array.IndexOf(new[] { "ReLU", "tanh", "sigmoid" }, a.Activation))).ToList();
        Charts.Save(ctx.OutPath("placement.png"),
            new Panel("Test accuracy, mean over seeds (dashed: batch norm before, solid: after)", "epoch", "test accuracy (%)", Lines(m => 100 * m.TestAccuracy)),
            new Panel("Training loss", "epoch", "cross-entropy", Lines(m => m.TrainLoss), ScottPlot.Alignment.UpperRight));
        report.Image("placement.png", "test accuracy and training loss against epochs, batch norm before (dashed) or after (solid) each activation");
        return report;
    }
}
