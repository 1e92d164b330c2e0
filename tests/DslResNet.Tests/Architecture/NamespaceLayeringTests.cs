using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using DslResNet.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace DslResNet.Tests.Architecture;

/// <summary>
/// The layering of DslResNet.dll's namespaces, read from the compiled assembly: which namespace's types use which other
/// namespace's types, in signatures (base types, interfaces, fields, properties, method parameters and returns) and in
/// method bodies (every type, method and field token of the IL). The groups are the namespaces under DslResNet, nested
/// ones folded into their first segment (Kernels.Simd is Kernels, IO.Pth is IO); the root namespace (the DSL
/// attributes and the model types) is "DslResNet".
/// </summary>
public sealed class NamespaceLayeringTests(ITestOutputHelper output)
{
    // The intended layering, lower first: a group may use only groups listed before it (and itself).
    // DslResNet (attributes, NetworkInfo, LayerKind) and Kernels (the shapes, the backend contract and the backends)
    // are mutually dependent by design: Operations.cs maps layer kinds to Kernels.Activation, and the backends take the
    // model's shapes. They count as one layer here.
    private static readonly string[][] Layers =
    [
        ["DslResNet", "Kernels"],
        ["Data"],
        ["IO"],
        ["Runtime"],
        ["Distributed"],
        ["Training"],
    ];

    [Fact]
    public void Namespaces_depend_only_downwards_with_no_cycle()
    {
        Dictionary<(string From, string To), string> edges = Edges(typeof(NetworkBase).Assembly);
        foreach (((string from, string to), string example) in edges.OrderBy(e => e.Key.From).ThenBy(e => e.Key.To))
        {
            output.WriteLine($"{from} -> {to}   e.g. {example}");
        }

        int Rank(string group) =>
            Array.FindIndex(Layers, l => l.Contains(group)) is var i and >= 0 ? i : throw new InvalidOperationException($"Namespace group '{group}' is not in the layering; add it.");

        var upward = edges.Where(e => Rank(e.Key.To) > Rank(e.Key.From))
            .Select(e => $"{e.Key.From} -> {e.Key.To} (e.g. {e.Value})")
            .ToList();
        Assert.True(upward.Count == 0, "Namespace dependencies against the layering:\n  " + string.Join("\n  ", upward));
    }

    [Fact]
    public void The_scan_sees_dependencies_in_signatures_and_method_bodies()
    {
        // The scan must see the known downward edges, or the layering test could pass by seeing nothing: Training's
        // optimizers implement Runtime's IOptimizer, Runtime's networks are IO's checkpoint sources, IO reads the model
        // types. (An edge made only in a method body is seen too: a typeof(Training.Sgd) in NetworkBase's static
        // constructor failed the layering test when tried.)
        Dictionary<(string From, string To), string> edges = Edges(typeof(NetworkBase).Assembly);
        Assert.Contains(("Training", "Runtime"), edges.Keys);
        Assert.Contains(("Runtime", "IO"), edges.Keys);
        Assert.Contains(("IO", "DslResNet"), edges.Keys);
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    private static Dictionary<(string From, string To), string> Edges(Assembly assembly)
    {
        var edges = new Dictionary<(string, string), string>();
        foreach (Type type in assembly.GetTypes())
        {
            string? from = Group(type);
            if (from is null)
            {
                continue;
            }

            void Use(Type? used, string where)
            {
                if (used is null)
                {
                    return;
                }

                if (used.HasElementType)
                {
                    Use(used.GetElementType(), where);
                    return;
                }

                if (used.IsGenericType && !used.IsGenericTypeDefinition)
                {
                    foreach (Type argument in used.GetGenericArguments())
                    {
                        Use(argument, where);
                    }

                    used = used.GetGenericTypeDefinition();
                }

                if (used.Assembly == assembly && Group(used) is { } to && to != from)
                {
                    edges.TryAdd((from, to), $"{type.FullName} {where} {used.FullName}");
                }
            }

            Use(type.BaseType, "derives from");
            foreach (Type i in type.GetInterfaces())
            {
                Use(i, "implements");
            }

            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (FieldInfo f in type.GetFields(all))
            {
                Use(f.FieldType, "has a field of");
            }

            foreach (PropertyInfo p in type.GetProperties(all))
            {
                Use(p.PropertyType, "has a property of");
            }

            foreach (MethodBase m in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                if (m is MethodInfo mi)
                {
                    Use(mi.ReturnType, "returns");
                }

                foreach (System.Reflection.ParameterInfo p in m.GetParameters())
                {
                    Use(p.ParameterType, "takes");
                }

                byte[]? il = m.GetMethodBody()?.GetILAsByteArray();
                if (il is null)
                {
                    continue;
                }

                foreach (int token in Tokens(il))
                {
                    try
                    {
                        MemberInfo? member = type.Module.ResolveMember(token, type.IsGenericType ? type.GetGenericArguments() : null, m.IsGenericMethod ? m.GetGenericArguments() : null);
                        Use(member as Type ?? member?.DeclaringType, "uses in " + m.Name);
                    }
                    catch (ArgumentException)
                    {
                        // A token of another kind (a string, a signature) or one that does not resolve in this context.
                    }
                }
            }
        }

        return edges;
    }

    // The metadata tokens an IL stream mentions: the operands of the instructions whose operand is a token.
    private static IEnumerable<int> Tokens(byte[] il)
    {
        int i = 0;
        while (i < il.Length)
        {
            short value = il[i] == 0xFE && i + 1 < il.Length ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += value > 0xFF || value < 0 ? 2 : 1;
            if (!OpCodesByValue.TryGetValue(value, out OpCode op))
            {
                yield break;
            }

            switch (op.OperandType)
            {
                case OperandType.InlineMethod:
                case OperandType.InlineField:
                case OperandType.InlineType:
                case OperandType.InlineTok:
                    yield return BitConverter.ToInt32(il, i);
                    i += 4;
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget:
                case OperandType.ShortInlineI:
                case OperandType.ShortInlineVar:
                    i += 1;
                    break;
                case OperandType.InlineVar:
                    i += 2;
                    break;
                case OperandType.InlineI8:
                case OperandType.InlineR:
                    i += 8;
                    break;
                case OperandType.InlineSwitch:
                    int count = BitConverter.ToInt32(il, i);
                    i += 4 + (4 * count);
                    break;
                default:
                    i += 4; // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
                    break;
            }
        }
    }

    // "DslResNet" for the root namespace, else the first segment under it; null outside DslResNet (compiler-generated
    // types carry their declaring type's namespace).
    private static string? Group(Type type)
    {
        string? ns = type.Namespace;
        if (ns is null)
        {
            return null;
        }

        if (ns == "DslResNet")
        {
            return "DslResNet";
        }

        if (!ns.StartsWith("DslResNet.", StringComparison.Ordinal))
        {
            return null;
        }

        string rest = ns["DslResNet.".Length..];
        int dot = rest.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? rest : rest[..dot];
    }
}
