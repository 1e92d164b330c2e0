using System.Linq;
using System.Reflection;
using DslResNet.Generators.Tests.Infrastructure;
using Xunit;

namespace DslResNet.Generators.Tests.Facts;

/// <summary>Shape inference, naming and planning on networks that are not among the samples, checked by hand.</summary>
public sealed class ShapeInferenceTests
{
    private static NetworkInfo Info(string source, string type)
    {
        HarnessResult result = Harness.Run("using DslResNet;\nnamespace T;\n" + source);
        Assert.Empty(result.Diagnostics.Where(d => d.Severity >= Microsoft.CodeAnalysis.DiagnosticSeverity.Warning));
        Assembly assembly = Loaded.Load(result);
        return Loaded.Info(assembly, "T." + type);
    }

    private const string Basic = TestSources.BasicBlock;

    [Fact]
    public void LayersOf_reuses_the_layers_on_another_input_size()
    {
        NetworkInfo info = Info(Basic + """
            [Network(3, 32, 32, Shortcut = ShortcutKind.ZeroPad)]
            public partial class Cifar
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [BatchNorm] Layer bn1;
                [ReLU] Layer relu;
                [Stage<Basic>(16, Repeat = 1)] Layer layer1;
                [Stage<Basic>(32, Repeat = 1, Stride = 2)] Layer layer2;
                [Stage<Basic>(64, Repeat = 1, Stride = 2)] Layer layer3;
                [GlobalAvgPool] Layer avgpool;
                [Dense(10)] Layer fc;
            }
            [Network(1, 28, 28, LayersOf = typeof(Cifar))]
            public partial class Fashion;
            """, "Fashion");
        Assert.Equal(TensorShape.Image(1, 28, 28), info.InputShape);
        Assert.Equal(TensorShape.Image(32, 14, 14), info.Layers.Single(l => l.Name == "layer2.0.relu2").OutputShape);
        Assert.Equal(TensorShape.Image(64, 7, 7), info.Layers.Single(l => l.Name == "layer3.0.relu2").OutputShape);
        Assert.Equal(new[] { 16, 1, 3, 3 }, info.Parameter("conv1.weight").Shape);
        Assert.Contains(info.Layers, l => l.Kind == LayerKind.ZeroPadShortcut); // the shortcut kind comes from the source
        Assert.Equal(TensorShape.Flat(10), info.OutputShape);
    }

    [Fact]
    public void Nested_blocks_take_channels_and_stride_from_the_enclosing_block_and_are_named_by_path()
    {
        NetworkInfo info = Info(Basic + """
            [Block]
            public class Pair
            {
                [Stage<Basic>(Expansion = 2, Strided = true)] Layer inner;
                [Conv(1)] Layer mix;
            }
            [Network(3, 16, 16)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer stem;
                [Stage<Pair>(8, Repeat = 2, Stride = 2)] Layer layer1;
                [GlobalAvgPool] Layer pool;
                [Dense(4)] Layer fc;
            }
            """, "Net");
        Assert.Equal(new[] { 16, 8, 3, 3 }, info.Parameter("layer1.0.inner.0.conv1.weight").Shape);
        Assert.Equal(2, info.Layers.Single(l => l.Name == "layer1.0.inner.0.conv1").Stride);
        Assert.Equal(1, info.Layers.Single(l => l.Name == "layer1.1.inner.0.conv1").Stride);
        Assert.Equal(new[] { 16, 8, 1, 1 }, info.Parameter("layer1.0.inner.0.downsample.0.weight").Shape);
        Assert.Equal(new[] { 8, 16, 1, 1 }, info.Parameter("layer1.0.mix.weight").Shape);
        Assert.Equal(TensorShape.Image(8, 8, 8), info.Layers.Single(l => l.Name == "layer1.1.mix").OutputShape);
    }

