using System;
using System.Collections.Immutable;
using System.Linq;
using DslResNet.Generators.Diagnostics;
using DslResNet.Generators.Model;
using DslResNet.Generators.Parsing;
using DslResNet.Generators.Shapes;
using DslResNet.Generators.Validation;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace DslResNet.Generators;

/// <summary>
/// Reports the catalogue's diagnostics, from the same parse, validation and shape functions the generator runs.
/// Each network reports its own; each block reports its own once, however many networks use it.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class NetworkAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = Descriptors.All().ToImmutableArray();

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterSymbolAction(AnalyzeType, SymbolKind.NamedType);
    }

    private static void AnalyzeType(SymbolAnalysisContext context)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        bool isNetwork = Parser.HasAttribute(type, Parser.NetworkAttributeName);
        bool isBlock = Parser.HasAttribute(type, Parser.BlockAttributeName);
        try
        {
            if (isNetwork && isBlock)
            {
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.NetworkAndBlock, type.Locations[0], type.Name));
                return;
            }

            if (isNetwork)
            {
                NetworkSpec network = Parser.ParseNetwork(type, context.CancellationToken);
                if (network.Facts.BindingErrors)
                {
                    return; // the compiler reports why an attribute did not bind; anything we said would follow from it
                }

                var diagnostics = Validator.ValidateNetwork(network).ToList();

                // A block the compiler rejects in part has lost layers: its shapes would be follow-on errors.
                if (!diagnostics.Any(d => d.IsError) && !Validator.Poisoned(network))
                {
                    diagnostics.AddRange(ShapeInference.Infer(network).Diagnostics);
                }

                Report(context, diagnostics, network.FullName);
            }
            else if (isBlock)
            {
                BlockSpec block = Parser.ParseBlock(type, context.CancellationToken);
                if (!block.Facts.BindingErrors)
                {
                    Report(context, Validator.ValidateBlock(block), block.Name);
                }
            }
            else
            {
                ReportStrayLayers(context, type);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.InternalError, type.Locations[0], type.Name, e.GetType().Name + ": " + e.Message));
        }
    }

    private static void Report(SymbolAnalysisContext context, System.Collections.Generic.IEnumerable<DiagnosticInfo> diagnostics, string owner)
    {
        foreach (DiagnosticInfo info in diagnostics.Distinct())
        {
            if (info.Owner == owner)
            {
                context.ReportDiagnostic(info.ToDiagnostic(context.Compilation));
            }
        }
    }

    private static void ReportStrayLayers(SymbolAnalysisContext context, INamedTypeSymbol type)
    {
        foreach (IFieldSymbol field in type.GetMembers().OfType<IFieldSymbol>())
        {
            AttributeData? layer = field.GetAttributes().FirstOrDefault(a => Parser.IsLayerAttribute(a.AttributeClass));
            if (layer?.ApplicationSyntaxReference is { } reference)
            {
                context.ReportDiagnostic(Diagnostic.Create(
                    Descriptors.LayerOutsideNetwork, reference.GetSyntax(context.CancellationToken).GetLocation(), field.Name, type.Name));
            }
        }
    }
}
