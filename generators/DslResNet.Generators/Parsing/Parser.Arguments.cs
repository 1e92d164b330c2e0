using System;
using System.Collections.Generic;
using System.Threading;
using DslResNet.Generators.Infrastructure;
using DslResNet.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace DslResNet.Generators.Parsing;

/// <content>Reading an attribute's arguments by parameter or property name, with where each was written.</content>
internal static partial class Parser
{
    private static AttributeArguments ReadArguments(AttributeData attribute, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        IMethodSymbol? constructor = attribute.AttributeConstructor;
        if (constructor is not null)
        {
            for (int i = 0; i < attribute.ConstructorArguments.Length && i < constructor.Parameters.Length; i++)
            {
                values[constructor.Parameters[i].Name] = Read(attribute.ConstructorArguments[i]);
            }
        }

        foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
        {
            values[named.Key] = Read(named.Value);
        }

        var spans = new List<ArgumentSpan>();
        if (attribute.ApplicationSyntaxReference is null)
        {
            // Read from a referenced assembly: there is no text to point at, but which arguments were written still
            // matters (a Conv without output channels takes the block's). Metadata records the constructor that was
            // called and the named arguments set; our attributes have no optional parameters, so each constructor
            // argument was written.
            for (int i = 0; constructor is not null && i < attribute.ConstructorArguments.Length && i < constructor.Parameters.Length; i++)
            {
                spans.Add(new ArgumentSpan(constructor.Parameters[i].Name, SourceSpan.None));
            }

            foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
            {
                spans.Add(new ArgumentSpan(named.Key, SourceSpan.None));
            }
        }
        else if (attribute.ApplicationSyntaxReference.GetSyntax(cancellationToken) is AttributeSyntax { ArgumentList: { } list })
        {
            for (int i = 0; i < list.Arguments.Count; i++)
            {
                AttributeArgumentSyntax argument = list.Arguments[i];
                string? name = argument.NameEquals?.Name.Identifier.ValueText
                    ?? argument.NameColon?.Name.Identifier.ValueText
                    ?? (constructor is not null && i < constructor.Parameters.Length ? constructor.Parameters[i].Name : null);
                if (name is not null)
                {
                    spans.Add(new ArgumentSpan(name, SourceSpan.From(argument.Expression)));
                }
            }
        }

        return new AttributeArguments(values, spans.ToEquatableArray());
    }

    private static object? Read(TypedConstant constant) => constant.Kind switch
    {
        TypedConstantKind.Array => null,
        TypedConstantKind.Type => constant.Value as ITypeSymbol,
        _ => constant.Value,
    };

    /// <summary>An attribute's argument values by name, and their spans.</summary>
    private sealed class AttributeArguments
    {
        private readonly Dictionary<string, object?> _values;

        public AttributeArguments(Dictionary<string, object?> values, EquatableArray<ArgumentSpan> spans)
        {
            _values = values;
            Spans = spans;
        }

        public EquatableArray<ArgumentSpan> Spans { get; }

        public bool Has(string name) => _values.ContainsKey(name);

        public object? Value(string name) => _values.TryGetValue(name, out object? value) ? value : null;

        public int Int(string name, int fallback) => Value(name) switch
        {
            int i => i,
            short s => s,
            byte b => b,
            long l => l > int.MaxValue ? int.MaxValue : l < int.MinValue ? int.MinValue : (int)l,
            _ => fallback,
        };

        public bool Bool(string name, bool fallback) => Value(name) is bool b ? b : fallback;

        public double Double(string name, double fallback) => Value(name) switch
        {
            double d => d,
            float f => f,
            int i => i,
            _ => fallback,
        };
    }
}