    [Fact]
    public void Residual_From_routes_the_shortcut_from_the_named_layer()
    {
        NetworkInfo info = Info("""
            [Block]
            public class PreAct
            {
                [BatchNorm] Layer bn1;
                [ReLU] Layer relu1;
                [Conv(3, Padding = 1, Strided = true)] Layer conv1;
                [BatchNorm] Layer bn2;
                [ReLU] Layer relu2;
                [Conv(3, Padding = 1)] Layer conv2;
                [Residual(From = nameof(relu1), ProjectionName = "shortcut")] Layer add;
            }
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(4, 3, Padding = 1)] Layer conv1;
                [Stage<PreAct>(8, Stride = 2)] Layer layer1;
                [Conv(8, 1)] Layer head;
                [Residual(From = nameof(layer1))] Layer skip;
                [Flatten] Layer flat;
                [Dense(3)] Layer fc;
            }
            """, "Net");
        LayerInfo relu1 = info.Layers.Single(l => l.Name == "layer1.0.relu1");
        LayerInfo projection = info.Layers.Single(l => l.Name == "layer1.0.shortcut.0");
        Assert.Equal(new[] { relu1.Index }, projection.Inputs);
        LayerInfo add = info.Layers.Single(l => l.Name == "layer1.0.add");
        Assert.Equal(info.Layers.Single(l => l.Name == "layer1.0.conv2").Index, add.Inputs[0]);
        Assert.Equal(info.Layers.Single(l => l.Name == "layer1.0.shortcut.1").Index, add.Inputs[1]);
        LayerInfo skip = info.Layers.Single(l => l.Name == "skip");
        Assert.Equal(new[] { info.Layers.Single(l => l.Name == "head").Index, add.Index }, skip.Inputs);
        Assert.Equal(new[] { 3, 8 * 4 * 4 }, info.Parameter("fc.weight").Shape);
    }

    [Fact]
    public void Pooling_flatten_dense_bias_and_batchnorm1d_shapes()
    {
        NetworkInfo info = Info("""
            [Network(1, 28, 28)]
            public partial class Net
            {
                [Conv(6, 5, Bias = true)] Layer conv1;
                [Sigmoid] Layer act1;
                [AvgPool(2)] Layer pool1;
                [Conv(16, 5, Bias = true)] Layer conv2;
                [MaxPool(3, Stride = 2, Padding = 1)] Layer pool2;
                [Flatten] Layer flatten;
                [Dense(120)] Layer fc1;
                [BatchNorm] Layer bn;
                [ReLU] Layer relu;
                [Dense(10, Bias = false)] Layer fc2;
            }
            """, "Net");
        Assert.Equal(TensorShape.Image(6, 24, 24), info.Layers[0].OutputShape);
        Assert.Equal(TensorShape.Image(6, 12, 12), info.Layers[2].OutputShape);
        Assert.Equal(TensorShape.Image(16, 8, 8), info.Layers[3].OutputShape);
        Assert.Equal(TensorShape.Image(16, 4, 4), info.Layers[4].OutputShape);
        Assert.Equal(TensorShape.Flat(256), info.Layers[5].OutputShape);
        Assert.Equal(new[] { 6 }, info.Parameter("conv1.bias").Shape);
        Assert.Equal("BatchNorm1d(120)", info.Layers.Single(l => l.Name == "bn").Operation);
        Assert.DoesNotContain(info.Parameters, p => p.Name == "fc2.bias");
        long expected = (6 * 25 + 6) + (16 * 6 * 25 + 16) + (120 * 256 + 120) + (2 * 120) + (10 * 120);
        Assert.Equal(expected, info.ParameterCount);
        long macs = (6L * 24 * 24 * 25) + (16L * 8 * 8 * 6 * 25) + (120L * 256) + (10L * 120);
        Assert.Equal(macs, info.MultiplyAdds);
    }

    [Fact]
    public void Inference_buffers_with_disjoint_lifetimes_share_the_arena()
    {
        // Groups: conv1+relu (4x8x8 = 1024 B), conv2+relu (8x8x8 = 2048 B), pool (32 B), fc (8 B).
        // conv1's buffer dies when conv2 has read it, so pool's buffer can take its place: 2048 + 1024 in all.
        NetworkInfo info = Info("""
            [Network(1, 8, 8)]
            public partial class Net
            {
                [Conv(4, 3, Padding = 1)] Layer conv1;
                [ReLU] Layer relu1;
                [Conv(8, 3, Padding = 1)] Layer conv2;
                [ReLU] Layer relu2;
                [GlobalAvgPool] Layer pool;
                [Dense(2)] Layer fc;
            }
            """, "Net");
        Assert.Equal(4, info.FusionGroups.Count);
        Assert.Equal(new[] { 0, 1 }, info.FusionGroups[0].Layers);
        Assert.Equal(3072, info.InferenceBytesPerImage);
        Assert.True(info.TrainingBytesPerImage > info.InferenceBytesPerImage);
    }

