using DslResNet.Generators.Tests.Infrastructure;
using DslResNet.Generators.Tests.Robustness;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>
/// Declarations whose generated part could not compile (issue 12, item 12): names the generated part already uses,
/// file-local classes, hostile projection names and layer attributes the generator does not know. Each is reported at
/// the offending declaration and nothing is generated for it.
/// </summary>
public sealed class GeneratedNameDiagnosticTests
{
    [Theory]
    [InlineData("ParameterCount")]
    [InlineData("Info")]
    [InlineData("Summary")]
    [InlineData("SummaryText")]
    [InlineData("TrainingOutput")]
    [InlineData("MultiplyAddsPerImage")]
    [InlineData("InputShape")]
    [InlineData("CreateLayers")]
    [InlineData("CreateSummary")]
    [InlineData("Conv3x8x8To8K3S1P1")]
    public void DRN0025_layer_named_like_a_generated_member(string name)
    {
        var result = Expect.Spans($$"""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer {|DRN0025:{{name}}|};
                [ReLU] Layer relu;
            }
            """);
        Expect.One(result, "DRN0025", DiagnosticSeverity.Error,
            $"'{name}' of network 'Net' has the name of a member that the generated part of 'Net' declares; rename it");
        Expect.NotGenerated(result, "Net");
        HostileNameTests.AssertNoGeneratorFailure(result);
    }

    /// <summary>The methods the generated constructor calls to register each group's steps (NetworkBase.Steps).</summary>
    [Theory]
    [InlineData("AddStep")]
    [InlineData("AddConvolution")]
    [InlineData("RegisterTrace")]
    public void DRN0025_layer_named_like_an_inherited_member_the_generated_part_calls(string name)
    {
        var result = Expect.Spans($$"""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer {|DRN0025:{{name}}|};
                [ReLU] Layer relu;
            }
            """);
        Expect.One(result, "DRN0025", DiagnosticSeverity.Error,
            $"'{name}' of network 'Net' has the name of a member that 'Net' inherits from DslResNet.Runtime.NetworkBase (the generated part uses it); rename it");
        Expect.NotGenerated(result, "Net");
    }

    [Theory]
    [InlineData("public int Options;", "Options")]
    [InlineData("public static void Parameter() { }", "Parameter")]
    [InlineData("public class Info { }", "Info")]
    [InlineData("public new int Device => 0;", "Device")]
    public void DRN0025_user_member_that_hides_or_collides_with_a_generated_or_inherited_member(string member, string name)
    {
        string declaration = member.Replace(" " + name, " {|DRN0025:" + name + "|}", System.StringComparison.Ordinal);
        var result = Expect.Spans($$"""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                {{declaration}}
            }
            """);
        Diagnostic d = Assert.Single(result.Ours, x => x.Id == "DRN0025");
        Assert.Contains("'" + name + "' of network 'Net'", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), System.StringComparison.Ordinal);
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0025_a_constructor_with_the_generated_signature()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                public {|DRN0025:Net|}(DslResNet.Runtime.Device device, int batchSize, DslResNet.Runtime.NetworkOptions? options) { }
            }
            """);
        Assert.Single(result.Ours, x => x.Id == "DRN0025");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void A_user_override_of_an_inherited_member_the_generator_does_not_write_and_other_names_are_fine()
    {
        HarnessResult result = Harness.Run(Harness.WithUsing("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [ReLU] Layer Relu;
                public override string ToString() => "net";
                public int Something => 1;
                public static int _g0 => 1;
            }
            """));
        HostileNameTests.AssertClean(result);
        Expect.Generated(result, "Net");
    }

    [Fact]
    public void DRN0026_custom_layer_attribute()
    {
        var result = Expect.Spans("""
            public sealed class MyLayerAttribute : LayerAttribute { }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [{|DRN0026:MyLayer|}] Layer mine;
            }
            """);
        Expect.One(result, "DRN0026", DiagnosticSeverity.Error,
            "'mine' of 'Net' carries [MyLayer], which derives from LayerAttribute but is not a DslResNet layer; use one of the built-in layer attributes");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0026_custom_layer_attribute_in_a_block()
    {
        var result = Expect.Spans("""
            public sealed class MyLayerAttribute : LayerAttribute { }

            [Block]
            public class Body
            {
                [Conv(3, Padding = 1)] Layer conv1;
                [{|DRN0026:MyLayer|}] Layer mine;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Stage<Body>(8)] Layer layer1;
            }
            """);
        Assert.Single(result.Ours, d => d.Id == "DRN0026");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0002_file_local_network()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            file partial class {|DRN0002:Net|}
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
            }
            """);
        Expect.One(result, "DRN0002", DiagnosticSeverity.Error,
            "'Net' cannot be a network: it is file-local (the generated part is another file); declare it as a (non-static) partial class with no base class");
        Expect.NotGenerated(result, "Net");
        HostileNameTests.AssertNoGeneratorFailure(result);
    }

    [Fact]
    public void DRN0002_network_nested_in_a_file_local_class()
    {
        var result = Expect.Spans("""
            file partial class Outer
            {
                [Network(3, 8, 8)]
                public partial class {|DRN0002:Net|}
                {
                    [Conv(8, 3, Padding = 1)] Layer conv1;
                }
            }
            """);
        Assert.Single(result.Ours, d => d.Id == "DRN0002");
        Assert.Empty(result.Generated);
        HostileNameTests.AssertNoGeneratorFailure(result);
    }

    [Theory]
    [InlineData("down\\nsample")]
    [InlineData("down\\rsample")]
    [InlineData("down\\u2028sample")]
    [InlineData("down\\u0085sample")]
    [InlineData("down\\\"sample")]
    [InlineData("down\\\\sample")]
    [InlineData("down sample")]
    [InlineData("*/down")]
    public void DRN0004_projection_name_that_is_not_a_name_segment(string literal)
    {
        var result = Expect.Spans($$"""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [Conv(16, 3, Padding = 1)] Layer conv2;
                [Residual(From = nameof(conv1), ProjectionName = {|DRN0004:"{{literal}}"|})] Layer add;
            }
            """);
        Expect.One(result, "DRN0004", DiagnosticSeverity.Error,
            $"ProjectionName of 'add' is \"{literal}\", but must be a name of letters, digits and underscores (it becomes part of parameter names)");
        Expect.NotGenerated(result, "Net");
        HostileNameTests.AssertNoGeneratorFailure(result);
    }
}
