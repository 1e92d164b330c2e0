using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Threading;
using DslResNet.Data;
using DslResNet.Distributed;
using DslResNet.IO;
using DslResNet.Runtime;

namespace DslResNet.Training;

/// <summary>
/// The training loop: epochs of <see cref="INetworkModel.TrainStep"/> over a <see cref="BatchLoader"/>, the learning
/// rate set from a schedule before every step, an evaluation on the test set after every epoch, and a checkpoint
/// (model, optimizer state, epoch, metrics history) written atomically after every epoch.
/// </summary>
/// <remarks>
/// <para>
/// A resumed run equals an uninterrupted one: the loader's order and augmentation derive from (seed, epoch), the
/// optimizer's state and step count (hence the scheduled learning rate) are restored, and so are the model's parameters
/// and batch-norm buffers.
/// </para>
/// <para>
/// A <see cref="TrainingDivergedException"/> from a step propagates unchanged, and no checkpoint is written for the epoch
/// in which it happened, so the file keeps the last good epoch. Cancellation stops after the current step (the epoch
/// is then not recorded and not checkpointed); cancelled during the evaluation, the evaluation is abandoned (test metrics
/// NaN) and the fully trained epoch is recorded and checkpointed. Either way the run returns with
/// <see cref="TrainingResult.Cancelled"/> set.
/// </para>
/// <para>The library writes nothing to the console: progress goes to <see cref="Progress"/> and the callbacks.</para>
/// </remarks>
public sealed partial class Trainer
{
    /// <summary>Checkpoint metadata key of the metrics history (a JSON array, one object per epoch).</summary>
    public const string HistoryKey = "trainer.history";

    /// <summary>Checkpoint metadata key of the number of training steps per epoch; a resumed run must take as many.</summary>
    public const string StepsPerEpochKey = "trainer.steps_per_epoch";

    /// <summary>Checkpoint metadata key of the loader's seed (informational).</summary>
    public const string SeedKey = "trainer.seed";

    /// <summary>Checkpoint metadata key of the batch size (informational).</summary>
    public const string BatchSizeKey = "trainer.batch_size";

    /// <summary>Checkpoint metadata key of the number of processes of a distributed run (1 for one process); a resumed run must have as many.</summary>
    public const string WorldSizeKey = "trainer.world_size";

