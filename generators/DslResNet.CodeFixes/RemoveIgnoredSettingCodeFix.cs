using System.Collections.Immutable;
using System.Composition;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace DslResNet.CodeFixes;

/// <summary>
/// DRN0024: removes the named argument that another setting overrides (<c>Expansion</c> on a conv that states its channels,
/// <c>Stride</c> on a layer marked <c>Strided = true</c>), since it has no effect.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(RemoveIgnoredSettingCodeFix)), Shared]
public sealed class RemoveIgnoredSettingCodeFix : CodeFixProvider
{
    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create("DRN0024");

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        AttributeArgumentSyntax? argument = root?.FindNode(context.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<AttributeArgumentSyntax>();
        if (root is null || argument?.NameEquals is null || argument.Parent is not AttributeArgumentListSyntax list)
        {
            return;
        }

        // The last argument takes the separator before it; any other, the one after it.
        AttributeArgumentListSyntax shorter = list.WithArguments(list.Arguments.Remove(argument));
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            context.RegisterCodeFix(
                CodeAction.Create(
                    $"Remove '{argument.WithoutTrivia()}' (it has no effect)",
                    _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNode(list, shorter))),
                    equivalenceKey: nameof(RemoveIgnoredSettingCodeFix)),
                diagnostic);
        }
    }
}
