using System;
using System.IO;
using System.Linq;
using DslResNet.Data;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Tests.Data;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Training;

/// <summary>Issue 12, items 3 and 4: no non-finite checkpoint is ever written, and a bad checkpoint path fails before training.</summary>
public sealed class TrainerSafetyTests
{
    private const int Batch = 4;
    private static readonly TensorShape Shape = TensorShape.Image(1, 2, 2);

    private static Dataset Data(int count, int seed, bool nanPixel = false)
    {
        Random random = new(seed);
        float[] images = Enumerable.Range(0, count * 4).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        if (nanPixel)
        {
            images[5] = float.NaN;
        }

        return new Dataset(images, Enumerable.Range(0, count).Select(n => n % 2).ToArray(), Shape, 2, [0f], [1f]);
    }

    private static Trainer NewTrainer(FakeSoftmaxModel model, double lr, TrainerOptions options, Dataset? test = null)
    {
        Sgd optimizer = new(lr, momentum: 0.9);
        model.AddParametersTo(optimizer);
        BatchLoader loader = new(Data(16, 1), Batch, seed: 3, shuffle: true, dropLast: true, augmentation: null);
        return new Trainer(model, optimizer, new ConstantSchedule(lr), loader, test ?? Data(8, 2), options);
    }

    [Fact]
    public void An_update_that_overflows_is_divergence_and_writes_no_checkpoint()
    {
        using TempDir dir = new();
        string path = dir.File("run.safetensors");
        using FakeSoftmaxModel model = new(Shape, 2, Batch);
        // The loss and gradients of step 1 are finite; lr * gradient overflows float in the update itself.
        Trainer trainer = NewTrainer(model, 1e308, new TrainerOptions { Epochs = 3, MaxStepsPerEpoch = 1, CheckpointPath = path });
        TrainingDivergedException e = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Contains("optimizer update", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, e.Step);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Resuming_from_a_momentum_buffer_holding_Inf_is_refused_and_keeps_the_checkpoint()
    {
        using TempDir dir = new();
        string path = dir.File("run.safetensors");
        using (FakeSoftmaxModel first = new(Shape, 2, Batch))
        {
            NewTrainer(first, 0.1, new TrainerOptions { Epochs = 1, CheckpointPath = path }).Run();
        }

        // A hostile or damaged file: written without Save's checks.
        Checkpoint damaged = Checkpoint.Load(path);
        string buffer = damaged.OptimizerBuffers.Keys.First();
        damaged.OptimizerBuffers[buffer].Floats![0] = float.PositiveInfinity;
        using (FileStream stream = File.Create(path))
        {
            damaged.WriteTo(stream);
        }

        byte[] before = File.ReadAllBytes(path);
        using FakeSoftmaxModel again = new(Shape, 2, Batch);
        Trainer trainer = NewTrainer(again, 0.1, new TrainerOptions { Epochs = 2, CheckpointPath = path, Resume = true });
        // Checkpoint.Load's value checks refuse the file before anything is restored or trained.
        CheckpointException e = Assert.Throws<CheckpointException>(() => trainer.Run());
        Assert.Equal(path, e.FilePath);
        Assert.Contains(buffer, e.Message, StringComparison.Ordinal);
        Assert.Contains("Infinity", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, again.TrainSteps);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_non_finite_test_loss_is_divergence_before_the_epoch_is_saved()
    {
        using TempDir dir = new();
        string path = dir.File("run.safetensors");
        using FakeSoftmaxModel model = new(Shape, 2, Batch);
        Trainer trainer = NewTrainer(model, 0.1, new TrainerOptions { Epochs = 2, CheckpointPath = path }, Data(8, 2, nanPixel: true));
        TrainingDivergedException e = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Contains("evaluation after epoch 1", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("directory")]
    public void A_bad_checkpoint_path_fails_before_the_first_step(string kind)
    {
        using TempDir dir = new();
        string path = kind == "missing" ? Path.Combine(dir.Path, "no-such-dir", "run.safetensors") : dir.Path;
        using FakeSoftmaxModel model = new(Shape, 2, Batch);
        Trainer trainer = NewTrainer(model, 0.1, new TrainerOptions { Epochs = 1, CheckpointPath = path });
        CheckpointException e = Assert.Throws<CheckpointException>(() => trainer.Run());
        Assert.Equal(path, e.FilePath);
        Assert.Contains(kind == "missing" ? "does not exist" : "is a directory", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, model.TrainSteps);
    }
}
