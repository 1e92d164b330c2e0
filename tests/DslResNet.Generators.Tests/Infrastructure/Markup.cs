using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace DslResNet.Generators.Tests.Infrastructure;

/// <summary>
/// Diagnostic markup as the Roslyn testing library writes it: <c>{|DRN0007:text|}</c> expects diagnostic DRN0007 on
/// exactly <c>text</c>. <see cref="Parse"/> strips the markup and returns the expected spans.
/// </summary>
public static class Markup
{
    /// <summary>One expected diagnostic.</summary>
    public sealed record Expected(string Id, TextSpan Span);

    /// <summary>Strips markup; returns the plain source and the expectations. Markup may nest.</summary>
    public static (string Source, IReadOnlyList<Expected> Expected) Parse(string markup)
    {
        var text = new StringBuilder();
        var open = new Stack<(string Id, int Start)>();
        var expected = new List<Expected>();
        for (int i = 0; i < markup.Length; i++)
        {
            if (markup[i] == '{' && i + 1 < markup.Length && markup[i + 1] == '|')
            {
                int colon = markup.IndexOf(':', i + 2);
                open.Push((markup.Substring(i + 2, colon - i - 2), text.Length));
                i = colon;
            }
            else if (markup[i] == '|' && i + 1 < markup.Length && markup[i + 1] == '}' && open.Count > 0)
            {
                var (id, start) = open.Pop();
                expected.Add(new Expected(id, TextSpan.FromBounds(start, text.Length)));
                i++;
            }
            else
            {
                text.Append(markup[i]);
            }
        }

        Assert.Empty(open);
        return (text.ToString(), expected.OrderBy(e => e.Span.Start).ThenBy(e => e.Id, StringComparer.Ordinal).ToList());
    }

    /// <summary>
    /// Runs generator, compiler and analyzers on the markup (file <c>/src/File0.cs</c>) and asserts that our diagnostics
    /// are exactly the expected ones: same IDs on the same spans; also that the compiler reports no error of its own.
    /// Returns the result for further checks (severity, message).
    /// </summary>
    public static HarnessResult Verify(string markup, params string[] otherSources) =>
        Verify(markup, Array.Empty<MetadataReference>(), otherSources);

    /// <summary>As <see cref="Verify(string, string[])"/>, compiled with extra references (a library's assembly).</summary>
    public static HarnessResult Verify(string markup, IEnumerable<MetadataReference> references, params string[] otherSources)
    {
        var (source, expected) = Parse(markup);
        var files = new[] { ("/src/File0.cs", source) }.Concat(otherSources.Select((s, i) => ($"/src/Other{i}.cs", s))).ToArray();
        HarnessResult result = Harness.Run(Harness.Compile("Tests", references, files));
        var actual = result.Ours
            .Where(d => d.Location.SourceTree?.FilePath == "/src/File0.cs")
            .Select(d => new Expected(d.Id, d.Location.SourceSpan))
            .OrderBy(e => e.Span.Start).ThenBy(e => e.Id, StringComparer.Ordinal)
            .ToList();
        string Describe(IEnumerable<Expected> list) => string.Join("\n", list.Select(e => $"{e.Id} at {e.Span} '{source.Substring(e.Span.Start, e.Span.Length)}'"));
        Assert.True(
            expected.SequenceEqual(actual),
            $"Expected:\n{Describe(expected)}\nActual:\n{Describe(actual)}\nAll:\n{string.Join("\n", result.Diagnostics)}");
        var compilerErrors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error && !d.Id.StartsWith("DRN", StringComparison.Ordinal)
            && !IsFollowOnError(d)).ToList();
        Assert.True(compilerErrors.Count == 0, "Unexpected compiler errors:\n" + string.Join("\n", compilerErrors));
        return result;
    }

    // A network with an error gets no generated part, so code that uses its generated members does not compile.
    private static bool IsFollowOnError(Diagnostic d) => d.Id is "CS0117" or "CS0103";
}
