using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Threading;
using DslResNet.Data;
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
public sealed class Trainer
{
    /// <summary>Checkpoint metadata key of the metrics history (a JSON array, one object per epoch).</summary>
    public const string HistoryKey = "trainer.history";

    /// <summary>Checkpoint metadata key of the number of training steps per epoch; a resumed run must take as many.</summary>
    public const string StepsPerEpochKey = "trainer.steps_per_epoch";

    /// <summary>Checkpoint metadata key of the loader's seed (informational).</summary>
    public const string SeedKey = "trainer.seed";

    /// <summary>Checkpoint metadata key of the batch size (informational).</summary>
    public const string BatchSizeKey = "trainer.batch_size";

    /// <summary>Creates a trainer, checking that its parts fit together.</summary>
    /// <param name="model">The network; its parameters must already be registered with <paramref name="optimizer"/>.</param>
    /// <param name="optimizer">The optimizer, with the model's parameters added through <see cref="INetworkModel.AddParametersTo"/>.</param>
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

        if (optimizer.Parameters.Count == 0)
        {
            throw new ArgumentException("The optimizer has no parameters; call model.AddParametersTo(optimizer) first.", nameof(optimizer));
        }

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
        if (Options.CheckpointPath is { } target)
        {
            Checkpoint.CheckWritable(target);
        }

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
            if (cancellationToken.IsCancellationRequested)
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

                if (cancellationToken.IsCancellationRequested)
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

