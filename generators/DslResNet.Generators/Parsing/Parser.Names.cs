using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using DslResNet.Generators.Emit;
using DslResNet.Generators.Infrastructure;
using DslResNet.Generators.Model;
using Microsoft.CodeAnalysis;

namespace DslResNet.Generators.Parsing;

/// <summary>Names a network's own members must leave to its generated part and to <c>NetworkBase</c>.</summary>
internal static partial class Parser
{
    private const string NetworkBaseName = "DslResNet.Runtime.NetworkBase";

    /// <summary>
    /// The user's members of <paramref name="type"/> whose names the generated part declares (a duplicate there), or
    /// that hide a member of <c>NetworkBase</c> (which the generated part calls by its simple name). Members of the
    /// generated part itself, which the analyzer sees too, are skipped.
    /// </summary>
    private static EquatableArray<NameCollisionSpec> NameCollisions(INamedTypeSymbol type, AttributeData networkAttribute, CancellationToken cancellationToken)
    {
        var inherited = new HashSet<string>(StringComparer.Ordinal);
        for (INamedTypeSymbol? t = networkAttribute.AttributeClass?.ContainingAssembly.GetTypeByMetadataName(NetworkBaseName); t is not null && t.SpecialType != SpecialType.System_Object; t = t.BaseType)
        {
            foreach (ISymbol member in t.GetMembers())
            {
                if (member.DeclaredAccessibility != Accessibility.Private && !member.IsImplicitlyDeclared && member is not IMethodSymbol { MethodKind: MethodKind.Constructor or MethodKind.StaticConstructor })
                {
                    inherited.Add(member.Name);
                }
            }
        }

        var collisions = new List<NameCollisionSpec>();
        foreach (ISymbol member in type.GetMembers())
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Accessors (get_X) come with their property or event, which is checked under its own name.
            if (member.IsImplicitlyDeclared || member is IMethodSymbol { AssociatedSymbol: not null }
                || member.DeclaringSyntaxReferences.Length == 0 || member.DeclaringSyntaxReferences.Any(r => IsGeneratedTree(r.SyntaxTree)))
            {
                continue;
            }

            string? owner = null;
            if (member is IMethodSymbol { MethodKind: MethodKind.Constructor } constructor)
            {
                if (constructor.Parameters.Select(p => p.Type.WithNullableAnnotation(NullableAnnotation.NotAnnotated).ToDisplayString()).SequenceEqual(new[] { "DslResNet.Runtime.Device", "int", "DslResNet.Runtime.NetworkOptions" }))
                {
                    owner = $"the generated part of '{type.Name}' declares (a constructor of the same parameter types)";
                }
            }
            else if (Emitter.IsGeneratedMemberName(member.Name))
            {
                owner = $"the generated part of '{type.Name}' declares";
            }
            else if (inherited.Contains(member.Name) && !member.IsOverride)
            {
                owner = $"'{type.Name}' inherits from {NetworkBaseName} (the generated part uses it)";
            }

            if (owner is not null && member.Locations.FirstOrDefault(l => l.IsInSource) is { } location)
            {
                collisions.Add(new NameCollisionSpec(member.Name, owner, SourceSpan.From(location)));
            }
        }

        return collisions.OrderBy(c => c.Span.Path, StringComparer.Ordinal).ThenBy(c => c.Span.Start).ToEquatableArray();
    }

    /// <summary>Whether a tree is one this generator wrote (its path names the generator, as the driver builds it).</summary>
    private static bool IsGeneratedTree(SyntaxTree tree) =>
        tree.FilePath.IndexOf(typeof(NetworkGenerator).FullName, StringComparison.Ordinal) >= 0 && tree.FilePath.EndsWith(".g.cs", StringComparison.Ordinal);

    /// <summary>What about a file-local network (or one nested in a file-local type) keeps the generator out, or null.</summary>
    private static string? FileLocalKind(INamedTypeSymbol type)
    {
        if (type.IsFileLocal)
        {
            return "file-local (the generated part is another file)";
        }

        for (INamedTypeSymbol? outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
        {
            if (outer.IsFileLocal)
            {
                return $"nested in the file-local type '{outer.Name}' (the generated part is another file)";
            }
        }

        return null;
    }
}
