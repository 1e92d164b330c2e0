using System;
using System.Linq;
using DslResNet.Data;
using DslResNet.Runtime;
using DslResNet.Tests.Data;
using DslResNet.Training;
using Xunit;
using Xunit.Abstractions;

namespace DslResNet.Tests.Networks;

/// <summary>
/// TinyResNet learns a tiny synthetic IDX dataset the test writes itself (three classes of 8 x 8 stripe patterns with
/// noise: horizontal stripes, vertical stripes, a checkerboard, each with a random phase), loaded through the data layer
/// and trained by the <see cref="Trainer"/> with SGD.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class NetworkTrainingSmokeTests
{
    private const int Side = 8;
    private const int Classes = 3;
    private readonly Device _device;
    private readonly ITestOutputHelper _output;

    public NetworkTrainingSmokeTests(NetworkDeviceFixture fixture, ITestOutputHelper output)
    {
        _device = fixture.Device;
        _output = output;
    }

    private static (byte[] Images, byte[] Labels) Patterns(int count, int seed)
    {
        Random random = new(seed);
        byte[] images = new byte[count * Side * Side];
        byte[] labels = new byte[count];
        for (int n = 0; n < count; n++)
        {
            int label = n % Classes;
            labels[n] = (byte)label;
            int phase = random.Next(2);
            for (int y = 0; y < Side; y++)
            {
                for (int x = 0; x < Side; x++)
                {
                    bool on = label switch
                    {
                        0 => ((y + phase) & 1) == 0,
                        1 => ((x + phase) & 1) == 0,
                        _ => ((x + y + phase) & 1) == 0,
                    };
                    double value = (on ? 190 : 60) + (NetworkData.Normal(random) * 35);
                    images[(n * Side * Side) + (y * Side) + x] = (byte)Math.Clamp(Math.Round(value), 0, 255);
                }
            }
        }

        return (images, labels);
    }

    [Fact]
    public void TinyResNet_LearnsSyntheticIdxPatterns()
    {
        using var dir = new TempDir();
        (byte[] trainImages, byte[] trainLabels) = Patterns(96, 1);
        (byte[] testImages, byte[] testLabels) = Patterns(48, 2);
        IdxReader.Write(dir.File(IdxDataset.ImagesFileName(true) + ".gz"), [96, Side, Side], trainImages, gzip: true);
        IdxReader.Write(dir.File(IdxDataset.LabelsFileName(true)), [96], trainLabels);
        IdxReader.Write(dir.File(IdxDataset.ImagesFileName(false)), [48, Side, Side], testImages);
        IdxReader.Write(dir.File(IdxDataset.LabelsFileName(false) + ".gz"), [48], testLabels, gzip: true);

        // The files are real IDX: big-endian magic 0x00000803 / 0x00000801.
        byte[] header = System.IO.File.ReadAllBytes(dir.File(IdxDataset.ImagesFileName(false)))[..4];
        Assert.Equal(new byte[] { 0, 0, 8, 3 }, header);

        Dataset train = IdxDataset.Load(dir.Path, train: true, mean: 0.5f, std: 0.25f, classCount: Classes, installHint: null);
        Dataset test = IdxDataset.Load(dir.Path, train: false, mean: 0.5f, std: 0.25f, classCount: Classes, installHint: null);
        Assert.Equal(96, train.Count);
        Assert.Equal(48, test.Count);
        Assert.Equal(TensorShape.Image(1, Side, Side), train.ImageShape);
        Assert.Equal(trainLabels.Select(b => (int)b), train.Labels);

        using var net = new TinyResNet(_device, 8, new NetworkOptions(Seed: 1));
        var sgd = new Sgd(0.1, momentum: 0.9);
        net.AddParametersTo(sgd);
        EvaluationResult initial = Trainer.Evaluate(net, test);
        var trainer = new Trainer(net, sgd, new ConstantSchedule(0.1), new BatchLoader(train, 8, seed: 3, shuffle: true, dropLast: true), test, new TrainerOptions { Epochs = 5 });
        TrainingResult result = trainer.Run();

        foreach (EpochMetrics m in result.History)
        {
            _output.WriteLine(m.ToString());
        }

        Assert.Equal(5, result.CompletedEpochs);
        Assert.True(result.History[^1].TrainLoss < 0.5 * result.History[0].TrainLoss, $"train loss {result.History[0].TrainLoss} -> {result.History[^1].TrainLoss}");
        Assert.True(result.History[^1].TestLoss < initial.Loss, $"test loss {initial.Loss} -> {result.History[^1].TestLoss}");
        Assert.True(result.History[^1].TestAccuracy > 0.8, $"test accuracy {result.History[^1].TestAccuracy} (initially {initial.Accuracy})");
        Assert.Equal(5 * 12, sgd.StepCount);
        Assert.Equal(5 * 12, net.StepCount);
    }
}
