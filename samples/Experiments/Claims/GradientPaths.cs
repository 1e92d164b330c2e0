using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using DslResNet.Data;
using DslResNet.Runtime;
using DslResNet.Training;

namespace Experiments;

/// <summary>Claim 5: short gradient paths: the plain network's early layers get vanishing gradients, the residual's do not.</summary>
internal static class GradientPaths
{
    private const double Vanishing = 0.1;

    public static Report Run(Context ctx, Stopwatch clock, Csv csv)
    {
        int depth = ctx.Pick(20, 56, 56);
        int images = ctx.Pick(640, 2_000, 60_000);
        int batches = ctx.Pick(2, 4, 16);
        int evalImages = ctx.Pick(64, 1_000, 10_000);
        const double Rate = 0.1;
        const int Seed = 1;
        Dataset train = ctx.TrainSubset(images);
        Arm[] arms = depth == 20
            ? [new("plain-20", (d, b, o) => new ExpPlain20(d, b, o)), new("resnet-20", (d, b, o) => new ExpResNet20(d, b, o))]
            : [new("plain-56", (d, b, o) => new ExpPlain56(d, b, o)), new("resnet-56", (d, b, o) => new ExpResNet56(d, b, o))];

        // The raw figures here are per layer: this claim's CSV has its own columns.
        StringBuilder raw = new("network,when,layer,parameter,gradient_norm\n");
        var norms = new Dictionary<(string Net, string When), double[]>();
        string[] layers = [];
        var epochResults = new Dictionary<string, EpochMetrics>();
        foreach (Arm arm in arms)
        {
            using INetworkModel model = arm.Create(ctx.Device, 64, new NetworkOptions(Seed: Seed));
            NetworkBase net = (NetworkBase)model;
            // Every convolution's weight on the main path, input to output (the shortcuts' projections left out), then the classifier.
            layers = net.Definition.Parameters
                .Where(p => p.Role == DslResNet.ParameterRole.Weight && !p.Name.Contains("downsample", StringComparison.Ordinal))
                .Select(p => p.Name).ToArray();
            Sgd sgd = new(Rate, momentum: 0.9, weightDecay: 5e-4, nesterov: true);
            net.AddParametersTo(sgd);
            BatchLoader loader = new(train, 64, Seed, shuffle: true, dropLast: true);

            norms[(arm.Name, "initialisation")] = Measure(net, loader, batches, epoch: 100);
            ctx.Log(clock, $"{arm.Name}: gradient norms at initialisation measured over {batches} batches");

            Trainer trainer = new(net, sgd, new CosineAnnealingSchedule(Rate, 1, stepsPerUnit: loader.BatchCount), loader, ctx.Test,
                new TrainerOptions { Epochs = 1, EvaluationLimit = Math.Min(evalImages, ctx.Test.Count) });
            trainer.EpochCompleted = m =>
            {
                epochResults[arm.Name] = m;
                csv.Add(arm.Name, Seed, m, loader.BatchCount);
            };
            trainer.Run();
            norms[(arm.Name, "after one epoch")] = Measure(net, loader, batches, epoch: 101);
            ctx.Log(clock, $"{arm.Name}: one epoch trained (train {Report.Pct(epochResults[arm.Name].TrainAccuracy)}, test {Report.Pct(epochResults[arm.Name].TestAccuracy)}), gradient norms measured again");
        }

        foreach (((string net, string when), double[] values) in norms)
        {
            for (int i = 0; i < values.Length; i++)
            {
                raw.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{Csv.Quote(net)},{Csv.Quote(when)},{i + 1},{layers[i]},{values[i]:G6}"));
            }
        }

        // Early: the first five weighted layers; late: the five before the classifier.
        static double Ratio(double[] v) => v.Take(5).Average() / v.SkipLast(1).TakeLast(5).Average();
        string plain = arms[0].Name, residual = arms[1].Name;
        string[] whens = ["initialisation", "after one epoch"];
        bool plainVanishes = whens.All(w => Ratio(norms[(plain, w)]) < Vanishing);
        bool plainNeverVanishes = whens.All(w => Ratio(norms[(plain, w)]) >= Vanishing);
        bool residualFine = whens.All(w => Ratio(norms[(residual, w)]) >= Vanishing);

        Report report = new("gradients", "Claim 5: short gradient paths")
        {
            Statement = $"In a deep plain network the gradient reaching the early layers vanishes; the residual network's identity shortcuts give every layer a short path to the loss, so its early layers keep healthy gradients (plain against residual at {depth} layers).",
            Setup =
                $"{plain} and {residual} on 1x28x28 (`samples/Experiments/Networks.cs`). For every weighted layer on the main path (the {layers.Length - 1} convolutions, input to output, then the classifier; the shortcut projections left out), the L2 norm of its weight gradient (`GetGradient(name)` after a training step), averaged over {batches} batches of 64, stepped with a separate optimizer of learning rate 0 so that neither the weights nor the training momentum move: " +
                $"once at initialisation (seed {Seed}) and once after one epoch of training on {(train.Count == ctx.Train.Count ? "all" : "a fixed subset of")} {train.Count:N0} training images (SGD, Nesterov momentum 0.9, weight decay 5e-4, learning rate {Rate} annealed to 0, batch 64). " +
                $"\"Vanishing\" means the first five layers' mean gradient norm is below {Vanishing} times that of the five layers before the classifier.",
            Caveats = "Both networks have batch norm after every convolution, which He et al. (2016, section 4.1) credit with keeping the plain networks' backward signals healthy: they argue that their deep plain networks' difficulty is \"unlikely to be caused by vanishing gradients\". So the vanishing-gradient explanation is the FAQ's, not the paper's. At initialisation a deep batch-normalised plain network is expected to show the opposite, gradients that grow geometrically towards the input (Yang, Pennington, Rao, Sohl-Dickstein and Schoenholz, *A Mean Field Theory of Batch Normalization*, ICLR 2019). One seed; below the full budget \"one epoch\" is one pass over a small subset, a few dozen steps.",
        };
        report.Verdict = plainVanishes && residualFine ? Verdict.Held : plainNeverVanishes ? Verdict.DidNotHold : Verdict.Mixed;
        report.VerdictText = "Early-to-late gradient norm ratio (first five layers over the five before the classifier): " +
            string.Join("; ", whens.Select(w => string.Create(CultureInfo.InvariantCulture, $"{w}: {plain} {Ratio(norms[(plain, w)]):F3}, {residual} {Ratio(norms[(residual, w)]):F3}"))) +
            $". The plain network's early gradients {string.Join(" and ", whens.Select(w => $"{Describe(Ratio(norms[(plain, w)]))} at {w}"))}; the residual network's {string.Join(" and ", whens.Select(w => $"{Describe(Ratio(norms[(residual, w)]))} at {w}"))} (vanishing below a ratio of {Vanishing}, exploding above {1 / Vanishing}).";

        report.Heading("Results");
        report.Table(["network", "when", "early / late ratio", "mean norm, first 5 layers", "mean norm, 5 before the classifier", "classifier"],
            norms.Select(kv => (IReadOnlyList<string>)
            [
                kv.Key.Net, kv.Key.When, Ratio(kv.Value).ToString("F3", CultureInfo.InvariantCulture),
                kv.Value.Take(5).Average().ToString("G3", CultureInfo.InvariantCulture),
                kv.Value.SkipLast(1).TakeLast(5).Average().ToString("G3", CultureInfo.InvariantCulture),
                kv.Value[^1].ToString("G3", CultureInfo.InvariantCulture),
            ]));
        report.Table(["network", "train accuracy (epoch)", "test accuracy after it"],
            epochResults.Select(kv => (IReadOnlyList<string>)[kv.Key, Report.Pct(kv.Value.TrainAccuracy), Report.Pct(kv.Value.TestAccuracy)]));

        double[] xs = Enumerable.Range(1, layers.Length).Select(i => (double)i).ToArray();
        List<Series> Lines(string when) => arms.Select((a, i) => new Series(a.Name, xs, norms[(a.Name, when)].Select(Math.Log10).ToArray(), Dashed: i == 0, Color: i)).ToList();
        Charts.Save(ctx.OutPath("gradients.png"),
            new Panel("Gradient norm per layer at initialisation", "weighted layer (1 = first convolution; last = classifier)", "log10 of the weight gradient's L2 norm", Lines("initialisation")),
            new Panel("After one epoch", "weighted layer", "log10 of the weight gradient's L2 norm", Lines("after one epoch")));
        report.Image("gradients.png", "log10 gradient norm per layer, plain (dashed) and residual (solid), at initialisation and after one epoch");
        csv.Raw = raw.ToString();
        return report;
    }

