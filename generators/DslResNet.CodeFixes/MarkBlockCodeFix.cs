using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace DslResNet.CodeFixes;

/// <summary>
/// DRN0021 (a class with layer fields but neither <c>[Network]</c> nor <c>[Block]</c>, usually a forgotten <c>[Block]</c>)
/// and DRN0008 (a stage's type is not marked <c>[Block]</c>): marks the class <c>[Block]</c>, in whichever file declares it.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(MarkBlockCodeFix)), Shared]
public sealed class MarkBlockCodeFix : CodeFixProvider
{
    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create("DRN0021", "DRN0008");

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
            AttributeSyntax? attribute = root?.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true).FirstAncestorOrSelf<AttributeSyntax>();
            if (attribute is null)
            {
                continue;
            }

            var (document, type) = diagnostic.Id == "DRN0021"
                ? (context.Document, attribute.FirstAncestorOrSelf<FieldDeclarationSyntax>()?.Parent as ClassDeclarationSyntax)
                : await StageBlockAsync(context.Document, attribute, context.CancellationToken).ConfigureAwait(false);
            if (document is null || type is null)
            {
                continue;
            }

            string name = LayerSyntax.Qualified(attribute, "Block");
            context.RegisterCodeFix(
                CodeAction.Create($"Mark '{type.Identifier.ValueText}' [Block]", ct => MarkAsync(document, type, name, ct), equivalenceKey: nameof(MarkBlockCodeFix)),
                diagnostic);
        }
    }

    /// <summary>The class a <c>[Stage&lt;T&gt;]</c> names, where it is declared in source.</summary>
    private static async Task<(Document?, ClassDeclarationSyntax?)> StageBlockAsync(Document document, AttributeSyntax stage, CancellationToken cancellationToken)
    {
        SemanticModel? model = await document.GetSemanticModelAsync(cancellationToken).ConfigureAwait(false);
        if ((model?.GetSymbolInfo(stage, cancellationToken).Symbol as IMethodSymbol)?.ContainingType is not { TypeArguments.Length: 1 } stageType
            || stageType.TypeArguments[0].DeclaringSyntaxReferences.FirstOrDefault() is not { } reference)
        {
            return (null, null);
        }

        SyntaxNode declaration = await reference.GetSyntaxAsync(cancellationToken).ConfigureAwait(false);
        return (document.Project.Solution.GetDocument(reference.SyntaxTree), declaration as ClassDeclarationSyntax);
    }

    private static async Task<Solution> MarkAsync(Document document, ClassDeclarationSyntax type, string name, CancellationToken cancellationToken)
    {
        SyntaxNode root = (await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false))!;

        // The class's comments stay above the new [Block]; the class keeps its indentation.
        AttributeListSyntax block = AttributeList(SingletonSeparatedList(Attribute(ParseName(name))))
            .WithLeadingTrivia(type.GetLeadingTrivia())
            .WithTrailingTrivia(LayerSyntax.EndOfLineOf(root));
        ClassDeclarationSyntax marked = type.WithLeadingTrivia(LayerSyntax.IndentationOf(type));
        marked = marked.WithAttributeLists(marked.AttributeLists.Insert(0, block));
        return document.Project.Solution.WithDocumentSyntaxRoot(document.Id, root.ReplaceNode(type, marked));
    }
}
