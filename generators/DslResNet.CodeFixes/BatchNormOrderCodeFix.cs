using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace DslResNet.CodeFixes;

/// <summary>
/// DRN0011: moves the batch norm after the tanh or sigmoid it feeds (swapping the two fields). A convolution right before
/// the batch norm that has no <c>Bias</c> argument gets <c>Bias = true</c>, since batch norm's shift no longer follows it
/// (as DIAGNOSTICS.md's fix shows).
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(BatchNormOrderCodeFix)), Shared]
public sealed class BatchNormOrderCodeFix : CodeFixProvider
{
    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create("DRN0011");

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            LayerSite? site = await LayerSyntax.FindAsync(context.Document, diagnostic, context.CancellationToken, "DslResNet.BatchNormAttribute").ConfigureAwait(false);
            if (site?.Field.Parent is not TypeDeclarationSyntax type)
            {
                continue;
            }

            List<(FieldDeclarationSyntax Field, AttributeSyntax Attribute)> layers = Layers(site.Model, type, context.CancellationToken);
            int at = layers.FindIndex(l => l.Field == site.Field);
            if (at < 0 || at + 1 >= layers.Count
                || LayerSyntax.AttributeTypeName(site.Model, layers[at + 1].Attribute, context.CancellationToken) is not ("DslResNet.TanhAttribute" or "DslResNet.SigmoidAttribute"))
            {
                continue;
            }

            FieldDeclarationSyntax activation = layers[at + 1].Field;
            AttributeSyntax? conv = at > 0
                && LayerSyntax.AttributeTypeName(site.Model, layers[at - 1].Attribute, context.CancellationToken) == "DslResNet.ConvAttribute"
                && !(layers[at - 1].Attribute.ArgumentList?.Arguments.Any(a => a.NameEquals?.Name.Identifier.ValueText == "Bias") ?? false)
                ? layers[at - 1].Attribute : null;
            string activationName = activation.Declaration.Variables.First().Identifier.ValueText;
            string title = $"Move batch norm '{site.Name}' after '{activationName}'"
                + (conv is null ? string.Empty : $" and give '{layers[at - 1].Field.Declaration.Variables.First().Identifier.ValueText}' a bias");
            context.RegisterCodeFix(
                CodeAction.Create(title, _ => Task.FromResult(Swap(site, activation, conv)), equivalenceKey: nameof(BatchNormOrderCodeFix)),
                diagnostic);
        }
    }

    /// <summary>The type's layer fields in declaration order, each with its layer attribute.</summary>
    private static List<(FieldDeclarationSyntax, AttributeSyntax)> Layers(SemanticModel model, TypeDeclarationSyntax type, CancellationToken cancellationToken)
    {
        var layers = new List<(FieldDeclarationSyntax, AttributeSyntax)>();
        foreach (FieldDeclarationSyntax field in type.Members.OfType<FieldDeclarationSyntax>())
        {
            if (LayerSyntax.LayerAttributeOf(model, field, cancellationToken) is { } attribute)
            {
                layers.Add((field, attribute));
            }
        }

        return layers;
    }

    private static Solution Swap(LayerSite site, FieldDeclarationSyntax activation, AttributeSyntax? conv)
    {
        var nodes = new List<SyntaxNode> { site.Field, activation };
        if (conv is not null)
        {
            nodes.Add(conv);
        }

        // Each field moves with its own comments; the two trade places.
        SyntaxNode root = site.Root.ReplaceNodes(nodes, (original, _) =>
            original == site.Field ? activation
            : original == activation ? site.Field
            : LayerSyntax.WithNamedArgument((AttributeSyntax)original, "Bias", SyntaxFactory.LiteralExpression(SyntaxKind.TrueLiteralExpression)));
        return site.Document.Project.Solution.WithDocumentSyntaxRoot(site.Document.Id, root);
    }
}
