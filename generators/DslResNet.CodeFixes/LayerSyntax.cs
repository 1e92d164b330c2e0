using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace DslResNet.CodeFixes;

/// <summary>A layer attribute found for a diagnostic: the document, its root, the attribute and the field it annotates.</summary>
/// <param name="Document">The document that holds the attribute (a block's file, for a diagnostic at a network's stage).</param>
/// <param name="Root">That document's syntax root.</param>
/// <param name="Attribute">The layer attribute.</param>
/// <param name="Field">The layer field.</param>
/// <param name="Model">That document's semantic model.</param>
internal sealed record LayerSite(Document Document, SyntaxNode Root, AttributeSyntax Attribute, FieldDeclarationSyntax Field, SemanticModel Model)
{
    /// <summary>The layer's name (the field's first variable).</summary>
    public string Name => Field.Declaration.Variables.First().Identifier.ValueText;
}

/// <summary>Syntax helpers shared by the code fixes.</summary>
internal static class LayerSyntax
{
    /// <summary>Metadata name of the base of every layer attribute.</summary>
    public const string LayerAttribute = "DslResNet.LayerAttribute";

    /// <summary>
    /// The layer attribute a diagnostic is about: at its additional location when it has one in source (a problem inside
    /// a block is reported at the network's stage, with the block's layer as additional location), else at its location.
    /// Null unless that attribute is one of <paramref name="attributeTypes"/> (metadata names) on a field.
    /// </summary>
    public static async Task<LayerSite?> FindAsync(Document document, Diagnostic diagnostic, CancellationToken cancellationToken, params string[] attributeTypes)
    {
        Location location = diagnostic.AdditionalLocations.FirstOrDefault(l => l.IsInSource) ?? diagnostic.Location;
        if (!location.IsInSource)
        {
            return null;
        }

        Document? target = document.Project.Solution.GetDocument(location.SourceTree);
        if (target is null)
        {
            return null;
        }

        SyntaxNode? root = await target.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        SemanticModel? model = await target.GetSemanticModelAsync(cancellationToken).ConfigureAwait(false);
        if (root is null || model is null || !root.FullSpan.Contains(location.SourceSpan))
        {
            return null;
        }

        AttributeSyntax? attribute = root.FindNode(location.SourceSpan, getInnermostNodeForTie: true).FirstAncestorOrSelf<AttributeSyntax>();
        FieldDeclarationSyntax? field = attribute?.FirstAncestorOrSelf<FieldDeclarationSyntax>();
        if (attribute is null || field is null || !attributeTypes.Contains(AttributeTypeName(model, attribute, cancellationToken), StringComparer.Ordinal))
        {
            return null;
        }

        return new LayerSite(target, root, attribute, field, model);
    }

    /// <summary>The metadata name of an attribute's class (<c>DslResNet.ConvAttribute</c>), or null when it does not bind.</summary>
    public static string? AttributeTypeName(SemanticModel model, AttributeSyntax attribute, CancellationToken cancellationToken) =>
        (model.GetSymbolInfo(attribute, cancellationToken).Symbol as IMethodSymbol)?.ContainingType?.ToDisplayString();

