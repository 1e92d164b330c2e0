using System;
using System.Linq;
using System.Reflection;
using DslResNet.Generators.Tests.Infrastructure;
using Xunit;

namespace DslResNet.Generators.Tests.Facts;

/// <summary>
/// The generated facts against independent truth: torchvision's parameter counts and state_dict names, the ResNet
/// paper's Table 1 (multiply-adds) and its CIFAR table (parameter counts).
/// </summary>
public sealed class PaperFactsTests
{
    private static readonly Lazy<Assembly> Samples = new(() =>
        Loaded.Load(Harness.Run(Harness.Compile(Harness.SampleSources().Select(s => ("/samples/" + s.Path, s.Source)).ToArray()))));

    // The paper's ResNet-50 (v1) puts the stride on the bottleneck's first 1x1 convolution; torchvision (v1.5, the
    // sample) puts it on the 3x3, which costs more multiply-adds for the same parameters.
    private const string PaperResNet50 = """
        using DslResNet;
        namespace Paper;
        [Block]
        public class BottleneckV1
        {
            [Conv(1, Strided = true)] Layer conv1;
            [BatchNorm] Layer bn1;
            [ReLU] Layer relu1;
            [Conv(3, Padding = 1)] Layer conv2;
            [BatchNorm] Layer bn2;
            [ReLU] Layer relu2;
            [Conv(1, Expansion = 4)] Layer conv3;
            [BatchNorm] Layer bn3;
            [Residual] Layer add;
            [ReLU] Layer relu3;
        }
        [Network(3, 224, 224)]
        public partial class ResNet50V1
        {
            [Conv(64, 7, Stride = 2, Padding = 3)] Layer conv1;
            [BatchNorm] Layer bn1;
            [ReLU] Layer relu;
            [MaxPool(3, Stride = 2, Padding = 1)] Layer maxpool;
            [Stage<BottleneckV1>(64, Repeat = 3)] Layer layer1;
            [Stage<BottleneckV1>(128, Repeat = 4, Stride = 2)] Layer layer2;
            [Stage<BottleneckV1>(256, Repeat = 6, Stride = 2)] Layer layer3;
            [Stage<BottleneckV1>(512, Repeat = 3, Stride = 2)] Layer layer4;
            [GlobalAvgPool] Layer avgpool;
            [Dense(1000)] Layer fc;
        }
        """;

    [Theory]
    [InlineData("ResNet18", 11_689_512)]
    [InlineData("ResNet34", 21_797_672)]
    [InlineData("ResNet50", 25_557_032)]
    public void ImageNet_parameter_counts_equal_torchvision(string network, long torchvision)
    {
        Assert.Equal(torchvision, Loaded.Constant(Samples.Value, "DslResNet.Samples." + network, "ParameterCount"));
        Assert.Equal(torchvision, Loaded.Info(Samples.Value, "DslResNet.Samples." + network).ParameterCount);
    }

    [Theory]
    [InlineData("DslResNet.Samples.ResNet18", 1.8)]
    [InlineData("DslResNet.Samples.ResNet34", 3.6)]
    [InlineData("Paper.ResNet50V1", 3.8)]
    public void Multiply_adds_match_the_paper_table_1(string network, double paperBillions)
    {
        Assembly assembly = network.StartsWith("Paper", StringComparison.Ordinal)
            ? Loaded.Load(Harness.Run(PaperResNet50))
            : Samples.Value;
        double billions = Loaded.Constant(assembly, network, "MultiplyAddsPerImage") / 1e9;

        // The paper prints one decimal and (for ResNet-34, 3.66) truncates rather than rounds.
        Assert.InRange(billions, paperBillions - 0.05, paperBillions + 0.1);
        Assert.Equal(2 * billions, Loaded.Info(assembly, network).Layers.Sum(l => l.MultiplyAdds) * 2 / 1e9, 9);
    }

    [Fact]
    public void Torchvision_v15_ResNet50_costs_more_than_the_paper_variant_with_the_same_parameters()
    {
        Assembly paper = Loaded.Load(Harness.Run(PaperResNet50));
        Assert.Equal(25_557_032, Loaded.Constant(paper, "Paper.ResNet50V1", "ParameterCount"));
        long v15 = Loaded.Constant(Samples.Value, "DslResNet.Samples.ResNet50", "MultiplyAddsPerImage");
        long v1 = Loaded.Constant(paper, "Paper.ResNet50V1", "MultiplyAddsPerImage");
        Assert.InRange(v15 / 1e9, 4.05, 4.15); // torchvision's documented 4.09 GFLOPS (multiply-adds)
        Assert.True(v15 > v1);
    }

