using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using DslResNet.Generators.Infrastructure;
using DslResNet.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace DslResNet.Generators.Parsing;

/// <summary>
/// The only stage that touches Roslyn symbols: reads a <c>[Network]</c> or <c>[Block]</c> class into plain,
/// value-equatable specs. It records what is written (and where); judging it is the validator's job.
/// </summary>
internal static partial class Parser
{
    /// <summary>Metadata name of <c>[Network]</c>.</summary>
    public const string NetworkAttributeName = "DslResNet.NetworkAttribute";

    /// <summary>Metadata name of <c>[Block]</c>.</summary>
    public const string BlockAttributeName = "DslResNet.BlockAttribute";

    private const string LayerAttributeName = "DslResNet.LayerAttribute";

    /// <summary>Reads a network class.</summary>
    public static NetworkSpec ParseNetwork(INamedTypeSymbol type, CancellationToken cancellationToken)
    {
        var context = new ParseContext(cancellationToken);
        AttributeData attribute = type.GetAttributes().First(a => IsNamed(a.AttributeClass, NetworkAttributeName));
        var args = ReadArguments(attribute, cancellationToken);
        SourceSpan attributeSpan = SpanOf(attribute, cancellationToken) ?? SourceSpan.From(type.Locations[0]);

        int channels = args.Int("channels", 0), height = args.Int("height", 0), width = args.Int("width", 0);
        bool plain = args.Bool("Plain", false);
        var shortcut = (ShortcutKind)args.Int("Shortcut", 0);
        bool inputGiven = args.Has("channels");

        EquatableArray<LayerSpec> layers;
        DeclarationFacts facts;
        string? layersOf = null, layersOfProblem = null, layersOfAssembly = null;
        var ownLayers = ParseLayers(type, context, new List<string>());

        if (args.Value("LayersOf") is ITypeSymbol source)
        {
            layersOf = source.ToDisplayString();
            var chain = new List<string> { FullName(type) };
            INamedTypeSymbol? current = source as INamedTypeSymbol;
            while (true)
            {
                if (current is null || !current.GetAttributes().Any(a => IsNamed(a.AttributeClass, NetworkAttributeName)))
                {
                    layersOfProblem = $"names '{source.ToDisplayString()}', which is not marked [Network]";
                    break;
                }

                string name = FullName(current);
                if (chain.Contains(name))
                {
                    chain.Add(name);
                    layersOfProblem = "forms a cycle: " + string.Join(" -> ", chain);
                    break;
                }

                chain.Add(name);
                AttributeData sourceAttribute = current.GetAttributes().First(a => IsNamed(a.AttributeClass, NetworkAttributeName));
                var sourceArgs = ReadArguments(sourceAttribute, cancellationToken);
                if (!inputGiven && sourceArgs.Has("channels"))
                {
                    channels = sourceArgs.Int("channels", 0);
                    height = sourceArgs.Int("height", 0);
                    width = sourceArgs.Int("width", 0);
                    inputGiven = true;
                }

                if (!args.Has("Shortcut") && shortcut == ShortcutKind.Default && sourceArgs.Has("Shortcut"))
                {
                    shortcut = (ShortcutKind)sourceArgs.Int("Shortcut", 0);
                }

                if (sourceArgs.Value("LayersOf") is INamedTypeSymbol next)
                {
                    current = next;
                    continue;
                }

                if (ownLayers.Layers.Count > 0)
                {
                    layersOfProblem = "is set, but the class also declares layers of its own; use one or the other";
                }
                else
                {
                    var sourceLayers = ParseLayers(current, context, new List<string>());
                    layersOfAssembly = MetadataAssembly(current);
                    if (layersOfAssembly is not null && sourceLayers.Layers.Count == 0)
                    {
                        // Private fields of a referenced assembly's class are not imported: say so, not "no layers".
                        layersOfProblem = $"names '{FullName(current)}' from assembly '{layersOfAssembly}', whose layer fields are not visible here; "
                            + "a network used from another assembly must declare its layer fields public";
                        break;
                    }

                    ownLayers = (sourceLayers.Layers, ownLayers.Facts with
                    {
                        // The source reports its own problems; the twin only must not be built from a partial list of layers.
                        BindingErrors = ownLayers.Facts.BindingErrors || sourceLayers.Facts.LayersIncomplete,
                    });
                }

                break;
            }
        }

        layers = ownLayers.Layers;
        (layers, int classes, (string, string)? headProblem) = ApplyHead(args, layers, layersOf);
        facts = ownLayers.Facts with
        {
            NameCollisions = NameCollisions(type, attribute, cancellationToken),
            UnsupportedKind = FileLocalKind(type) ?? type switch
            {
                { IsRecord: true } => "a record",
                { TypeKind: not TypeKind.Class } => "a " + Keyword(type),
                { IsStatic: true } => "a static class",
                // The analyzer sees the generated part too, whose base is NetworkBase.
                { BaseType: { SpecialType: not SpecialType.System_Object } baseType }
                    when baseType.ToDisplayString() != "DslResNet.Runtime.NetworkBase" =>
                    "derived from " + baseType.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)
                    + " (the generated part derives from DslResNet.Runtime.NetworkBase)",
                _ => null,
            },
        };
        if (shortcut == ShortcutKind.Default)
        {
            shortcut = ShortcutKind.Projection;
        }