    /// <summary>Creates a trainer, checking that its parts fit together.</summary>
    /// <param name="model">The network.</param>
    /// <param name="optimizer">The optimizer: with the parameters to train added through <see cref="INetworkModel.AddParametersTo"/>,
    /// or empty, and then the model's (unfrozen) parameters are added to it here.</param>
    /// <param name="schedule">
    /// The learning-rate schedule, applied before every step with <see cref="LearningRateSchedules.ApplyTo"/> at the
    /// optimizer's global step; schedules in epochs should use <see cref="StepsPerEpochFor"/> as their steps per unit.
    /// </param>
    /// <param name="trainLoader">The training batches: batch size equal to the model's, and full batches only (drop-last, or a dataset size divisible by the batch size).</param>
    /// <param name="testSet">The test set, evaluated after every epoch.</param>
    /// <param name="options">Epochs, limits, checkpointing; the defaults when null.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The parts do not fit together; the exception names the argument.</exception>
    public Trainer(INetworkModel model, Optimizer optimizer, ILearningRateSchedule schedule, BatchLoader trainLoader, Dataset testSet, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(trainLoader);
        ArgumentNullException.ThrowIfNull(testSet);
        options ??= new TrainerOptions();

        if (trainLoader.BatchSize != model.BatchSize)
        {
            throw new ArgumentException(
                Invariant($"The training loader's batch size is {trainLoader.BatchSize} but the model was built for {model.BatchSize}."), nameof(trainLoader));
        }

        if (!trainLoader.DropLast && trainLoader.Dataset.Count % trainLoader.BatchSize != 0)
        {
            throw new ArgumentException(
                Invariant($"The training loader would end with a partial batch ({trainLoader.Dataset.Count} images in batches of {trainLoader.BatchSize}); batch norm trains on full batches, so create it with dropLast: true."),
                nameof(trainLoader));
        }

        if (trainLoader.BatchCount == 0)
        {
            throw new ArgumentException(
                Invariant($"The training set has {trainLoader.Dataset.Count} images, fewer than one batch of {trainLoader.BatchSize}."), nameof(trainLoader));
        }

        TensorShape input = model.Definition.InputShape;
        int classes = model.Definition.OutputShape.Channels;
        CheckData(trainLoader.Dataset, input, classes, model.Definition.Name, nameof(trainLoader));
        CheckData(testSet, input, classes, model.Definition.Name, nameof(testSet));

        if (options.Resume && string.IsNullOrWhiteSpace(options.CheckpointPath))
        {
            throw new ArgumentException("Resuming needs a checkpoint path (options.CheckpointPath).", nameof(options));
        }

        if (options.Distributed is { } dist)
        {
            if (trainLoader.WorldSize != dist.WorldSize || trainLoader.Rank != dist.Rank)
            {
                throw new ArgumentException(
                    Invariant($"The training loader is rank {trainLoader.Rank}'s shard of {trainLoader.WorldSize}, but this process is rank {dist.Rank} of {dist.WorldSize}; pass the loader through DistributedTraining.Shard."),
                    nameof(trainLoader));
            }

            if (model is not NetworkBase { IsDistributed: true })
            {
                throw new ArgumentException(
                    $"{model.Definition.Name} is not attached to distributed training; call DistributedTraining.Attach(model) on every rank first.", nameof(model));
            }
        }
        else if (trainLoader.WorldSize != 1)
        {
            throw new ArgumentException(
                Invariant($"The training loader is a shard (rank {trainLoader.Rank} of {trainLoader.WorldSize}) but the options name no distributed training (TrainerOptions.Distributed)."), nameof(trainLoader));
        }

        if (optimizer.Parameters.Count == 0)
        {
            // A fresh optimizer trains the whole model (its unfrozen parameters), as torch.optim.SGD(model.parameters());
            // added only once everything else checked out, so that a refused trainer leaves the optimizer as it was.
            model.AddParametersTo(optimizer);
        }

        Model = model;
        Optimizer = optimizer;
        Schedule = schedule;
        TrainLoader = trainLoader;
        TestSet = testSet;
        Options = options;
        StepsPerEpoch = StepsPerEpochFor(trainLoader, options.MaxStepsPerEpoch);
    }

    /// <summary>The network trained.</summary>
    public INetworkModel Model { get; }

    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The learning-rate schedule.</summary>
    public ILearningRateSchedule Schedule { get; }

    /// <summary>The training batches.</summary>
    public BatchLoader TrainLoader { get; }

    /// <summary>The test set.</summary>
    public Dataset TestSet { get; }

    /// <summary>The run's options.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Training steps per epoch: the loader's batches, at most <see cref="TrainerOptions.MaxStepsPerEpoch"/>.</summary>
    public int StepsPerEpoch { get; }

    /// <summary>Receives a report after every training step and evaluation batch, synchronously on the training thread.</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Called after each epoch's evaluation, before its checkpoint is written.</summary>
    public Action<EpochMetrics>? EpochCompleted { get; set; }

    /// <summary>Called after each checkpoint is written, with its path and the epoch's metrics.</summary>
    public Action<string, EpochMetrics>? CheckpointSaved { get; set; }