    [Fact]
    public void An_add_writes_its_output_over_a_residual_nothing_reads_after_it()
    {
        // Groups: conv1+relu1 (4x8x8 floats: 1024 B), conv2+relu2 (1024 B), conv3+add+relu3 (1024 B), pool, fc. The add's
        // group writes over relu1's buffer, which nothing reads after it: 2048 B in all (3072 with its own buffer).
        NetworkInfo info = Info(AfterConv1("""
            [Conv(4, 3, Padding = 1)] Layer conv2;
            [ReLU] Layer relu2;
            [Conv(4, 3, Padding = 1)] Layer conv3;
            [Residual(From = nameof(relu1))] Layer add;
            [ReLU] Layer relu3;
            """), "Net");
        Assert.Equal(5, info.FusionGroups.Count);
        Assert.Equal(2048, info.InferenceBytesPerImage);
    }

    [Fact]
    public void An_add_whose_residual_is_read_again_later_keeps_its_own_buffer()
    {
        // relu1 is the residual of two adds, in conv3's group and conv4's (neither convolution reads it): the first add's
        // group may not write over it, since the second reads it after. At conv3's group relu1, relu2 and its own output are
        // alive: 3072 B (2048 had it written over relu1; the second add's group writing over relu1 is what
        // An_add_writes_its_output_over_a_residual_nothing_reads_after_it checks).
        NetworkInfo info = Info(AfterConv1("""
            [Conv(4, 3, Padding = 1)] Layer conv2;
            [ReLU] Layer relu2;
            [Conv(4, 3, Padding = 1)] Layer conv3;
            [Residual(From = nameof(relu1))] Layer add1;
            [ReLU] Layer relu3;
            [Conv(4, 3, Padding = 1)] Layer conv4;
            [Residual(From = nameof(relu1))] Layer add2;
            [ReLU] Layer relu4;
            """), "Net");
        Assert.Equal(6, info.FusionGroups.Count);
        Assert.Equal(3072, info.InferenceBytesPerImage);
    }

    [Fact]
    public void An_add_whose_convolution_reads_the_residual_keeps_its_own_buffer()
    {
        // conv2 reads relu1 and its group adds relu1: written over, relu1 would change under the convolution still reading
        // its neighbours. 2048 B (1024 written over).
        NetworkInfo info = Info(AfterConv1("""
            [Conv(4, 3, Padding = 1)] Layer conv2;
            [Residual(From = nameof(relu1))] Layer add;
            [ReLU] Layer relu2;
            """), "Net");
        Assert.Equal(4, info.FusionGroups.Count);
        Assert.Equal(2048, info.InferenceBytesPerImage);
    }

    // A network of 1x8x8 images: conv1 (4 channels) and relu1, then body's layers, then pooling and a dense layer.
    private static string AfterConv1(string body) => $$"""
        [Network(1, 8, 8)]
        public partial class Net
        {
            [Conv(4, 3, Padding = 1)] Layer conv1;
            [ReLU] Layer relu1;
        {{body}}
            [GlobalAvgPool] Layer pool;
            [Dense(2)] Layer fc;
        }
        """;

    [Fact]
    public void Conv_bn_relu_add_relu_fuse_into_one_group()
    {
        NetworkInfo info = Info(Basic + """
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(4, 3, Padding = 1)] Layer conv1;
                [Stage<Basic>(4)] Layer layer1;
                [GlobalAvgPool] Layer pool;
                [Dense(2)] Layer fc;
            }
            """, "Net");
        string[] names(FusionGroupInfo g) => g.Layers.Select(i => info.Layers[i].Name).ToArray();
        Assert.Contains(info.FusionGroups, g => names(g).SequenceEqual(new[] { "layer1.0.conv2", "layer1.0.bn2", "layer1.0.add", "layer1.0.relu2" }));
        Assert.Contains(info.FusionGroups, g => names(g).SequenceEqual(new[] { "layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu1" }));
    }