        var containing = new List<ContainingTypeSpec>();
        for (INamedTypeSymbol? outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
        {
            containing.Insert(0, new ContainingTypeSpec(Keyword(outer), outer.Name, IsPartial(outer)));
        }

        return new NetworkSpec(
            FullName(type), type.Name,
            type.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : string.Empty,
            containing.ToEquatableArray(), IsPartial(type), SourceSpan.From(type.Locations[0]), attributeSpan,
            args.Spans, channels, height, width, plain, shortcut, layers, facts, layersOf, layersOfProblem, null)
        {
            LayersOfAssembly = layersOfAssembly,
            Classes = classes,
            HeadProblem = headProblem,
        };

    }

    /// <summary>
    /// <c>Until</c> (keep the top-level layers up to a named one) then <c>Classes</c> (the last top-level dense layer's output
    /// count). Returns the layers, the class count (0 when not set) and why a setting cannot apply.
    /// </summary>
    private static (EquatableArray<LayerSpec> Layers, int Classes, (string, string)? Problem) ApplyHead(
        AttributeArguments args, EquatableArray<LayerSpec> layers, string? layersOf)
    {
        if (layers.Count == 0)
        {
            return (layers, 0, null);
        }

        int given = args.Has("Classes") ? args.Int("Classes", 0) : 0;
        string from = layersOf is null ? "declared here" : $"of '{layersOf}'";
        var list = layers.ToList();
        if (args.Has("Until"))
        {
            string until = args.Value("Until") as string ?? string.Empty;
            int at = list.FindIndex(l => l.Name == until);
            if (at < 0)
            {
                return (layers, given, ("Until", $"Until = \"{until}\" names no top-level layer {from}; the layers are {string.Join(", ", list.Select(l => l.Name))}"));
            }

            list.RemoveRange(at + 1, list.Count - at - 1);
        }

        int classes = args.Int("Classes", 0);
        if (args.Has("Classes") && classes > 0)
        {
            int last = list.FindLastIndex(l => l is DenseSpec);
            if (last < 0)
            {
                return (layers, given, ("Classes", $"Classes = {classes} needs a top-level [Dense] layer to give that many outputs, and there is none {from}" + (args.Has("Until") ? " up to Until" : string.Empty)));
            }

            list[last] = ((DenseSpec)list[last]) with { OutFeatures = classes };
        }

        return (list.ToEquatableArray(), given, null);
    }

