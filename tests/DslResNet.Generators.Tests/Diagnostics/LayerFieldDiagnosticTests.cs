using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>DRN0035: a layer attribute on a field that is not an instance field of type <c>Layer</c>.</summary>
public sealed class LayerFieldDiagnosticTests
{
    [Fact]
    public void DRN0035_fields_that_are_not_Layer_are_reported_at_their_name_and_not_generated()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [ReLU] int {|DRN0035:relu|};
                [ReLU] static string {|DRN0035:name|} = "";
                [Conv(8, 3, Padding = 1)] Layer[] {|DRN0035:convs|} = [];
                [ReLU] const int {|DRN0035:Count|} = 1;
                [ReLU] static Layer {|DRN0035:shared|};
                [ReLU] Layer? {|DRN0035:maybe|};
                [Flatten] Layer flat;
                [Dense(10)] Layer fc;
            }
            """);
        Assert.Equal(
            new[]
            {
                "Field 'relu' has a layer attribute, but its type is 'int'; a layer is an instance field of type DslResNet.Layer",
                "Field 'name' has a layer attribute, but it is static; a layer is an instance field of type DslResNet.Layer",
                "Field 'convs' has a layer attribute, but its type is 'Layer[]'; a layer is an instance field of type DslResNet.Layer",
                "Field 'Count' has a layer attribute, but it is a constant; a layer is an instance field of type DslResNet.Layer",
                "Field 'shared' has a layer attribute, but it is static; a layer is an instance field of type DslResNet.Layer",
                "Field 'maybe' has a layer attribute, but its type is 'Layer?'; a layer is an instance field of type DslResNet.Layer",
            },
            result.Ours.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.All(result.Ours, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0035_a_block_whose_only_layer_is_not_a_Layer_gets_neither_DRN0014_nor_a_follow_on_DRN0019()
    {
        var result = Expect.Spans("""
            [Block]
            public class B
            {
                [Conv(3, Padding = 1, Strided = true)] int {|DRN0035:conv1|};
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Stage<B>(16, Stride = 2)] Layer layer1;
            }
            """);
        Expect.One(
            result, "DRN0035", DiagnosticSeverity.Error,
            "Field 'conv1' has a layer attribute, but its type is 'int'; a layer is an instance field of type DslResNet.Layer");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0035_a_plain_twin_of_a_network_with_such_a_field_is_not_generated_and_reports_nothing_itself()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [ReLU] Layer[] {|DRN0035:relu|} = [];
            }

            [Network(LayersOf = typeof(Net), Plain = true)]
            public partial class Twin;
            """);
        Assert.Single(result.Ours);
        Expect.NotGenerated(result, "Net");
        Expect.NotGenerated(result, "Twin");
    }
}
