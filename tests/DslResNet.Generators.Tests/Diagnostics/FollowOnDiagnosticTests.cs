using System.Linq;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>
/// A layer the compiler already rejects (an argument of the wrong type, a field declared twice) gets the compiler's
/// error and nothing from DslResNet: the layers read are incomplete, so whatever we judged from them would mislead.
/// </summary>
public sealed class FollowOnDiagnosticTests
{
    [Fact]
    public void A_compile_error_in_the_only_strided_layer_of_a_block_does_not_raise_DRN0019()
    {
        var (result, source) = Run(
            """
            [Block]
            public class B
            {
                [Conv("3", Padding = 1, Strided = true)] Layer conv1;
                [BatchNorm] Layer bn1;
                [Residual] Layer add;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Stage<B>(16, Stride = 2)] Layer layer1;
            }
            """);
        CompilerErrorOnly(result, source, "\"3\"");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void A_compile_error_in_a_block_layer_does_not_raise_shape_errors_at_the_stage()
    {
        // Without its pooling layer the block would hand an image to the dense layer: DRN0010 at the stage.
        var (result, source) = Run(
            """
            [Block]
            public class Head
            {
                [GlobalAvgPool("all")] Layer pool;
                [Dense(10)] Layer fc;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Stage<Head>(8)] Layer head;
            }
            """);
        CompilerErrorOnly(result, source, "GlobalAvgPool(\"all\")");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void A_block_using_a_block_with_a_compile_error_does_not_raise_DRN0019()
    {
        var (result, source) = Run(
            """
            [Block]
            public class Inner
            {
                [Conv(3, Padding = true, Strided = true)] Layer conv1;
            }

            [Block]
            public class Outer
            {
                [Stage<Inner>(Strided = true)] Layer inner;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Stage<Outer>(8, Stride = 2)] Layer layer1;
            }
            """);
        CompilerErrorOnly(result, source, "true");
    }

    [Fact]
    public void A_duplicate_layer_field_in_a_network_does_not_raise_DRN0020()
    {
        var (result, source) = Run(
            """
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Conv(8, 3, Padding = 1)] Layer conv1;
            }
            """);
        CompilerErrorOnly(result, source, "conv1");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void A_duplicate_layer_field_in_a_block_does_not_raise_DRN0020_at_the_stage()
    {
        var (result, source) = Run(
            """
            [Block]
            public class B
            {
                [Conv(3, Padding = 1)] Layer conv1;
                [Conv(3, Padding = 1)] Layer conv1;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Stage<B>(8, Repeat = 2)] Layer layer1;
            }
            """);
        CompilerErrorOnly(result, source, "conv1");
        Expect.NotGenerated(result, "Net");
    }

    private static (HarnessResult Result, string Source) Run(string source)
    {
        string full = Harness.WithUsing(source);
        return (Harness.Run(full), full);
    }

    /// <summary>The compiler reports errors (the first on <paramref name="errorText"/>); DslResNet reports nothing.</summary>
    private static void CompilerErrorOnly(HarnessResult result, string source, string errorText)
    {
        Assert.True(!result.Ours.Any(), "Follow-on diagnostics:\n" + string.Join("\n", result.Ours));
        Diagnostic first = Assert.IsType<Diagnostic>(result.Errors.FirstOrDefault(), exactMatch: false);
        Assert.StartsWith("CS", first.Id, System.StringComparison.Ordinal);
        Assert.Equal(errorText, source.Substring(first.Location.SourceSpan.Start, first.Location.SourceSpan.Length));
    }
}
