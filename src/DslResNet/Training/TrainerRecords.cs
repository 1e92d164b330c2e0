using System;
using System.Collections.Generic;

namespace DslResNet.Training;

/// <summary>What a <see cref="Trainer"/> run does: how long it trains, how much it evaluates, and where it checkpoints.</summary>
public sealed record TrainerOptions
{
    /// <summary>The total number of epochs; a resumed run continues up to this number. At least 1 (default 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 1.</exception>
    public int Epochs
    {
        get;
        init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(Epochs), value, "The number of epochs must be at least 1.");
    } = 1;

    /// <summary>
    /// The most training steps per epoch (the first steps of the loader's epoch order), for short runs on slow devices;
    /// null for the loader's full epoch. At least 1.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 1.</exception>
    public int? MaxStepsPerEpoch
    {
        get;
        init => field = value is null or >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(MaxStepsPerEpoch), value, "The steps per epoch must be at least 1 (or null for all).");
    }

    /// <summary>
    /// The number of test images evaluated after each epoch (the first ones, in dataset order); null for the whole test
    /// set, 0 to skip evaluation (test loss and accuracy are then NaN).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 0.</exception>
    public int? EvaluationLimit
    {
        get;
        init => field = value is null or >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(EvaluationLimit), value, "The evaluation limit must be at least 0 (or null for all).");
    }

    /// <summary>The checkpoint written (atomically) after every epoch, or null for none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>
    /// Whether to continue from the checkpoint at <see cref="CheckpointPath"/> (which must exist): the model, the
    /// optimizer and the metrics history are restored and training goes on with the epoch after the saved one.
    /// </summary>
    public bool Resume { get; init; }

    /// <summary>
    /// Data-parallel training (every rank runs the same trainer): the loader must be this rank's shard
    /// (<see cref="Distributed.DistributedTraining.Shard"/>) and the model attached
    /// (<see cref="Distributed.DistributedTraining.Attach"/>). The ranks check at the start that they run the same
    /// training; each epoch's training metrics are those of all ranks together; the test set is split between the ranks
    /// and the results combined; only rank 0 writes the checkpoint (with the world size, which a resumed run must
    /// match); a cancellation on any rank stops every rank after the same step. Null (default) for one process.
    /// </summary>
    public Distributed.DistributedTraining? Distributed { get; init; }
}

/// <summary>What the trainer is doing when it reports progress.</summary>
public enum TrainingPhase
{
    /// <summary>Training steps of an epoch.</summary>
    Training,

    /// <summary>The evaluation after an epoch.</summary>
    Evaluating,
}

/// <summary>A progress report, sent after every training step and every evaluation batch (on the training thread).</summary>
/// <param name="Phase">Training or evaluating.</param>
/// <param name="Epoch">The 1-based epoch.</param>
/// <param name="Epochs">The total number of epochs of the run.</param>
/// <param name="Step">The 1-based step (or evaluation batch) within the phase just completed.</param>
/// <param name="Steps">The number of steps (or evaluation batches) in the phase.</param>
/// <param name="GlobalStep">The optimizer's step count after the step (unchanged while evaluating).</param>
/// <param name="BatchLoss">The loss of the batch just processed.</param>
/// <param name="Loss">The mean loss over the phase's images so far.</param>
/// <param name="Accuracy">The share of the phase's images so far classified correctly, 0 to 1.</param>
/// <param name="LearningRate">The learning rate of the last training step.</param>
/// <param name="ImagesPerSecond">The phase's throughput so far.</param>
/// <param name="Elapsed">Time spent in the phase so far.</param>
/// <param name="Remaining">The phase's estimated remaining time, from its average step time so far.</param>
public readonly record struct TrainingProgress(
    TrainingPhase Phase, int Epoch, int Epochs, int Step, int Steps, long GlobalStep, double BatchLoss, double Loss,
    double Accuracy, double LearningRate, double ImagesPerSecond, TimeSpan Elapsed, TimeSpan Remaining)
{
    /// <summary>The share of the phase done, 0 to 1.</summary>
    public double Fraction => Steps == 0 ? 1 : (double)Step / Steps;
}

/// <summary>One epoch's results.</summary>
/// <param name="Epoch">The 1-based epoch.</param>
/// <param name="TrainLoss">The mean training loss over the epoch's steps (each measured before its update).</param>
/// <param name="TrainAccuracy">The share of training images classified correctly during the epoch, 0 to 1.</param>
/// <param name="TestLoss">The mean test loss after the epoch (NaN when evaluation was skipped).</param>
/// <param name="TestAccuracy">The test accuracy after the epoch, 0 to 1 (NaN when evaluation was skipped).</param>
/// <param name="LearningRate">The learning rate of the epoch's last step.</param>
/// <param name="TrainImagesPerSecond">Training throughput.</param>
/// <param name="EvalImagesPerSecond">Evaluation throughput (0 when skipped).</param>
/// <param name="Seconds">Wall time of training and evaluation (checkpoint writing excluded).</param>
/// <param name="TrainSteps">Training steps taken.</param>
/// <param name="TrainImages">Training images seen.</param>
/// <param name="TestImages">Test images evaluated.</param>
public sealed record EpochMetrics(
    int Epoch, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy, double LearningRate,
    double TrainImagesPerSecond, double EvalImagesPerSecond, double Seconds, int TrainSteps, int TrainImages, int TestImages);

/// <summary>The outcome of evaluating a model on (part of) a dataset.</summary>
/// <param name="Loss">The mean loss (NaN for no images).</param>
/// <param name="Accuracy">The share classified correctly, 0 to 1 (NaN for no images).</param>
/// <param name="Images">The number of images evaluated.</param>
/// <param name="Seconds">Wall time.</param>
public sealed record EvaluationResult(double Loss, double Accuracy, int Images, double Seconds)
{
    /// <summary>Images per second (0 when nothing was evaluated).</summary>
    public double ImagesPerSecond => Images == 0 || Seconds <= 0 ? 0 : Images / Seconds;
}

/// <summary>The outcome of <see cref="Trainer.Run"/>.</summary>
/// <param name="History">Every completed epoch's metrics, including those restored from a resumed checkpoint.</param>
/// <param name="ResumedFromEpoch">The epoch the run resumed after (0 for a fresh run).</param>
/// <param name="Cancelled">Whether the run stopped early because cancellation was requested.</param>
/// <param name="LastCheckpointPath">The checkpoint last written by this run, or null if none was.</param>
public sealed record TrainingResult(IReadOnlyList<EpochMetrics> History, int ResumedFromEpoch, bool Cancelled, string? LastCheckpointPath)
{
    /// <summary>The number of completed epochs (the last epoch in <see cref="History"/>, 0 if none).</summary>
    public int CompletedEpochs => History.Count == 0 ? 0 : History[^1].Epoch;
}
