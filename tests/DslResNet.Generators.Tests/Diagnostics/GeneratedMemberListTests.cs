using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using DslResNet.Generators.Emit;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Xunit;

namespace DslResNet.Generators.Tests.Diagnostics;

/// <summary>The list of names DRN0025 protects is complete: every member of every sample's generated part is on it.</summary>
public sealed class GeneratedMemberListTests
{
    [Fact]
    public void Every_member_the_samples_generated_parts_declare_is_reserved()
    {
        string folder = Path.Combine(Path.GetDirectoryName(Here())!, "..", "Snapshots");
        var files = Directory.GetFiles(folder, "*.verified.cs");
        Assert.NotEmpty(files);
        int checkedMembers = 0;
        foreach (string file in files)
        {
            var root = CSharpSyntaxTree.ParseText(File.ReadAllText(file)).GetRoot();
            foreach (var type in root.DescendantNodes().OfType<ClassDeclarationSyntax>())
            {
                if (type.BaseList is null || !type.BaseList.ToString().Contains("NetworkBase", StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (var member in type.Members)
                {
                    foreach (string name in MemberNames(member))
                    {
                        Assert.True(Emitter.IsGeneratedMemberName(name), $"{Path.GetFileName(file)}: '{name}' is not reserved");
                        checkedMembers++;
                    }
                }
            }
        }

        Assert.True(checkedMembers > 100, $"only {checkedMembers} members checked");
    }

    private static IEnumerable<string> MemberNames(MemberDeclarationSyntax member) => member switch
    {
        ConstructorDeclarationSyntax => Array.Empty<string>(), // checked by signature
        BaseFieldDeclarationSyntax f => f.Declaration.Variables.Select(v => v.Identifier.ValueText),
        MethodDeclarationSyntax m => new[] { m.Identifier.ValueText },
        PropertyDeclarationSyntax p => new[] { p.Identifier.ValueText },
        BaseTypeDeclarationSyntax t => new[] { t.Identifier.ValueText },
        _ => throw new InvalidOperationException("unexpected generated member kind: " + member.Kind()),
    };

    private static string Here([CallerFilePath] string path = "") => path;
}