    /// <summary>Reads a block class (and, by value, every block it uses).</summary>
    public static BlockSpec ParseBlock(INamedTypeSymbol type, CancellationToken cancellationToken) =>
        ParseBlock(type, new ParseContext(cancellationToken), new List<string>());

    /// <summary>Fully qualified name used to key networks and blocks.</summary>
    public static string FullName(ITypeSymbol type) => type.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat);

    /// <summary>Whether the class carries the attribute with the given metadata name.</summary>
    public static bool HasAttribute(INamedTypeSymbol type, string metadataName) =>
        type.GetAttributes().Any(a => IsNamed(a.AttributeClass, metadataName));

    /// <summary>Whether <paramref name="attributeClass"/> derives from <c>DslResNet.LayerAttribute</c>.</summary>
    public static bool IsLayerAttribute(INamedTypeSymbol? attributeClass)
    {
        for (INamedTypeSymbol? t = attributeClass?.BaseType; t is not null; t = t.BaseType)
        {
            if (IsNamed(t, LayerAttributeName))
            {
                return true;
            }
        }

        return false;
    }

    private static BlockSpec ParseBlock(INamedTypeSymbol type, ParseContext context, List<string> chain)
    {
        string name = FullName(type);
        if (context.Blocks.TryGetValue(name, out BlockSpec? cached))
        {
            return cached;
        }

        chain.Add(name);
        var (layers, facts) = ParseLayers(type, context, chain);
        chain.RemoveAt(chain.Count - 1);
        var block = new BlockSpec(name, type.Name, SourceSpan.From(type.Locations[0]), layers, facts) { Assembly = MetadataAssembly(type) };
        if (!ContainsCycle(layers))
        {
            context.Blocks[name] = block;
        }

        return block;
    }

    private static bool ContainsCycle(EquatableArray<LayerSpec> layers) =>
        layers.Any(l => l is StageSpec s && (s.Block.Cycle is not null || (s.Block.Definition is { } d && ContainsCycle(d.Layers))));

    private static LayerSpec? ReadLayer(string name, AttributeData attribute, ParseContext context, List<string> chain)
    {
        var args = ReadArguments(attribute, context.CancellationToken);
        SourceSpan span = SpanOf(attribute, context.CancellationToken) ?? SourceSpan.None;
        INamedTypeSymbol attributeClass = attribute.AttributeClass!;
        switch (attributeClass.OriginalDefinition.MetadataName)
        {
            case "ConvAttribute":
                return new ConvSpec(
                    name, span, args.Spans, args.Int("outChannels", 0), args.Int("kernel", 0), args.Int("Stride", 1),
                    args.Int("Padding", 0), args.Bool("Bias", false), args.Bool("Strided", false), args.Int("Expansion", 1),
                    args.Int("Groups", 1));
            case "BatchNormAttribute":
                return new BatchNormSpec(name, span, args.Spans, args.Double("Eps", 1e-5), args.Double("Momentum", 0.1));
            case "ReLUAttribute":
                return new ActivationSpec(name, span, args.Spans, Activation.ReLU);
            case "TanhAttribute":
                return new ActivationSpec(name, span, args.Spans, Activation.Tanh);
            case "SigmoidAttribute":
                return new ActivationSpec(name, span, args.Spans, Activation.Sigmoid);
            case "GELUAttribute":
                return new ActivationSpec(name, span, args.Spans, Activation.GELU);
            case "SiLUAttribute":
                return new ActivationSpec(name, span, args.Spans, Activation.SiLU);
            case "ResidualAttribute":
                return new ResidualSpec(
                    name, span, args.Spans, args.Value("From") as string, (ShortcutKind)args.Int("Shortcut", 0),
                    args.Value("ProjectionName") as string ?? (args.Has("ProjectionName") ? string.Empty : "downsample"),
                    args.Value("ProjectionFrom") as string);
            case "MaxPoolAttribute":
            case "AvgPoolAttribute":
                int kernel = args.Int("kernel", 0);
                return new PoolSpec(
                    name, span, args.Spans, attributeClass.MetadataName == "MaxPoolAttribute", kernel,
                    args.Has("Stride") ? args.Int("Stride", 0) : kernel, args.Int("Padding", 0), args.Bool("Strided", false));
            case "GlobalAvgPoolAttribute":
                return new GlobalAvgPoolSpec(name, span, args.Spans);
            case "SqueezeExciteAttribute":
                return new SqueezeExciteSpec(name, span, args.Spans, args.Int("Reduction", 16), args.Int("Channels", 0));
            case "FlattenAttribute":
                return new FlattenSpec(name, span, args.Spans);
            case "DenseAttribute":
                return new DenseSpec(name, span, args.Spans, args.Int("outFeatures", 0), args.Bool("Bias", true));
            case "DropoutAttribute":
                return new DropoutSpec(name, span, args.Spans, args.Double("rate", 0));
            case "StageAttribute`1":
                return new StageSpec(
                    name, span, args.Spans, args.Int("channels", 0), args.Int("Repeat", 1), args.Int("Stride", 1),
                    args.Bool("Strided", false), args.Int("Expansion", 1), ResolveBlock(attributeClass.TypeArguments[0], context, chain));
            default:
                return null;
        }
    }

    private static BlockRef ResolveBlock(ITypeSymbol type, ParseContext context, List<string> chain)
    {
        string display = type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat);
        if (type is not INamedTypeSymbol named || !HasAttribute(named, BlockAttributeName))
        {
            return new BlockRef(display, false, null, null);
        }

        string name = FullName(named);
        int at = chain.IndexOf(name);
        if (at >= 0)
        {
            var cycle = chain.Skip(at).Select(ShortName).Concat(new[] { named.Name });
            return new BlockRef(display, true, string.Join(" -> ", cycle), null);
        }

        return new BlockRef(display, true, null, ParseBlock(named, context, chain));

        static string ShortName(string full) => full.Substring(full.LastIndexOf('.') + 1);
    }

    private static bool IsNamed(INamedTypeSymbol? type, string metadataName)
    {
        if (type is null)
        {
            return false;
        }

        string name = type.ContainingNamespace is { IsGlobalNamespace: false } ns
            ? ns.ToDisplayString() + "." + type.MetadataName
            : type.MetadataName;
        return name == metadataName;
    }

    private static bool IsPartial(INamedTypeSymbol type) =>
        type.DeclaringSyntaxReferences.Length > 0 && type.DeclaringSyntaxReferences.All(r =>
            r.GetSyntax() is TypeDeclarationSyntax d && d.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)));

    private static bool InGenericType(INamedTypeSymbol type)
    {
        for (INamedTypeSymbol? outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
        {
            if (outer.TypeParameters.Length > 0)
            {
                return true;
            }
        }

        return false;
    }

    private static string Keyword(INamedTypeSymbol type) => type switch
    {
        { IsRecord: true, TypeKind: TypeKind.Struct } => "record struct",
        { IsRecord: true } => "record",
        { TypeKind: TypeKind.Struct } => "struct",
        { TypeKind: TypeKind.Interface } => "interface",
        _ => "class",
    };

    private static SourceSpan? SpanOf(AttributeData attribute, CancellationToken cancellationToken) =>
        attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) is { } syntax ? SourceSpan.From(syntax) : null;

    /// <summary>Per-call state: cancellation, and blocks already read (a block used by three stages is read once).</summary>
    private sealed class ParseContext
    {
        public ParseContext(CancellationToken cancellationToken) => CancellationToken = cancellationToken;

        public CancellationToken CancellationToken { get; }

        public Dictionary<string, BlockSpec> Blocks { get; } = new(StringComparer.Ordinal);
    }
}
