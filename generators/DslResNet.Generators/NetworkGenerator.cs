using System;
using System.Linq;
using System.Threading;
using DslResNet.Generators.Diagnostics;
using DslResNet.Generators.Emit;
using DslResNet.Generators.Infrastructure;
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
                transform: static (ctx, ct) => IsFirstNetworkDeclaration(ctx, ct) ? Parse((INamedTypeSymbol)ctx.TargetSymbol, ct) : null)
            .WithTrackingName(TrackingNames.Parse);

        // Every network's hint base and full name, so that names equal but for case get distinct hint names.
        IncrementalValueProvider<EquatableArray<HintKey>> hintKeys = parsed
            .Select(static (spec, _) => spec is null ? null : new HintKey(Emitter.HintBase(IdentityOf(spec)), spec.FullName))
            .Where(static key => key is not null)
            .Collect()
            .Select(static (keys, _) => new EquatableArray<HintKey>(keys.Select(k => k!)));

        IncrementalValuesProvider<NetworkSpec?> validated = parsed
            .Select(static (spec, _) => spec is null || HasStaticErrors(spec) ? null : spec.WithoutSpans())
            .WithTrackingName(TrackingNames.Validate);

        IncrementalValuesProvider<ShapedNetwork?> shaped = validated
            .Select(static (spec, _) => spec is null ? null : Infer(spec))
            .WithTrackingName(TrackingNames.Shapes);

        IncrementalValuesProvider<PlanOrError?> planned = shaped
            .Select(static (network, _) => network is null || network.HasErrors ? null : Plan(network))
            .WithTrackingName(TrackingNames.Plan);

        context.RegisterSourceOutput(planned.Combine(hintKeys), static (spc, pair) => Emit(spc, pair.Left, pair.Right));
    }

    /// <summary>
    /// Whether the attributed declaration is the one whose <c>[Network]</c> the type's attributes list first: a second
    /// partial declaration that repeats the attribute (the compiler's CS0579) would otherwise generate the network twice.
    /// </summary>
    private static bool IsFirstNetworkDeclaration(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        foreach (AttributeData attribute in type.GetAttributes())
        {
            if (attribute.AttributeClass?.ToDisplayString() == Parser.NetworkAttributeName)
            {
                SyntaxNode? declaration = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).FirstAncestorOrSelf<TypeDeclarationSyntax>();
                return declaration is not null && declaration.SyntaxTree == context.TargetNode.SyntaxTree && declaration.Span == context.TargetNode.Span;
            }
        }

        return false;
    }

    private static NetworkIdentity IdentityOf(NetworkSpec spec) => new(spec.FullName, spec.Name, spec.Namespace, spec.ContainingTypes);

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
            return new PlanOrError(plan, Emitter.HintBase(network.Identity), network.Identity.FullName, Emitter.Emit(plan), null);
        }
        catch (Exception e)
        {
            return new PlanOrError(null, Emitter.HintBase(network.Identity), network.Identity.FullName, null, network.Identity.Name + ": " + e.GetType().Name + ": " + e.Message);
        }
    }

    private static void Emit(SourceProductionContext context, PlanOrError? result, EquatableArray<HintKey> hintKeys)
    {
        if (result is null)
        {
            return;
        }

        if (result.Source is null)
        {
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.InternalError, Location.None, result.FullName, result.Error));
            return;
        }

        string hintName = Emitter.HintName(result.HintBase, result.FullName, hintKeys.Select(k => (k.HintBase, k.FullName)));
        context.AddSource(hintName, SourceText.From(result.Source, System.Text.Encoding.UTF8));
    }

    /// <summary>The Plan step's output: the plan with its emitted text, or the failure to report.</summary>
    private sealed record PlanOrError(NetworkPlan? Plan, string HintBase, string FullName, string? Source, string? Error);

    /// <summary>A network's hint base and full name (see <see cref="Emitter.HintName"/>).</summary>
    private sealed record HintKey(string HintBase, string FullName);
}
