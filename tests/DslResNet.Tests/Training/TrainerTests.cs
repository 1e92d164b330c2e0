using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using DslResNet.Data;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Tests.Data;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Training;

public sealed class TrainerTests
{
    private const int Batch = 8;
    private const int Classes = 3;
    private static readonly TensorShape Shape = TensorShape.Image(1, 4, 4);

    /// <summary>Gaussian clusters around one random centre per class: linearly separable with a wide margin.</summary>
    private static Dataset Clusters(int count, int seed, double noise = 0.3)
    {
        Random centres = new(12345);
        int size = (int)Shape.Elements;
        float[][] centre = new float[Classes][];
        for (int k = 0; k < Classes; k++)
        {
            centre[k] = new float[size];
            for (int f = 0; f < size; f++)
            {
                centre[k][f] = (float)(centres.NextDouble() * 2 - 1);
            }
        }

        Random random = new(seed);
        float[] images = new float[count * size];
        int[] labels = new int[count];
        for (int n = 0; n < count; n++)
        {
            int label = n % Classes;
            labels[n] = label;
            for (int f = 0; f < size; f++)
            {
                double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                images[n * size + f] = (float)(centre[label][f] + noise * gaussian);
            }
        }

        return new Dataset(images, labels, Shape, Classes, [0f], [1f]);
    }

    private static Dataset TrainSet => Clusters(96, seed: 1);

    private static Dataset TestSet => Clusters(40, seed: 2);

    private static FakeSoftmaxModel NewModel() => new(Shape, Classes, Batch);

    private static Optimizer NewOptimizer(string kind, INetworkModel model)
    {
        Optimizer optimizer = kind switch
        {
            "sgd" => new Sgd(0.1, momentum: 0.9, weightDecay: 1e-3, nesterov: true),
            "adamw" => new AdamW(0.01, weightDecay: 1e-2),
            _ => throw new ArgumentException(kind),
        };
        model.AddParametersTo(optimizer);
        return optimizer;
    }

    private static BatchLoader NewLoader(Dataset data, bool augment = false) =>
        new(data, Batch, seed: 7, shuffle: true, dropLast: true, augmentation: augment ? new Augmentation(Padding: 1, Flip: true) : null);

    private static Trainer NewTrainer(FakeSoftmaxModel model, Optimizer optimizer, TrainerOptions options, ILearningRateSchedule? schedule = null, BatchLoader? loader = null) =>
        new(model, optimizer, schedule ?? new ConstantSchedule(0.05), loader ?? NewLoader(TrainSet), TestSet, options);

    private static int[] Bits(ReadOnlySpan<float> values) => MemoryMarshal.Cast<float, int>(values).ToArray();

    [Fact]
    public void An_empty_optimizer_gets_the_models_parameters_and_trains_them_like_one_filled_by_hand()
    {
        FakeSoftmaxModel model = NewModel();
        Sgd empty = new(0.1, momentum: 0.9, weightDecay: 1e-3, nesterov: true);
        NewTrainer(model, empty, new TrainerOptions { Epochs = 2 }).Run();
        FakeSoftmaxModel twin = NewModel();
        Optimizer filled = NewOptimizer("sgd", twin);
        NewTrainer(twin, filled, new TrainerOptions { Epochs = 2 }).Run();
        Assert.Equal(filled.Parameters.Select(p => p.Name), empty.Parameters.Select(p => p.Name));
        Assert.NotEmpty(empty.Parameters);
        foreach (ParameterSlot slot in filled.Parameters)
        {
            Assert.Equal(Bits(slot.Value.Span), Bits(empty.Parameters.Single(p => p.Name == slot.Name).Value.Span));
        }
    }

