using System.Globalization;
using System.Linq;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>The DslResNet.Advice hints: warnings by default (so that command-line builds show them), never stop generation.</summary>
public sealed class AdviceDiagnosticTests
{
    /// <summary>conv, batch norm, ReLU: one weighted layer, no skip connection.</summary>
    private const string ConvBnBlock = """
        [Block]
        public class ConvBn
        {
            [Conv(3, Padding = 1)] Layer conv;
            [BatchNorm] Layer bn;
            [ReLU] Layer relu;
        }
        """;

    [Fact]
    public void DRN0011_batch_norm_right_before_tanh()
    {
        var result = Expect.Spans("""
            [Network(1, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [{|DRN0011:BatchNorm|}] Layer bn1;
                [Tanh] Layer act1;
                [Conv(8, 3, Padding = 1)] Layer conv2;
                [{|DRN0011:BatchNorm(Eps = 1e-3)|}] Layer bn2;
                [Sigmoid] Layer act2;
            }
            """);
        Assert.Equal(
            new[]
            {
                "Batch norm 'bn1' feeds Tanh 'act1' directly; with s-shaped activations batch norm after the activation often trains better",
                "Batch norm 'bn2' feeds Sigmoid 'act2' directly; with s-shaped activations batch norm after the activation often trains better",
            },
            result.Ours.Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
        Assert.All(result.Ours, d => Assert.Equal(DiagnosticSeverity.Warning, d.Severity));
        Expect.Generated(result, "Net");
    }

    [Fact]
    public void DRN0011_is_not_reported_for_relu_or_batch_norm_after_tanh()
    {
        var result = Expect.Spans("""
            [Network(1, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [BatchNorm] Layer bn1;
                [ReLU] Layer relu;
                [Conv(8, 3, Padding = 1)] Layer conv2;
                [Tanh] Layer act2;
                [BatchNorm] Layer bn2;
            }
            """);
        Assert.Empty(result.Ours);
    }

    [Fact]
    public void DRN0011_is_not_reported_for_gelu_or_silu()
    {
        var result = Expect.Spans("""
            [Network(1, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [BatchNorm] Layer bn1;
                [GELU] Layer gelu;
                [Conv(8, 3, Padding = 1)] Layer conv2;
                [BatchNorm] Layer bn2;
                [SiLU] Layer silu;
            }
            """);
        Assert.Empty(result.Ours);
    }

    [Fact]
    public void DRN0012_dropout_before_a_batch_norm()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [ReLU] Layer relu;
                [{|DRN0012:Dropout(0.3)|}] Layer drop;
                [Conv(8, 3, Padding = 1)] Layer conv2;
                [BatchNorm] Layer bn2;
            }
            """);
        Expect.One(
            result, "DRN0012", DiagnosticSeverity.Warning,
            "Dropout 'drop' comes before batch norm 'bn2'; batch norm already regularises, and dropout shifts the variance that 'bn2' sees between training and inference");
        Expect.Generated(result, "Net");
    }

    [Fact]
    public void DRN0012_dropout_inside_a_block_is_reported_at_the_stage()
    {
        var result = Expect.Spans(
            """
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [{|DRN0012:Stage<Dropping>(8, Repeat = 2)|}] Layer layer1;
            }
            """,
            """
            [Block]
            public class Dropping
            {
                [Conv(3, Padding = 1)] Layer conv;
                [Dropout(0.1)] Layer drop;
                [BatchNorm] Layer bn;
            }
            """);
        // Once for the stage, not once per repetition.
        Expect.One(
            result, "DRN0012", DiagnosticSeverity.Warning,
            "Dropout 'layer1.0.drop' comes before batch norm 'layer1.0.bn'; batch norm already regularises, and dropout shifts the variance that 'layer1.0.bn' sees between training and inference");
    }

    [Fact]
    public void DRN0012_is_not_reported_after_the_last_batch_norm_or_without_batch_norm()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Classifier
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [BatchNorm] Layer bn1;
                [ReLU] Layer relu;
                [GlobalAvgPool] Layer pool;
                [Dropout(0.5)] Layer drop;
                [Dense(10)] Layer fc;
            }

            [Network(3, 8, 8)]
            public partial class NoBatchNorm
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Dropout(0.5)] Layer drop;
                [Conv(8, 3, Padding = 1)] Layer conv2;
            }
            """);
        Assert.Empty(result.Ours);
    }

    [Fact]
    public void DRN0013_deep_network_without_skip_connections_is_reported_at_its_identifier()
    {
        var result = Expect.Spans(
            """
            [Network(3, 8, 8)]
            public partial class {|DRN0013:Deep|}
            {
                [Stage<ConvBn>(8, Repeat = 21)] Layer layers;
            }

            [Network(3, 8, 8)]
            public partial class Twenty
            {
                [Stage<ConvBn>(8, Repeat = 20)] Layer layers;
            }
            """,
            ConvBnBlock);
        Expect.One(
            result, "DRN0013", DiagnosticSeverity.Warning,
            "'Deep' has 21 weighted layers and no skip connections; plain networks deeper than 20 layers train worse than shallower ones (the degradation problem), residual connections fix it");
        Expect.Generated(result, "Deep");
    }

    [Fact]
    public void DRN0013_plain_twin_is_reported_at_its_Plain_argument_and_its_residual_source_is_not()
    {
        var result = Expect.Spans(
            """
            [Network(3, 8, 8)]
            public partial class Res
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Stage<Basic>(8, Repeat = 10)] Layer layer1;
            }

            [Network(LayersOf = typeof(Res), Plain = {|DRN0013:true|})]
            public partial class Twin;
            """,
            """
            [Block]
            public class Basic
            {
                [Conv(3, Padding = 1)] Layer conv1;
                [BatchNorm] Layer bn1;
                [ReLU] Layer relu1;
                [Conv(3, Padding = 1)] Layer conv2;
                [BatchNorm] Layer bn2;
                [Residual] Layer add;
            }
            """);
        Expect.One(
            result, "DRN0013", DiagnosticSeverity.Warning,
            "'Twin' has 21 weighted layers and no skip connections; plain networks deeper than 20 layers train worse than shallower ones (the degradation problem), residual connections fix it");
        Expect.Generated(result, "Res");
        Expect.Generated(result, "Twin");
    }
}
