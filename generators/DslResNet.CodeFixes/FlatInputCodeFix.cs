using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace DslResNet.CodeFixes;

/// <summary>
/// DRN0010: inserts a layer before the dense layer that gets an image, one code action each: <c>[GlobalAvgPool] Layer
/// avgpool;</c> (channels become the features, as a ResNet's head) or <c>[Flatten] Layer flatten;</c> (every value
/// becomes a feature). The new field copies the dense field's modifiers and type; its name is made unique in the class.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(FlatInputCodeFix)), Shared]
public sealed class FlatInputCodeFix : CodeFixProvider
{
    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create("DRN0010");

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            LayerSite? site = await LayerSyntax.FindAsync(context.Document, diagnostic, context.CancellationToken, "DslResNet.DenseAttribute").ConfigureAwait(false);
            if (site?.Field.Parent is not TypeDeclarationSyntax type || site.Model.GetDeclaredSymbol(type, context.CancellationToken) is not { } symbol)
            {
                continue;
            }

            foreach (var (attribute, name, what) in new[] { ("GlobalAvgPool", "avgpool", "average each channel"), ("Flatten", "flatten", "keep every value") })
            {
                string field = UniqueName(name, symbol.MemberNames);
                context.RegisterCodeFix(
                    CodeAction.Create(
                        $"Insert [{attribute}] Layer {field}; before '{site.Name}' ({what})",
                        _ => Task.FromResult(Insert(site, attribute, field)),
                        equivalenceKey: nameof(FlatInputCodeFix) + "." + attribute),
                    diagnostic);
            }
        }
    }

    private static string UniqueName(string name, IEnumerable<string> taken)
    {
        var names = new HashSet<string>(taken, System.StringComparer.Ordinal);
        string candidate = name;
        for (int i = 2; names.Contains(candidate); i++)
        {
            candidate = name + i.ToString(CultureInfo.InvariantCulture);
        }

        return candidate;
    }

    private static Solution Insert(LayerSite site, string attribute, string name)
    {
        // [Dense(10)] Layer fc;  ->  [GlobalAvgPool] Layer avgpool;  on the line above, at the same indentation.
        AttributeListSyntax list = AttributeList(SingletonSeparatedList(Attribute(LayerSyntax.RenamedAttribute(site.Attribute, "Dense", attribute))))
            .WithCloseBracketToken(Token(TriviaList(), SyntaxKind.CloseBracketToken, TriviaList(Space)));
        VariableDeclarationSyntax declaration = site.Field.Declaration.WithVariables(SingletonSeparatedList(VariableDeclarator(Identifier(name))));
        FieldDeclarationSyntax field = site.Field
            .WithAttributeLists(SingletonList(list))
            .WithDeclaration(declaration)
            .WithSemicolonToken(Token(SyntaxKind.SemicolonToken))
            .WithLeadingTrivia(LayerSyntax.IndentationOf(site.Field))
            .WithTrailingTrivia(LayerSyntax.EndOfLineOf(site.Root));
        if (field.Modifiers.Count > 0)
        {
            // The modifiers keep their own trailing space; only the first token carries the indentation.
            field = field.WithModifiers(TokenList(field.Modifiers.Select(m => m.WithLeadingTrivia())))
                .WithLeadingTrivia(LayerSyntax.IndentationOf(site.Field));
        }

        return site.Document.Project.Solution.WithDocumentSyntaxRoot(site.Document.Id, site.Root.InsertNodesBefore(site.Field, new[] { field }));
    }
}
