using System.Globalization;
using System.Linq;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>Shared assertions of the diagnostic tests: markup with <c>using DslResNet;</c>, then ID, severity and message.</summary>
internal static class Expect
{
    /// <summary>
    /// Runs <see cref="Markup.Verify(string, string[])"/> on the markup (and on other files, which may carry no markup) with
    /// <c>using DslResNet;</c> prefixed to each.
    /// </summary>
    public static HarnessResult Spans(string markup, params string[] otherSources) =>
        Markup.Verify(Harness.WithUsing(markup), otherSources.Select(Harness.WithUsing).ToArray());

    /// <summary>Asserts that exactly one of our diagnostics has <paramref name="id"/>, with that severity and message.</summary>
    public static Diagnostic One(HarnessResult result, string id, DiagnosticSeverity severity, string message)
    {
        Diagnostic diagnostic = Assert.Single(result.Ours, d => d.Id == id);
        Assert.Equal(severity, diagnostic.Severity);
        Assert.Equal(message, diagnostic.GetMessage(CultureInfo.InvariantCulture));
        return diagnostic;
    }

    /// <summary>The source text a location covers.</summary>
    public static string TextAt(Location location) => location.SourceTree!.GetText().ToString(location.SourceSpan);

    /// <summary>Asserts that nothing was generated for the named network (hint name without <c>.g.cs</c>).</summary>
    public static void NotGenerated(HarnessResult result, string network) =>
        Assert.DoesNotContain(network + ".g.cs", result.Generated.Keys);

    /// <summary>Asserts that the named network was generated.</summary>
    public static void Generated(HarnessResult result, string network) =>
        Assert.Contains(network + ".g.cs", result.Generated.Keys);
}
