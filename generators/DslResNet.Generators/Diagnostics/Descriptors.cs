using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace DslResNet.Generators.Diagnostics;

/// <summary>
/// The catalogue: every diagnostic DslResNet reports. IDs are stable and never reused. Adding one is a checklist:
/// a descriptor here, a heading in DIAGNOSTICS.md, a line in AnalyzerReleases.Unshipped.md, and a test in
/// tests/DslResNet.Generators.Tests/Diagnostics (a test fails when any of the four is missing).
/// </summary>
internal static class Descriptors
{
    /// <summary>Where DIAGNOSTICS.md is published; each ID links to its own heading.</summary>
    public const string HelpRoot = "https://github.com/dslresnet/dslresnet/blob/main/generators/DslResNet.Generators/Diagnostics/DIAGNOSTICS.md";

    private const string Architecture = "DslResNet.Architecture";
    private const string Declaration = "DslResNet.Declaration";
    private const string Advice = "DslResNet.Advice";

    /// <summary>DRN0001: a network (or a type enclosing one) is not partial.</summary>
    public static readonly DiagnosticDescriptor NotPartial = Make(
        "DRN0001", "Network class must be partial",
        "'{0}' must be declared partial so that the generator can complete network '{1}'",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0002: a generic network or block, or one nested in a generic type.</summary>
    public static readonly DiagnosticDescriptor UnsupportedDeclaration = Make(
        "DRN0002", "Unsupported network or block declaration",
        "'{0}' cannot be a {1}: {2}",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0003: layers spread over several partial declarations.</summary>
    public static readonly DiagnosticDescriptor LayersSplit = Make(
        "DRN0003", "Layers are split over several partial declarations",
        "'{0}' declares layers in more than one partial declaration, so their order is undefined; declare every layer in one declaration",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0004: a number outside its valid range.</summary>
    public static readonly DiagnosticDescriptor InvalidNumber = Make(
        "DRN0004", "Invalid layer setting",
        "{0} of '{1}' is {2}, but must be {3}",
        Architecture, DiagnosticSeverity.Error);

    /// <summary>DRN0005: a kernel or window larger than its (padded) input.</summary>
    public static readonly DiagnosticDescriptor SpatialCollapse = Make(
        "DRN0005", "Spatial size collapses to zero",
        "'{0}' ({1}) cannot apply to its input {2}: {3}",
        Architecture, DiagnosticSeverity.Error);

    /// <summary>DRN0006: a stride that leaves the last input rows or columns unread.</summary>
    public static readonly DiagnosticDescriptor StrideDropsInput = Make(
        "DRN0006", "Stride silently drops input rows",
        "'{0}' ({1}) on input {2} never reads the last {3} {4} of its input: size + 2 x padding - kernel = {5} is not a multiple of stride {6}",
        Architecture, DiagnosticSeverity.Warning);

    /// <summary>DRN0007: a residual add whose two sides cannot be made to agree.</summary>
    public static readonly DiagnosticDescriptor ResidualShapeMismatch = Make(
        "DRN0007", "Residual add shapes differ",
        "Residual '{0}' adds its shortcut {1} to the body's output {2}: {3}",
        Architecture, DiagnosticSeverity.Error);

    /// <summary>DRN0008: a stage whose type argument is not a block.</summary>
    public static readonly DiagnosticDescriptor NotABlock = Make(
        "DRN0008", "Stage type is not a block",
        "Stage '{0}' uses '{1}', which is not marked [Block]",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0009: blocks that use each other recursively.</summary>
    public static readonly DiagnosticDescriptor RecursiveBlock = Make(
        "DRN0009", "Blocks use each other recursively",
        "Stage '{0}' makes block '{1}' contain itself: {2}",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0010: dense on an image-shaped input.</summary>
    public static readonly DiagnosticDescriptor DenseNeedsFlatInput = Make(
        "DRN0010", "Dense layer needs a flat input",
        "Dense layer '{0}' gets the image-shaped input {1}; put [Flatten] (to keep {2} features) or [GlobalAvgPool] (to keep {3}) before it",
        Architecture, DiagnosticSeverity.Error);

    /// <summary>DRN0011: batch norm right before tanh or sigmoid.</summary>
    public static readonly DiagnosticDescriptor BatchNormBeforeSaturating = Make(
        "DRN0011", "Batch norm before an s-shaped activation",
        "Batch norm '{0}' feeds {1} '{2}' directly; with s-shaped activations batch norm after the activation often trains better",
        Advice, DiagnosticSeverity.Warning);

    /// <summary>DRN0012: dropout before a batch norm.</summary>
    public static readonly DiagnosticDescriptor DropoutWithBatchNorm = Make(
        "DRN0012", "Dropout in a network with batch norm",
        "Dropout '{0}' comes before batch norm '{1}'; batch norm already regularises, and dropout shifts the variance that '{1}' sees between training and inference",
        Advice, DiagnosticSeverity.Warning);

    /// <summary>DRN0013: a deep plain network.</summary>
    public static readonly DiagnosticDescriptor DeepPlainNetwork = Make(
        "DRN0013", "Deep network without skip connections",
        "'{0}' has {1} weighted layers and no skip connections; plain networks deeper than 20 layers train worse than shallower ones (the degradation problem), residual connections fix it",
        Advice, DiagnosticSeverity.Warning);

    /// <summary>DRN0014: a network or block with no layers.</summary>
    public static readonly DiagnosticDescriptor NoLayers = Make(
        "DRN0014", "No layers",
        "{0} '{1}' declares no layers; add fields with layer attributes such as [Conv] or [Dense]",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0015: more than one layer attribute on a field.</summary>
    public static readonly DiagnosticDescriptor MultipleLayerAttributes = Make(
        "DRN0015", "More than one layer attribute on a field",
        "Field '{0}' already has a layer attribute; declare one layer per field",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0016: a residual whose From does not name an earlier layer.</summary>
    public static readonly DiagnosticDescriptor UnknownShortcutSource = Make(
        "DRN0016", "Shortcut source is not an earlier layer",
        "Residual '{0}' starts its shortcut from '{1}', which is not a layer declared before it in '{2}'",
        Architecture, DiagnosticSeverity.Error);

    /// <summary>DRN0017: a residual outside a block without From.</summary>
    public static readonly DiagnosticDescriptor ShortcutSourceRequired = Make(
        "DRN0017", "Residual outside a block needs From",
        "Residual '{0}' is not in a block, so it has no block input to start from; say where its shortcut starts with From = nameof(layer)",
        Architecture, DiagnosticSeverity.Error);

    /// <summary>DRN0018: a block-only setting in a network.</summary>
    public static readonly DiagnosticDescriptor BlockSettingOutsideBlock = Make(
        "DRN0018", "Block-only setting outside a block",
        "'{0}' {1}, which only has a meaning inside a [Block] class",
        Architecture, DiagnosticSeverity.Error);

    /// <summary>DRN0019: a stage stride that its block never applies.</summary>
    public static readonly DiagnosticDescriptor StageStrideUnused = Make(
        "DRN0019", "Stage stride is never applied",
        "Stage '{0}' passes a stride to block '{1}', but no layer of '{1}' is marked Strided = true, so the stride would be ignored",
        Architecture, DiagnosticSeverity.Error);

    /// <summary>DRN0020: two tensors with one name.</summary>
    public static readonly DiagnosticDescriptor DuplicateParameterName = Make(
        "DRN0020", "Two parameters share a name",
        "'{0}' names the parameter '{1}' that '{2}' already names; rename a layer (or set the residual's ProjectionName)",
        Architecture, DiagnosticSeverity.Error);

    /// <summary>DRN0021: a layer attribute in a class that is neither a network nor a block.</summary>
    public static readonly DiagnosticDescriptor LayerOutsideNetwork = Make(
        "DRN0021", "Layer outside a network or block",
        "Field '{0}' has a layer attribute, but '{1}' is marked neither [Network] nor [Block], so it is ignored",
        Declaration, DiagnosticSeverity.Warning);

    /// <summary>DRN0022: a LayersOf that is not a usable network.</summary>
    public static readonly DiagnosticDescriptor InvalidLayersOf = Make(
        "DRN0022", "LayersOf does not name a usable network",
        "LayersOf of '{0}' {1}",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0023: a class marked both network and block.</summary>
    public static readonly DiagnosticDescriptor NetworkAndBlock = Make(
        "DRN0023", "Both [Network] and [Block]",
        "'{0}' is marked both [Network] and [Block]; a class is one or the other",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0024: a setting that has no effect.</summary>
    public static readonly DiagnosticDescriptor IgnoredSetting = Make(
        "DRN0024", "Setting has no effect",
        "{0} of '{1}' has no effect: {2}",
        Architecture, DiagnosticSeverity.Warning);

    /// <summary>DRN0025: a member of a network has a name its generated part declares or its base class has.</summary>
    public static readonly DiagnosticDescriptor GeneratedNameCollision = Make(
        "DRN0025", "Member name is taken by the generated part",
        "'{0}' of network '{1}' has the name of a member that {2}; rename it",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0026: a field marked with a LayerAttribute subclass that is not a DslResNet layer.</summary>
    public static readonly DiagnosticDescriptor UnknownLayerAttribute = Make(
        "DRN0026", "Not a DslResNet layer attribute",
        "'{0}' of '{1}' carries [{2}], which derives from LayerAttribute but is not a DslResNet layer; use one of the built-in layer attributes",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0037: Until or Classes cannot apply to the network's layers.</summary>
    public static readonly DiagnosticDescriptor HeadSettingInvalid = Make(
        "DRN0037", "Until or Classes cannot apply",
        "'{0}': {1}",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0036: a block from a referenced assembly that is invalid where it is used.</summary>
    public static readonly DiagnosticDescriptor ForeignBlockInvalid = Make(
        "DRN0036", "Block from a referenced assembly is invalid",
        "Stage '{0}' uses block '{1}' from assembly '{2}', which is invalid here: {3}",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN0035: a layer attribute on a field that is not an instance field of type Layer.</summary>
    public static readonly DiagnosticDescriptor FieldIsNotALayer = Make(
        "DRN0035", "Layer attribute on a field that is not a layer",
        "Field '{0}' has a layer attribute, but {1}; a layer is an instance field of type DslResNet.Layer",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>DRN9999: the generator or analyzer failed; a bug in DslResNet.</summary>
    public static readonly DiagnosticDescriptor InternalError = Make(
        "DRN9999", "DslResNet internal error",
        "DslResNet could not process '{0}': {1}. This is a bug in DslResNet; please report it with the declaration.",
        Declaration, DiagnosticSeverity.Error);

    /// <summary>Every descriptor, by ID.</summary>
    public static readonly ImmutableDictionary<string, DiagnosticDescriptor> ById = All().ToImmutableDictionary(d => d.Id);

    /// <summary>Every descriptor, in ID order.</summary>
    public static IEnumerable<DiagnosticDescriptor> All() => new[]
    {
        NotPartial, UnsupportedDeclaration, LayersSplit, InvalidNumber, SpatialCollapse, StrideDropsInput,
        ResidualShapeMismatch, NotABlock, RecursiveBlock, DenseNeedsFlatInput, BatchNormBeforeSaturating,
        DropoutWithBatchNorm, DeepPlainNetwork, NoLayers, MultipleLayerAttributes, UnknownShortcutSource,
        ShortcutSourceRequired, BlockSettingOutsideBlock, StageStrideUnused, DuplicateParameterName,
        LayerOutsideNetwork, InvalidLayersOf, NetworkAndBlock, IgnoredSetting,
        GeneratedNameCollision, UnknownLayerAttribute,
        FieldIsNotALayer, ForeignBlockInvalid, HeadSettingInvalid,
        InternalError,
    };

    private static DiagnosticDescriptor Make(string id, string title, string message, string category, DiagnosticSeverity severity) =>
        new(id, title, message, category, severity, isEnabledByDefault: true, helpLinkUri: HelpRoot + "#" + id.ToLowerInvariant());
}
