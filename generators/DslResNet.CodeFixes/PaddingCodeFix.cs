using System.Collections.Immutable;
using System.Composition;
using System.Globalization;
using System.Threading.Tasks;
using DslResNet.Generators.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace DslResNet.CodeFixes;

/// <summary>
/// DRN0005 (window larger than its input) and DRN0006 (stride drops rows): sets <c>Padding = kernel / 2</c> on the
/// convolution or pool, which keeps the size at stride 1 for an odd kernel; offered where the analyzer found that with it
/// the window fits and reads every row (its <see cref="FixProperties.Padding"/>).
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(PaddingCodeFix)), Shared]
public sealed class PaddingCodeFix : CodeFixProvider
{
    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create("DRN0005", "DRN0006");

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(FixProperties.Padding, out string? text)
                || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int padding))
            {
                continue;
            }

            LayerSite? site = await LayerSyntax.FindAsync(
                context.Document, diagnostic, context.CancellationToken,
                "DslResNet.ConvAttribute", "DslResNet.MaxPoolAttribute", "DslResNet.AvgPoolAttribute").ConfigureAwait(false);
            if (site is null)
            {
                continue;
            }

            var value = LiteralExpression(SyntaxKind.NumericLiteralExpression, Literal(padding));
            context.RegisterCodeFix(
                CodeAction.Create(
                    $"Set Padding = {padding.ToString(CultureInfo.InvariantCulture)} on '{site.Name}'",
                    _ => Task.FromResult(LayerSyntax.Replace(site, site.Attribute, LayerSyntax.WithNamedArgument(site.Attribute, "Padding", value))),
                    equivalenceKey: nameof(PaddingCodeFix)),
                diagnostic);
        }
    }
}
