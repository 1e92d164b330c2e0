using System.Globalization;
using System.Linq;
using DslResNet.Generators.Shapes;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>
/// <c>[SqueezeExcite]</c>: its bad settings and bad placement are DRN0004 errors at the offending argument (or the stage that
/// breaks it), and a valid one expands into timm's <c>SEModule</c>: parameters named and shaped as its state dict, counted as
/// torch counts them, hidden channels rounded by timm's <c>make_divisible</c>.
/// </summary>
public sealed class SqueezeExciteTests
{
    [Fact]
    public void DRN0004_reduction_and_channels_below_one()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [SqueezeExcite(Reduction = {|DRN0004:0|})] Layer se1;
                [SqueezeExcite(Channels = {|DRN0004:-2|})] Layer se2;
            }
            """);
        Assert.Equal(
            new[] { "Reduction of 'se1' is 0, but must be at least 1", "Channels of 'se2' is -2, but must be at least 1" },
            result.Ours.Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
        Assert.All(result.Ours, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0004_on_a_flat_input()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [GlobalAvgPool] Layer avgpool;
                [{|DRN0004:SqueezeExcite|}] Layer se;
                [Dense(10)] Layer fc;
            }
            """);
        Expect.One(
            result, "DRN0004", DiagnosticSeverity.Error,
            "Input of 'se' is flat (16), but must be a C x H x W map (squeeze-and-excitation scales each channel of a map; put it before the global pooling or flatten)");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0004_on_a_flat_input_inside_a_block_is_reported_at_the_stage()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Flatten] Layer flatten;
                [{|DRN0004:Stage<Excited>(8)|}] Layer layer1;
            }

            [Block]
            public class Excited
            {
                [SqueezeExcite] Layer se;
            }
            """);
        Expect.One(
            result, "DRN0004", DiagnosticSeverity.Error,
            "Input of 'layer1.0.se' is flat (192), but must be a C x H x W map (squeeze-and-excitation scales each channel of a map; put it before the global pooling or flatten)");
    }

    [Fact]
    public void DRN0024_reduction_with_channels()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [SqueezeExcite(Reduction = {|DRN0024:4|}, Channels = 6)] Layer se;
            }
            """);
        Expect.One(result, "DRN0024", DiagnosticSeverity.Warning, "Reduction of 'se' has no effect: Channels gives the hidden channels exactly");
        Expect.Generated(result, "Net");
    }

    /// <summary>
    /// timm: <c>rd = make_divisible(C / 16, 8)</c>, i.e. <c>max(8, int(C / 16 + 4) // 8 * 8)</c>, worked by hand: 64 -> 4 + 4 = 8
    /// -> 8; 100 -> 10.25 -> 8; 200 -> 16.5 -> 16; 360 -> 26.5 -> 24; 2048 -> 132 -> 128; 64 with r = 4 -> 20 -> 16;
    /// 48 with r = 4 -> 16 -> 16; 40 with r = 4 -> 14 -> 8.
    /// </summary>
    [Theory]
    [InlineData(64, 16, 8)]
    [InlineData(100, 16, 8)]
    [InlineData(200, 16, 16)]
    [InlineData(360, 16, 24)]
    [InlineData(2048, 16, 128)]
    [InlineData(64, 4, 16)]
    [InlineData(48, 4, 16)]
    [InlineData(40, 4, 8)]
    public void Hidden_channels_round_as_timm(int channels, int reduction, int expected) =>
        Assert.Equal(expected, ShapeInference.SqueezeChannels(channels, reduction));

    [Fact]
    public void Expands_into_timm_SEModule_names_shapes_and_counts()
    {
        System.Reflection.Assembly assembly = Loaded.Load(Harness.Run(Harness.WithUsing("""
            namespace S;

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(64, 3, Padding = 1)] Layer conv1;
                [BatchNorm] Layer bn1;
                [Stage<Excited>(64)] Layer layer1;
                [SqueezeExcite(Channels = 5)] Layer se;
                [GlobalAvgPool] Layer avgpool;
                [Dense(10)] Layer fc;
            }

            [Block]
            public class Excited
            {
                [Conv(3, Padding = 1)] Layer conv1;
                [BatchNorm] Layer bn1;
                [SqueezeExcite] Layer se;
                [Residual] Layer add;
            }
            """)));
        var info = Loaded.Info(assembly, "S.Net");

        // torch: SEModule(64, rd_ratio=1/16) has fc1 = Conv2d(64, 8, 1) and fc2 = Conv2d(8, 64, 1), both with bias.
        Assert.Equal(new[] { 8, 64, 1, 1 }, info.Parameter("layer1.0.se.fc1.weight").Shape);
        Assert.Equal(new[] { 8 }, info.Parameter("layer1.0.se.fc1.bias").Shape);
        Assert.Equal(new[] { 64, 8, 1, 1 }, info.Parameter("layer1.0.se.fc2.weight").Shape);
        Assert.Equal(new[] { 64 }, info.Parameter("layer1.0.se.fc2.bias").Shape);
        Assert.Equal(new[] { 5, 64, 1, 1 }, info.Parameter("se.fc1.weight").Shape);
        Assert.Equal(new[] { 64, 5, 1, 1 }, info.Parameter("se.fc2.weight").Shape);

        // The module's layers in order, the merge last with the map as its first input and the gate as its second.
        string[] names = info.Layers.Where(l => l.Name.StartsWith("layer1.0.se", System.StringComparison.Ordinal)).Select(l => l.Name + ":" + l.Kind).ToArray();
        Assert.Equal(
            new[] { "layer1.0.se.pool:GlobalAvgPool", "layer1.0.se.fc1:Conv", "layer1.0.se.act:ReLU", "layer1.0.se.fc2:Conv", "layer1.0.se.gate:Sigmoid", "layer1.0.se:ChannelScale" },
            names);
        var scale = info.Layers.Single(l => l.Name == "layer1.0.se");
        Assert.Equal(new[] { info.Layers.Single(l => l.Name == "layer1.0.bn1").Index, info.Layers.Single(l => l.Name == "layer1.0.se.gate").Index }, scale.Inputs);
        Assert.Equal(TensorShape.Image(64, 8, 8), scale.OutputShape);
        Assert.Equal(TensorShape.Image(64, 1, 1), info.Layers.Single(l => l.Name == "layer1.0.se.pool").OutputShape);

        long stem = (64 * 3 * 9) + 128, block = (64 * 64 * 9) + 128;
        long se1 = (8 * 64) + 8 + (64 * 8) + 64, se2 = (5 * 64) + 5 + (64 * 5) + 64, fc = (64 * 10) + 10;
        Assert.Equal(stem + block + se1 + se2 + fc, Loaded.Constant(assembly, "S.Net", "ParameterCount"));
    }
}
