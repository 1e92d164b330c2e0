using System.Collections.Immutable;
using System.Linq;
using DslResNet.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;

namespace DslResNet.Generators;

/// <summary>
/// Layer fields are declarations, never read or written by user code: suppresses the compiler's and the IDE's
/// "field is never used / never assigned / could be readonly" on fields that carry a layer attribute, so that
/// <c>[Conv(16, 3)] Layer conv1;</c> builds clean under TreatWarningsAsErrors.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class LayerFieldSuppressor : DiagnosticSuppressor
{
    private static readonly ImmutableArray<SuppressionDescriptor> Suppressions = new[]
    {
        ("CS0169", "The field is never used"),
        ("CS0649", "The field is never assigned to"),
        ("CS0414", "The field is assigned but its value is never used"),
        ("IDE0051", "Private member is unused"),
        ("IDE0052", "Private member is never read"),
        ("IDE0044", "Field can be made readonly"),
    }.Select(s => new SuppressionDescriptor("DRNSPR_" + s.Item1, s.Item1, "A DslResNet layer field is a declaration: " + s.Item2.ToLowerInvariant() + " is expected")).ToImmutableArray();

    /// <inheritdoc />
    public override ImmutableArray<SuppressionDescriptor> SupportedSuppressions => Suppressions;

    /// <inheritdoc />
    public override void ReportSuppressions(SuppressionAnalysisContext context)
    {
        foreach (Diagnostic diagnostic in context.ReportedDiagnostics)
        {
            SyntaxTree? tree = diagnostic.Location.SourceTree;
            if (tree is null)
            {
                continue;
            }

            SyntaxNode node = tree.GetRoot(context.CancellationToken).FindNode(diagnostic.Location.SourceSpan);
            VariableDeclaratorSyntax? declarator = node as VariableDeclaratorSyntax ?? node.FirstAncestorOrSelf<VariableDeclaratorSyntax>();
            if (declarator is null)
            {
                continue;
            }

            SemanticModel model = context.GetSemanticModel(tree);
            if (model.GetDeclaredSymbol(declarator, context.CancellationToken) is IFieldSymbol field
                && field.GetAttributes().Any(a => Parser.IsLayerAttribute(a.AttributeClass)))
            {
                SuppressionDescriptor? descriptor = Suppressions.FirstOrDefault(s => s.SuppressedDiagnosticId == diagnostic.Id);
                if (descriptor is not null)
                {
                    context.ReportSuppression(Suppression.Create(descriptor, diagnostic));
                }
            }
        }
    }
}
