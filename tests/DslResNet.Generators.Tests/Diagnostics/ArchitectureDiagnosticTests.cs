using System.Globalization;
using System.Linq;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>The DslResNet.Architecture diagnostics: numbers, shapes, shortcuts and names.</summary>
public sealed class ArchitectureDiagnosticTests
{
    private const string BasicBlock = TestSources.BasicBlock;

    [Fact]
    public void DRN0004_is_reported_at_the_offending_argument()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, {|DRN0004:0|})] Layer conv1;
                [Dropout({|DRN0004:1.0|})] Layer drop;
            }
            """);
        Assert.Equal(
            new[] { "Kernel size of 'conv1' is 0, but must be at least 1", "Dropout rate of 'drop' is 1, but must be at least 0 and below 1" },
            result.Ours.Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
        Assert.All(result.Ours, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0004_groups_below_one()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1, Groups = {|DRN0004:0|})] Layer conv1;
            }
            """);
        Expect.One(result, "DRN0004", DiagnosticSeverity.Error, "Groups of 'conv1' is 0, but must be at least 1");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0004_groups_that_do_not_divide_the_channels()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Conv(12, 3, Padding = 1, Groups = {|DRN0004:3|})] Layer conv2;
            }
            """);
        Expect.One(result, "DRN0004", DiagnosticSeverity.Error, "Groups of 'conv2' is 3, but must be a divisor of both its input channels (8) and output channels (12)");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void Grouped_convolution_weights_are_out_by_in_over_groups()
    {
        System.Reflection.Assembly assembly = Loaded.Load(Harness.Run(Harness.WithUsing("""
            namespace G;

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Conv(16, 3, Padding = 1, Groups = 4)] Layer conv2;
                [Conv(16, 3, Padding = 1, Groups = 16, Bias = true)] Layer conv3;
            }
            """)));
        var info = Loaded.Info(assembly, "G.Net");
        Assert.Equal(new[] { 16, 2, 3, 3 }, info.Parameter("conv2.weight").Shape); // torch: Conv2d(8, 16, 3, groups=4).weight
        Assert.Equal(new[] { 16, 1, 3, 3 }, info.Parameter("conv3.weight").Shape);
        Assert.Equal((8 * 3 * 9) + (16 * 2 * 9) + (16 * 9) + 16, Loaded.Constant(assembly, "G.Net", "ParameterCount"));
    }

    [Fact]
    public void DRN0004_network_input_size()
    {
        var result = Expect.Spans("""
            [Network(3, {|DRN0004:0|}, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
            }
            """);
        Expect.One(result, "DRN0004", DiagnosticSeverity.Error, "Input height of 'Net' is 0, but must be at least 1");
    }

    [Fact]
    public void DRN0004_batch_norm_and_pool_settings()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [BatchNorm(Eps = {|DRN0004:0|}, Momentum = {|DRN0004:1.5|})] Layer bn1;
                [MaxPool(2, Padding = {|DRN0004:2|})] Layer pool;
            }
            """);
        Assert.Equal(
            new[]
            {
                "Eps of 'bn1' is 0, but must be a positive, finite number (PyTorch's default is 1e-5)",
                "Momentum of 'bn1' is 1.5, but must be between 0 and 1 (PyTorch's default is 0.1)",
                "Padding of 'pool' is 2, but must be at most half the kernel size, 1 (a window must never lie wholly in the padding)",
            },
            result.Ours.Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void DRN0004_padding_so_large_that_the_output_would_overflow()
    {
        // Shapes are computed in long: a huge padding must not wrap around to a plausible output size.
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Wrapped
            {
                [Conv(8, 3, Padding = {|DRN0004:int.MaxValue|})] Layer conv1;
            }

            [Network(3, 8, 8)]
            public partial class Huge
            {
                [{|DRN0004:Conv(8, 3, Padding = 1_000_000_000)|}] Layer conv1;
            }
            """);
        Assert.Equal(
            new[]
            {
                "Padding of 'conv1' is 2147483647, but must be small enough for an output of at most 2147483647 rows and columns",
                "Output size of 'conv1' is (8, 2000000006, 2000000006), but must be between 1 and 2147483647 elements",
            },
            result.Ours.Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
        Assert.Empty(result.Generated);
    }

    [Fact]
    public void DRN0005_kernel_larger_than_the_input()
    {
        var result = Expect.Spans("""
            [Network(3, 4, 4)]
            public partial class Net
            {
                [Conv(8, {|DRN0005:7|})] Layer conv1;
            }
            """);
        Expect.One(result, "DRN0005", DiagnosticSeverity.Error, "'conv1' (Conv2d 3->8, 7x7) cannot apply to its input (3, 4, 4): the 7x7 window is larger than the input 4x4");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0005_window_larger_than_the_padded_input_after_downsampling()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [MaxPool(4)] Layer pool;
                [Conv(8, {|DRN0005:7|}, Padding = 2)] Layer conv2;
            }
            """);
        Expect.One(result, "DRN0005", DiagnosticSeverity.Error, "'conv2' (Conv2d 8->8, 7x7, pad 2) cannot apply to its input (8, 2, 2): the 7x7 window is larger than the padded input 6x6");
    }

    [Fact]
    public void DRN0006_pool_that_drops_the_last_row_is_reported_at_the_attribute_when_stride_is_not_written()
    {
        var result = Expect.Spans("""
            [Network(8, 7, 7)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [{|DRN0006:AvgPool(2)|}] Layer pool;
            }
            """);
        Expect.One(
            result, "DRN0006", DiagnosticSeverity.Warning,
            "'pool' (AvgPool 2x2, stride 2) on input (8, 7, 7) never reads the last 1 row and column of its input: size + 2 x padding - kernel = 5 is not a multiple of stride 2");
        Expect.Generated(result, "Net"); // a warning does not stop generation
    }

    [Fact]
    public void DRN0006_conv_stride_is_reported_at_the_stride_argument()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Stride = {|DRN0006:2|})] Layer conv1;
            }
            """);
        Expect.One(
            result, "DRN0006", DiagnosticSeverity.Warning,
            "'conv1' (Conv2d 3->8, 3x3, stride 2) on input (3, 8, 8) never reads the last 1 row and column of its input: size + 2 x padding - kernel = 5 is not a multiple of stride 2");
    }

    [Fact]
    public void DRN0006_is_not_reported_for_1x1_stride_2_or_3x3_stride_2_pad_1()
    {
        // On 8x8 both leave a remainder of 1 in (size + 2p - k) / s, yet neither skips input: the 1x1 conv reads every
        // other pixel by design and the 3x3 conv's remainder lies wholly in its padding.
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Conv(16, 1, Stride = 2)] Layer down;
                [Conv(16, 3, Stride = 2, Padding = 1)] Layer conv2;
                [MaxPool(3, Stride = 2, Padding = 1)] Layer pool;
            }
            """);
        Assert.Empty(result.Ours);
    }

    [Fact]
    public void DRN0007_top_level_residual_whose_sides_cannot_be_bridged()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Conv(8, 3)] Layer conv2;
                [{|DRN0007:Residual(From = nameof(conv1))|}] Layer add;
            }
            """);
        Expect.One(
            result, "DRN0007", DiagnosticSeverity.Error,
            "Residual 'add' adds its shortcut (8, 8, 8) to the body's output (8, 6, 6): no stride takes 8x8 to 6x6, so no shortcut can bridge them");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0007_in_a_block_is_reported_at_the_stage_with_the_block_layer_as_additional_location()
    {
        var result = Expect.Spans(
            """
            [Network(3, 8, 8, Shortcut = ShortcutKind.Identity)]
            public partial class Net
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [Stage<Basic>(16)] Layer layer1;
                [{|DRN0007:Stage<Basic>(32, Stride = 2)|}] Layer layer2;
            }
            """,
            BasicBlock);
        Diagnostic d = Expect.One(
            result, "DRN0007", DiagnosticSeverity.Error,
            "Residual 'layer2.0.add' adds its shortcut (16, 8, 8) to the body's output (32, 4, 4): an identity shortcut needs equal shapes; set Shortcut = ShortcutKind.Projection (1x1 conv + batch norm) or ShortcutKind.ZeroPad on the residual or the network");
        Location additional = Assert.Single(d.AdditionalLocations);
        Assert.Equal("/src/Other0.cs", additional.SourceTree!.FilePath);
        Assert.Equal("Residual", Expect.TextAt(additional));
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0007_zero_pad_shortcut_cannot_remove_channels()
    {
        var result = Expect.Spans(
            """
            [Network(3, 8, 8, Shortcut = ShortcutKind.ZeroPad)]
            public partial class Net
            {
                [Conv(32, 3, Padding = 1)] Layer conv1;
                [{|DRN0007:Stage<Basic>(16)|}] Layer layer1;
            }
            """,
            BasicBlock);
        Expect.One(
            result, "DRN0007", DiagnosticSeverity.Error,
            "Residual 'layer1.0.add' adds its shortcut (32, 8, 8) to the body's output (16, 8, 8): a zero-padding shortcut can add channels but not remove them (32 -> 16); use ShortcutKind.Projection");
    }

    [Fact]
    public void DRN0007_is_not_reported_when_a_zero_pad_or_projection_shortcut_can_bridge()
    {
        var result = Expect.Spans(
            """
            [Network(3, 8, 8, Shortcut = ShortcutKind.ZeroPad)]
            public partial class Padded
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [Stage<Basic>(32, Stride = 2)] Layer layer1;
            }

            [Network(3, 8, 8)]
            public partial class Projected
            {
                [Conv(32, 3, Padding = 1)] Layer conv1;
                [Stage<Basic>(16, Stride = 2)] Layer layer1;
            }
            """,
            BasicBlock);
        Assert.Empty(result.Ours);
        Expect.Generated(result, "Padded");
        Expect.Generated(result, "Projected");
    }

    [Fact]
    public void DRN0007_is_not_reported_for_the_projections_without_norm_and_with_an_average_pool()
    {
        var result = Expect.Spans(
            """
            [Network(3, 8, 8, Shortcut = ShortcutKind.ProjectionWithoutNorm)]
            public partial class Bare
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [Stage<Basic>(32)] Layer layer1;
                [Stage<Basic>(64, Stride = 2)] Layer layer2;
            }

            [Network(3, 8, 8, Shortcut = ShortcutKind.AvgPoolProjection)]
            public partial class Pooled
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [Stage<Basic>(32)] Layer layer1;
                [Stage<Basic>(64, Stride = 2)] Layer layer2;
            }
            """,
            BasicBlock);
        Assert.Empty(result.Ours);
        Expect.Generated(result, "Bare");
        Expect.Generated(result, "Pooled");
    }

    [Fact]
    public void DRN0007_average_pool_shortcut_needs_a_size_the_stride_divides()
    {
        var result = Expect.Spans(
            """
            [Network(3, 7, 7, Shortcut = ShortcutKind.AvgPoolProjection)]
            public partial class Net
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [{|DRN0007:Stage<Basic>(32, Stride = 2)|}] Layer layer1;
            }
            """,
            BasicBlock);
        Expect.One(
            result, "DRN0007", DiagnosticSeverity.Error,
            "Residual 'layer1.0.add' adds its shortcut (16, 7, 7) to the body's output (32, 4, 4): an average-pool shortcut needs a height and width divisible by the stride 2 (PyTorch's ceil_mode partial windows are not supported); use ShortcutKind.Projection or an input size that divides");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0007_projection_from_a_layer_of_another_shape()
    {
        var result = Expect.Spans(
            """
            [Block]
            public class Wrong
            {
                [BatchNorm] Layer bn1;
                [ReLU] Layer relu1;
                [Conv(3, Padding = 1, Strided = true)] Layer conv1;
                [Residual(ProjectionFrom = nameof(conv1))] Layer add;
            }

            [Network(3, 8, 8, Shortcut = ShortcutKind.ProjectionWithoutNorm)]
            public partial class Net
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [{|DRN0007:Stage<Wrong>(32, Stride = 2)|}] Layer layer1;
            }
            """);
        Diagnostic d = Expect.One(
            result, "DRN0007", DiagnosticSeverity.Error,
            "Residual 'layer1.0.add' adds its shortcut (16, 8, 8) to the body's output (32, 4, 4): ProjectionFrom = 'conv1' gives (32, 4, 4), but the layer it projects must have the shortcut's shape (16, 8, 8) (a batch norm or activation of the block's input has it)");
        Assert.Equal("nameof(conv1)", Expect.TextAt(Assert.Single(d.AdditionalLocations)));
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0010_dense_on_an_image_shaped_input()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(64, 3, Padding = 1)] Layer conv1;
                [Dense({|DRN0010:10|})] Layer fc;
            }
            """);
        Expect.One(
            result, "DRN0010", DiagnosticSeverity.Error,
            "Dense layer 'fc' gets the image-shaped input (64, 8, 8); put [Flatten] (to keep 4096 features) or [GlobalAvgPool] (to keep 64) before it");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0010_is_not_reported_after_flatten_or_on_a_1x1_map()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(64, 3, Padding = 1)] Layer conv1;
                [Flatten] Layer flatten;
                [Dense(10)] Layer fc;
            }

            [Network(3, 1, 1)]
            public partial class Pixel
            {
                [Dense(10)] Layer fc;
            }
            """);
        Assert.Empty(result.Ours);
    }

    [Fact]
    public void DRN0016_shortcut_from_a_later_or_unknown_layer()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Residual(From = {|DRN0016:nameof(conv2)|})] Layer add1;
                [Conv(8, 3, Padding = 1)] Layer conv2;
                [Residual(From = {|DRN0016:"nowhere"|})] Layer add2;
            }
            """);
        Assert.Equal(
            new[]
            {
                "Residual 'add1' starts its shortcut from 'conv2', which is not a layer declared before it in 'Net'",
                "Residual 'add2' starts its shortcut from 'nowhere', which is not a layer declared before it in 'Net'",
            },
            result.Ours.Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
        Assert.All(result.Ours, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
    }

    [Fact]
    public void DRN0016_projection_from_a_later_or_unknown_layer()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Residual(From = nameof(conv1), ProjectionFrom = {|DRN0016:nameof(conv2)|})] Layer add1;
                [Conv(8, 3, Padding = 1)] Layer conv2;
            }
            """);
        Assert.Equal(
            "Residual 'add1' starts its shortcut from 'conv2', which is not a layer declared before it in 'Net'",
            Assert.Single(result.Ours).GetMessage(CultureInfo.InvariantCulture));
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0017_residual_outside_a_block_without_From()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [{|DRN0017:Residual|}] Layer add;
            }
            """);
        Expect.One(
            result, "DRN0017", DiagnosticSeverity.Error,
            "Residual 'add' is not in a block, so it has no block input to start from; say where its shortcut starts with From = nameof(layer)");
    }

    [Fact]
    public void DRN0018_block_only_settings_in_a_network()
    {
        var result = Expect.Spans(
            """
            [Network(3, 8, 8)]
            public partial class Net
            {
                [{|DRN0018:Conv(3, Padding = 1)|}] Layer conv1;
                [Conv(8, 3, Padding = 1, Strided = {|DRN0018:true|})] Layer conv2;
                [{|DRN0018:Stage<Basic>|}] Layer layer1;
            }
            """,
            BasicBlock);
        Assert.Equal(
            new[]
            {
                "'conv1' leaves out its output channels (they would come from a block), which only has a meaning inside a [Block] class",
                "'conv2' is Strided (it would take the stride a stage passes to its block), which only has a meaning inside a [Block] class",
                "'layer1' leaves out its channels (they would come from an enclosing block), which only has a meaning inside a [Block] class",
            },
            result.Ours.Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
        Assert.All(result.Ours, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
    }

    [Fact]
    public void DRN0019_stage_stride_that_no_block_layer_applies()
    {
        var result = Expect.Spans(
            """
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Stage<Unstrided>(8, Stride = {|DRN0019:2|})] Layer layer1;
            }
            """,
            """
            [Block]
            public class Unstrided
            {
                [Conv(3, Padding = 1)] Layer conv1;
                [Residual] Layer add;
            }
            """);
        Expect.One(
            result, "DRN0019", DiagnosticSeverity.Error,
            "Stage 'layer1' passes a stride to block 'Unstrided', but no layer of 'Unstrided' is marked Strided = true, so the stride would be ignored");
    }

    [Fact]
    public void DRN0020_two_projection_shortcuts_with_one_name()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Conv(16, 3, Padding = 1)] Layer conv2;
                [Residual(From = nameof(conv1))] Layer add1;
                [Conv(32, 3, Padding = 1)] Layer conv3;
                [{|DRN0020:Residual(From = nameof(add1))|}] Layer add2;
            }
            """);
        Expect.One(
            result, "DRN0020", DiagnosticSeverity.Error,
            "'add2' names the parameter 'downsample.0.weight' that 'add1' already names; rename a layer (or set the residual's ProjectionName)");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0020_is_not_reported_when_ProjectionName_tells_them_apart()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Conv(16, 3, Padding = 1)] Layer conv2;
                [Residual(From = nameof(conv1))] Layer add1;
                [Conv(32, 3, Padding = 1)] Layer conv3;
                [Residual(From = nameof(add1), ProjectionName = "downsample2")] Layer add2;
            }
            """);
        Assert.Empty(result.Ours);
        Expect.Generated(result, "Net");
    }

    [Fact]
    public void DRN0024_settings_without_effect()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(16, 3, Padding = 1, Expansion = {|DRN0024:4|})] Layer conv1;
                [Stage<Body>(16)] Layer layer1;
            }

            [Block]
            public class Body
            {
                [Conv(3, Padding = 1, Strided = true, Stride = {|DRN0024:2|})] Layer conv1;
                [Residual] Layer add;
            }
            """);
        Assert.Equal(
            new[]
            {
                "Expansion of 'conv1' has no effect: it scales the block's channels, which only happens when the channels are left out",
                "Stride of 'conv1' has no effect: Strided = true takes the stride from the stage instead",
            },
            result.Ours.Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
        Assert.All(result.Ours, d => Assert.Equal(DiagnosticSeverity.Warning, d.Severity));
        Expect.Generated(result, "Net");
    }

    [Fact]
    public void Block_used_by_two_networks_reports_its_own_error_once()
    {
        var result = Expect.Spans(
            """
            [Block]
            public class Broken
            {
                [Conv(3, Stride = {|DRN0004:0|})] Layer conv1;
            }
            """,
            """
            [Network(3, 8, 8)]
            public partial class First
            {
                [Stage<Broken>(8)] Layer layer1;
            }

            [Network(3, 8, 8)]
            public partial class Second
            {
                [Stage<Broken>(16, Repeat = 2)] Layer layer1;
            }
            """);
        Expect.One(result, "DRN0004", DiagnosticSeverity.Error, "Stride of 'conv1' is 0, but must be at least 1");
        Assert.Empty(result.Generated);
    }

    [Fact]
    public void Shape_error_inside_a_block_is_reported_only_at_the_stage_that_breaks_it()
    {
        // The block is fine on its own; only First feeds it a map too small for its kernel, so only First's stage reports.
        var result = Expect.Spans(
            """
            [Network(3, 4, 4)]
            public partial class First
            {
                [{|DRN0005:Stage<Big>(8)|}] Layer layer1;
            }

            [Network(3, 16, 16)]
            public partial class Second
            {
                [Stage<Big>(8)] Layer layer1;
            }
            """,
            """
            [Block]
            public class Big
            {
                [Conv(5)] Layer conv1;
            }
            """);
        Diagnostic d = Expect.One(
            result, "DRN0005", DiagnosticSeverity.Error,
            "'layer1.0.conv1' (Conv2d 3->8, 5x5) cannot apply to its input (3, 4, 4): the 5x5 window is larger than the input 4x4");
        Assert.Equal("5", Expect.TextAt(Assert.Single(d.AdditionalLocations)));
        Expect.NotGenerated(result, "First");
        Expect.Generated(result, "Second");
    }
}