    [Theory]
    [InlineData("ResNet20", 269_722, "0.27")]
    [InlineData("ResNet56", 853_018, "0.85")]
    [InlineData("ResNet110", 1_727_962, "1.7")]
    public void Cifar_parameter_counts_match_the_paper(string network, long exact, string paperMillions)
    {
        long count = Loaded.Constant(Samples.Value, "DslResNet.Samples." + network, "ParameterCount");
        Assert.Equal(exact, count); // option-A shortcuts add nothing; BN scale/shift and the fc bias count
        int digits = paperMillions.Length - paperMillions.IndexOf('.', StringComparison.Ordinal) - 1;
        Assert.Equal(double.Parse(paperMillions, System.Globalization.CultureInfo.InvariantCulture), Math.Round(count / 1e6, digits));
    }

    [Fact]
    public void ResNet18_state_dict_names_and_shapes_line_up_with_torchvision()
    {
        NetworkInfo info = Loaded.Info(Samples.Value, "DslResNet.Samples.ResNet18");
        Assert.Equal(122, info.Parameters.Count); // len(torchvision.models.resnet18().state_dict())
        Assert.Equal(
            new[] { "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.conv1.weight" },
            info.Parameters.Take(7).Select(p => p.Name));
        Assert.Equal(new[] { 128, 64, 1, 1 }, info.Parameter("layer2.0.downsample.0.weight").Shape);
        Assert.Equal(ParameterRole.RunningVar, info.Parameter("layer2.0.downsample.1.running_var").Role);
        Assert.Equal(new[] { 512, 256, 3, 3 }, info.Parameter("layer4.0.conv1.weight").Shape);
        Assert.Equal(new[] { 1000, 512 }, info.Parameter("fc.weight").Shape);
        Assert.Equal(new[] { "fc.weight", "fc.bias" }, info.Parameters.TakeLast(2).Select(p => p.Name));
        Assert.Empty(info.Parameter("bn1.num_batches_tracked").Shape);
        Assert.DoesNotContain(info.Parameters, p => p.Name.StartsWith("layer1.0.downsample", StringComparison.Ordinal));
        var ex = Assert.Throws<System.Collections.Generic.KeyNotFoundException>(() => info.Parameter("layer1.0.conv9.weight"));
        Assert.Contains("layer1.0.conv1.weight", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResNet50_bottleneck_names_follow_torchvision()
    {
        NetworkInfo info = Loaded.Info(Samples.Value, "DslResNet.Samples.ResNet50");
        Assert.Equal(new[] { 256, 64, 1, 1 }, info.Parameter("layer1.0.downsample.0.weight").Shape);
        Assert.Equal(new[] { 64, 256, 1, 1 }, info.Parameter("layer1.1.conv1.weight").Shape);
        Assert.Equal(new[] { 128, 128, 3, 3 }, info.Parameter("layer2.0.conv2.weight").Shape);
        Assert.Equal(new[] { 2048, 512, 1, 1 }, info.Parameter("layer4.2.conv3.weight").Shape);
        Assert.Equal(new[] { 1000, 2048 }, info.Parameter("fc.weight").Shape);
        Assert.Equal(2048, info.Layers.Single(l => l.Name == "avgpool").OutputShape.Channels);
    }

    [Fact]
    public void Plain_twins_have_the_same_layers_without_adds_or_projections()
    {
        NetworkInfo resnet = Loaded.Info(Samples.Value, "DslResNet.Samples.ResNet34");
        NetworkInfo plain = Loaded.Info(Samples.Value, "DslResNet.Samples.Plain34");
        Assert.DoesNotContain(plain.Layers, l => l.Kind is LayerKind.Add || l.Name.Contains("downsample", StringComparison.Ordinal));
        Assert.Equal(resnet.OutputShape, plain.OutputShape);
        long projections = resnet.Parameters.Where(p => p.IsTrainable && p.Name.Contains("downsample", StringComparison.Ordinal)).Sum(p => p.Elements);
        Assert.Equal(resnet.ParameterCount - projections, plain.ParameterCount);
        Assert.Equal(34, plain.Layers.Count(l => l.Kind is LayerKind.Conv or LayerKind.Dense));
    }

    [Fact]
    public void Summary_lists_every_layer_and_the_totals()
    {
        string summary = Loaded.Summary(Samples.Value, "DslResNet.Samples.ResNet20");
        NetworkInfo info = Loaded.Info(Samples.Value, "DslResNet.Samples.ResNet20");
        foreach (LayerInfo layer in info.Layers)
        {
            Assert.Contains("\n" + layer.Name + " ", summary, StringComparison.Ordinal);
        }

        Assert.Contains("Total params: 269,722", summary, StringComparison.Ordinal);
        Assert.Contains("Multiply-adds per image: " + info.MultiplyAdds.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), summary, StringComparison.Ordinal);
    }
}
