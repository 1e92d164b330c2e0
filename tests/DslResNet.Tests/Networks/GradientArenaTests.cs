using System;
using System.Linq;
using DslResNet.Runtime;
using Xunit;

namespace DslResNet.Tests.Networks;

/// <summary>CIFAR ResNet-20 (He et al. 2015, section 4.2): three stages of three basic blocks on 16, 32 and 64 channels, option-A shortcuts.</summary>
[Network(3, 32, 32, Shortcut = ShortcutKind.ZeroPad)]
public partial class ArenaResNet20
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<TinyBlock>(16, Repeat = 3)] Layer layer1;
    [Stage<TinyBlock>(32, Repeat = 3, Stride = 2)] Layer layer2;
    [Stage<TinyBlock>(64, Repeat = 3, Stride = 2)] Layer layer3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>
/// The gradient arena: gradient buffers share memory by their lifetimes in the backward pass, and each is zeroed right
/// before the backward step that first adds into it.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class GradientArenaTests(NetworkDeviceFixture fixture)
{
    private readonly Device _device = fixture.Device;

    /// <summary>
    /// Worked out by hand from the architecture, not from the planner. While the backward pass is in the second
    /// convolution of the first block (conv, batch norm, residual add, ReLU fused), three 16 x 32 x 32 gradients are
    /// alive at once: that group's output gradient, which the fused pass reads element by element and overwrites with its
    /// convolution output's gradient (which the convolution then reads), the gradient of the convolution's input (added
    /// into) and the residual's (added into). Outputs recomputed rather than kept live in the same arena while a backward reads them: then the block's
    /// first convolution group's (conv, batch norm, ReLU), which the second convolution's weight gradient reads. The stem's
    /// output (recomputed too) is not alive yet: the add that takes it as the residual reads no values in backward, so it
    /// is recomputed only before the block's first convolution's backward, when two gradients are alive. Nothing later
    /// in the pass is larger (the stages halve the map and double the channels).
    /// The training arena keeps, per image: the stem's convolution output (16K floats); per first-stage block the first
    /// group's convolution output and the second group's convolution output and output (3 x 16K x 3); per later stage
    /// (maps of 8K, then 4K) the same three per block (the zero-pad shortcut's output is not kept: its add's backward and
    /// its own read no values); then the pooled 64 and the 10 logits. Before outputs were recomputed it held 413,770 floats, and the gradient arena 4 maps (a convolution output's gradient
    /// had memory of its own then).
    /// </summary>
    [Fact]
    public void ResNet20_GradientArenaHoldsOnlyTheLargestLiveSet()
    {
        using var net = new ArenaResNet20(_device, 1);
        const long map = 16 * 32 * 32;
        Assert.Equal(4 * map, net.Layout.GradientElementsPerImage);
        long kept = map + (3 * 3 * map) + (3 * 3 * (map / 2)) + (3 * 3 * (map / 4)) + 64 + 10;
        Assert.Equal(kept, net.Layout.TrainingElementsPerImage);
        Assert.True(net.Layout.TrainingElementsPerImage + net.Layout.GradientElementsPerImage < 413_770 + (4 * map));
    }

    /// <summary>
    /// A second backward over the same forward finds every shared buffer holding the first pass's values (a fresh
    /// network's arena is zero): the gradients must not change, bit for bit, and must equal a fresh twin's.
    /// </summary>
    [Fact]
    public void ResNet20_RepeatedBackwardGivesTheSameGradients()
    {
        const int batch = 2;
        var random = new Random(7);
        using var net = new ArenaResNet20(_device, batch, new NetworkOptions(Seed: 3));
        using var twin = new ArenaResNet20(_device, batch, new NetworkOptions(Seed: 3));
        float[] images = NetworkData.Normal(random, batch * NetworkData.ImageElements(net));
        float[] outputGradient = NetworkData.Normal(random, batch * NetworkData.Classes(net));
        string[] names = NetworkData.Trainable(net).Select(p => p.Name).ToArray();

        float[][] Pass(NetworkBase n)
        {
            n.Train();
            n.ComputeInputGradient = true;
            n.Forward(images);
            n.Backward(outputGradient);
            return [.. names.Select(n.GetGradient), n.InputGradient()];
        }

        float[][] first = Pass(net);
        float[][] second = Pass(net);
        float[][] fresh = Pass(twin);
        Assert.Contains(first[^1], v => v != 0f); // the input's gradient was computed
        for (int i = 0; i < first.Length; i++)
        {
            string what = i < names.Length ? names[i] : "the input's gradient";
            Assert.True(first[i].AsSpan().SequenceEqual(second[i]), $"{what}: the second backward differs from the first");
            Assert.True(fresh[i].AsSpan().SequenceEqual(second[i]), $"{what}: differs from a fresh network's");
        }
    }

    /// <summary>
    /// Where a step's first writer of a zeroed gradient buffer overwrites it instead (the fused pass's residual and input
    /// gradients, the stride-1 convolutions' input gradients, on the SIMD device), the gradients are those of a twin that
    /// zeroes every buffer, bit for bit: over an arena that holds an earlier pass's values, with every layer trainable,
    /// then with the stem and the first stage frozen (their steps skipped or without the input gradient, so the zeroing
    /// comes back where the writer does not run), and with the input's gradient asked for again.
    /// </summary>
    [Fact]
    public void ResNet20_FirstWritersOverwriteAsZeroedBuffersWould()
    {
        const int batch = 2;
        var random = new Random(11);
        using var net = new ArenaResNet20(_device, batch, new NetworkOptions(Seed: 5));
        using var zeroing = new ArenaResNet20(_device, batch, new NetworkOptions(Seed: 5)) { GradientOverwrites = false };
        float[] images = NetworkData.Normal(random, batch * NetworkData.ImageElements(net));
        float[] outputGradient = NetworkData.Normal(random, batch * NetworkData.Classes(net));
        string[] names = NetworkData.Trainable(net).Select(p => p.Name).ToArray();

        float[][] Pass(NetworkBase n, bool inputGradient)
        {
            n.Train();
            n.ComputeInputGradient = inputGradient;
            n.Forward(images);
            n.Backward(outputGradient);
            return inputGradient ? [.. names.Select(n.GetGradient), n.InputGradient()] : [.. names.Select(n.GetGradient)];
        }

        void Same(string when, bool inputGradient)
        {
            float[][] ours = Pass(net, inputGradient), theirs = Pass(zeroing, inputGradient);
            for (int i = 0; i < ours.Length; i++)
            {
                string what = i < names.Length ? names[i] : "the input's gradient";
                Assert.True(theirs[i].AsSpan().SequenceEqual(ours[i]), $"{when}: {what} differs from the zeroing twin's");
            }
        }

        Same("all trainable, with the input's gradient", inputGradient: true);
        if (_device.IsSimd)
        {
            // Worked out by hand: per block, the fused pass's residual gradient (the block input's, or the zero-pad
            // shortcut output's) and the second convolution's input gradient (stride 1): 2 x 9; the stem's input
            // gradient (the network input's) and the dense layer's (a 1x1 convolution on the pooled map). The rest (the
            // stride-2 convolutions' and the shortcuts' input gradients, the pooling's) are zeroed as before.
            Assert.Equal(20, net.OverwrittenClears);
        }

        Assert.Equal(0, zeroing.OverwrittenClears);
        Same("all trainable, no input gradient", inputGradient: false);
        net.Freeze("conv1", "bn1", "layer1");
        zeroing.Freeze("conv1", "bn1", "layer1");
        Same("stem and first stage frozen", inputGradient: false);
        Same("stem and first stage frozen, with the input's gradient", inputGradient: true);
        net.Unfreeze("conv1", "bn1", "layer1");
        zeroing.Unfreeze("conv1", "bn1", "layer1");
        Same("unfrozen again", inputGradient: false);
    }
}
