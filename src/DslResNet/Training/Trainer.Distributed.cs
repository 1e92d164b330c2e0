using System;
using System.Threading;
using DslResNet.Distributed;

namespace DslResNet.Training;

// The trainer's share of data-parallel training: a cancellation every rank agrees on, and the evaluation split between ranks.
public sealed partial class Trainer
{
    /// <summary>Whether to stop now: this process's token alone, or, distributed, any rank's (so that all stop after the same step).</summary>
    private static bool Cancelled(CancellationToken token, DistributedTraining? dist)
    {
        if (dist is null)
        {
            return token.IsCancellationRequested;
        }

        double[] flag = [token.IsCancellationRequested ? 1 : 0];
        dist.Sum(flag, "the per-step cancellation check");
        return flag[0] > 0;
    }

    /// <summary>Each rank evaluates its contiguous share of the (limited) test set; the sums are combined.</summary>
    private EvaluationResult EvaluateSharded(DistributedTraining dist, int epoch, double learningRate, CancellationToken token, out bool cancelled)
    {
        int count = Math.Min(TestSet.Count, Options.EvaluationLimit ?? int.MaxValue);
        int first = (int)((long)count * dist.Rank / dist.WorldSize);
        int last = (int)((long)count * (dist.Rank + 1) / dist.WorldSize);
        EvaluationResult mine = EvaluateCore(Model, TestSet, last - first, Progress, epoch + 1, Options.Epochs, Optimizer.StepCount,
            learningRate, CancellationToken.None, out _, first);
        double[] sums = mine.Images > 0
            ? [mine.Loss * mine.Images, mine.Accuracy * mine.Images, mine.Images, mine.Seconds, token.IsCancellationRequested ? 1 : 0]
            : [0, 0, 0, mine.Seconds, token.IsCancellationRequested ? 1 : 0];
        dist.Sum(sums, $"the evaluation after epoch {epoch + 1}");
        cancelled = sums[4] > 0;
        int images = (int)Math.Round(sums[2]);
        return images == 0
            ? new EvaluationResult(double.NaN, double.NaN, 0, sums[3] / dist.WorldSize)
            : new EvaluationResult(sums[0] / images, Math.Round(sums[1]) / images, images, sums[3] / dist.WorldSize);
    }
}
