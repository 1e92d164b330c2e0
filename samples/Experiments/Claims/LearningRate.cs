using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;

namespace Experiments;

/// <summary>Claim 2: batch norm allows a higher learning rate and reaches a target accuracy in far fewer steps.</summary>
internal static class LearningRate
{
    public static Report Run(Context ctx, Stopwatch clock, Csv csv)
    {
        double[] rates = ctx.Pick<double[]>([0.01, 1.0], [0.01, 0.03, 0.1, 0.3, 1.0], [0.01, 0.03, 0.1, 0.3, 1.0]);
        int rounds = ctx.Pick(2, 8, 20);
        int stepsPerRound = ctx.Pick(3, 40, 100);
        int evalImages = ctx.Pick(64, 1000, 10000);
        const int Seed = 1;
        Arm[] arms =
        [
            new("batch norm", (d, b, o) => new SmallBn(d, b, o)),
            new("no batch norm", (d, b, o) => new SmallPlain(d, b, o)),
        ];

        var results = new List<RunResult>();
        foreach (Arm arm in arms)
        {
            foreach (double rate in rates)
            {
                results.Add(Runs.Train(ctx, clock, csv, arm, Seed, ctx.Train, rate, rounds, stepsPerRound, evalImages, cosine: false));
            }
        }

        // The baseline: the network without batch norm at its best learning rate; the target is its best test accuracy.
        RunResult[] plain = results.Where(r => r.Arm == "no batch norm" && r.History.Count > 0).ToArray();
        RunResult baseline = plain.Length > 0 ? plain.MaxBy(r => r.History.Max(m => m.TestAccuracy))! : results.First(r => r.Arm == "no batch norm");
        double target = baseline.History.Count > 0 ? baseline.History.Max(m => m.TestAccuracy) : double.NaN;
        long? StepsTo(RunResult r) => r.History.FirstOrDefault(m => m.TestAccuracy >= target) is { } m ? (long)m.Epoch * stepsPerRound : null;
        bool Works(RunResult r) => r.Diverged is null && r.History.Count > 0 && r.FinalTest >= target - 0.05;

        long? baselineSteps = StepsTo(baseline);
        RunResult[] bn = results.Where(r => r.Arm == "batch norm").ToArray();
        RunResult? fastest = bn.Where(r => StepsTo(r) is not null).MinBy(r => StepsTo(r)!.Value);
        double speedup = fastest is not null && baselineSteps is { } bs ? bs / (double)StepsTo(fastest)!.Value : 0;
        double maxBn = bn.Where(Works).Select(r => r.LearningRate).DefaultIfEmpty(0).Max();
        double maxPlain = results.Where(r => r.Arm == "no batch norm" && Works(r)).Select(r => r.LearningRate).DefaultIfEmpty(0).Max();
        bool higherRate = maxBn > maxPlain;
        bool faster = speedup >= 2;

        Report report = new("learning-rate", "Claim 2: batch norm allows a higher learning rate")
        {
            Statement = "With batch norm a network trains at learning rates that make it diverge or stall without, and reaches the baseline's accuracy in far fewer steps (Ioffe and Szegedy 2015: Inception's accuracy in 14 times fewer steps).",
            Setup =
                $"The small convolutional network of `samples/Experiments/SmallNetworks.cs` (three 3x3 convolutions of 16, 32 and 64 channels, 2x2 max pooling after the first two, a 128-unit hidden layer, a 10-way classifier), with batch norm after every convolution and the hidden layer (`SmallBn`) and without (`SmallPlain`, biases instead). SGD with Nesterov momentum 0.9, weight decay 5e-4, batch 64, **constant** learning rate {string.Join(", ", rates)}, no warm-up, no augmentation, seed {Seed}. " +
                $"{rounds} rounds of {stepsPerRound} steps ({rounds * stepsPerRound} steps, {rounds * stepsPerRound * 64:N0} images; each round the first steps of a fresh shuffle of the {ctx.Train.Count:N0} training images), test accuracy on the first {Math.Min(evalImages, ctx.Test.Count):N0} test images after each round. " +
                "A run whose loss or gradients become non-finite is stopped by the trainer's divergence check (`TrainingDivergedException`) and marked diverged. " +
                "The target is the best test accuracy the network without batch norm reached at any rate (the baseline); a rate \"works\" when the run did not diverge and ends within 5 points of the target.",
            Caveats = "Ioffe and Szegedy measured Inception on ImageNet with a learning rate raised 30 times and other changes (no dropout, less L2, faster decay); here a 3-layer network on Fashion-MNIST, whose baseline already trains well, and far fewer steps. One seed, and test accuracy on a sample of the test set (at 1,000 images its standard error is about 1 point), so the step counts are rough: take the divergences as the firm result and the speed-up as an estimate.",
        };
        report.Verdict = higherRate && faster ? Verdict.Held : higherRate || faster ? Verdict.Mixed : Verdict.DidNotHold;
        report.VerdictText =
            $"Without batch norm the highest working learning rate was {maxPlain}, with batch norm {maxBn}. " +
            $"The baseline (no batch norm, lr {baseline.LearningRate}) reached its best, {Report.Pct(target)}, after {(baselineSteps is { } s ? s.ToString(CultureInfo.InvariantCulture) : "-")} steps; " +
            (fastest is null ? "no batch-norm run reached it." : $"with batch norm (lr {fastest.LearningRate}) it was reached after {StepsTo(fastest)} steps, {speedup:F1} times fewer.");

        report.Heading("Results");
        report.Table(["network", "learning rate", "outcome", "best test accuracy", "final test accuracy", "steps to target"],
            results.Select(r => (IReadOnlyList<string>)
            [
                r.Arm, r.LearningRate.ToString(CultureInfo.InvariantCulture),
                r.Diverged is { } e ? $"diverged at step {e.Step}" : Works(r) ? "works" : "stalls",
                r.History.Count > 0 ? Report.Pct(r.History.Max(m => m.TestAccuracy)) : "-",
                Report.Pct(r.FinalTest),
                StepsTo(r) is { } n ? n.ToString(CultureInfo.InvariantCulture) : "not reached",
            ]));
        report.Paragraph(string.Create(CultureInfo.InvariantCulture, $"Target: {Report.Pct(target)}. Steps are counted at the end of the round in which the target was first reached (a resolution of {stepsPerRound} steps)."));

        Panel PanelFor(string arm) => new($"{arm}: test accuracy against steps", "training steps (batch 64)", "test accuracy (%)",
            results.Where(r => r.Arm == arm).Select((r, i) => new Series(
                string.Create(CultureInfo.InvariantCulture, $"lr {r.LearningRate}{(r.Diverged is { } e ? $" (diverged at step {e.Step})" : "")}"),
                r.History.Select(m => (double)m.Epoch * stepsPerRound).ToArray(), r.History.Select(m => 100 * m.TestAccuracy).ToArray(), Color: i)).ToList());
        Charts.Save(ctx.OutPath("learning-rate.png"), PanelFor("batch norm"), PanelFor("no batch norm"));
        report.Image("learning-rate.png", "test accuracy against steps, one line per learning rate, with and without batch norm");
        return report;
    }
}
