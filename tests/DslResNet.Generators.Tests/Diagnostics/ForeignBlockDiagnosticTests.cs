using System.Globalization;
using System.Linq;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>
/// DRN0036 (and DRN0022 for LayersOf): errors inside blocks and networks read from a referenced assembly, which has
/// no source to point at, are reported at the stage or LayersOf in the consumer's source, naming the assembly.
/// </summary>
public sealed class ForeignBlockDiagnosticTests
{
    /// <summary>A library built without DslResNet's analyzers, so that nothing stopped its mistakes.</summary>
    private const string BadLibrary = """
        using DslResNet;
        namespace Bad;

        [Block]
        public class ZeroKernel
        {
            [Conv(0, Padding = 1)] protected Layer conv1;
            [BatchNorm] protected Layer bn1;
        }

        [Block]
        public class Hidden
        {
            [Conv(3, Padding = 1)] Layer conv1;
        }

        [Block]
        public class Outer
        {
            [Stage<ZeroKernel>] protected Layer inner;
        }

        [Block]
        public class Advice
        {
            [Conv(3, Padding = 1)] protected Layer conv1;
            [BatchNorm] protected Layer bn1;
            [Tanh] protected Layer tanh;
        }

        [Network(3, 8, 8)]
        public partial class BadNet
        {
            [Conv(8, 0)] protected Layer conv1;
            [GlobalAvgPool] protected Layer pool;
            [Dense(10)] protected Layer fc;
        }

        [Network(3, 8, 8)]
        public partial class HiddenNet
        {
            [Conv(8, 3)] Layer conv1;
        }
        """;

    [Fact]
    public void DRN0036_errors_of_a_referenced_block_are_reported_at_the_using_stage_naming_the_assembly()
    {
        MetadataReference library = Harness.Library("Bad.Blocks", BadLibrary, generate: false);
        HarnessResult result = Markup.Verify(Harness.WithUsing("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [{|DRN0036:Stage<Bad.ZeroKernel>(8)|}] Layer layer1;
                [{|DRN0036:Stage<Bad.Hidden>(8)|}] Layer layer2;
                [{|DRN0036:Stage<Bad.Outer>(8)|}] Layer layer3;
                [GlobalAvgPool] Layer pool;
                [Dense(10)] Layer fc;
            }

            [Block]
            public class Mine
            {
                [{|DRN0036:Stage<Bad.ZeroKernel>|}] Layer inner;
            }

            [Network(3, 8, 8)]
            public partial class UsesMine
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Stage<Mine>(8)] Layer layer1;
                [GlobalAvgPool] Layer pool;
                [Dense(10)] Layer fc;
            }
            """), new[] { library });

        string zeroKernel = "DRN0004: Kernel size of 'conv1' is 0, but must be at least 1";
        Assert.Equal(
            new[]
            {
                "Stage 'layer1' uses block 'ZeroKernel' from assembly 'Bad.Blocks', which is invalid here: " + zeroKernel,
                "Stage 'layer2' uses block 'Hidden' from assembly 'Bad.Blocks', which is invalid here: its layer fields are not visible here; a block used from another assembly must declare its layer fields public",
                "Stage 'layer3' uses block 'Outer' from assembly 'Bad.Blocks', which is invalid here: " + zeroKernel,
                "Stage 'inner' uses block 'ZeroKernel' from assembly 'Bad.Blocks', which is invalid here: " + zeroKernel,
            },
            result.Ours.Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
        Assert.All(result.Ours, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
        Expect.NotGenerated(result, "Net");
        Expect.NotGenerated(result, "UsesMine");
    }

    [Fact]
    public void DRN0022_errors_of_a_referenced_LayersOf_network_are_reported_at_LayersOf_naming_the_assembly()
    {
        MetadataReference library = Harness.Library("Bad.Blocks", BadLibrary, generate: false);
        HarnessResult result = Markup.Verify(Harness.WithUsing("""
            [Network(LayersOf = {|DRN0022:typeof(Bad.BadNet)|})]
            public partial class Twin;

            [Network(LayersOf = {|DRN0022:typeof(Bad.HiddenNet)|})]
            public partial class HiddenTwin;
            """), new[] { library });

        Assert.Equal(
            new[]
            {
                "LayersOf of 'Twin' names 'Bad.BadNet' from assembly 'Bad.Blocks', whose layers are invalid here: DRN0004: Kernel size of 'conv1' is 0, but must be at least 1",
                "LayersOf of 'HiddenTwin' names 'Bad.HiddenNet' from assembly 'Bad.Blocks', whose layer fields are not visible here; a network used from another assembly must declare its layer fields public",
            },
            result.Ours.Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
        Expect.NotGenerated(result, "Twin");
        Expect.NotGenerated(result, "HiddenTwin");
    }

    [Fact]
    public void A_referenced_block_with_only_advice_generates_and_reports_nothing_the_user_cannot_fix()
    {
        MetadataReference library = Harness.Library("Bad.Blocks", BadLibrary, generate: false);
        HarnessResult result = Markup.Verify(Harness.WithUsing("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Stage<Bad.Advice>(8)] Layer layer1;
                [GlobalAvgPool] Layer pool;
                [Dense(10)] Layer fc;
            }
            """), new[] { library });

        Assert.Empty(result.Ours);
        Expect.Generated(result, "Net");
    }
}