    /// <summary>The training steps per epoch a trainer takes with this loader: its batches, at most <paramref name="maxStepsPerEpoch"/>.</summary>
    /// <param name="loader">The training loader.</param>
    /// <param name="maxStepsPerEpoch">The cap, or null for none.</param>
    /// <returns>The number of steps, for schedules in epochs (their steps per unit).</returns>
    public static int StepsPerEpochFor(BatchLoader loader, int? maxStepsPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(loader);
        if (maxStepsPerEpoch is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxStepsPerEpoch), maxStepsPerEpoch, "The steps per epoch must be at least 1 (or null for all).");
        }

        return Math.Min(loader.BatchCount, maxStepsPerEpoch ?? int.MaxValue);
    }

    /// <summary>
    /// Trains from epoch 1 (or, with <see cref="TrainerOptions.Resume"/>, from the epoch after the checkpoint's) up to
    /// <see cref="TrainerOptions.Epochs"/>.
    /// </summary>
    /// <param name="cancellationToken">Stops the run after the current step.</param>
    /// <returns>The metrics history and how the run ended.</returns>
    /// <exception cref="TrainingDivergedException">A step's loss or gradient was not finite; the checkpoint keeps the last completed epoch.</exception>
    /// <exception cref="CheckpointException">
    /// Resuming: the checkpoint is missing, invalid, or does not fit the model, optimizer or loader; or the checkpoint
    /// path cannot be written (checked before the first step), or a save failed (the previous checkpoint is kept).
    /// </exception>
    public TrainingResult Run(CancellationToken cancellationToken = default)
    {
        DistributedTraining? dist = Options.Distributed;
        if (Options.CheckpointPath is { } target && dist is not { IsRoot: false })
        {
            Checkpoint.CheckWritable(target);
        }

        dist?.CheckSame("the training run",
        [
            ("training images", TrainLoader.Dataset.Count),
            ("loader seed", TrainLoader.Seed),
            ("steps per epoch", StepsPerEpoch),
            ("epochs", Options.Epochs),
            ("test images", TestSet.Count),
            ("evaluation limit", Options.EvaluationLimit ?? -1),
            ("resume (1) or not (0)", Options.Resume ? 1 : 0),
        ]);

        List<EpochMetrics> history = [];
        int startEpoch = 0;
        if (Options.Resume)
        {
            startEpoch = Restore(history);
        }

        string? lastCheckpoint = null;
        Model.Train();
        for (int epoch = startEpoch; epoch < Options.Epochs; epoch++)
        {
            if (Cancelled(cancellationToken, dist))
            {
                return new TrainingResult(history, startEpoch, Cancelled: true, lastCheckpoint);
            }

            // ---- Training ----
            Stopwatch trainClock = Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0;
            int images = 0;
            int steps = 0;
            double learningRate = Optimizer.LearningRate;
            foreach (Batch batch in TrainLoader.Epoch(epoch))
            {
                if (steps == StepsPerEpoch)
                {
                    break;
                }

                if (Cancelled(cancellationToken, dist))
                {
                    return new TrainingResult(history, startEpoch, Cancelled: true, lastCheckpoint);
                }

                learningRate = Schedule.ApplyTo(Optimizer);
                BatchResult result = Model.TrainStep(batch.Images, batch.Labels, Optimizer);
                if (Optimizer.FindNonFinite() is { } overflow)
                {
                    // The update itself can overflow (a huge learning rate, or a resumed buffer holding Inf).
                    throw new TrainingDivergedException(Optimizer.StepCount, "optimizer update: " + overflow, result.Loss);
                }

                steps++;
                lossSum += result.Loss * result.Count;
                correct += result.Correct;
                images += result.Count;
                if (Progress is { } progress)
                {
                    TimeSpan elapsed = trainClock.Elapsed;
                    progress.Report(new TrainingProgress(
                        TrainingPhase.Training, epoch + 1, Options.Epochs, steps, StepsPerEpoch, Optimizer.StepCount, result.Loss,
                        lossSum / images, (double)correct / images, learningRate, Rate(images, elapsed), elapsed,
                        elapsed / steps * (StepsPerEpoch - steps)));
                }
            }

            trainClock.Stop();
            if (dist is not null)
            {
                // The epoch's training figures over all ranks.
                double[] sums = [lossSum, correct, images];
                dist.Sum(sums, Invariant($"the training metrics of epoch {epoch + 1}"));
                (lossSum, correct, images) = (sums[0], (long)sums[1], (int)sums[2]);
            }

            // ---- Evaluation ----
            EvaluationResult evaluation = dist is null
                ? EvaluateCore(Model, TestSet, Options.EvaluationLimit, Progress, epoch + 1, Options.Epochs,
                    Optimizer.StepCount, learningRate, cancellationToken, out bool cancelledInEvaluation)
                : EvaluateSharded(dist, epoch, learningRate, cancellationToken, out cancelledInEvaluation);

            if (evaluation.Images > 0 && !double.IsFinite(evaluation.Loss))
            {
                throw new TrainingDivergedException(Optimizer.StepCount, Invariant($"evaluation after epoch {epoch + 1} (test loss {evaluation.Loss})"), evaluation.Loss);
            }

            double trainSeconds = trainClock.Elapsed.TotalSeconds;
            EpochMetrics metrics = new(
                epoch + 1, lossSum / images, (double)correct / images, evaluation.Loss, evaluation.Accuracy, learningRate,
                Rate(images, trainClock.Elapsed), evaluation.ImagesPerSecond, trainSeconds + evaluation.Seconds, steps, images, evaluation.Images);
            history.Add(metrics);
            EpochCompleted?.Invoke(metrics);

            if (Options.CheckpointPath is { } path)
            {
                if (dist is not { IsRoot: false })
                {
                    SaveCheckpoint(path, epoch + 1, history);
                    CheckpointSaved?.Invoke(path, metrics);
                }

                lastCheckpoint = path;
            }

            if (cancelledInEvaluation)
            {
                return new TrainingResult(history, startEpoch, Cancelled: true, lastCheckpoint);
            }
        }

        return new TrainingResult(history, startEpoch, Cancelled: false, lastCheckpoint);
    }

    private void SaveCheckpoint(string path, int completedEpochs, IReadOnlyList<EpochMetrics> history)
    {
        Checkpoint checkpoint = Model.ExportCheckpoint();
        Optimizer.ExportState().WriteTo(checkpoint);
        checkpoint.Epoch = completedEpochs;
        checkpoint.NetworkName ??= Model.Definition.Name;
        checkpoint.Metadata[HistoryKey] = HistoryToJson(history);
        checkpoint.Metadata[StepsPerEpochKey] = Invariant($"{StepsPerEpoch}");
        checkpoint.Metadata[SeedKey] = Invariant($"{TrainLoader.Seed}");
        checkpoint.Metadata[BatchSizeKey] = Invariant($"{TrainLoader.BatchSize}");
        checkpoint.Metadata[WorldSizeKey] = Invariant($"{TrainLoader.WorldSize}");
        checkpoint.Save(path);
    }

    /// <summary>Loads the checkpoint into the model and optimizer; fills <paramref name="history"/>; returns the completed epochs.</summary>
    private int Restore(List<EpochMetrics> history)
    {
        string path = Options.CheckpointPath!;
        if (!File.Exists(path))
        {
            throw new CheckpointException(path, "there is no checkpoint to resume from (the file does not exist).");
        }

        Checkpoint checkpoint = Checkpoint.LoadFor(path, Model.Definition);
        if (checkpoint.Epoch < 0)
        {
            throw new CheckpointException(path, Invariant($"its epoch is {checkpoint.Epoch}, below 0."));
        }

        if (checkpoint.Metadata.TryGetValue(StepsPerEpochKey, out string? saved)
            && saved != Invariant($"{StepsPerEpoch}"))
        {
            throw new CheckpointException(path,
                Invariant($"it was written by a run of {saved} steps per epoch, but this run takes {StepsPerEpoch} (batch size {TrainLoader.BatchSize}, {TrainLoader.BatchCount} batches, step cap {Options.MaxStepsPerEpoch?.ToString(CultureInfo.InvariantCulture) ?? "none"}); resume with the same batch size and step cap."));
        }

        string world = checkpoint.Metadata.TryGetValue(WorldSizeKey, out string? w) ? w : "1";
        if (world != Invariant($"{TrainLoader.WorldSize}"))
        {
            throw new CheckpointException(path,
                Invariant($"it was written by a run of {world} process(es) (world size) with {checkpoint.Metadata.GetValueOrDefault(BatchSizeKey, "?")} images per process, but this run has {TrainLoader.WorldSize}; resume with the same number of processes (mpirun -np {world}), so that every step sees the same batches."));
        }

        OptimizerState state;
        try
        {
            state = OptimizerState.ReadFrom(checkpoint);
            Model.ImportCheckpoint(checkpoint);
            Optimizer.ImportState(state);
        }
        catch (ArgumentException e)
        {
            throw new CheckpointException(path, "its optimizer state does not fit this optimizer: " + e.Message, e);
        }

        foreach (EpochMetrics m in ReadHistory(checkpoint))
        {
            if (m.Epoch <= checkpoint.Epoch)
            {
                history.Add(m);
            }
        }

        return checkpoint.Epoch;
    }
}