    /// <summary>The field's layer attribute (one deriving from <see cref="LayerAttribute"/>), or null.</summary>
    public static AttributeSyntax? LayerAttributeOf(SemanticModel model, FieldDeclarationSyntax field, CancellationToken cancellationToken)
    {
        foreach (AttributeSyntax attribute in field.AttributeLists.SelectMany(l => l.Attributes))
        {
            for (INamedTypeSymbol? type = (model.GetSymbolInfo(attribute, cancellationToken).Symbol as IMethodSymbol)?.ContainingType; type is not null; type = type.BaseType)
            {
                if (type.ToDisplayString() == LayerAttribute)
                {
                    return attribute;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The attribute with the named argument <paramref name="name"/> set to <paramref name="value"/>: replaced where it is
    /// written, else appended (adding the parentheses to an attribute written without any).
    /// </summary>
    public static AttributeSyntax WithNamedArgument(AttributeSyntax attribute, string name, ExpressionSyntax value)
    {
        AttributeArgumentListSyntax list = attribute.ArgumentList ?? AttributeArgumentList();
        AttributeArgumentSyntax? existing = list.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == name);
        if (existing is not null)
        {
            return attribute.WithArgumentList(list.ReplaceNode(existing, existing.WithExpression(value.WithTriviaFrom(existing.Expression))));
        }

        AttributeArgumentSyntax argument = AttributeArgument(
            NameEquals(IdentifierName(name), Token(TriviaList(Space), SyntaxKind.EqualsToken, TriviaList(Space))), null, value);
        var separators = list.Arguments.GetSeparators().ToList();
        if (list.Arguments.Count > 0)
        {
            separators.Add(Token(TriviaList(), SyntaxKind.CommaToken, TriviaList(Space)));
        }

        SeparatedSyntaxList<AttributeArgumentSyntax> arguments = SeparatedList(list.Arguments.Append(argument), separators);
        if (attribute.ArgumentList is null)
        {
            // [Residual] -> [Residual(Shortcut = ...)]: whatever followed the name now follows the parenthesis.
            return attribute.WithName(attribute.Name.WithoutTrailingTrivia())
                .WithArgumentList(list.WithArguments(arguments).WithTrailingTrivia(attribute.Name.GetTrailingTrivia()));
        }

        return attribute.WithArgumentList(list.WithArguments(arguments));
    }

    /// <summary>
    /// A name for a DslResNet type written as the given attribute's name is written: <c>DslResNet.ShortcutKind</c> next to
    /// <c>[DslResNet.Residual]</c>, else <c>ShortcutKind</c>.
    /// </summary>
    public static string Qualified(AttributeSyntax nextTo, string typeName) =>
        nextTo.Name is QualifiedNameSyntax qualified ? qualified.Left.ToString() + "." + typeName
        : nextTo.Name is AliasQualifiedNameSyntax alias ? alias.Alias.ToString() + "::DslResNet." + typeName
        : typeName;

    /// <summary>The attribute's name with its last identifier replaced by <paramref name="newName"/> (keeping <c>Attribute</c> and any qualifier).</summary>
    public static NameSyntax RenamedAttribute(AttributeSyntax attribute, string oldName, string newName)
    {
        string text = attribute.Name.WithoutTrivia().ToString();
        int at = text.LastIndexOf(oldName, StringComparison.Ordinal);
        return ParseName(at < 0 ? newName : text.Substring(0, at) + newName + text.Substring(at + oldName.Length));
    }

    /// <summary>The first line ending in the document, so that inserted lines match it; <c>\n</c> when there is none.</summary>
    public static SyntaxTrivia EndOfLineOf(SyntaxNode root) =>
        root.DescendantTrivia().FirstOrDefault(t => t.IsKind(SyntaxKind.EndOfLineTrivia)) is { RawKind: not 0 } eol ? eol : EndOfLine("\n");

    /// <summary>The indentation of a node's line (the whitespace after its last leading line break).</summary>
    public static SyntaxTriviaList IndentationOf(SyntaxNode node)
    {
        SyntaxTriviaList leading = node.GetLeadingTrivia();
        int lastBreak = -1;
        for (int i = 0; i < leading.Count; i++)
        {
            if (leading[i].IsKind(SyntaxKind.EndOfLineTrivia) || leading[i].IsKind(SyntaxKind.SingleLineCommentTrivia) || leading[i].HasStructure)
            {
                lastBreak = i;
            }
        }

        return TriviaList(leading.Skip(lastBreak + 1).Where(t => t.IsKind(SyntaxKind.WhitespaceTrivia)));
    }

    /// <summary>Replaces one node of a document's root.</summary>
    public static Solution Replace(LayerSite site, SyntaxNode oldNode, SyntaxNode newNode) =>
        site.Document.Project.Solution.WithDocumentSyntaxRoot(site.Document.Id, site.Root.ReplaceNode(oldNode, newNode));
}
