using System.Linq;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>The DslResNet.Declaration diagnostics: how networks, blocks and layer fields are declared.</summary>
public sealed class DeclarationDiagnosticTests
{
    [Fact]
    public void DRN0001_non_partial_network_is_reported_at_its_identifier()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public class {|DRN0001:Net|}
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
            }
            """);
        Expect.One(result, "DRN0001", DiagnosticSeverity.Error, "'Net' must be declared partial so that the generator can complete network 'Net'");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0001_non_partial_containing_type_is_named_in_the_message()
    {
        var result = Expect.Spans("""
            public class Outer
            {
                [Network(3, 8, 8)]
                public partial class {|DRN0001:Net|}
                {
                    [Conv(8, 3, Padding = 1)] Layer conv1;
                }
            }
            """);
        Expect.One(result, "DRN0001", DiagnosticSeverity.Error, "'Outer' must be declared partial so that the generator can complete network 'Net'");
        Assert.Empty(result.Generated);
    }

    [Fact]
    public void DRN0002_generic_network()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class {|DRN0002:Net|}<T>
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
            }
            """);
        Expect.One(result, "DRN0002", DiagnosticSeverity.Error, "'Net' cannot be a network: it is generic; every shape must be known at compile time");
        Assert.Empty(result.Generated);
    }

    [Fact]
    public void DRN0002_network_nested_in_a_generic_type()
    {
        var result = Expect.Spans("""
            public partial class Outer<T>
            {
                [Network(3, 8, 8)]
                public partial class {|DRN0002:Net|}
                {
                    [Conv(8, 3, Padding = 1)] Layer conv1;
                }
            }
            """);
        Expect.One(result, "DRN0002", DiagnosticSeverity.Error, "'Net' cannot be a network: it is nested in a generic type");
    }

    [Fact]
    public void DRN0002_network_with_a_base_class()
    {
        var result = Expect.Spans("""
            public class Base { }

            [Network(3, 8, 8)]
            public partial class {|DRN0002:Net|} : Base, System.IComparable
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                public int CompareTo(object? other) => 0;
            }
            """);
        Expect.One(result, "DRN0002", DiagnosticSeverity.Error,
            "'Net' cannot be a network: it is derived from Base (the generated part derives from DslResNet.Runtime.NetworkBase); declare it as a (non-static) partial class with no base class");
    }

    [Fact]
    public void DRN0002_generic_block()
    {
        var result = Expect.Spans("""
            [Block]
            public class {|DRN0002:Body|}<T>
            {
                [Conv(3, Padding = 1)] Layer conv1;
            }
            """);
        Expect.One(result, "DRN0002", DiagnosticSeverity.Error, "'Body' cannot be a block: it is generic; every shape must be known at compile time");
    }

    [Fact]
    public void DRN0003_layers_in_two_partial_declarations_are_reported_at_the_first_layer_of_the_second()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
            }

            public partial class Net
            {
                [{|DRN0003:ReLU|}] Layer relu;
                [BatchNorm] Layer bn;
            }
            """);
        Expect.One(result, "DRN0003", DiagnosticSeverity.Error, "'Net' declares layers in more than one partial declaration, so their order is undefined; declare every layer in one declaration");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0003_is_not_reported_when_the_other_declaration_has_no_layers()
    {
        Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
            }

            public partial class Net
            {
                public int Extra => 1;
            }
            """);
    }

    [Fact]
    public void DRN0008_stage_of_a_class_that_is_not_a_block()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
                [{|DRN0008:Stage<NotABlock>(8)|}] Layer layer1;
            }

            public class NotABlock
            {
            }
            """);
        Expect.One(result, "DRN0008", DiagnosticSeverity.Error, "Stage 'layer1' uses 'NotABlock', which is not marked [Block]");
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0009_blocks_that_use_each_other_are_reported_in_each_block_and_stop_generation()
    {
        var result = Expect.Spans("""
            [Block]
            public class A
            {
                [Conv(3, Padding = 1)] Layer conv;
                [{|DRN0009:Stage<B>|}] Layer inner;
            }

            [Block]
            public class B
            {
                [{|DRN0009:Stage<A>|}] Layer inner;
            }

            [Network(3, 8, 8)]
            public partial class Net
            {
                [Stage<A>(8)] Layer layer1;
            }
            """);
        var messages = result.Ours.Where(d => d.Id == "DRN0009").Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(
            new[] { "Stage 'inner' makes block 'A' contain itself: A -> B -> A", "Stage 'inner' makes block 'B' contain itself: B -> A -> B" },
            messages);
        Assert.All(result.Ours, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
        Expect.NotGenerated(result, "Net");
    }

    [Fact]
    public void DRN0009_block_that_uses_itself()
    {
        var result = Expect.Spans("""
            [Block]
            public class Loop
            {
                [Conv(3, Padding = 1)] Layer conv;
                [{|DRN0009:Stage<Loop>|}] Layer again;
            }
            """);
        Expect.One(result, "DRN0009", DiagnosticSeverity.Error, "Stage 'again' makes block 'Loop' contain itself: Loop -> Loop");
    }

    [Fact]
    public void DRN0009_is_not_reported_in_a_block_that_only_uses_a_recursive_block()
    {
        // Outer is fine; only Loop contains itself, so only Loop reports.
        Expect.Spans("""
            [Block]
            public class Outer
            {
                [Stage<Loop>] Layer inner;
            }

            [Block]
            public class Loop
            {
                [{|DRN0009:Stage<Loop>|}] Layer again;
            }
            """);
    }

    [Fact]
    public void DRN0014_network_without_layers()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class {|DRN0014:Empty|}
            {
            }
            """);
        Expect.One(result, "DRN0014", DiagnosticSeverity.Error, "Network 'Empty' declares no layers; add fields with layer attributes such as [Conv] or [Dense]");
    }

    [Fact]
    public void DRN0014_block_without_layers()
    {
        var result = Expect.Spans("""
            [Block]
            public class {|DRN0014:Nothing|}
            {
                public int NotALayer;
            }
            """);
        Expect.One(result, "DRN0014", DiagnosticSeverity.Error, "Block 'Nothing' declares no layers; add fields with layer attributes such as [Conv] or [Dense]");
    }

    [Fact]
    public void DRN0015_second_layer_attribute_on_a_field()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Net
            {
                [Conv(8, 3, Padding = 1)][{|DRN0015:ReLU|}] Layer conv1;
                [BatchNorm, {|DRN0015:Tanh|}] Layer bn1;
            }
            """);
        Assert.Equal(
            new[] { "Field 'conv1' already has a layer attribute; declare one layer per field", "Field 'bn1' already has a layer attribute; declare one layer per field" },
            result.Ours.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.All(result.Ours, d => Assert.Equal(DiagnosticSeverity.Error, d.Severity));
    }

    [Fact]
    public void DRN0021_layer_field_in_a_class_that_is_neither_network_nor_block()
    {
        var result = Expect.Spans("""
            public class Forgotten
            {
                [{|DRN0021:Conv(8, 3)|}] Layer conv1;
                [{|DRN0021:ReLU|}] Layer relu;
                public int Other;
            }
            """);
        Assert.All(result.Ours, d => Assert.Equal(DiagnosticSeverity.Warning, d.Severity));
        Assert.Equal(
            "Field 'conv1' has a layer attribute, but 'Forgotten' is marked neither [Network] nor [Block], so it is ignored",
            result.Ours.First().GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void DRN0022_LayersOf_a_class_that_is_not_a_network()
    {
        var result = Expect.Spans("""
            [Network(LayersOf = {|DRN0022:typeof(NotANetwork)|}, Plain = true)]
            public partial class Twin;

            public class NotANetwork
            {
            }
            """);
        Expect.One(result, "DRN0022", DiagnosticSeverity.Error, "LayersOf of 'Twin' names 'NotANetwork', which is not marked [Network]");
        Assert.Empty(result.Generated);
    }

    private const string Small = """
        [Network(3, 8, 8)]
        public partial class Small
        {
            [Conv(8, 3, Padding = 1)] Layer conv1;
            [GlobalAvgPool] Layer avgpool;
            [Dense(10)] Layer fc;
        }
        """;

    [Fact]
    public void DRN0037_Until_names_no_top_level_layer()
    {
        var result = Expect.Spans(Small + """

            [Network(LayersOf = typeof(Small), Until = {|DRN0037:"pool"|})]
            public partial class Features;
            """);
        Expect.One(result, "DRN0037", DiagnosticSeverity.Error, "'Features': Until = \"pool\" names no top-level layer of 'Small'; the layers are conv1, avgpool, fc");
        Expect.NotGenerated(result, "Features");
    }

    [Fact]
    public void DRN0037_Classes_without_a_dense_layer_left()
    {
        var result = Expect.Spans(Small + """

            [Network(LayersOf = typeof(Small), Until = "avgpool", Classes = {|DRN0037:4|})]
            public partial class Cut;
            """);
        Expect.One(result, "DRN0037", DiagnosticSeverity.Error, "'Cut': Classes = 4 needs a top-level [Dense] layer to give that many outputs, and there is none of 'Small' up to Until");
        Expect.NotGenerated(result, "Cut");
    }

    [Fact]
    public void DRN0004_Classes_below_one_and_a_valid_head_and_cut()
    {
        var result = Expect.Spans(Small + """

            [Network(LayersOf = typeof(Small), Classes = {|DRN0004:0|})]
            public partial class NoClasses;

            [Network(LayersOf = typeof(Small), Classes = 37)]
            public partial class Head;

            [Network(LayersOf = typeof(Small), Until = "avgpool")]
            public partial class Features;
            """);
        Expect.One(result, "DRN0004", DiagnosticSeverity.Error, "Classes of 'NoClasses' is 0, but must be at least 1");
        Expect.NotGenerated(result, "NoClasses");
        Expect.Generated(result, "Head");
        Expect.Generated(result, "Features");
    }

    [Fact]
    public void DRN0022_LayersOf_cycle_is_reported_at_each_network()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8, LayersOf = {|DRN0022:typeof(B)|})]
            public partial class A;

            [Network(3, 8, 8, LayersOf = {|DRN0022:typeof(A)|})]
            public partial class B;
            """);
        Assert.Equal(
            new[] { "LayersOf of 'A' forms a cycle: A -> B -> A", "LayersOf of 'B' forms a cycle: B -> A -> B" },
            result.Ours.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Empty(result.Generated);
    }

    [Fact]
    public void DRN0022_LayersOf_with_layers_of_its_own()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8)]
            public partial class Source
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
            }

            [Network(LayersOf = {|DRN0022:typeof(Source)|})]
            public partial class Twin
            {
                [ReLU] Layer relu;
            }
            """);
        Expect.One(result, "DRN0022", DiagnosticSeverity.Error, "LayersOf of 'Twin' is set, but the class also declares layers of its own; use one or the other");
        Expect.Generated(result, "Source");
        Expect.NotGenerated(result, "Twin");
    }

    [Fact]
    public void DRN0023_class_marked_network_and_block()
    {
        var result = Expect.Spans("""
            [Network(3, 8, 8), Block]
            public partial class {|DRN0023:Both|}
            {
                [Conv(8, 3, Padding = 1)] Layer conv1;
            }
            """);
        Expect.One(result, "DRN0023", DiagnosticSeverity.Error, "'Both' is marked both [Network] and [Block]; a class is one or the other");
        Expect.NotGenerated(result, "Both");
    }
}