    [Fact]
    public void LossFallsAndAccuracyRisesOnSeparableData()
    {
        using FakeSoftmaxModel model = NewModel();
        Optimizer optimizer = new Sgd(0.02);
        model.AddParametersTo(optimizer);
        Trainer trainer = NewTrainer(model, optimizer, new TrainerOptions { Epochs = 5 }, new ConstantSchedule(0.02));
        TrainingResult result = trainer.Run();

        Assert.False(result.Cancelled);
        Assert.Equal(5, result.History.Count);
        Assert.Equal([1, 2, 3, 4, 5], result.History.Select(m => m.Epoch));
        EpochMetrics first = result.History[0], last = result.History[^1];
        Assert.True(last.TrainLoss < first.TrainLoss * 0.7, $"train loss {first.TrainLoss} -> {last.TrainLoss}");
        Assert.True(last.TestLoss < first.TestLoss, $"test loss {first.TestLoss} -> {last.TestLoss}");
        Assert.True(last.TrainAccuracy > first.TrainAccuracy, $"train accuracy {first.TrainAccuracy} -> {last.TrainAccuracy}");
        Assert.True(last.TestAccuracy >= 0.95, $"test accuracy {last.TestAccuracy}");
        Assert.All(result.History, m =>
        {
            Assert.Equal(12, m.TrainSteps);
            Assert.Equal(96, m.TrainImages);
            Assert.Equal(40, m.TestImages);
            Assert.Equal(0.02, m.LearningRate);
            Assert.True(m.Seconds >= 0 && m.TrainImagesPerSecond > 0 && m.EvalImagesPerSecond > 0);
        });
        Assert.Equal(60, optimizer.StepCount);
        Assert.True(model.IsTraining);
        Assert.Null(result.LastCheckpointPath);
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adamw")]
    public void ResumeAfterEpochOneEqualsAnUninterruptedRunBitwise(string optimizerKind)
    {
        using TempDir dir = new();
        BatchLoader loader = NewLoader(TrainSet, augment: true);
        int stepsPerEpoch = Trainer.StepsPerEpochFor(loader, null);

        // A schedule that changes within and across epochs: warm-up over 5 steps, x0.1 from epoch 2 on.
        ILearningRateSchedule Schedule(Optimizer o) =>
            new LinearWarmupSchedule(new MultiStepSchedule(o.LearningRate, [2], 0.1, stepsPerEpoch), 5, 0.1);

        // Uninterrupted: 3 epochs.
        using FakeSoftmaxModel full = NewModel();
        Optimizer fullOptimizer = NewOptimizer(optimizerKind, full);
        TrainingResult fullResult = NewTrainer(full, fullOptimizer, new TrainerOptions { Epochs = 3, CheckpointPath = dir.File("full.safetensors") },
            Schedule(fullOptimizer), loader).Run();

        // Interrupted after epoch 1, then resumed into fresh objects.
        string path = dir.File("resumed.safetensors");
        using (FakeSoftmaxModel first = NewModel())
        {
            Optimizer firstOptimizer = NewOptimizer(optimizerKind, first);
            TrainingResult partial = NewTrainer(first, firstOptimizer, new TrainerOptions { Epochs = 1, CheckpointPath = path }, Schedule(firstOptimizer), loader).Run();
            Assert.Equal(1, partial.CompletedEpochs);
            Assert.Equal(path, partial.LastCheckpointPath);
        }

        using FakeSoftmaxModel resumed = new(Shape, Classes, Batch, seed: 99); // different initialisation: the checkpoint must overwrite it
        Optimizer resumedOptimizer = NewOptimizer(optimizerKind, resumed);
        TrainingResult resumedResult = NewTrainer(resumed, resumedOptimizer, new TrainerOptions { Epochs = 3, CheckpointPath = path, Resume = true },
            Schedule(resumedOptimizer), NewLoader(TrainSet, augment: true)).Run();

        Assert.Equal(1, resumedResult.ResumedFromEpoch);
        Assert.Equal(3, resumedResult.CompletedEpochs);
        Assert.Equal(Bits(full.Weight), Bits(resumed.Weight));
        Assert.Equal(Bits(full.Bias), Bits(resumed.Bias));
        Assert.Equal(fullOptimizer.StepCount, resumedOptimizer.StepCount);
        Assert.Equal(fullOptimizer.LearningRate, resumedOptimizer.LearningRate);
        OptimizerState a = fullOptimizer.ExportState(), b = resumedOptimizer.ExportState();
        Assert.Equal(a.Buffers.Keys.Order(), b.Buffers.Keys.Order());
        foreach (string name in a.Buffers.Keys)
        {
            Assert.Equal(Bits(a.Buffers[name]), Bits(b.Buffers[name]));
        }

        // The history is restored from the checkpoint and continued; losses and accuracies match exactly.
        Assert.Equal(3, resumedResult.History.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(fullResult.History[i].Epoch, resumedResult.History[i].Epoch);
            Assert.Equal(fullResult.History[i].TrainLoss, resumedResult.History[i].TrainLoss);
            Assert.Equal(fullResult.History[i].TestAccuracy, resumedResult.History[i].TestAccuracy);
            Assert.Equal(fullResult.History[i].LearningRate, resumedResult.History[i].LearningRate);
        }

        Checkpoint saved = Checkpoint.Load(path);
        Assert.Equal(3, saved.Epoch);
        Assert.Equal(3 * stepsPerEpoch, saved.OptimizerStep);
        Assert.Equal("FakeSoftmax", saved.NetworkName);
        Assert.Equal(3, Trainer.ReadHistory(saved).Count);
    }

    [Fact]
    public void ResumingAFinishedRunTrainsNothing()
    {
        using TempDir dir = new();
        string path = dir.File("done.safetensors");
        using (FakeSoftmaxModel model = NewModel())
        {
            NewTrainer(model, NewOptimizer("sgd", model), new TrainerOptions { Epochs = 2, CheckpointPath = path }).Run();
        }

        using FakeSoftmaxModel again = NewModel();
        TrainingResult result = NewTrainer(again, NewOptimizer("sgd", again), new TrainerOptions { Epochs = 2, CheckpointPath = path, Resume = true }).Run();
        Assert.Equal(0, again.TrainSteps);
        Assert.Equal(2, result.History.Count);
        Assert.Equal(2, result.ResumedFromEpoch);
    }

    [Fact]
    public void DivergenceKeepsTheCheckpointOfThePreviousEpoch()
    {
        using TempDir dir = new();
        string path = dir.File("run.safetensors");
        using FakeSoftmaxModel model = NewModel();
        model.DivergeAtStep = 12 + 5; // step 5 of epoch 2
        Trainer trainer = NewTrainer(model, NewOptimizer("sgd", model), new TrainerOptions { Epochs = 3, CheckpointPath = path });
        byte[]? afterEpochOne = null;
        int saves = 0;
        trainer.CheckpointSaved = (p, m) =>
        {
            saves++;
            afterEpochOne = File.ReadAllBytes(p);
        };

        TrainingDivergedException e = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.StartsWith("Training diverged at step 17", e.Message, StringComparison.Ordinal);
        Assert.Equal(17, e.Step);
        Assert.Equal(1, saves);
        Assert.Equal(afterEpochOne, File.ReadAllBytes(path));
        Assert.Equal(1, Checkpoint.Load(path).Epoch);
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void DivergenceInTheFirstEpochWritesNoCheckpoint()
    {
        using TempDir dir = new();
        string path = dir.File("run.safetensors");
        using FakeSoftmaxModel model = NewModel();
        model.DivergeAtStep = 3;
        Trainer trainer = NewTrainer(model, NewOptimizer("sgd", model), new TrainerOptions { Epochs = 2, CheckpointPath = path });
        Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void MaxStepsPerEpochAndEvaluationLimitAreRespected()
    {
        using TempDir dir = new();
        string path = dir.File("short.safetensors");
        using FakeSoftmaxModel model = NewModel();
        Optimizer optimizer = NewOptimizer("sgd", model);
        Trainer trainer = NewTrainer(model, optimizer, new TrainerOptions { Epochs = 2, MaxStepsPerEpoch = 5, EvaluationLimit = 10, CheckpointPath = path });
        Assert.Equal(5, trainer.StepsPerEpoch);
        TrainingResult result = trainer.Run();

        Assert.Equal(10, model.TrainSteps);
        Assert.Equal(10, optimizer.StepCount);
        // Evaluation in batches of the model's batch size, the last one partial, always in evaluation mode.
        Assert.Equal([(8, false), (2, false), (8, false), (2, false)], model.Evaluations);
        Assert.True(model.IsTraining);
        Assert.All(result.History, m =>
        {
            Assert.Equal(5, m.TrainSteps);
            Assert.Equal(40, m.TrainImages);
            Assert.Equal(10, m.TestImages);
        });
        Assert.Equal("5", Checkpoint.Load(path).Metadata[Trainer.StepsPerEpochKey]);
    }

    [Fact]
    public void EvaluationLimitZeroSkipsEvaluationAndLargeLimitsTakeTheWholeSet()
    {
        using FakeSoftmaxModel model = NewModel();
        TrainingResult skipped = NewTrainer(model, NewOptimizer("sgd", model), new TrainerOptions { EvaluationLimit = 0 }).Run();
        Assert.Empty(model.Evaluations);
        Assert.True(double.IsNaN(skipped.History[0].TestLoss));
        Assert.True(double.IsNaN(skipped.History[0].TestAccuracy));
        Assert.Equal(0, skipped.History[0].TestImages);

        using FakeSoftmaxModel other = NewModel();
        TrainingResult all = NewTrainer(other, NewOptimizer("sgd", other), new TrainerOptions { EvaluationLimit = 1000 }).Run();
        Assert.Equal(40, all.History[0].TestImages);
        Assert.Equal([8, 8, 8, 8, 8], other.Evaluations.Select(e => e.Count));
    }

    [Fact]
    public void ProgressReportsEveryStepWithCountsAndEstimates()
    {
        using FakeSoftmaxModel model = NewModel();
        Trainer trainer = NewTrainer(model, NewOptimizer("sgd", model), new TrainerOptions { Epochs = 2, MaxStepsPerEpoch = 4, EvaluationLimit = 20 });
        List<TrainingProgress> reports = [];
        List<EpochMetrics> epochs = [];
        trainer.Progress = new SynchronousProgress(reports.Add);
        trainer.EpochCompleted = epochs.Add;
        trainer.Run();

        List<TrainingProgress> training = reports.Where(r => r.Phase == TrainingPhase.Training).ToList();
        List<TrainingProgress> evaluating = reports.Where(r => r.Phase == TrainingPhase.Evaluating).ToList();
        Assert.Equal([1, 2, 3, 4, 1, 2, 3, 4], training.Select(r => r.Step));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], training.Select(r => r.GlobalStep));
        Assert.All(training, r => Assert.Equal(4, r.Steps));
        Assert.All(reports, r => Assert.Equal(2, r.Epochs));
        Assert.Equal([1, 1, 1, 1, 2, 2, 2, 2], training.Select(r => r.Epoch));
        Assert.Equal([1, 2, 3, 1, 2, 3], evaluating.Select(r => r.Step));
        Assert.All(evaluating, r => Assert.Equal(3, r.Steps));
        Assert.Equal(TimeSpan.Zero, training[3].Remaining);
        Assert.Equal(1.0, training[3].Fraction);
        Assert.All(reports, r => Assert.True(r.Loss > 0 && r.Accuracy is >= 0 and <= 1));
        Assert.Equal(2, epochs.Count);
        Assert.Equal(training[3].Loss, epochs[0].TrainLoss, 12);
        Assert.Equal(evaluating[2].Accuracy, epochs[0].TestAccuracy, 12);
    }

    [Fact]
    public void CancellationStopsAfterTheCurrentStepAndKeepsTheLastCheckpoint()
    {
        using TempDir dir = new();
        string path = dir.File("run.safetensors");
        using FakeSoftmaxModel model = NewModel();
        Trainer trainer = NewTrainer(model, NewOptimizer("sgd", model), new TrainerOptions { Epochs = 3, CheckpointPath = path });
        using CancellationTokenSource cancel = new();
        trainer.Progress = new SynchronousProgress(p =>
        {
            if (p.Phase == TrainingPhase.Training && p.Epoch == 2 && p.Step == 3)
            {
                cancel.Cancel();
            }
        });

        TrainingResult result = trainer.Run(cancel.Token);
        Assert.True(result.Cancelled);
        Assert.Equal(12 + 3, model.TrainSteps);
        Assert.Single(result.History);
        Assert.Equal(path, result.LastCheckpointPath);
        Checkpoint saved = Checkpoint.Load(path);
        Assert.Equal(1, saved.Epoch);
        Assert.Equal(12, saved.OptimizerStep);
    }

    [Fact]
    public void BadOptionsAreRejectedNamingTheOption()
    {
        Assert.Equal("Epochs", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainerOptions { Epochs = 0 }).ParamName);
        Assert.Equal("Epochs", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainerOptions { Epochs = -3 }).ParamName);
        Assert.Equal("MaxStepsPerEpoch", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainerOptions { MaxStepsPerEpoch = 0 }).ParamName);
        Assert.Equal("EvaluationLimit", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainerOptions { EvaluationLimit = -1 }).ParamName);
        Assert.Equal("maxStepsPerEpoch", Assert.Throws<ArgumentOutOfRangeException>(() => Trainer.StepsPerEpochFor(NewLoader(TrainSet), 0)).ParamName);
    }

    [Fact]
    public void PartsThatDoNotFitAreRejectedNamingTheArgument()
    {
        using FakeSoftmaxModel model = NewModel();
        Optimizer optimizer = NewOptimizer("sgd", model);
        ConstantSchedule schedule = new(0.1);
        Dataset train = TrainSet, test = TestSet;

        ArgumentException Fails(Func<Trainer> create) => Assert.ThrowsAny<ArgumentException>(() => create());

        Assert.Equal("trainLoader", Fails(() => new Trainer(model, optimizer, schedule, new BatchLoader(train, 4, dropLast: true), test)).ParamName);
        Assert.Contains("batch size is 4", Fails(() => new Trainer(model, optimizer, schedule, new BatchLoader(train, 4, dropLast: true), test)).Message, StringComparison.Ordinal);
        Assert.Equal("trainLoader", Fails(() => new Trainer(model, optimizer, schedule, new BatchLoader(Clusters(100, 1), Batch, dropLast: false), test)).ParamName);
        Assert.Equal("trainLoader", Fails(() => new Trainer(model, optimizer, schedule, new BatchLoader(Clusters(5, 1), Batch, dropLast: true), test)).ParamName);
        Dataset wrongShape = new(new float[10 * 25], new int[10], TensorShape.Image(1, 5, 5), Classes, [0f], [1f]);
        Assert.Equal("testSet", Fails(() => new Trainer(model, optimizer, schedule, NewLoader(train), wrongShape)).ParamName);
        Assert.Equal("trainLoader", Fails(() => new Trainer(model, optimizer, schedule, new BatchLoader(wrongShape, Batch, dropLast: true), test)).ParamName);
        Dataset tooManyClasses = new(new float[16 * 16], new int[16], Shape, 20, [0f], [1f]);
        Assert.Equal("testSet", Fails(() => new Trainer(model, optimizer, schedule, NewLoader(train), tooManyClasses)).ParamName);
        // An empty optimizer is filled with the model's parameters, but not by a trainer that is refused.
        Sgd empty = new(0.1);
        Assert.Equal("testSet", Fails(() => new Trainer(model, empty, schedule, NewLoader(train), wrongShape)).ParamName);
        Assert.Empty(empty.Parameters);
        Assert.Equal("options", Fails(() => new Trainer(model, optimizer, schedule, NewLoader(train), test, new TrainerOptions { Resume = true })).ParamName);
        Assert.Equal("model", Fails(() => new Trainer(null!, optimizer, schedule, NewLoader(train), test)).ParamName);
        Assert.Equal("schedule", Fails(() => new Trainer(model, optimizer, null!, NewLoader(train), test)).ParamName);
        Assert.Equal("testSet", Fails(() => new Trainer(model, optimizer, schedule, NewLoader(train), null!)).ParamName);

        // A loader without drop-last is fine when every batch is full.
        _ = new Trainer(model, optimizer, schedule, new BatchLoader(train, Batch, dropLast: false), test);
    }

    [Fact]
    public void ResumeRejectsMissingForeignOrMismatchedCheckpoints()
    {
        using TempDir dir = new();
        string path = dir.File("run.safetensors");

        using FakeSoftmaxModel model = NewModel();
        CheckpointException missing = Assert.Throws<CheckpointException>(() =>
            NewTrainer(model, NewOptimizer("sgd", model), new TrainerOptions { Epochs = 2, CheckpointPath = path, Resume = true }).Run());
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);

        NewTrainer(model, NewOptimizer("sgd", model), new TrainerOptions { Epochs = 1, CheckpointPath = path, MaxStepsPerEpoch = 3 }).Run();

        // Another network (a different output size): Validate lists the mismatches.
        using FakeSoftmaxModel other = new(Shape, 4, Batch, name: "Other");
        Optimizer otherOptimizer = new Sgd(0.1, momentum: 0.9, weightDecay: 1e-3, nesterov: true);
        other.AddParametersTo(otherOptimizer);
        CheckpointException foreign = Assert.Throws<CheckpointException>(() =>
            new Trainer(other, otherOptimizer, new ConstantSchedule(0.1), NewLoader(TrainSet), TestSet,
                new TrainerOptions { Epochs = 2, CheckpointPath = path, Resume = true }).Run());
        Assert.Contains("does not fit network Other", foreign.Message, StringComparison.Ordinal);

        // Other steps per epoch: the schedule and the data order would not line up.
        using FakeSoftmaxModel again = NewModel();
        CheckpointException steps = Assert.Throws<CheckpointException>(() =>
            NewTrainer(again, NewOptimizer("sgd", again), new TrainerOptions { Epochs = 2, CheckpointPath = path, Resume = true }).Run());
        Assert.Contains("3 steps per epoch", steps.Message, StringComparison.Ordinal);

        // Another optimizer configuration.
        using FakeSoftmaxModel third = NewModel();
        Optimizer plain = new Sgd(0.1);
        third.AddParametersTo(plain);
        CheckpointException optimizer = Assert.Throws<CheckpointException>(() =>
            NewTrainer(third, plain, new TrainerOptions { Epochs = 2, CheckpointPath = path, Resume = true, MaxStepsPerEpoch = 3 }).Run());
        Assert.Contains("optimizer state", optimizer.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HistoryRoundTripsThroughJsonWithNaN()
    {
        EpochMetrics[] history =
        [
            new(1, 2.5, 0.25, double.NaN, double.NaN, 0.1, 1234.5, 0, 3.25, 12, 96, 0),
            new(2, 1.0 / 3, 0.5, 0.75, 0.875, 0.01, 1e6, 2e6, 0.5, 12, 96, 40),
        ];
        Checkpoint checkpoint = new();
        checkpoint.Metadata[Trainer.HistoryKey] = Trainer.HistoryToJson(history);
        IReadOnlyList<EpochMetrics> back = Trainer.ReadHistory(checkpoint);
        Assert.Equal(history, back);

        checkpoint.Metadata[Trainer.HistoryKey] = "{not json";
        Assert.Throws<CheckpointException>(() => Trainer.ReadHistory(checkpoint));
        Assert.Empty(Trainer.ReadHistory(new Checkpoint()));
    }

    [Fact]
    public void EvaluateRestoresTrainingModeAndHonoursTheLimit()
    {
        using FakeSoftmaxModel model = NewModel();
        EvaluationResult result = Trainer.Evaluate(model, TestSet, 13);
        Assert.Equal(13, result.Images);
        Assert.Equal([(8, false), (5, false)], model.Evaluations);
        Assert.True(model.IsTraining);
        Assert.InRange(result.Accuracy, 0, 1);

        using CancellationTokenSource cancel = new();
        cancel.Cancel();
        Assert.Throws<OperationCanceledException>(() => Trainer.Evaluate(model, TestSet, null, cancel.Token));
        Assert.True(model.IsTraining);
    }

    /// <summary>Reports on the calling thread (unlike <see cref="Progress{T}"/>, which posts).</summary>
    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
