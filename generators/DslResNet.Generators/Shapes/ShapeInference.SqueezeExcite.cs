using System;
using System.Globalization;
using DslResNet.Generators.Diagnostics;
using DslResNet.Generators.Model;

namespace DslResNet.Generators.Shapes;

/// <content>Squeeze-and-excitation, expanded into the primitive layers that timm's <c>SEModule</c> runs.</content>
internal static partial class ShapeInference
{
    /// <summary>
    /// timm's <c>make_divisible(v, 8)</c> with its defaults (minimum 8, no round limit): <c>max(8, int(v + 4) // 8 * 8)</c>,
    /// the hidden channels of an SE module over <paramref name="channels"/> channels with reduction ratio <paramref name="reduction"/>.
    /// </summary>
    /// <param name="channels">The input's channels.</param>
    /// <param name="reduction">The ratio, at least 1.</param>
    /// <returns>The hidden channels.</returns>
    internal static int SqueezeChannels(int channels, int reduction)
    {
        double v = channels * (1.0 / reduction);
        return Math.Max(8, (int)(v + 4) / 8 * 8);
    }

    private sealed partial class Walk
    {
        // x -> {se}.pool (global average, kept as C x 1 x 1) -> {se}.fc1 (1x1 conv C->rd, bias) -> {se}.act (ReLU)
        //   -> {se}.fc2 (1x1 conv rd->C, bias) -> {se}.gate (sigmoid) -> {se}: x * gate, channel by channel.
        // The layers after the pool are the existing kinds, so they plan, fuse (conv+ReLU, conv+sigmoid) and export as those
        // do; only the last is new. x then has two readers, whose gradients add as a residual input's do.
        private (int, Shape) SqueezeExcite(Site site, SqueezeExciteSpec se, (int Index, Shape Shape) input)
        {
            Shape x = input.Shape;
            if (x.Flat)
            {
                site.Fail(
                    Descriptors.InvalidNumber, null, "Input", site.FullName, "flat " + x,
                    "a C x H x W map (squeeze-and-excitation scales each channel of a map; put it before the global pooling or flatten)");
            }

            int rd = se.Channels > 0 ? se.Channels : SqueezeChannels(x.C, Math.Max(1, se.Reduction));
            string c = x.C.ToString(CultureInfo.InvariantCulture), r = rd.ToString(CultureInfo.InvariantCulture);
            Site Part(string suffix) => new(this, se, site.FullName + "." + suffix, site.Anchor, site.Member, site.FullName);

            var squeezed = new Shape(x.C, 1, 1, false);
            var hidden = new Shape(rd, 1, 1, false);
            var pooled = Add(Part("pool"), LayerKind.GlobalAvgPool, "GlobalAvgPool (squeeze, keepdim)", input, squeezed, 0, 0, x.Elements);

            Site fc1Site = Part("fc1");
            long w1 = TensorElements(fc1Site, "Channels", fc1Site.FullName + ".weight", rd, x.C);
            var fc1 = Add(fc1Site, LayerKind.Conv, $"Conv2d {c}->{r}, 1x1, bias (excite)", pooled, hidden, w1 + rd, w1, checked((2 * w1) + rd), kernel: 1, stride: 1, bias: true, weight: new[] { rd, x.C, 1, 1 });
            var act = Add(Part("act"), LayerKind.ReLU, "ReLU", fc1, hidden, 0, 0, rd);

            Site fc2Site = Part("fc2");
            long w2 = TensorElements(fc2Site, "Channels", fc2Site.FullName + ".weight", x.C, rd);
            var fc2 = Add(fc2Site, LayerKind.Conv, $"Conv2d {r}->{c}, 1x1, bias (excite)", act, squeezed, w2 + x.C, w2, checked((2 * w2) + x.C), kernel: 1, stride: 1, bias: true, weight: new[] { x.C, rd, 1, 1 });
            var gate = Add(Part("gate"), LayerKind.Sigmoid, "Sigmoid", fc2, squeezed, 0, 0, x.C);

            // The map is the first input (the output has its shape), the gate the second.
            return Add(site, LayerKind.ChannelScale, $"SqueezeExcite {c}->{r}->{c} (x * gate)", input, x, 0, 0, x.Elements, extraInput: gate.Item1);
        }
    }
}
