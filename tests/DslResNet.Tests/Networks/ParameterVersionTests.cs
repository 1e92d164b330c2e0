using System.Linq;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Networks;

/// <summary>
/// Inference weights follow their own network's parameters: the SIMD backend repacks a network's inference
/// convolutions after that network's parameters changed (a per-network version; it was one counter for the process).
/// </summary>
public sealed class ParameterVersionTests
{
    [Fact]
    public void Each_network_predicts_with_its_own_current_weights_when_another_changes_beside_it()
    {
        using Device device = Device.Create(DeviceKind.Cpu, threads: 1);
        using TinyResNet a = new(device, 4, new NetworkOptions(Seed: 1));
        using TinyResNet b = new(device, 4, new NetworkOptions(Seed: 2));
        float[] images = Enumerable.Range(0, 4 * (int)TinyResNet.InputShape.Elements).Select(i => (float)((i * 37 % 23) - 11) / 11f).ToArray();
        int[] labels = [0, 1, 2, 1];
        int outputs = 4 * (int)TinyResNet.OutputShape.Elements;

        // Both predict once (their inference weights are packed), then only B trains; A trains after that.
        float[] aBefore = Predict(a, images, outputs);
        Predict(b, images, outputs);
        Step(b, images, labels);
        float[] bAfter = Predict(b, images, outputs);
        Assert.Equal(aBefore, Predict(a, images, outputs));
        Assert.Equal(Fresh(device, b, images, outputs), bAfter);
        Assert.NotEqual(Predict(a, images, outputs), bAfter);

        Step(a, images, labels);
        float[] aAfter = Predict(a, images, outputs);
        Assert.NotEqual(aBefore, aAfter);
        Assert.Equal(Fresh(device, a, images, outputs), aAfter);
        Assert.Equal(bAfter, Predict(b, images, outputs));
    }

    private static void Step(NetworkBase net, float[] images, int[] labels)
    {
        Sgd sgd = new(0.5, momentum: 0.9);
        net.AddParametersTo(sgd);
        net.Train();
        net.TrainStep(images, labels, sgd);
    }

    private static float[] Predict(NetworkBase net, float[] images, int outputs)
    {
        net.Eval();
        float[] logits = new float[outputs];
        net.Predict(images, logits);
        return logits;
    }

    // The same weights in a network built now: what the prediction must be.
    private static float[] Fresh(Device device, NetworkBase trained, float[] images, int outputs)
    {
        Checkpoint checkpoint = trained.ExportCheckpoint();
        using TinyResNet fresh = new(device, 4);
        fresh.ImportCheckpoint(checkpoint);
        return Predict(fresh, images, outputs);
    }
}