    private static string Describe(double ratio) => ratio < Vanishing ? "vanish" : ratio > 1 / Vanishing ? "explode" : "stay within a factor of ten";

    /// <summary>
    /// Mean L2 norm of each main-path weight's gradient over some batches, stepped with a second optimizer of learning rate
    /// 0 (no momentum, no weight decay), so that neither the weights nor the training optimizer's momentum change.
    /// </summary>
    private static double[] Measure(NetworkBase net, BatchLoader loader, int batches, int epoch)
    {
        string[] names = net.Definition.Parameters
            .Where(p => p.Role == DslResNet.ParameterRole.Weight && !p.Name.Contains("downsample", StringComparison.Ordinal))
            .Select(p => p.Name).ToArray();
        double[] sums = new double[names.Length];
        Sgd probe = new(0);
        net.AddParametersTo(probe);
        net.Train();
        int n = 0;
        foreach (Batch batch in loader.Epoch(epoch).Take(batches))
        {
            net.TrainStep(batch.Images, batch.Labels, probe);
            for (int i = 0; i < names.Length; i++)
            {
                sums[i] += Math.Sqrt(net.GetGradient(names[i]).Sum(g => (double)g * g));
            }

            n++;
        }

        return sums.Select(s => s / n).ToArray();
    }
}
