using System;
using System.Linq;
using DslResNet.IO;
using DslResNet.Runtime;
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
}
