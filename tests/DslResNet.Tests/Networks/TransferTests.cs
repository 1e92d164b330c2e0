using System;
using System.Linq;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Networks;

/// <summary>TinyResNet's layers with a new 5-way head.</summary>
[Network(LayersOf = typeof(TinyResNet), Classes = 5)]
public partial class TinyResNetHead5;

/// <summary>TinyResNet cut at its pooled features (8 per image).</summary>
[Network(LayersOf = typeof(TinyResNet), Until = "avgpool")]
public partial class TinyResNetFeatures;

/// <summary>
/// Transfer learning as users do it: a new head (<c>Classes</c>), a feature extractor (<c>Until</c>) and loading another
/// network's checkpoint non-strictly, with exactly what was skipped reported.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class TransferTests
{
    private readonly Device _device;

    public TransferTests(NetworkDeviceFixture fixture) => _device = fixture.Device;

    [Fact]
    public void A_new_head_changes_only_the_classifier()
    {
        Assert.Equal(5, TinyResNetHead5.Info.OutputShape.Elements);
        Assert.Equal(TinyResNet.Info.Parameters.Select(p => p.Name), TinyResNetHead5.Info.Parameters.Select(p => p.Name));
        Assert.Equal([5, 8], TinyResNetHead5.Info.Parameters.Single(p => p.Name == "fc.weight").Shape);
        // 8 features: the 3-way head's 8 * 3 + 3 parameters become 8 * 5 + 5.
        Assert.Equal(TinyResNet.ParameterCount - 27 + 45, TinyResNetHead5.ParameterCount);
    }

    [Fact]
    public void A_pretrained_backbone_loads_into_a_new_head_non_strictly_with_the_head_reported()
    {
        using var pretrained = new TinyResNet(_device, 4, new NetworkOptions(Seed: 1));
        Checkpoint checkpoint = pretrained.ExportCheckpoint();
        using var head = new TinyResNetHead5(_device, 4, new NetworkOptions(Seed: 2));
        float[] freshHead = head.GetParameter("fc.weight");

        // Strict: refused, naming the head, and nothing loaded.
        CheckpointException e = Assert.Throws<CheckpointException>(() => head.ImportCheckpoint(checkpoint, strict: true));
        Assert.Contains("fc.weight", e.Message, StringComparison.Ordinal);
        Assert.NotEqual(pretrained.GetParameter("conv1.weight"), head.GetParameter("conv1.weight"));

        CheckpointImport report = head.ImportCheckpoint(checkpoint, strict: false);
        Assert.Equal(["fc.weight", "fc.bias"], report.Missing);
        Assert.Equal(["fc.weight (checkpoint F32 [3, 8], network [5, 8])", "fc.bias (checkpoint F32 [3], network [5])"], report.Skipped);
        Assert.Equal(TinyResNet.Info.Parameters.Count - 2, report.Loaded.Count);
        Assert.False(report.Complete);
        foreach (string name in report.Loaded.Where(n => !n.EndsWith("num_batches_tracked", StringComparison.Ordinal)))
        {
            Assert.Equal(pretrained.GetParameter(name), head.GetParameter(name));
        }

        Assert.Equal(freshHead, head.GetParameter("fc.weight"));
        Assert.Contains("fc.weight", report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Features_of_the_backbone_times_the_old_head_give_the_old_logits()
    {
        Assert.Equal(TensorShape.Flat(8), TinyResNetFeatures.Info.OutputShape);
        Assert.DoesNotContain(TinyResNetFeatures.Info.Parameters, p => p.Name.StartsWith("fc.", StringComparison.Ordinal));

        using var full = new TinyResNet(_device, 4, new NetworkOptions(Seed: 3));
        using var features = new TinyResNetFeatures(_device, 4, new NetworkOptions(Seed: 5));
        CheckpointImport report = features.ImportCheckpoint(full.ExportCheckpoint(), strict: false);
        Assert.Empty(report.Missing);
        Assert.Equal(["fc.bias (not in TinyResNetFeatures)", "fc.weight (not in TinyResNetFeatures)"], report.Skipped);

        float[] images = NetworkData.Normal(new Random(6), 4 * 64);
        full.Eval();
        features.Eval();
        float[] logits = new float[4 * 3];
        float[] pooled = new float[4 * 8];
        full.Predict(images, logits);
        features.Predict(images, pooled);
        float[] w = full.GetParameter("fc.weight");
        float[] b = full.GetParameter("fc.bias");
        for (int n = 0; n < 4; n++)
        {
            for (int k = 0; k < 3; k++)
            {
                double z = b[k];
                for (int f = 0; f < 8; f++)
                {
                    z += (double)w[(k * 8) + f] * pooled[(n * 8) + f];
                }

                Assert.Equal(z, logits[(n * 3) + k], 4);
            }
        }
    }

    [Fact]
    public void A_checkpoint_of_another_network_is_refused_even_non_strictly()
    {
        using var zeroPad = new TinyZeroPadNet(_device, 4, new NetworkOptions(Seed: 1));
        Checkpoint foreign = new() { NetworkName = "Other" };
        foreign.Model["encoder.weight"] = TensorData.Float([2, 2], [1, 2, 3, 4]);
        CheckpointException e = Assert.Throws<CheckpointException>(() => zeroPad.ImportCheckpoint(foreign, strict: false));
        Assert.Contains("not one of its", e.Message, StringComparison.Ordinal);
    }

    private static readonly string[] Backbone = ["conv1", "bn1", "layer1"];

    [Fact]
    public void Frozen_layers_keep_their_weights_and_their_weight_gradients_are_not_computed()
    {
        using var net = new TinyResNet(_device, 4, new NetworkOptions(Seed: 7));
        using var twin = new TinyResNet(_device, 4, new NetworkOptions(Seed: 7));
        net.Freeze(Backbone);
        Assert.Equal(
            TinyResNet.Info.Parameters.Where(p => p.IsTrainable && Backbone.Any(m => p.Name == m || p.Name.StartsWith(m + ".", StringComparison.Ordinal))).Select(p => p.Name),
            net.FrozenParameters);

        Sgd sgd = new(0.1, momentum: 0.9, weightDecay: 1e-3);
        net.AddParametersTo(sgd);
        Assert.DoesNotContain(sgd.Parameters, slot => net.FrozenParameters.Contains(slot.Name));
        var before = TinyResNet.Info.Parameters.Where(p => p.IsTrainable).ToDictionary(p => p.Name, p => net.GetParameter(p.Name));

        // With rate 0 on the twin: the unfrozen layers' gradients are exactly what an unfrozen network computes.
        Sgd still = new(0);
        twin.AddParametersTo(still);
        float[] images = NetworkData.Normal(new Random(8), 4 * 64);
        int[] labels = [0, 1, 2, 1];
        net.TrainStep(images, labels, sgd);
        twin.TrainStep(images, labels, still);
        int convolutions = TinyResNet.Info.Layers.Count(l => l.Kind is LayerKind.Conv or LayerKind.Dense);
        int frozenConvolutions = TinyResNet.Info.Layers.Count(l => l.Kind is LayerKind.Conv && net.FrozenParameters.Contains(l.Name + ".weight"));
        Assert.Equal(3, frozenConvolutions);
        Assert.Equal(convolutions - frozenConvolutions, net.WeightGradientPasses);
        Assert.Equal(convolutions, twin.WeightGradientPasses);
        foreach (ParameterInfo p in TinyResNet.Info.Parameters.Where(p => p.IsTrainable && !net.FrozenParameters.Contains(p.Name)))
        {
            Assert.Equal(twin.GetGradient(p.Name), net.GetGradient(p.Name));
        }

        net.TrainStep(images, labels, sgd);
        foreach ((string name, float[] values) in before)
        {
            if (net.FrozenParameters.Contains(name))
            {
                Assert.Equal(values, net.GetParameter(name));
            }
            else
            {
                Assert.NotEqual(values, net.GetParameter(name));
            }
        }

        // Unfrozen again, the same optimizer takes the backbone too (nothing is added twice).
        net.Unfreeze();
        net.AddParametersTo(sgd);
        Assert.Equal(TinyResNet.Info.Parameters.Count(p => p.IsTrainable), sgd.Parameters.Count);
        net.TrainStep(images, labels, sgd);
        Assert.Equal(convolutions, net.WeightGradientPasses);
        Assert.NotEqual(before["conv1.weight"], net.GetParameter("conv1.weight"));
    }

    [Fact]
    public void Freezing_refuses_unknown_modules_and_optimizers_holding_frozen_parameters()
    {
        using var net = new TinyResNet(_device, 4, new NetworkOptions(Seed: 7));
        ArgumentException unknown = Assert.Throws<ArgumentException>(() => net.Freeze("layer9"));
        Assert.Contains("'layer9' names no module", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("layer1, layer2", unknown.Message, StringComparison.Ordinal);

        Sgd sgd = new(0.1);
        net.AddParametersTo(sgd);
        net.Freeze("layer1");
        float[] images = NetworkData.Normal(new Random(8), 4 * 64);
        ArgumentException held = Assert.Throws<ArgumentException>(() => net.TrainStep(images, [0, 1, 2, 1], sgd));
        Assert.Contains("'layer1.0.conv1.weight', which is frozen", held.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_frozen_middle_skips_its_weight_gradients_but_passes_gradients_through()
    {
        using var net = new TinyResNet(_device, 4, new NetworkOptions(Seed: 9));
        using var twin = new TinyResNet(_device, 4, new NetworkOptions(Seed: 9));
        net.Freeze("layer1");
        Sgd frozen = new(0);
        net.AddParametersTo(frozen);
        Sgd still = new(0);
        twin.AddParametersTo(still);
        float[] images = NetworkData.Normal(new Random(10), 4 * 64);
        int[] labels = [2, 0, 1, 1];
        net.TrainStep(images, labels, frozen);
        twin.TrainStep(images, labels, still);

        // layer1's two convolutions run no weight-gradient kernel, yet conv1 (before it) gets its exact gradient through it.
        int convolutions = TinyResNet.Info.Layers.Count(l => l.Kind is LayerKind.Conv or LayerKind.Dense);
        Assert.Equal(convolutions - 2, net.WeightGradientPasses);
        Assert.Equal(twin.GetGradient("conv1.weight"), net.GetGradient("conv1.weight"));
        Assert.Equal(twin.GetGradient("bn1.weight"), net.GetGradient("bn1.weight"));
    }
}
