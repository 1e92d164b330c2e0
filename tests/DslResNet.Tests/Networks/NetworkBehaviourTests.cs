using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Tests.Data;
using DslResNet.Tests.Kernels;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Networks;

/// <summary>
/// Generated networks end to end: training versus evaluation mode, determinism, checkpoints, divergence, bad input and
/// initialisation.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class NetworkBehaviourTests
{
    private readonly Device _device;

    public NetworkBehaviourTests(NetworkDeviceFixture fixture) => _device = fixture.Device;

    private static float[] Images(NetworkBase net, int count, int seed) => NetworkData.Normal(new Random(seed), count * NetworkData.ImageElements(net));

    // ---- 2. Training versus evaluation ----

    [Fact]
    public void RunningStatistics_FollowTheMomentumAverageOfBatchStatistics()
    {
        using var net = new TinyResNet(_device, 4, new NetworkOptions(Seed: 1));
        net.Train();
        const double m = 0.1;
        double[] mean = new double[4];
        double[] variance = [1, 1, 1, 1];
        for (int k = 0; k < 3; k++)
        {
            float[] images = Images(net, 4, 100 + k);
            net.Forward(images);

            // bn1 normalises conv1's output, which the reference computes from the images directly.
            double[] conv = Reference.Conv2dForward(NetworkData.ToDouble(images), 4, 1, 8, 8, NetworkData.ToDouble(net.GetParameter("conv1.weight")), 4, 3, null, 1, 1);
            (_, double[] batchMean, double[] biased) = Reference.BatchNorm2dTrainForward(conv, 4, 4, 8, 8, [1, 1, 1, 1], [0, 0, 0, 0], 1e-5);
            Reference.BatchNorm2dUpdateRunningStats(mean, variance, batchMean, biased, 4 * 64, m);
            AssertClose(mean, net.GetParameter("bn1.running_mean"), 1e-5, "bn1.running_mean");
            AssertClose(variance, net.GetParameter("bn1.running_var"), 1e-5, "bn1.running_var");
        }

        Assert.Equal(3, net.ExportCheckpoint().Model["bn1.num_batches_tracked"].Int64s![0]);

        // Every other batch norm: the same batch k times gives the same batch statistics, so the running statistics
        // approach them geometrically; the first forward (from mean 0, variance 1) gives them away.
        using var fresh = new TinyResNet(_device, 4, new NetworkOptions(Seed: 1));
        float[] batch = Images(fresh, 4, 7);
        fresh.Train();
        fresh.Forward(batch);
        string[] layers = fresh.Definition.Layers.Where(l => l.Kind == LayerKind.BatchNorm).Select(l => l.Name).ToArray();
        Assert.Equal(6, layers.Length);
        Dictionary<string, (double[] Mean, double[] Var)> statistics = layers.ToDictionary(
            l => l,
            l => (NetworkData.ToDouble(fresh.GetParameter(l + ".running_mean")).Select(v => v / m).ToArray(),
                  NetworkData.ToDouble(fresh.GetParameter(l + ".running_var")).Select(v => (v - (1 - m)) / m).ToArray()));
        for (int k = 2; k <= 5; k++)
        {
            fresh.Forward(batch);
        }

        double decay = Math.Pow(1 - m, 5);
        foreach (string l in layers)
        {
            AssertClose(statistics[l].Mean.Select(v => (1 - decay) * v).ToArray(), fresh.GetParameter(l + ".running_mean"), 1e-5, l + ".running_mean");
            AssertClose(statistics[l].Var.Select(v => decay + ((1 - decay) * v)).ToArray(), fresh.GetParameter(l + ".running_var"), 1e-5, l + ".running_var");
            Assert.All(statistics[l].Var, v => Assert.True(v > 0, $"{l}: batch variance {v}"));
        }
    }

    [Theory]
    [InlineData("TinyResNet")]
    [InlineData("TinyZeroPadNet")]
    [InlineData("TinyMixedNet")]
    [InlineData("ConvBnNet")]
    public void EvaluationOutput_MatchesTheUnfoldedReference_AndPredict(string network)
    {
        using NetworkBase net = Build(network, 4, seed: 5);
        NetworkData.RandomiseBatchNorms(net, new Random(9));
        float[] images = Images(net, 4, 21);
        double[] expected = network switch
        {
            "TinyResNet" => NetworkReference.TinyResidual(net, images, 4, training: false, projection: true),
            "TinyZeroPadNet" => NetworkReference.TinyResidual(net, images, 4, training: false, projection: false),
            "TinyMixedNet" => NetworkReference.TinyMixed(net, images, 4, training: false),
            _ => NetworkReference.ConvBn(net, images, 4),
        };

        net.Eval();
        net.Forward(images);
        float[] forward = net.Output();
        (double error, int at) = NetworkData.MaxScaledError(expected, forward);
        Assert.True(error < 2e-5, $"{network}: evaluation output vs reference: {error:E3} at {at} (expected {expected[at]}, got {forward[at]})");

        float[] predicted = new float[forward.Length];
        net.Predict(images, predicted);
        Assert.Equal(forward, predicted);

        // Parameters changed after a fold are folded again.
        float[] fcWeight = net.GetParameter(network == "TinyMixedNet" ? "fc2.weight" : "fc.weight");
        NetworkData.RandomiseBatchNorms(net, new Random(10));
        net.Predict(images, predicted);
        double[] again = network switch
        {
            "TinyResNet" => NetworkReference.TinyResidual(net, images, 4, training: false, projection: true),
            "TinyZeroPadNet" => NetworkReference.TinyResidual(net, images, 4, training: false, projection: false),
            "TinyMixedNet" => NetworkReference.TinyMixed(net, images, 4, training: false),
            _ => NetworkReference.ConvBn(net, images, 4),
        };
        (error, at) = NetworkData.MaxScaledError(again, predicted);
        Assert.True(error < 2e-5, $"{network}: after SetParameter the fold is stale: {error:E3} at {at}");
        Assert.Equal(fcWeight, net.GetParameter(network == "TinyMixedNet" ? "fc2.weight" : "fc.weight"));
    }

    [Fact]
    public void EvaluationOutput_OfAnImage_IsIndependentOfTheBatch_TrainingOutputIsNot()
    {
        using var net = new TinyResNet(_device, 4, new NetworkOptions(Seed: 1));
        NetworkData.RandomiseBatchNorms(net, new Random(3));
        float[] images = Images(net, 4, 31);
        float[] others = Images(net, 4, 32);
        int size = NetworkData.ImageElements(net);
        float[] mixed = (float[])others.Clone();
        Array.Copy(images, 0, mixed, 0, size);

        net.Eval();
        float[] alone = new float[3];
        net.Predict(images.AsSpan(0, size), alone);
        float[] inBatch = new float[12];
        net.Predict(images, inBatch);
        float[] inOtherBatch = new float[12];
        net.Predict(mixed, inOtherBatch);
        Assert.Equal(alone, inBatch[..3]);
        Assert.Equal(alone, inOtherBatch[..3]);

        net.Train();
        net.Forward(images);
        float[] trainA = net.Output()[..3];
        net.Forward(mixed);
        float[] trainB = net.Output()[..3];
        Assert.True(trainA.Zip(trainB, (a, b) => Math.Abs(a - b)).Max() > 1e-3, "training-mode output of image 0 should depend on the other images (batch statistics)");
    }

    // ---- 4. Determinism ----

    [Theory]
    [InlineData("TinyResNet")]
    [InlineData("TinyMixedNet")]
    public void SameSeed_SameData_GivesBitwiseIdenticalLosses(string network)
    {
        using NetworkBase a = Build(network, 4, seed: 7);
        using NetworkBase b = Build(network, 4, seed: 7);
        var sa = new Sgd(0.05, momentum: 0.9);
        var sb = new Sgd(0.05, momentum: 0.9);
        a.AddParametersTo(sa);
        b.AddParametersTo(sb);
        int classes = NetworkData.Classes(a);
        List<double> la = [];
        List<double> lb = [];
        for (int step = 0; step < 5; step++)
        {
            float[] images = Images(a, 4, 200 + step);
            int[] labels = [step % classes, (step + 1) % classes, (step + 2) % classes, 0];
            la.Add(a.TrainStep(images, labels, sa).Loss);
            lb.Add(b.TrainStep(images, labels, sb).Loss);
        }

        Assert.Equal(la, lb);
        Assert.True(la.Distinct().Count() > 1);
        foreach (ParameterInfo p in a.Definition.Parameters.Where(p => p.Role != ParameterRole.BatchesTracked))
        {
            Assert.Equal(a.GetParameter(p.Name), b.GetParameter(p.Name));
        }

        using NetworkBase c = Build(network, 4, seed: 8);
        using NetworkBase d = Build(network, 4, seed: 7);
        foreach (ParameterInfo p in c.Definition.Parameters.Where(p => p.Role is ParameterRole.Weight))
        {
            Assert.NotEqual(c.GetParameter(p.Name), d.GetParameter(p.Name));
        }
    }

    // ---- 5. Checkpoints ----

    [Fact]
    public void Checkpoint_RoundTripsThroughAFile()
    {
        using var source = new TinyResNet(_device, 4, new NetworkOptions(Seed: 1));
        var sgd = new Sgd(0.1, momentum: 0.9);
        source.AddParametersTo(sgd);
        for (int step = 0; step < 3; step++)
        {
            source.TrainStep(Images(source, 4, 300 + step), [0, 1, 2, step % 3], sgd);
        }

        using var dir = new TempDir();
        string path = dir.File("tiny.safetensors");
        source.ExportCheckpoint().Save(path);

        using var target = new TinyResNet(_device, 4, new NetworkOptions(Seed: 99));
        float[] images = Images(source, 4, 310);
        source.Eval();
        target.Eval();
        float[] before = new float[12];
        float[] expected = new float[12];
        target.Predict(images, before);
        source.Predict(images, expected);
        Assert.NotEqual(expected, before);

        target.ImportCheckpoint(Checkpoint.Load(path));
        float[] actual = new float[12];
        target.Predict(images, actual);
        Assert.Equal(expected, actual);
        Assert.Equal(3, target.ExportCheckpoint().Model["layer2.0.downsample.1.num_batches_tracked"].Int64s![0]);
        foreach (ParameterInfo p in source.Definition.Parameters.Where(p => p.Role != ParameterRole.BatchesTracked))
        {
            Assert.Equal(source.GetParameter(p.Name), target.GetParameter(p.Name));
        }
    }

    [Fact]
    public void Checkpoint_OfAnotherNetwork_IsRejectedWithTheMismatches()
    {
        using var zeroPad = new TinyZeroPadNet(_device, 2, new NetworkOptions(Seed: 1));
        using var projection = new TinyResNet(_device, 2, new NetworkOptions(Seed: 1));
        float[] before = projection.GetParameter("conv1.weight");
        CheckpointException e = Assert.Throws<CheckpointException>(() => projection.ImportCheckpoint(zeroPad.ExportCheckpoint()));
        Assert.Contains("TinyResNet", e.Message, StringComparison.Ordinal);
        Assert.Contains("TinyZeroPadNet", e.Message, StringComparison.Ordinal);
        foreach (string name in new[] { "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight", "layer2.0.downsample.1.running_var", "layer2.0.downsample.1.num_batches_tracked" })
        {
            Assert.Contains("missing: " + name, e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(before, projection.GetParameter("conv1.weight"));
    }

    // ---- 6. Divergence ----

    [Fact]
    public void HugeWeight_ThrowsTrainingDiverged_NamingALayer_AndLeavesTheParametersUnchanged()
    {
        using var net = new TinyResNet(_device, 4, new NetworkOptions(Seed: 1));
        var sgd = new Sgd(0.1, momentum: 0.9);
        net.AddParametersTo(sgd);
        float[] images = Images(net, 4, 400);
        int[] labels = [0, 1, 2, 0];
        net.TrainStep(images, labels, sgd);

        // Weights so large that the convolution overflows to infinity (1e30 alone does not diverge: see the next test).
        float[] weight = net.GetParameter("layer1.0.conv1.weight").Select(_ => 1e38f).ToArray();
        net.SetParameter("layer1.0.conv1.weight", weight);
        Dictionary<string, float[]> before = NetworkData.AllFloatTensors(net);
        long tracked = net.ExportCheckpoint().Model["bn1.num_batches_tracked"].Int64s![0];

        TrainingDivergedException e = Assert.Throws<TrainingDivergedException>(() => net.TrainStep(images, labels, sgd));
        Assert.Equal(2, e.Step);
        // The loss may be finite: the overflow can show first in a gradient; Location says where.
        Assert.Contains("layer", e.Location, StringComparison.Ordinal);
        Assert.True(e.Location.Contains("layer1.0.conv1", StringComparison.Ordinal), "location: " + e.Location);
        Assert.Contains(e.Location, e.Message, StringComparison.Ordinal);

        Dictionary<string, float[]> after = NetworkData.AllFloatTensors(net);
        foreach ((string name, float[] values) in before)
        {
            Assert.True(values.AsSpan().SequenceEqual(after[name]), $"{name} changed by the failed step");
        }

        Assert.Equal(1, net.StepCount);
        Assert.Equal(1, sgd.StepCount);
        Assert.Equal(tracked, net.ExportCheckpoint().Model["bn1.num_batches_tracked"].Int64s![0]);
    }

    /// <summary>
    /// One weight of 1e30: batch norm's variance overflows to +inf, its inverse standard deviation becomes 0 and the
    /// training output stays finite, so the step succeeds, but it leaves +inf in the running variance (and
    /// num_batches_tracked counted), which a checkpoint then saves and evaluation then uses. The step's non-finite
    /// check looks at the loss and the gradients only. Expected: the step is reported as diverged and the state is
    /// left unchanged, as for a non-finite loss. FAILS at present.
    /// </summary>
    [Fact]
    public void TrainStep_ThatLeavesNonFiniteRunningStatistics_IsReportedAsDivergence()
    {
        using var net = new TinyResNet(_device, 4, new NetworkOptions(Seed: 1));
        var sgd = new Sgd(0.1);
        net.AddParametersTo(sgd);
        float[] weight = net.GetParameter("layer1.0.conv1.weight");
        weight[5] = 1e30f;
        net.SetParameter("layer1.0.conv1.weight", weight);
        float[] images = Images(net, 4, 401);
        try
        {
            net.TrainStep(images, [0, 1, 2, 0], sgd);
        }
        catch (TrainingDivergedException)
        {
            return;
        }

        string[] broken = NetworkData.AllFloatTensors(net).Where(kv => !ParameterStore.AllFinite(kv.Value)).Select(kv => kv.Key).ToArray();
        Assert.True(broken.Length == 0, "the step succeeded but left non-finite values in: " + string.Join(", ", broken));
    }

    // ---- 7. Bad input ----

    [Fact]
    public void BadInput_IsRejectedWithAMessageNamingTheProblem()
    {
        using var net = new TinyResNet(_device, 4, new NetworkOptions(Seed: 1));
        var sgd = new Sgd(0.1);
        net.AddParametersTo(sgd);
        float[] images = Images(net, 4, 500);
        int[] labels = [0, 1, 2, 0];
        Dictionary<string, float[]> before = NetworkData.AllFloatTensors(net);

        ArgumentException wrongCount = Assert.Throws<ArgumentException>(() => net.TrainStep(images.AsSpan(0, 3 * 64), labels, sgd));
        Assert.Contains("exactly 4 images", wrongCount.Message, StringComparison.Ordinal);
        Assert.Contains("got 3", wrongCount.Message, StringComparison.Ordinal);

        ArgumentException partial = Assert.Throws<ArgumentException>(() => net.TrainStep(images.AsSpan(0, (4 * 64) - 1), labels, sgd));
        Assert.Contains("not a whole number", partial.Message, StringComparison.Ordinal);

        ArgumentException wrongLabels = Assert.Throws<ArgumentException>(() => net.TrainStep(images, [0, 1, 2], sgd));
        Assert.Contains("labels", wrongLabels.Message, StringComparison.Ordinal);

        ArgumentException outOfRange = Assert.Throws<ArgumentException>(() => net.TrainStep(images, [0, 1, 3, 0], sgd));
        Assert.Contains("label 2 is 3", outOfRange.Message, StringComparison.Ordinal);
        Assert.Contains("0 to 2", outOfRange.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => net.TrainStep(images, [0, -1, 1, 0], sgd));

        float[] nan = (float[])images.Clone();
        nan[(2 * 64) + 10] = float.NaN;
        ArgumentException notFinite = Assert.Throws<ArgumentException>(() => net.TrainStep(nan, labels, sgd));
        Assert.Contains("image 2", notFinite.Message, StringComparison.Ordinal);
        Assert.Contains("non-finite", notFinite.Message, StringComparison.Ordinal);
        Assert.Contains("element 10", notFinite.Message, StringComparison.Ordinal);
        nan[(2 * 64) + 10] = float.PositiveInfinity;
        Assert.Throws<ArgumentException>(() => net.TrainStep(nan, labels, sgd));

        float[] five = Images(net, 5, 501);
        ArgumentException tooMany = Assert.Throws<ArgumentException>(() => net.Evaluate(five, [0, 1, 2, 0, 1]));
        Assert.Contains("4", tooMany.Message, StringComparison.Ordinal);
        Assert.Contains("5", tooMany.Message, StringComparison.Ordinal);
        ArgumentException tooManyImages = Assert.Throws<ArgumentException>(() => net.Evaluate(five, [0, 1, 2, 0]));
        Assert.Contains("between 1 and 4 images", tooManyImages.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => net.Predict(five, new float[15]));
        Assert.Throws<ArgumentException>(() => net.Evaluate(images, [0, 1]));
        Assert.Throws<ArgumentException>(() => net.Predict(images, new float[11]));
        Assert.Throws<InvalidOperationException>(() => net.Backward(new float[12])); // no training-mode forward yet

        // Nothing was trained by the rejected calls.
        Assert.Equal(0, net.StepCount);
        Assert.Equal(0, sgd.StepCount);
        foreach ((string name, float[] values) in before)
        {
            Assert.Equal(values, net.GetParameter(name));
        }

        // And the network still works.
        BatchResult result = net.TrainStep(images, labels, sgd);
        Assert.True(double.IsFinite(result.Loss));
    }

    // ---- 8. Initialisation ----

    [Fact]
    public void Initialisation_FollowsTorchvision()
    {
        using var net = new WideInitNet(_device, 1, new NetworkOptions(Seed: 4));
        foreach ((string name, int fanOut, int fanIn) in new[] { ("conv1.weight", 64 * 9, 3 * 9), ("conv2.weight", 16 * 9, 64 * 9) })
        {
            float[] w = net.GetParameter(name);
            double mean = w.Average(v => (double)v);
            double std = Math.Sqrt(w.Average(v => (v - mean) * (v - mean)));
            double expected = Math.Sqrt(2.0 / fanOut);
            Assert.True(Math.Abs(std / expected - 1) < 0.05, $"{name}: std {std:F5}, expected sqrt(2/fan_out) = {expected:F5} (sqrt(2/fan_in) would be {Math.Sqrt(2.0 / fanIn):F5})");
            Assert.True(Math.Abs(mean) < 0.05 * expected, $"{name}: mean {mean}");
        }

        // Dense layers: PyTorch's default, uniform in +-1/sqrt(fan_in).
        float[] fc = net.GetParameter("fc.weight");
        float[] fcBias = net.GetParameter("fc.bias");
        double bound = 1 / Math.Sqrt(16);
        Assert.All(fc.Concat(fcBias), v => Assert.True(Math.Abs(v) <= bound, $"fc value {v} beyond {bound}"));
        Assert.True(fc.Max() > 0.7 * bound && fc.Min() < -0.7 * bound);

        foreach (string bn in new[] { "bn1", "bn2" })
        {
            Assert.All(net.GetParameter(bn + ".weight"), v => Assert.Equal(1f, v));
            Assert.All(net.GetParameter(bn + ".bias"), v => Assert.Equal(0f, v));
            Assert.All(net.GetParameter(bn + ".running_mean"), v => Assert.Equal(0f, v));
            Assert.All(net.GetParameter(bn + ".running_var"), v => Assert.Equal(1f, v));
            Assert.Equal(0, net.ExportCheckpoint().Model[bn + ".num_batches_tracked"].Int64s![0]);
        }
    }

    [Theory]
    [InlineData("TinyResNet")]
    [InlineData("TinyZeroPadNet")]
    public void ZeroInitResidual_ZeroesTheLastBatchNormOfEachBlockOnly(string network)
    {
        using NetworkBase plain = Build(network, 2, seed: 1);
        using NetworkBase zero = Build(network, 2, seed: 1, zeroInitResidual: true);
        foreach (string block in new[] { "layer1.0", "layer2.0" })
        {
            Assert.All(zero.GetParameter(block + ".bn2.weight"), v => Assert.Equal(0f, v));
            Assert.All(plain.GetParameter(block + ".bn2.weight"), v => Assert.Equal(1f, v));
            Assert.All(zero.GetParameter(block + ".bn1.weight"), v => Assert.Equal(1f, v));
            Assert.All(zero.GetParameter(block + ".bn2.running_var"), v => Assert.Equal(1f, v));
        }

        Assert.All(zero.GetParameter("bn1.weight"), v => Assert.Equal(1f, v));
        if (network == "TinyResNet")
        {
            Assert.All(zero.GetParameter("layer2.0.downsample.1.weight"), v => Assert.Equal(1f, v));
        }

        // The option changes nothing else.
        foreach (ParameterInfo p in plain.Definition.Parameters.Where(p => p.Role != ParameterRole.BatchesTracked && !(p.Role == ParameterRole.BatchNormScale && p.Name.EndsWith(".bn2.weight", StringComparison.Ordinal))))
        {
            Assert.Equal(plain.GetParameter(p.Name), zero.GetParameter(p.Name));
        }
    }

    private NetworkBase Build(string network, int batch, int seed, bool zeroInitResidual = false)
    {
        NetworkOptions options = new(Seed: seed, ZeroInitResidual: zeroInitResidual);
        return network switch
        {
            "TinyResNet" => new TinyResNet(_device, batch, options),
            "TinyZeroPadNet" => new TinyZeroPadNet(_device, batch, options),
            "TinyMixedNet" => new TinyMixedNet(_device, batch, options),
            "ConvBnNet" => new ConvBnNet(_device, batch, options),
            _ => throw new ArgumentOutOfRangeException(nameof(network), network, null),
        };
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance, string what)
    {
        (double error, int at) = NetworkData.MaxScaledError(expected, actual);
        Assert.True(error < tolerance, $"{what}: {error:E3} at {at} (expected {(at >= 0 ? expected[at] : double.NaN)}, got {(at >= 0 ? actual[at] : float.NaN)})");
    }
}
