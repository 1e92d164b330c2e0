using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using DslResNet.Generators.Infrastructure;
using DslResNet.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace DslResNet.Generators.Parsing;

/// <content>Reading a class's layer fields, in declaration order, and what keeps a field from being a layer.</content>
internal static partial class Parser
{
    private const string LayerTypeName = "DslResNet.Layer";

    /// <summary>Reads the layer fields of a class in declaration order.</summary>
    private static (EquatableArray<LayerSpec> Layers, DeclarationFacts Facts) ParseLayers(
        INamedTypeSymbol type, ParseContext context, List<string> chain)
    {
        CancellationToken cancellationToken = context.CancellationToken;
        var declarations = type.DeclaringSyntaxReferences
            .Select(r => r.GetSyntax(cancellationToken))
            .OfType<TypeDeclarationSyntax>()
            .OrderBy(d => d.SyntaxTree.FilePath, StringComparer.Ordinal)
            .ThenBy(d => d.SpanStart)
            .ToList();

        bool fromMetadata = IsFromMetadata(type);
        var fields = new List<(int Declaration, int Position, IFieldSymbol Field, SyntaxNode? Syntax)>();
        foreach (IFieldSymbol field in type.GetMembers().OfType<IFieldSymbol>())
        {
            if (fromMetadata)
            {
                // A referenced assembly's class: the C# compiler writes a class's fields to the metadata field table in
                // declaration order, and tokens follow that table (a test checks both). Only public and protected fields
                // are imported under the compilation's default import options, so a shipped block declares its layers public.
                if (!field.IsImplicitlyDeclared)
                {
                    fields.Add((0, field.MetadataToken, field, null));
                }

                continue;
            }

            if (field.IsImplicitlyDeclared || field.DeclaringSyntaxReferences.Length == 0)
            {
                continue;
            }

            SyntaxNode syntax = field.DeclaringSyntaxReferences[0].GetSyntax(cancellationToken);
            int declaration = declarations.FindIndex(d => d.SyntaxTree == syntax.SyntaxTree && d.Span.Contains(syntax.Span));
            fields.Add((declaration, syntax.SpanStart, field, syntax));
        }

        fields.Sort((a, b) => a.Declaration != b.Declaration ? a.Declaration.CompareTo(b.Declaration) : a.Position.CompareTo(b.Position));

        // Two layer fields of one name are a compiler error (CS0102); reading either as a layer would only add follow-on
        // errors (a parameter named twice). Only layer fields count: the generated part's own members are judged elsewhere.
        var duplicates = new HashSet<string>(
            fields.Where(f => f.Field.GetAttributes().Any(a => IsLayerAttribute(a.AttributeClass)))
                .GroupBy(f => f.Field.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key),
            StringComparer.Ordinal);

        var layers = new List<LayerSpec>();
        var extra = new List<ArgumentSpan>();
        var unknown = new List<UnknownLayerSpec>();
        var notLayers = new List<FieldProblemSpec>();
        bool bindingErrors = false;
        int firstDeclaration = -1;
        SourceSpan? split = null;
        foreach (var (declaration, _, field, syntax) in fields)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var attributes = field.GetAttributes();
            var layerAttributes = new List<AttributeData>();
            foreach (AttributeData attribute in attributes)
            {
                if (attribute.AttributeClass is null || attribute.AttributeClass.TypeKind == TypeKind.Error)
                {
                    bindingErrors = true;
                }
                else if (IsLayerAttribute(attribute.AttributeClass))
                {
                    layerAttributes.Add(attribute);
                }
            }

            if (layerAttributes.Count == 0)
            {
                continue;
            }

            if (duplicates.Contains(field.Name))
            {
                bindingErrors = true;
                continue;
            }

            if (NotALayer(field, out bool unbound) is { } problem)
            {
                SourceSpan at = syntax is VariableDeclaratorSyntax declarator ? SourceSpan.From(declarator.Identifier.GetLocation()) : SpanOrNone(syntax);
                notLayers.Add(new FieldProblemSpec(field.Name, problem, at));
                continue;
            }

            if (unbound)
            {
                bindingErrors = true;
                continue;
            }

            if (firstDeclaration < 0)
            {
                firstDeclaration = declaration;
            }
            else if (declaration != firstDeclaration && split is null)
            {
                split = SpanOf(layerAttributes[0], cancellationToken) ?? SpanOrNone(syntax);
            }

            for (int i = 1; i < layerAttributes.Count; i++)
            {
                extra.Add(new ArgumentSpan(field.Name, SpanOf(layerAttributes[i], cancellationToken) ?? SpanOrNone(syntax)));
            }

            AttributeData layerAttribute = layerAttributes[0];
            if (layerAttribute.AttributeConstructor is null || layerAttribute.ConstructorArguments.Any(a => a.Kind == TypedConstantKind.Error)
                || layerAttribute.NamedArguments.Any(a => a.Value.Kind == TypedConstantKind.Error))
            {
                bindingErrors = true;
                continue;
            }

            LayerSpec? layer = ReadLayer(field.Name, layerAttribute, context, chain);
            if (layer is null)
            {
                // A LayerAttribute subclass that is not one of ours (the compiler accepts it): report it, not a binding error.
                string attributeName = layerAttribute.AttributeClass!.Name;
                attributeName = attributeName.EndsWith("Attribute", StringComparison.Ordinal) && attributeName.Length > "Attribute".Length
                    ? attributeName.Substring(0, attributeName.Length - "Attribute".Length)
                    : attributeName;
                unknown.Add(new UnknownLayerSpec(field.Name, attributeName, SpanOf(layerAttribute, cancellationToken) ?? SpanOrNone(syntax)));
                continue;
            }

            layers.Add(layer);
        }

        var facts = new DeclarationFacts(
            type.TypeParameters.Length > 0, InGenericType(type), split, extra.ToEquatableArray(), bindingErrors)
        {
            NotLayerFields = notLayers.ToEquatableArray(),
            UnknownLayers = unknown.ToEquatableArray(),
        };
        return (layers.ToEquatableArray(), facts);
    }

    /// <summary>Whether a class comes from a referenced assembly (it has no declaration in this compilation's source).</summary>
    private static bool IsFromMetadata(INamedTypeSymbol type) => type.DeclaringSyntaxReferences.Length == 0;

    /// <summary>The assembly a class comes from when it is not declared in source, else null.</summary>
    private static string? MetadataAssembly(INamedTypeSymbol type) =>
        IsFromMetadata(type) ? type.ContainingAssembly?.Identity.Name ?? "(unknown assembly)" : null;

    /// <summary>A syntax node's span; none for a field read from metadata.</summary>
    private static SourceSpan SpanOrNone(SyntaxNode? syntax) => syntax is null ? SourceSpan.None : SourceSpan.From(syntax);

    /// <summary>
    /// Why a field with a layer attribute cannot be a layer (it is not an instance field of type <c>DslResNet.Layer</c>),
    /// else null. A type that does not bind is the compiler's error, reported by it: <paramref name="unbound"/> is set.
    /// </summary>
    private static string? NotALayer(IFieldSymbol field, out bool unbound)
    {
        unbound = field.Type.TypeKind == TypeKind.Error;
        if (unbound)
        {
            return null;
        }

        if (field.IsConst)
        {
            return "it is a constant";
        }

        if (field.IsStatic)
        {
            return "it is static";
        }

        return IsNamed(field.Type as INamedTypeSymbol, LayerTypeName)
            ? null
            : "its type is '" + field.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat) + "'";
    }
}
