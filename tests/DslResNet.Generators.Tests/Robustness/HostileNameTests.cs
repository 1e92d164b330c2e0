using System;
using System.Linq;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Robustness;

/// <summary>
/// Legal but unusual C# names (issue 12, items 11 and 12): each is either generated and compiles, or is reported by a
/// DslResNet diagnostic at the declaration; the generator never fails (CS8785) and never writes code that does not compile.
/// </summary>
public sealed class HostileNameTests
{
    private const string Body = "{ [Conv(8, 3, Padding = 1)] Layer conv1; [ReLU] Layer relu; [GlobalAvgPool] Layer pool; [Flatten] Layer flat; [Dense(10)] Layer fc; }";

    [Fact]
    public void Networks_whose_names_differ_only_in_case_are_both_generated_under_distinct_hint_names()
    {
        HarnessResult result = Harness.Run(Harness.WithUsing($$"""
            namespace Demo;
            [Network(3, 8, 8)] public partial class Net {{Body}}
            [Network(3, 8, 8)] public partial class NET {{Body}}
            [Network(3, 8, 8)] public partial class net {{Body}}
            """));

        AssertClean(result);
        Assert.Equal(3, result.Generated.Count);
        Assert.Equal(3, result.Generated.Keys.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        // Ordinal order of the full names: upper case first.
        Assert.Equal(new[] { "Demo.NET.g.cs", "Demo.Net.2.g.cs", "Demo.net.3.g.cs" }, result.Generated.Keys.OrderBy(k => k, StringComparer.Ordinal));
        Assert.All(new[] { "Net", "NET", "net" }, n => Assert.Single(result.Generated.Values, s => s.Contains("partial class " + n + " :", StringComparison.Ordinal)));
    }

    [Fact]
    public void Hint_names_do_not_depend_on_which_case_variant_is_declared_first()
    {
        string a = Harness.WithUsing($"namespace Demo; [Network(3, 8, 8)] public partial class Net {Body}");
        string b = Harness.WithUsing($"namespace Demo; [Network(3, 8, 8)] public partial class NET {Body}");
        var first = Harness.Run(a, b).Generated;
        var second = Harness.Run(b, a).Generated;
        Assert.Equal(first.OrderBy(p => p.Key, StringComparer.Ordinal), second.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void A_second_partial_declaration_that_also_carries_Network_is_the_compilers_error_and_the_generator_does_not_fail()
    {
        HarnessResult result = Harness.Run(
            Harness.WithUsing($"namespace Demo; [Network(3, 8, 8)] public partial class Net {Body}"),
            Harness.WithUsing("namespace Demo; [Network(3, 8, 8)] public partial class Net { }"));

        AssertNoGeneratorFailure(result);
        Assert.Contains(result.Errors, d => d.Id == "CS0579" && !IsGenerated(result, d));
        Assert.True(result.Generated.Count <= 1);
    }

    [Theory]
    [InlineData("@event", "@class")]
    [InlineData("@namespace.@record", "@public")]
    [InlineData("Demo", "@int")]
    [InlineData("@class.Inner", "Net")]
    public void Keyword_namespaces_and_class_names_are_generated_with_verbatim_identifiers(string ns, string name)
    {
        HarnessResult result = Harness.Run(Harness.WithUsing($"namespace {ns}; [Network(3, 8, 8)] public partial class {name} {Body}"));

        AssertClean(result);
        string source = Assert.Single(result.Generated.Values);
        Assert.Contains("partial class " + name + " :", source, StringComparison.Ordinal);
        Assert.Contains("public " + name + "(", source, StringComparison.Ordinal);
    }

    [Fact]
    public void A_network_nested_in_a_type_named_like_a_keyword_is_generated()
    {
        HarnessResult result = Harness.Run(Harness.WithUsing($"namespace Demo; public partial class @struct {{ [Network(3, 8, 8)] public partial class @void {Body} }}"));

        AssertClean(result);
        Assert.Contains("partial class @struct", Assert.Single(result.Generated.Values), StringComparison.Ordinal);
    }

    [Fact]
    public void Non_ascii_names_get_ascii_hint_names_that_keep_them_apart()
    {
        // 'é' precomposed and 'e' + U+0301 are different C# names but one file name on a normalising file system.
        HarnessResult result = Harness.Run(Harness.WithUsing($$"""
            namespace Démo;
            [Network(3, 8, 8)] public partial class Caf\u00e9 {{Body}}
            [Network(3, 8, 8)] public partial class Cafe\u0301 {{Body}}
            [Network(3, 8, 8)] public partial class Ne\u200ct {{Body}}
            """));

        AssertClean(result);
        Assert.Equal(3, result.Generated.Count);
        Assert.All(result.Generated.Keys, k => Assert.True(k.All(c => c < 128), k));
        Assert.Equal(3, result.Generated.Keys.Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    /// <summary>No generator failure and no error anywhere, and every network generated.</summary>
    internal static void AssertClean(HarnessResult result)
    {
        AssertNoGeneratorFailure(result);
        Assert.Empty(result.Errors);
        Assert.Empty(result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Warning));
    }

    /// <summary>The generator neither failed nor wrote code that does not compile.</summary>
    internal static void AssertNoGeneratorFailure(HarnessResult result)
    {
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Id is "CS8784" or "CS8785" or "DRN9999");
        Assert.DoesNotContain(result.Diagnostics, d => d.Id is "CS8784" or "CS8785" or "DRN9999" or "AD0001");
        Assert.DoesNotContain(result.Diagnostics, d => d.Severity >= DiagnosticSeverity.Warning && IsGenerated(result, d));
    }

    private static bool IsGenerated(HarnessResult result, Diagnostic d) =>
        d.Location.SourceTree is { } tree && !result.Input.SyntaxTrees.Contains(tree);
}
