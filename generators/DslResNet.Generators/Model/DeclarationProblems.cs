using DslResNet.Generators.Infrastructure;

namespace DslResNet.Generators.Model;

/// <summary>A member of a network whose name the generated part (or its base class) already uses.</summary>
/// <param name="Member">The member's name as declared.</param>
/// <param name="Owner">What already has the name: "the generated part of 'Net' declares", ...</param>
/// <param name="Span">The member's identifier.</param>
internal sealed record NameCollisionSpec(string Member, string Owner, SourceSpan Span);

/// <summary>A field marked with an attribute that derives from <c>LayerAttribute</c> but is not a DslResNet layer.</summary>
/// <param name="Field">The field's name.</param>
/// <param name="Attribute">The attribute's name as written in an attribute list (no <c>Attribute</c> suffix).</param>
/// <param name="Span">The attribute.</param>
internal sealed record UnknownLayerSpec(string Field, string Attribute, SourceSpan Span);