            // ---- Evaluation ----
            EvaluationResult evaluation = EvaluateCore(Model, TestSet, Options.EvaluationLimit, Progress, epoch + 1, Options.Epochs,
                Optimizer.StepCount, learningRate, cancellationToken, out bool cancelledInEvaluation);

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
                SaveCheckpoint(path, epoch + 1, history);
                lastCheckpoint = path;
                CheckpointSaved?.Invoke(path, metrics);
            }

            if (cancelledInEvaluation)
            {
                return new TrainingResult(history, startEpoch, Cancelled: true, lastCheckpoint);
            }
        }

        return new TrainingResult(history, startEpoch, Cancelled: false, lastCheckpoint);
    }

    /// <summary>
    /// Evaluates a model on the first <paramref name="limit"/> images of a dataset (all when null), in evaluation mode,
    /// in batches of up to <see cref="INetworkModel.BatchSize"/> (the last may be partial); the model is back in training
    /// mode afterwards.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="data">The dataset, in its own order.</param>
    /// <param name="limit">The number of images, or null for all; at least 0.</param>
    /// <param name="cancellationToken">Stops after the current batch.</param>
    /// <returns>Mean loss, accuracy, images and time.</returns>
    /// <exception cref="OperationCanceledException">Cancellation was requested.</exception>
    public static EvaluationResult Evaluate(INetworkModel model, Dataset data, int? limit = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (limit is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "The evaluation limit must be at least 0 (or null for all).");
        }

        CheckData(data, model.Definition.InputShape, model.Definition.OutputShape.Channels, model.Definition.Name, nameof(data));
        EvaluationResult result = EvaluateCore(model, data, limit, null, 0, 0, 0, 0, cancellationToken, out bool cancelled);
        if (cancelled)
        {
            throw new OperationCanceledException(cancellationToken);
        }

        return result;
    }

    /// <summary>Reads the metrics history a trainer stored in a checkpoint's metadata.</summary>
    /// <param name="checkpoint">The checkpoint.</param>
    /// <returns>The metrics, by epoch; empty when the checkpoint has none.</returns>
    /// <exception cref="CheckpointException">The history is not valid JSON of the expected form.</exception>
    public static IReadOnlyList<EpochMetrics> ReadHistory(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (!checkpoint.Metadata.TryGetValue(HistoryKey, out string? json))
        {
            return [];
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            List<EpochMetrics> history = [];
            foreach (JsonElement e in document.RootElement.EnumerateArray())
            {
                history.Add(new EpochMetrics(
                    e.GetProperty("epoch").GetInt32(), Number(e, "train_loss"), Number(e, "train_accuracy"), Number(e, "test_loss"),
                    Number(e, "test_accuracy"), Number(e, "lr"), Number(e, "train_images_per_second"), Number(e, "eval_images_per_second"),
                    Number(e, "seconds"), e.GetProperty("train_steps").GetInt32(), e.GetProperty("train_images").GetInt32(),
                    e.GetProperty("test_images").GetInt32()));
            }

            return history;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new CheckpointException($"Checkpoint metadata '{HistoryKey}' is not a valid metrics history: {e.Message}", e);
        }
    }

    /// <summary>Writes a metrics history as the JSON array stored under <see cref="HistoryKey"/> (non-finite numbers as null).</summary>
    /// <param name="history">The metrics.</param>
    /// <returns>The JSON text.</returns>
    public static string HistoryToJson(IEnumerable<EpochMetrics> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        using MemoryStream stream = new();
        using (Utf8JsonWriter writer = new(stream))
        {
            writer.WriteStartArray();
            foreach (EpochMetrics m in history)
            {
                writer.WriteStartObject();
                writer.WriteNumber("epoch", m.Epoch);
                WriteNumber(writer, "train_loss", m.TrainLoss);
                WriteNumber(writer, "train_accuracy", m.TrainAccuracy);
                WriteNumber(writer, "test_loss", m.TestLoss);
                WriteNumber(writer, "test_accuracy", m.TestAccuracy);
                WriteNumber(writer, "lr", m.LearningRate);
                WriteNumber(writer, "train_images_per_second", m.TrainImagesPerSecond);
                WriteNumber(writer, "eval_images_per_second", m.EvalImagesPerSecond);
                WriteNumber(writer, "seconds", m.Seconds);
                writer.WriteNumber("train_steps", m.TrainSteps);
                writer.WriteNumber("train_images", m.TrainImages);
                writer.WriteNumber("test_images", m.TestImages);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
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

    private static EvaluationResult EvaluateCore(
        INetworkModel model, Dataset data, int? limit, IProgress<TrainingProgress>? progress, int epoch, int epochs, long globalStep,
        double learningRate, CancellationToken cancellationToken, out bool cancelled)
    {
        cancelled = false;
        int count = Math.Min(data.Count, limit ?? int.MaxValue);
        if (count == 0)
        {
            return new EvaluationResult(double.NaN, double.NaN, 0, 0);
        }

        int batchSize = model.BatchSize;
        int size = data.ImageSize;
        int batches = (count + batchSize - 1) / batchSize;
        double lossSum = 0;
        long correct = 0;
        int images = 0;
        Stopwatch clock = Stopwatch.StartNew();
        model.Eval();
        try
        {
            for (int b = 0; b < batches; b++)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    cancelled = true;
                    return new EvaluationResult(double.NaN, double.NaN, 0, clock.Elapsed.TotalSeconds);
                }

                int start = b * batchSize;
                int n = Math.Min(batchSize, count - start);
                BatchResult result = model.Evaluate(data.Images.AsSpan(start * size, n * size), data.Labels.AsSpan(start, n));
                lossSum += result.Loss * result.Count;
                correct += result.Correct;
                images += result.Count;
                if (progress is not null)
                {
                    TimeSpan elapsed = clock.Elapsed;
                    progress.Report(new TrainingProgress(
                        TrainingPhase.Evaluating, epoch, epochs, b + 1, batches, globalStep, result.Loss, lossSum / images,
                        (double)correct / images, learningRate, Rate(images, elapsed), elapsed, elapsed / (b + 1) * (batches - b - 1)));
                }
            }
        }
        finally
        {
            model.Train();
        }

        return new EvaluationResult(lossSum / images, (double)correct / images, images, clock.Elapsed.TotalSeconds);
    }

    private static void CheckData(Dataset data, TensorShape input, int classes, string network, string argument)
    {
        if (data.ImageShape.Channels != input.Channels || data.ImageShape.Height != input.Height || data.ImageShape.Width != input.Width)
        {
            throw new ArgumentException($"The images are {data.ImageShape} but {network} takes {input}.", argument);
        }

        if (data.ClassCount > classes)
        {
            throw new ArgumentException(Invariant($"The dataset has {data.ClassCount} classes but {network} outputs {classes}."), argument);
        }
    }

    private static double Rate(int images, TimeSpan elapsed) => elapsed.TotalSeconds > 0 ? images / elapsed.TotalSeconds : 0;

    private static double Number(JsonElement element, string name)
    {
        JsonElement value = element.GetProperty(name);
        return value.ValueKind == JsonValueKind.Null ? double.NaN : value.GetDouble();
    }

    private static void WriteNumber(Utf8JsonWriter writer, string name, double value)
    {
        if (double.IsFinite(value))
        {
            writer.WriteNumber(name, value);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
