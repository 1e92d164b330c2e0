using System;
using System.Threading;
using DslResNet.Generators.Diagnostics;
using DslResNet.Generators.Emit;
using DslResNet.Generators.Model;
using DslResNet.Generators.Parsing;
using DslResNet.Generators.Planning;
using DslResNet.Generators.Shapes;
using DslResNet.Generators.Validation;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace DslResNet.Generators;

/// <summary>
/// The pipeline, one step per stage: Parse -> Validate -> Shapes -> Plan -> emit one <c>.g.cs</c> per network.
/// Diagnostics of the catalogue are reported by <see cref="NetworkAnalyzer"/> from the same functions; the generator
/// only decides whether to emit, and turns a failure of its own into <c>DRN9999</c> instead of crashing the compiler.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class NetworkGenerator : IIncrementalGenerator
{
    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<NetworkSpec?> parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                Parser.NetworkAttributeName,
                predicate: static (node, _) => node is ClassDeclarationSyntax,
                transform: static (ctx, ct) => Parse((INamedTypeSymbol)ctx.TargetSymbol, ct))
            .WithTrackingName(TrackingNames.Parse);

        IncrementalValuesProvider<NetworkSpec?> validated = parsed
            .Select(static (spec, _) => spec is null || HasStaticErrors(spec) ? null : spec.WithoutSpans())
            .WithTrackingName(TrackingNames.Validate);

        IncrementalValuesProvider<ShapedNetwork?> shaped = validated
            .Select(static (spec, _) => spec is null ? null : Infer(spec))
            .WithTrackingName(TrackingNames.Shapes);

        IncrementalValuesProvider<PlanOrError?> planned = shaped
            .Select(static (network, _) => network is null || network.HasErrors ? null : Plan(network))
            .WithTrackingName(TrackingNames.Plan);

        context.RegisterSourceOutput(planned, static (spc, result) => Emit(spc, result));
    }

    private static NetworkSpec? Parse(INamedTypeSymbol type, CancellationToken cancellationToken)
    {
        try
        {
            // A class marked [Block] too is an error (DRN0023, reported by the analyzer): emit nothing for it.
            return Parser.HasAttribute(type, Parser.BlockAttributeName) ? null : Parser.ParseNetwork(type, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The analyzer runs the same parse and reports DRN9999; emit nothing.
            return null;
        }
    }

    private static bool HasStaticErrors(NetworkSpec spec)
    {
        if (Validator.Poisoned(spec))
        {
            return true;
        }

        try
        {
            foreach (DiagnosticInfo d in Validator.ValidateNetwork(spec))
            {
                if (d.IsError)
                {
                    return true;
                }
            }

            return false;
        }
        catch (Exception)
        {
            return true;
        }
    }

    private static ShapedNetwork? Infer(NetworkSpec spec)
    {
        try
        {
            return ShapeInference.Infer(spec);
        }
        catch (Exception)
        {
            return null; // reported by the analyzer
        }
    }

    private static PlanOrError Plan(ShapedNetwork network)
    {
        try
        {
            NetworkPlan plan = Planner.Plan(network);
            return new PlanOrError(plan, Emitter.HintName(network.Identity), Emitter.Emit(plan), null);
        }
        catch (Exception e)
        {
            return new PlanOrError(null, Emitter.HintName(network.Identity), null, network.Identity.Name + ": " + e.GetType().Name + ": " + e.Message);
        }
    }

    private static void Emit(SourceProductionContext context, PlanOrError? result)
    {
        if (result is null)
        {
            return;
        }

        if (result.Source is null)
        {
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.InternalError, Location.None, result.HintName, result.Error));
            return;
        }

        context.AddSource(result.HintName, SourceText.From(result.Source, System.Text.Encoding.UTF8));
    }

    /// <summary>The Plan step's output: the plan with its emitted text, or the failure to report.</summary>
    private sealed record PlanOrError(NetworkPlan? Plan, string HintName, string? Source, string? Error);
}
