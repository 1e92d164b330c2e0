using System.Collections.Generic;
using System.Linq;
using DslResNet.Runtime;
using Xunit;

namespace DslResNet.Tests.Networks;

/// <summary>The basic block (two 3x3 convolutions, the shortcut added before the last ReLU).</summary>
[Block]
public class DeepTablesBlock
{
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual] Layer add;
    [ReLU] Layer relu2;
}

/// <summary>The paper's CIFAR ResNet-56 (n = 9, option A), whose repeated blocks the generator writes as loops.</summary>
[Network(3, 32, 32, Shortcut = ShortcutKind.ZeroPad)]
public partial class DeepTablesResNet56
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<DeepTablesBlock>(16, Repeat = 9)] Layer layer1;
    [Stage<DeepTablesBlock>(32, Repeat = 9, Stride = 2)] Layer layer2;
    [Stage<DeepTablesBlock>(64, Repeat = 9, Stride = 2)] Layer layer3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>
/// The tables a deep network's generated code builds in loops (layers, parameters, fusion groups) hold exactly what the
/// unrolled declaration implies: counts by hand, every torchvision name once and in order, every layer in one group.
/// </summary>
public sealed class DeepTablesTests
{
    [Fact]
    public void ResNet_56_tables_built_in_loops_match_the_declaration()
    {
        NetworkInfo info = DeepTablesResNet56.Info;
        // 0.85M in the paper; by hand: stem 464, stages 9 x 4,672 + (13,952 + 8 x 18,560) + (55,552 + 8 x 73,984), fc 650.
        Assert.Equal(853_018, info.ParameterCount);
        Assert.Equal(DeepTablesResNet56.ParameterCount, info.ParameterCount);

        var expected = new List<string> { "conv1.weight" };
        expected.AddRange(BatchNorm("bn1"));
        for (int stage = 1; stage <= 3; stage++)
        {
            for (int block = 0; block < 9; block++)
            {
                string b = $"layer{stage}.{block}";
                expected.Add(b + ".conv1.weight");
                expected.AddRange(BatchNorm(b + ".bn1"));
                expected.Add(b + ".conv2.weight");
                expected.AddRange(BatchNorm(b + ".bn2"));
            }
        }

        expected.AddRange(["fc.weight", "fc.bias"]);
        Assert.Equal(expected, info.Parameters.Select(p => p.Name));

        // Layers numbered in order; every layer in exactly one fusion group, groups in execution order: every layer's inputs
        // come from an earlier group or earlier in its own (a zero-pad shortcut runs as its own group before the
        // convolution chain whose add reads it).
        Assert.Equal(Enumerable.Range(0, info.Layers.Count), info.Layers.Select(l => l.Index));
        Assert.Equal(Enumerable.Range(0, info.Layers.Count), info.FusionGroups.SelectMany(g => g.Layers).Order());
        int[] position = new int[info.Layers.Count];
        int at = 0;
        foreach (int layer in info.FusionGroups.SelectMany(g => g.Layers))
        {
            position[layer] = at++;
        }

        Assert.All(info.Layers, l => Assert.All(l.Inputs.Where(i => i >= 0), i => Assert.True(position[i] < position[l.Index], $"{l.Name} runs before its input {info.Layers[i].Name}")));
        // Stem 3, 27 blocks of 7, the zero-pad shortcuts of stages 2 and 3, pooling and the dense layer.
        Assert.Equal(3 + (27 * 7) + 2 + 2, info.Layers.Count);
    }

    [Fact]
    public void ResNet_56_trains_a_step_and_predicts_on_the_cpu()
    {
        using Device device = Device.Create(DeviceKind.Cpu, threads: 1);
        using DeepTablesResNet56 net = new(device, batchSize: 2);
        float[] images = Enumerable.Range(0, 2 * 3 * 32 * 32).Select(i => (float)((i * 7919 % 101) - 50) / 50f).ToArray();
        var sgd = new global::DslResNet.Training.Sgd(0.01, momentum: 0.9);
        net.AddParametersTo(sgd);
        net.Train();
        BatchResult result = net.TrainStep(images, [3, 7], sgd);
        Assert.True(double.IsFinite(result.Loss) && result.Loss > 0);
        net.Eval();
        float[] logits = new float[2 * 10];
        net.Predict(images, logits);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
    }

    private static string[] BatchNorm(string name) =>
        [name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var", name + ".num_batches_tracked"];
}
