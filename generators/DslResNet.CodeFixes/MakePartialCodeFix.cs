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
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace DslResNet.CodeFixes;

/// <summary>DRN0001: adds <c>partial</c> to the network class and to every type that encloses it and lacks it.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(MakePartialCodeFix)), Shared]
public sealed class MakePartialCodeFix : CodeFixProvider
{
    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create("DRN0001");

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        TypeDeclarationSyntax? network = root?.FindNode(context.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<TypeDeclarationSyntax>();
        if (root is null || network is null)
        {
            return;
        }

        // The network and the types around it, innermost first: each one the compiler needs partial.
        List<TypeDeclarationSyntax> missing = network.AncestorsAndSelf().OfType<TypeDeclarationSyntax>()
            .Where(t => !t.Modifiers.Any(SyntaxKind.PartialKeyword)).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        string names = string.Join(", ", missing.Select(t => "'" + t.Identifier.ValueText + "'"));
        string title = $"Make {names} partial";
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            context.RegisterCodeFix(
                CodeAction.Create(
                    title,
                    _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNodes(missing, (_, rewritten) => AddPartial(rewritten)))),
                    equivalenceKey: nameof(MakePartialCodeFix)),
                diagnostic);
        }
    }

    /// <summary>Adds <c>partial</c> last among the modifiers (C# wants it just before <c>class</c>), keeping the line's indentation first.</summary>
    private static TypeDeclarationSyntax AddPartial(TypeDeclarationSyntax type)
    {
        if (type.Modifiers.Count == 0)
        {
            SyntaxToken partial = Token(type.Keyword.LeadingTrivia, SyntaxKind.PartialKeyword, TriviaList(Space));
            return type.WithKeyword(type.Keyword.WithLeadingTrivia()).WithModifiers(TokenList(partial));
        }

        return type.WithModifiers(type.Modifiers.Add(Token(TriviaList(), SyntaxKind.PartialKeyword, TriviaList(Space))));
    }
}
