using System;
using System.Linq;
using DslResNet.Runtime;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Networks;

/// <summary>A bottleneck block as torchvision's (1x1 reduce, 3x3 carrying the stride, 1x1 expand four times), for the
/// window tests' network.</summary>
[Block]
public class TinyBottleneck
{
    [Conv(1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] Layer conv2;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [Conv(1, Expansion = 4)] Layer conv3;
    [BatchNorm] Layer bn3;
    [Residual] Layer add;
    [ReLU] Layer relu3;
}

/// <summary>ResNet-50's layout on a 56x56 map with few channels: a stem and a max pool at 56x56, a stage of a projection
/// and an identity bottleneck at 56x56 (the identity block's output written over its residual), then a stride-2 stage.</summary>
[Network(3, 56, 56, Shortcut = ShortcutKind.Projection)]
public partial class WindowResNet
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [MaxPool(3, Stride = 1, Padding = 1)] Layer maxpool;
    [Stage<TinyBottleneck>(8, Repeat = 2)] Layer layer1;
    [Stage<TinyBottleneck>(16, Repeat = 2, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>
/// Inference windows (see NetworkBase.PlanWindows): on the SIMD device the steps whose maps have 56x56 pixels or more run
/// a window of images at a time (as many as threads), intermediate tensors in an arena of their own. Each image is
/// computed alone either way, so the logits must be the very ones of the whole-batch pass; a window that overwrote another
/// window's tensors (the arena's plan shares memory across images) would change some of them.
/// </summary>
public sealed class InferenceWindowTests
{
    /// <summary>Windowed and whole-batch inference give the same logits, bit for bit: batches that split into windows
    /// evenly and not, fewer images than the batch, after a training step changed the weights.</summary>
    /// <param name="threads">Threads (the window's images).</param>
    /// <param name="batch">The batch size.</param>
    [Theory]
    [InlineData(2, 5)]
    [InlineData(1, 3)]
    [InlineData(3, 8)]
    public void WindowsGiveTheWholeBatchLogits(int threads, int batch)
    {
        using Device device = Device.Create(DeviceKind.Cpu, threads, oversubscribe: true);
        using var net = new WindowResNet(device, batch, new NetworkOptions(Seed: 11));
        Random random = new(12);
        float[] images = NetworkData.Normal(random, batch * NetworkData.ImageElements(net));
        int[] labels = [.. Enumerable.Range(0, batch).Select(i => i % 10)];
        var sgd = new Sgd(0.05, momentum: 0.9);
        net.AddParametersTo(sgd);

        void Compare(int count)
        {
            ReadOnlySpan<float> some = images.AsSpan(0, count * NetworkData.ImageElements(net));
            float[] windowed = new float[count * 10], whole = new float[count * 10];
            net.InferenceWindows = true;
            net.Predict(some, windowed);
            net.InferenceWindows = false;
            net.Predict(some, whole);
            net.InferenceWindows = true;
            Assert.Equal(whole, windowed);
            Assert.All(windowed, v => Assert.True(float.IsFinite(v)));
        }

        net.Eval();
        Compare(batch);
        Assert.True(net.WindowedSteps >= 10, $"only {net.WindowedSteps} steps ran in windows");
        Compare(batch - 1);
        Compare(1);
        net.Train();
        net.TrainStep(images, labels, sgd);
        net.Eval();
        Compare(batch);
    }

    /// <summary>No windows where no map reaches 56x56 pixels (the 12x12 network), nor where the batch is one window.</summary>
    [Fact]
    public void WindowsOnlyForLargeMapsAndBatches()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 2);
        using var small = new VectorResNet(device, 6, new NetworkOptions(Seed: 3));
        small.Eval();
        small.Predict(NetworkData.Normal(new Random(4), 6 * NetworkData.ImageElements(small)), new float[60]);
        Assert.Equal(0, small.WindowedSteps);

        using var one = new WindowResNet(device, 2, new NetworkOptions(Seed: 3));
        one.Eval();
        one.Predict(NetworkData.Normal(new Random(4), 2 * NetworkData.ImageElements(one)), new float[20]);
        Assert.Equal(0, one.WindowedSteps);
    }
}
