using System;
using System.IO;
using System.Linq;
using System.Reflection;
using Xunit;

namespace DslResNet.Tests.Architecture;

/// <summary>
/// The committed API reference (docs/api/reference, made by docs/api/build.sh with docfx from the built assemblies'
/// XML documentation) has a page for every public type of DslResNet, and no page for a type that is gone: a type added or
/// removed without rerunning the script fails here. (DslResNet.Models' pages are made by the same script; its types are
/// networks whose members the generator writes, so they are not listed from here.)
/// </summary>
public sealed class ApiReferenceTests
{
    private static string Reference()
    {
        DirectoryInfo? d = new(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "DslResNet.sln")))
        {
            d = d.Parent;
        }

        return Path.Combine(d?.FullName ?? throw new InvalidOperationException("No DslResNet.sln above the test."), "docs", "api", "reference");
    }

    // docfx's page name: the full name, generic arity after '-' instead of '`', nested types after '.' instead of '+'.
    private static string Page(Type t) => t.FullName!.Replace('`', '-').Replace('+', '.') + ".md";

    [Fact]
    public void Every_public_type_of_the_runtime_has_a_page_and_every_page_a_type()
    {
        Assembly runtime = typeof(NetworkAttribute).Assembly;
        string[] types = runtime.GetExportedTypes().Select(Page).ToArray();
        string[] namespaces = runtime.GetExportedTypes().Select(t => t.Namespace! + ".md").Distinct().ToArray();
        string[] pages = Directory.GetFiles(Reference(), "*.md").Select(Path.GetFileName).Select(p => p!).ToArray();
        string[] runtimePages = pages.Where(p => !p.StartsWith("DslResNet.Models", StringComparison.Ordinal)).ToArray();

        string[] missing = types.Concat(namespaces).Except(runtimePages).Order(StringComparer.Ordinal).ToArray();
        string[] stale = runtimePages.Except(types).Except(namespaces).Order(StringComparer.Ordinal).ToArray();
        Assert.True(missing.Length == 0, "No page in docs/api/reference for " + string.Join(", ", missing) + "; run bash docs/api/build.sh.");
        Assert.True(stale.Length == 0, "Pages in docs/api/reference for types that are gone: " + string.Join(", ", stale) + "; run bash docs/api/build.sh.");
    }

    [Fact]
    public void Pages_carry_the_xml_documentation()
    {
        string conv = File.ReadAllText(Path.Combine(Reference(), "DslResNet.ConvAttribute.md"));
        Assert.Contains("A 2-D convolution with a square kernel", conv, StringComparison.Ordinal);
        Assert.DoesNotContain("<xref", conv, StringComparison.Ordinal);
    }
}
