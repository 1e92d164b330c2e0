using DslResNet.Generators.Infrastructure;
using Microsoft.CodeAnalysis;

namespace DslResNet.Generators.Diagnostics;

/// <summary>A diagnostic as a value: its ID, where, the message arguments, and which class reports it.</summary>
/// <param name="Id">A catalogue ID (<see cref="Descriptors"/>).</param>
/// <param name="Span">Where it is reported.</param>
/// <param name="Arguments">Message arguments.</param>
/// <param name="Owner">Fully qualified name of the network or block whose analysis reports it, so a block used by many networks reports once.</param>
/// <param name="Additional">Related places (the block layer behind a stage, say).</param>
internal sealed record DiagnosticInfo(string Id, SourceSpan Span, EquatableArray<string> Arguments, string Owner, EquatableArray<SourceSpan> Additional)
{
    /// <summary>Properties for a code fix, keyed by <see cref="FixProperties"/> constants; empty for most diagnostics.</summary>
    public EquatableArray<DiagnosticProperty> Properties { get; init; }

    /// <summary>The descriptor.</summary>
    public DiagnosticDescriptor Descriptor => Descriptors.ById[Id];

    /// <summary>Whether it stops generation.</summary>
    public bool IsError => Descriptor.DefaultSeverity == DiagnosticSeverity.Error;

    /// <summary>Creates one.</summary>
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, SourceSpan span, string owner, params string[] arguments) =>
        new(descriptor.Id, span, new EquatableArray<string>(arguments), owner, EquatableArray<SourceSpan>.Empty);

    /// <summary>Rebuilds the Roslyn diagnostic, with locations in <paramref name="compilation"/>'s trees.</summary>
    public Diagnostic ToDiagnostic(Compilation? compilation)
    {
        var additional = new System.Collections.Generic.List<Location>();
        foreach (SourceSpan span in Additional)
        {
            additional.Add(span.ToLocation(compilation));
        }

        object?[] args = new object?[Arguments.Count];
        for (int i = 0; i < args.Length; i++)
        {
            args[i] = Arguments[i];
        }

        System.Collections.Immutable.ImmutableDictionary<string, string?>? properties = null;
        if (Properties.Count > 0)
        {
            var builder = System.Collections.Immutable.ImmutableDictionary.CreateBuilder<string, string?>(System.StringComparer.Ordinal);
            foreach (DiagnosticProperty property in Properties)
            {
                builder[property.Key] = property.Value;
            }

            properties = builder.ToImmutable();
        }

        return Diagnostic.Create(Descriptor, Span.ToLocation(compilation), additional, properties, args);
    }
}

/// <summary>One property of a diagnostic, for its code fix.</summary>
/// <param name="Key">A <see cref="FixProperties"/> constant.</param>
/// <param name="Value">Its value.</param>
internal sealed record DiagnosticProperty(string Key, string Value);