    [Fact]
    public void Gelu_and_silu_are_layers_that_fuse_like_the_other_activations()
    {
        const string source = """
            [Network(2, 6, 6)]
            public partial class Net
            {
                [Conv(4, 3, Padding = 1)] Layer conv1;
                [BatchNorm] Layer bn1;
                [GELU] Layer gelu1;
                [Conv(4, 3, Padding = 1)] Layer conv2;
                [BatchNorm] Layer bn2;
                [Residual(From = nameof(gelu1))] Layer add;
                [SiLU] Layer silu1;
                [AvgPool(2, Stride = 2)] Layer pool;
                [SiLU] Layer silu2;
                [GELU] Layer gelu2;
                [Flatten] Layer flat;
                [Dense(2)] Layer fc;
            }
            """;
        NetworkInfo info = Info(source, "Net");
        string[] names(FusionGroupInfo g) => g.Layers.Select(i => info.Layers[i].Name).ToArray();
        Assert.Equal(new[] { LayerKind.GELU, LayerKind.SiLU, LayerKind.SiLU, LayerKind.GELU }, info.Layers.Where(l => LayerKinds.IsActivation(l.Kind)).Select(l => l.Kind));
        Assert.Equal("GELU", info.Layers.Single(l => l.Name == "gelu1").Operation);
        Assert.Equal("SiLU", info.Layers.Single(l => l.Name == "silu2").Operation);
        Assert.Equal(4 * 3 * 3, info.Layers.Single(l => l.Name == "gelu2").Flops); // one per element, as every activation
        Assert.Contains(info.FusionGroups, g => names(g).SequenceEqual(new[] { "conv1", "bn1", "gelu1" }));
        Assert.Contains(info.FusionGroups, g => names(g).SequenceEqual(new[] { "conv2", "bn2", "add", "silu1" }));
        Assert.Contains(info.FusionGroups, g => names(g).SequenceEqual(new[] { "silu2" }));
        Assert.Contains(info.FusionGroups, g => names(g).SequenceEqual(new[] { "gelu2" }));

        string generated = Harness.Run("using DslResNet;\nnamespace T;\n" + source).Generated.Values.Single();
        Assert.Contains("Activation.GELU, false, global::DslResNet.Kernels.Activation.None", generated, System.StringComparison.Ordinal);
        Assert.Contains("Activation.None, true, global::DslResNet.Kernels.Activation.SiLU", generated, System.StringComparison.Ordinal);
    }

    /// <summary>The generator compiles the runtime's Operations.cs as its own (internal) copy: the two agree name for name.</summary>
    [Fact]
    public void The_generator_and_the_runtime_share_one_definition_of_the_kinds()
    {
        Assert.Equal(
            System.Enum.GetNames<LayerKind>(),
            System.Enum.GetNames<DslResNet.Generators.Model.LayerKind>());
        Assert.Equal(
            System.Enum.GetValues<DslResNet.Kernels.Activation>().Select(a => (a.ToString(), (int)a)),
            System.Enum.GetValues<DslResNet.Generators.Model.Activation>().Select(a => (a.ToString(), (int)a)));
        foreach (DslResNet.Generators.Model.LayerKind kind in DslResNet.Generators.Model.LayerKinds.All)
        {
            _ = DslResNet.Generators.Model.LayerKinds.ActivationOf(kind);
        }
    }

    [Fact]
    public void Layer_settings_reach_the_layer_table()
    {
        NetworkInfo info = Info("""
            [Network(1, 8, 8)]
            public partial class Net
            {
                [Conv(4, 3, Padding = 1, Bias = true)] Layer conv1;
                [BatchNorm(Eps = 1e-3, Momentum = 0.01)] Layer bn1;
                [ReLU] Layer relu;
                [Flatten] Layer flat;
            #pragma warning disable DRN0012 // dropout before a batch norm on purpose: every setting must reach the table
                [Dropout(0.25)] Layer drop;
            #pragma warning restore DRN0012
                [Dense(2, Bias = false)] Layer fc;
                [BatchNorm] Layer bn2;
            }
            """, "Net");
        Assert.True(info.Layers[0].Bias);
        Assert.Equal(1e-3, info.Layers[1].Eps);
        Assert.Equal(0.01, info.Layers[1].Momentum);
        Assert.Equal(0.25, info.Layers[4].Rate);
        Assert.False(info.Layers[5].Bias);
        Assert.Equal(1e-5, info.Layers[6].Eps);
        Assert.Equal(0.1, info.Layers[6].Momentum);
    }
}
