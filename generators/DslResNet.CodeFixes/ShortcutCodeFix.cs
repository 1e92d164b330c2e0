using System;
using System.Collections.Immutable;
using System.Composition;
using System.Threading.Tasks;
using DslResNet.Generators.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace DslResNet.CodeFixes;

/// <summary>
/// DRN0007: sets <c>Shortcut = ShortcutKind.Projection</c> or <c>ShortcutKind.ZeroPad</c> on the residual whose shapes
/// differ, one code action each, as the analyzer found they would bridge the shapes (its <see cref="FixProperties.Shortcuts"/>).
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ShortcutCodeFix)), Shared]
public sealed class ShortcutCodeFix : CodeFixProvider
{
    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create("DRN0007");

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(FixProperties.Shortcuts, out string? kinds) || kinds is null)
            {
                continue;
            }

            LayerSite? site = await LayerSyntax.FindAsync(context.Document, diagnostic, context.CancellationToken, "DslResNet.ResidualAttribute").ConfigureAwait(false);
            if (site is null)
            {
                continue;
            }

            foreach (string kind in kinds.Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries))
            {
                string what = kind switch
                {
                    "Projection" => "a 1x1 convolution and batch norm",
                    "ZeroPad" => "subsample and zero-pad channels, no parameters",
                    _ => string.Empty,
                };
                if (what.Length == 0)
                {
                    continue;
                }

                ExpressionSyntax value = ParseExpression(LayerSyntax.Qualified(site.Attribute, "ShortcutKind") + "." + kind);
                context.RegisterCodeFix(
                    CodeAction.Create(
                        $"Set Shortcut = ShortcutKind.{kind} on '{site.Name}' ({what})",
                        _ => Task.FromResult(LayerSyntax.Replace(site, site.Attribute, LayerSyntax.WithNamedArgument(site.Attribute, "Shortcut", value))),
                        equivalenceKey: nameof(ShortcutCodeFix) + "." + kind),
                    diagnostic);
            }
        }
    }
}
