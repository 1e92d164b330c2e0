using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;
using MyNet;
using Xunit;

namespace MyNet.Tests;

public sealed class NetworkTests
{
    [Fact]
    public void The_network_maps_an_image_to_ten_classes()
    {
        Assert.Equal(10, Network.Info.OutputShape.Elements);
        Assert.True(Network.ParameterCount > 0);
    }

    [Fact]
    public void Training_on_a_fixed_batch_lowers_its_loss_and_a_checkpoint_round_trips()
    {
        using Device device = Device.Create(DeviceKind.Cpu);
        using var net = new Network(device, batchSize: 8, new NetworkOptions(Seed: 1));
        Random random = new(2);
        float[] images = Enumerable.Range(0, 8 * 28 * 28).Select(_ => (float)random.NextDouble()).ToArray();
        int[] labels = [0, 1, 2, 3, 4, 5, 6, 7];
        var sgd = new Sgd(0.05, momentum: 0.9);
        net.AddParametersTo(sgd);
        double first = net.TrainStep(images, labels, sgd).Loss;
        double last = first;
        for (int step = 0; step < 20; step++)
        {
            last = net.TrainStep(images, labels, sgd).Loss;
        }

        Assert.True(last < first / 2, $"loss {first} -> {last}");

        string path = Path.Combine(Path.GetTempPath(), $"mynet-{Guid.NewGuid():N}.safetensors");
        try
        {
            net.ExportCheckpoint().Save(path);
            using var copy = new Network(device, batchSize: 8);
            copy.ImportCheckpoint(Checkpoint.Load(path));
            float[] a = new float[8 * 10], b = new float[8 * 10];
            net.Eval();
            net.Predict(images, a);
            copy.Predict(images, b);
            Assert.Equal(a, b);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
