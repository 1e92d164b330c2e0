using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using DslResNet.Generators.Diagnostics;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>
/// The catalogue's checklist: every descriptor has its heading in DIAGNOSTICS.md, its line in the analyzer release
/// notes, a help link to its heading, and a test in this folder that pins it with <c>{|DRNxxxx:...|}</c> markup.
/// </summary>
public sealed class CatalogueTests
{
    /// <summary>DRN9999 reports a bug in DslResNet, which no valid input can trigger; see <see cref="GenerationGateTests"/>.</summary>
    private const string InternalErrorId = "DRN9999";

    private const string GeneratorFolder = "generators/DslResNet.Generators";

    public static IEnumerable<object[]> Ids() => Descriptors.All().Select(d => new object[] { d.Id });

    [Fact]
    public void Catalogue_ids_are_unique_ordered_and_all_supported_by_the_analyzer()
    {
        var ids = Descriptors.All().Select(d => d.Id).ToList();
        Assert.Equal(ids.Distinct().Count(), ids.Count);
        Assert.Equal(ids.OrderBy(i => i, StringComparer.Ordinal), ids);
        Assert.All(ids, id => Assert.Matches("^DRN[0-9]{4}$", id));
        Assert.Equal(ids, new NetworkAnalyzer().SupportedDiagnostics.Select(d => d.Id));
        Assert.Equal(ids.OrderBy(i => i, StringComparer.Ordinal), Descriptors.ById.Keys.OrderBy(i => i, StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Descriptor_has_its_heading_title_severity_and_category_in_DIAGNOSTICS_md(string id)
    {
        DiagnosticDescriptor descriptor = Descriptors.ById[id];
        string[] lines = File.ReadAllLines(RepositoryFile(GeneratorFolder + "/Diagnostics/DIAGNOSTICS.md"));
        int heading = Array.IndexOf(lines, "## " + id);
        Assert.True(heading >= 0, $"DIAGNOSTICS.md has no heading '## {id}'");

        var section = lines.Skip(heading + 1).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal)).ToList();
        Assert.Equal("**" + descriptor.Title + "**", section.First(l => l.Length > 0));
        string text = string.Join("\n", section);
        Assert.Contains("Severity: " + descriptor.DefaultSeverity, text, StringComparison.Ordinal);
        Assert.Contains("Category: " + descriptor.Category, text, StringComparison.Ordinal);
    }

    [Fact]
    public void DIAGNOSTICS_md_has_no_heading_for_an_id_outside_the_catalogue()
    {
        var documented = File.ReadAllLines(RepositoryFile(GeneratorFolder + "/Diagnostics/DIAGNOSTICS.md"))
            .Where(l => l.StartsWith("## DRN", StringComparison.Ordinal))
            .Select(l => l.Substring(3))
            .ToList();
        Assert.Equal(Descriptors.All().Select(d => d.Id), documented);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Descriptor_has_one_release_entry_with_its_category_and_severity(string id)
    {
        DiagnosticDescriptor descriptor = Descriptors.ById[id];
        var rows = ReleaseRows().Where(r => r[0] == id).ToList();
        string[] row = Assert.Single(rows);
        Assert.Equal(descriptor.Category, row[1]);
        Assert.Equal(descriptor.DefaultSeverity.ToString(), row[2]);
    }

    [Fact]
    public void Release_notes_have_no_entry_for_an_id_outside_the_catalogue()
    {
        Assert.Equal(
            Descriptors.All().Select(d => d.Id).OrderBy(i => i, StringComparer.Ordinal),
            ReleaseRows().Select(r => r[0]).OrderBy(i => i, StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Descriptor_help_link_points_at_its_own_heading_of_a_file_in_this_repository(string id)
    {
        string link = Descriptors.ById[id].HelpLinkUri;
        Assert.EndsWith("#" + id.ToLowerInvariant(), link, StringComparison.Ordinal);

        const string Blob = "/blob/main/";
        int at = link.IndexOf(Blob, StringComparison.Ordinal);
        Assert.True(at > 0, "The help link is not a GitHub blob address: " + link);
        string path = link.Substring(at + Blob.Length, link.IndexOf('#', StringComparison.Ordinal) - at - Blob.Length);
        Assert.True(File.Exists(RepositoryFile(path)), "The help link names a file that is not in the repository: " + path);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Descriptor_has_a_test_that_pins_its_span(string id)
    {
        var sources = TestSources().ToList();
        if (id == InternalErrorId)
        {
            // Exempt from the markup rule: no valid input can trigger an internal error. It is covered instead by a
            // test that strange but legal input never reports it.
            Assert.Contains(sources, s => s.Text.Contains("DRN9999_is_never_reported", StringComparison.Ordinal));
            return;
        }

        Assert.True(
            sources.Any(s => s.Text.Contains("{|" + id + ":", StringComparison.Ordinal)),
            $"No test in {DiagnosticsTestFolder()} pins {id} with {{|{id}:...|}} markup");
    }

    /// <summary>The rows of the release tables (shipped and unshipped): ID, category, severity, notes.</summary>
    private static IEnumerable<string[]> ReleaseRows() =>
        new[] { "AnalyzerReleases.Shipped.md", "AnalyzerReleases.Unshipped.md" }
            .SelectMany(f => File.ReadAllLines(RepositoryFile(GeneratorFolder + "/" + f)))
            .Where(l => Regex.IsMatch(l, @"^DRN[0-9]{4}\s*\|"))
            .Select(l => l.Split('|').Select(c => c.Trim()).ToArray());

    /// <summary>The test sources of this folder, except this file (which names every ID without testing it).</summary>
    private static IEnumerable<(string Path, string Text)> TestSources() =>
        Directory.EnumerateFiles(DiagnosticsTestFolder(), "*.cs")
            .Where(p => Path.GetFileName(p) != nameof(CatalogueTests) + ".cs")
            .Select(p => (p, File.ReadAllText(p)));

    private static string DiagnosticsTestFolder([CallerFilePath] string callerFile = "") => Path.GetDirectoryName(callerFile)!;

    /// <summary>A file of the source tree, found upwards from this file's path (as the snapshot files are).</summary>
    private static string RepositoryFile(string relativePath, [CallerFilePath] string callerFile = "")
    {
        for (string? dir = Path.GetDirectoryName(callerFile); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (Directory.Exists(Path.Combine(dir, GeneratorFolder)))
            {
                return Path.Combine(dir, relativePath);
            }
        }

        throw new InvalidOperationException("Cannot find the repository root above " + callerFile);
    }
}
