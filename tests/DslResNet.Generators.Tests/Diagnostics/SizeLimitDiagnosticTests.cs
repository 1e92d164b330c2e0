using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>
/// DRN0004 for sizes past the documented limits: a tensor over 2,147,483,647 elements (input, output or parameter),
/// all parameters together over 2,147,483,591, channels that overflow, counts past 64 bits. Nothing wraps around.
/// </summary>
public sealed class SizeLimitDiagnosticTests
{
    [Fact]
    public void DRN0004_an_input_over_the_tensor_limit_is_reported_at_its_largest_argument()
    {
        var result = Expect.Spans("""
            [Network({|DRN0004:1073741823|}, 28, 28)]
            public partial class Net
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
            }
            """);
        Expect.One(
            result, "DRN0004", DiagnosticSeverity.Error,
            "Input size of 'Net' is (1073741823, 28, 28), 841,813,589,232 elements, but must be at most 2,147,483,647 elements");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0004_a_convolution_weight_over_the_tensor_limit_is_reported_at_its_channels()
    {
        var result = Expect.Spans("""
            [Network(65536, 1, 1)]
            public partial class Net
            {
                [Conv({|DRN0004:65536|}, 1)] Layer conv1;
            }
            """);
        Expect.One(
            result, "DRN0004", DiagnosticSeverity.Error,
            "Size of parameter 'conv1.weight' of 'conv1' is (65536, 65536, 1, 1), 4,294,967,296 elements, but must be at most 2,147,483,647 elements");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0004_a_dense_weight_over_the_tensor_limit_is_reported_at_its_features()
    {
        var result = Expect.Spans("""
            [Network(1, 1, 65536)]
            public partial class Net
            {
                [Flatten] Layer flat;
                [Dense({|DRN0004:65536|})] Layer fc;
            }
            """);
        Expect.One(
            result, "DRN0004", DiagnosticSeverity.Error,
            "Size of parameter 'fc.weight' of 'fc' is (65536, 65536), 4,294,967,296 elements, but must be at most 2,147,483,647 elements");
    }

    [Fact]
    public void DRN0004_parameters_over_the_total_limit_are_reported_at_the_layer_that_passes_it()
    {
        // Each weight is 46340 x 46340 = 2,147,395,600 elements, under the tensor limit; two are over the total.
        var result = Expect.Spans("""
            [Network(46340, 1, 1)]
            public partial class Net
            {
                [Conv(46340, 1)] Layer conv1;
                [{|DRN0004:Conv(46340, 1, Bias = true)|}] Layer conv2;
            }
            """);
        Expect.One(
            result, "DRN0004", DiagnosticSeverity.Error,
            "Parameter count of 'Net' is over 2,147,483,591 at 'conv2.weight', but must be at most 2,147,483,591 (the largest float array .NET allocates; the runtime keeps all parameters in one)");
    }

    [Fact]
    public void DRN0004_channels_times_expansion_past_int_range_are_reported_at_the_stage()
    {
        var result = Expect.Spans(
            """
            [Network(3, 4, 4)]
            public partial class Net
            {
                [{|DRN0004:Stage<Wide>(2)|}] Layer layer1;
            }
            """,
            """
            [Block]
            public class Wide
            {
                [Conv(1, Expansion = 1073741824)] Layer conv;
            }
            """);
        Expect.One(
            result, "DRN0004", DiagnosticSeverity.Error,
            "Channels of 'layer1.0.conv' is 2147483648 (2 x expansion 1073741824), but must be at most 2147483647");
    }

    [Fact]
    public void DRN0004_FLOPs_per_image_past_64_bits_are_reported_at_the_network()
    {
        // Each pool is within every size limit (about 4.6e18 comparisons); three together pass long.MaxValue.
        var result = Expect.Spans("""
            [{|DRN0004:Network(1, 46340, 46340)|}]
            public partial class Net
            {
                [MaxPool(46340, Stride = 1, Padding = 23169)] Layer pool1;
                [MaxPool(46340, Stride = 1, Padding = 23169)] Layer pool2;
                [MaxPool(46340, Stride = 1, Padding = 23169)] Layer pool3;
            }
            """);
        Expect.One(
            result, "DRN0004", DiagnosticSeverity.Error,
            "Forward FLOPs per image of 'Net' is over 9223372036854775807, but must be at most 9223372036854775807");
        Expect.NotGenerated(result, "Net");
    }
}
