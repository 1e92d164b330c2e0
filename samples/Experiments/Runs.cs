using System;
using System.Collections.Generic;
using System.Diagnostics;
using DslResNet.Data;
using DslResNet.Runtime;
using DslResNet.Training;

namespace Experiments;

/// <summary>Builds a network on a device for a batch size and a seed.</summary>
internal delegate INetworkModel NetworkFactory(Device device, int batchSize, NetworkOptions options);

/// <summary>One arm of a claim.</summary>
/// <param name="Name">The name in tables, plots and the CSV.</param>
/// <param name="Create">Builds it.</param>
internal sealed record Arm(string Name, NetworkFactory Create);

/// <summary>One training run: its epochs, and the divergence report if the trainer stopped it.</summary>
internal sealed record RunResult(string Arm, int Seed, double LearningRate, IReadOnlyList<EpochMetrics> History, TrainingDivergedException? Diverged)
{
    public EpochMetrics? Last => History.Count == 0 ? null : History[^1];

    public double FinalTest => Last?.TestAccuracy ?? double.NaN;

    public double FinalTrain => Last?.TrainAccuracy ?? double.NaN;
}

/// <summary>Trains arms with the library's <see cref="Trainer"/>: SGD with Nesterov momentum, no augmentation.</summary>
internal static class Runs
{
    /// <summary>
    /// Trains <paramref name="arm"/> for <paramref name="epochs"/> epochs (of at most <paramref name="stepsPerEpoch"/> steps,
    /// each the first steps of a fresh shuffle) at a constant or cosine-annealed learning rate, evaluating
    /// <paramref name="evalImages"/> test images after each; a diverged run is returned with the trainer's report.
    /// </summary>
    public static RunResult Train(Context ctx, Stopwatch clock, Csv csv, Arm arm, int seed, Dataset train, double learningRate, int epochs,
        int? stepsPerEpoch, int evalImages, bool cosine, int batchSize = 64, double weightDecay = 5e-4)
    {
        using INetworkModel net = arm.Create(ctx.Device, batchSize, new NetworkOptions(Seed: seed));
        Sgd sgd = new(learningRate, momentum: 0.9, weightDecay: weightDecay, nesterov: true);
        BatchLoader loader = new(train, batchSize, seed, shuffle: true, dropLast: true);
        int steps = Trainer.StepsPerEpochFor(loader, stepsPerEpoch);
        ILearningRateSchedule schedule = cosine
            ? new CosineAnnealingSchedule(learningRate, epochs, stepsPerUnit: steps)
            : new ConstantSchedule(learningRate);
        Trainer trainer = new(net, sgd, schedule, loader, ctx.Test, new TrainerOptions
        {
            Epochs = epochs,
            MaxStepsPerEpoch = stepsPerEpoch,
            EvaluationLimit = Math.Min(evalImages, ctx.Test.Count),
        });
        var history = new List<EpochMetrics>();
        trainer.EpochCompleted = m =>
        {
            history.Add(m);
            csv.Add(arm.Name, seed, m, (long)m.Epoch * steps);
        };
        try
        {
            trainer.Run();
            EpochMetrics last = history[^1];
            ctx.Log(clock, $"{arm.Name}, seed {seed}, lr {learningRate}: train {Report.Pct(last.TrainAccuracy)}, test {Report.Pct(last.TestAccuracy)} after {epochs} x {steps} steps");
            return new RunResult(arm.Name, seed, learningRate, history, null);
        }
        catch (TrainingDivergedException e)
        {
            csv.Row(arm.Name, seed, history.Count + 1, e.Step, e.Loss, double.NaN, double.NaN, double.NaN, learningRate, 0, "diverged: " + e.Location);
            ctx.Log(clock, $"{arm.Name}, seed {seed}, lr {learningRate}: diverged at step {e.Step} ({e.Location})");
            return new RunResult(arm.Name, seed, learningRate, history, e);
        }
    }
}
