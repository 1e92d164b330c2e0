using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace DslResNet.Generators.Tests.Robustness;

/// <summary>
/// The fuzz test's mutation operators: the classes of input that broke the generator (issue 12, items 11 to 16) and
/// generic edits. Each takes a seeded <see cref="Random"/> and a source and returns the mutated source, or null when it
/// does not apply to that source.
/// </summary>
internal static class FuzzMutations
{
    /// <summary>Every operator, by name, in a fixed order.</summary>
    public static readonly IReadOnlyList<(string Name, Func<Random, string, string?> Apply)> All = new (string, Func<Random, string, string?>)[]
    {
        ("case-colliding network", CaseCollidingNetwork),
        ("duplicate [Network] partial", DuplicateNetworkPartial),
        ("keyword namespace", KeywordNamespace),
        ("keyword class name", KeywordClassName),
        ("layer named like a generated member", LayerNamedLikeGeneratedMember),
        ("member named like a generated member", MemberNamedLikeGeneratedMember),
        ("hostile ProjectionName", HostileProjectionName),
        ("file class", FileClass),
        ("custom LayerAttribute", CustomLayerAttribute),
        ("non-Layer field type", NonLayerFieldType),
        ("huge size", HugeSize),
        ("bad attribute argument", BadAttributeArgument),
        ("duplicate field name", DuplicateFieldName),
        ("delete line", DeleteLine),
        ("duplicate line", DuplicateLine),
        ("swap lines", SwapLines),
        ("change number", ChangeNumber),
        ("change string", ChangeString),
    };

    private static readonly Regex LayerField = new(@"\]\s*(?<type>Layer)\s+(?<name>[A-Za-z_]\w*)\s*;", RegexOptions.CultureInvariant);
    private static readonly Regex Number = new(@"(?<![\w.])\d+(?![\w.])", RegexOptions.CultureInvariant);
    private static readonly Regex StringLiteral = new("\"(?<text>[^\"\\\\\\n]*)\"", RegexOptions.CultureInvariant);
    private static readonly Regex AttributeArgument = new(@"(?<=\[(Conv|BatchNorm|Dense|Dropout|MaxPool|AvgPool|Stage<\w+>|Residual|Network)\((?:[^()\]]*?,\s*)?)(?<arg>[^(),\]]+)", RegexOptions.CultureInvariant);
    private static readonly string[] Keywords = { "@event", "@class", "@namespace", "@record", "@int", "@var", "@file", "@partial", "@global" };
    private static readonly string[] HugeValues = { "1073741823", "int.MaxValue", "65535", "2147483647", "46341", "100000", "0x7FFFFFFF" };
    private static readonly string[] BadArguments = { "\"3\"", "null", "1.5", "-", "typeof(int)", "default", "1 / 0", "checked(int.MaxValue + 1)", "nameof(Layer)", "(int)double.NaN", "int.MinValue", "'x'", "3 3", "new[] { 1 }" };
    private static readonly string[] HostileNames = { "a\\nb", "a\\rb", "a\\u2028b", "a\\u0085b", "a\\\"b", "a\\\\b", "", ".", "a.b", "a b", "*/x", "x\\u0000", "\\t" };
    // Members the generated part declares (as the snapshots show them), independent of the emitter's own list.
    private static readonly string[] GeneratedNames = { "ParameterCount", "Info", "Summary", "SummaryText", "TrainingOutput", "MultiplyAddsPerImage", "InputShape", "OutputShape", "CreateLayers", "CreateFusionGroups", "ForwardTraining", "FoldBatchNorm", "InferenceOutput", "InputGradientView" };

    // Members of NetworkBase and per-plan names.
    private static readonly string[] OtherNames = { "Options", "Device", "Parameter", "Predict", "Dispose", "Store", "Memory", "_g0Op", "_g1InferenceEpilogue", "Conv3x32x32To16K3S1P1", "Definition" };

    private static string? CaseCollidingNetwork(Random rng, string source) => WithNetworkClass(source, (root, cls) =>
    {
        string name = cls.Identifier.ValueText;
        string other = rng.Next(2) == 0 ? name.ToUpperInvariant() : name.ToLowerInvariant();
        if (other == name)
        {
            other = char.IsUpper(name[0]) ? char.ToLowerInvariant(name[0]) + name.Substring(1) : char.ToUpperInvariant(name[0]) + name.Substring(1);
        }

        return root.InsertNodesAfter(cls, new[] { cls.WithIdentifier(SyntaxFactory.Identifier(other)) });
    });

    private static string? DuplicateNetworkPartial(Random rng, string source) => WithNetworkClass(source, (root, cls) =>
        root.InsertNodesAfter(cls, new[] { rng.Next(2) == 0 ? cls.WithMembers(default) : cls }));

    private static string? KeywordNamespace(Random rng, string source)
    {
        var root = CSharpSyntaxTree.ParseText(source).GetRoot();
        var ns = root.DescendantNodes().OfType<BaseNamespaceDeclarationSyntax>().FirstOrDefault();
        string name = Pick(rng, Keywords) + (rng.Next(3) == 0 ? "." + Pick(rng, Keywords) : string.Empty);
        return ns is null
            ? "namespace " + name + ";\n" + source.Replace("namespace ", "// namespace ", StringComparison.Ordinal)
            : root.ReplaceNode(ns.Name, SyntaxFactory.ParseName(name).WithTriviaFrom(ns.Name)).ToFullString();
    }

    private static string? KeywordClassName(Random rng, string source) => WithNetworkClass(source, (root, cls) =>
        root.ReplaceToken(cls.Identifier, SyntaxFactory.Identifier(Pick(rng, Keywords)).WithTriviaFrom(cls.Identifier)));

    private static string? LayerNamedLikeGeneratedMember(Random rng, string source) =>
        ReplaceOne(rng, LayerField, source, m => m.Value.Replace(m.Groups["name"].Value, Pick(rng, ReservedNames()), StringComparison.Ordinal));

    private static string? MemberNamedLikeGeneratedMember(Random rng, string source) => WithNetworkClass(source, (root, cls) =>
    {
        string name = Pick(rng, ReservedNames());
        string member = rng.Next(3) switch
        {
            0 => $"public int {name};",
            1 => $"public static string {name}() => \"\";",
            _ => $"public class {name} {{ }}",
        };
        return root.ReplaceNode(cls, cls.AddMembers(SyntaxFactory.ParseMemberDeclaration(member)!));
    });

    private static string? HostileProjectionName(Random rng, string source)
    {
        string name = "ProjectionName = \"" + Pick(rng, HostileNames) + "\"";
        return source.Contains("ProjectionName = \"", StringComparison.Ordinal)
            ? ReplaceOne(rng, new Regex("ProjectionName = \"[^\"]*\""), source, _ => name)
            : ReplaceOne(rng, new Regex(@"\[Residual(\((?<args>[^)]*)\))?\]"), source, m =>
                m.Groups["args"].Success && m.Groups["args"].Value.Length > 0 ? $"[Residual({m.Groups["args"].Value}, {name})]" : $"[Residual({name})]");
    }

    private static string? FileClass(Random rng, string source) =>
        ReplaceOne(rng, new Regex(@"\b(public |internal )?(partial )?class\b"), source, m => "file " + (m.Groups[2].Success || rng.Next(2) == 0 ? "partial " : string.Empty) + "class");

    private static string? CustomLayerAttribute(Random rng, string source)
    {
        string? mutated = ReplaceOne(rng, new Regex(@"\[(?<attr>[A-Z]\w*(<\w+>)?(\([^\]]*\))?)\]\s*Layer"), source, m => "[MyLayer] Layer");
        string declaration = rng.Next(2) == 0
            ? "\npublic sealed class MyLayerAttribute : DslResNet.LayerAttribute { }\n"
            : "\npublic sealed class MyLayerAttribute : DslResNet.LayerAttribute { public MyLayerAttribute(int x = 0) { } public int Stride { get; set; } }\n";
        return mutated is null ? null : mutated + declaration;
    }

    private static string? NonLayerFieldType(Random rng, string source) =>
        ReplaceOne(rng, LayerField, source, m => m.Value.Replace("Layer " + m.Groups["name"].Value, Pick(rng, new[] { "int ", "static string ", "Layer[] ", "Layer? ", "object ", "const int " }) + m.Groups["name"].Value + (m.Value.Contains("const", StringComparison.Ordinal) ? " = 1" : string.Empty), StringComparison.Ordinal)
            .Replace("const int " + m.Groups["name"].Value + ";", "const int " + m.Groups["name"].Value + " = 1;", StringComparison.Ordinal));

    private static string? HugeSize(Random rng, string source)
    {
        var inAttributes = Number.Matches(source).Cast<Match>().Where(m => InAttribute(source, m.Index)).ToList();
        return inAttributes.Count == 0 ? null : Splice(source, inAttributes[rng.Next(inAttributes.Count)], Pick(rng, HugeValues));
    }

    private static string? BadAttributeArgument(Random rng, string source) =>
        ReplaceOne(rng, AttributeArgument, source, m => m.Value.Contains('=', StringComparison.Ordinal)
            ? m.Value.Substring(0, m.Value.IndexOf('=', StringComparison.Ordinal) + 1) + " " + Pick(rng, BadArguments)
            : Pick(rng, BadArguments));

    private static string? DuplicateFieldName(Random rng, string source)
    {
        var fields = LayerField.Matches(source).Cast<Match>().ToList();
        if (fields.Count < 2)
        {
            return null;
        }

        int i = rng.Next(fields.Count), j = rng.Next(fields.Count - 1);
        j = j >= i ? j + 1 : j;
        return Splice(source, fields[j].Groups["name"], fields[i].Groups["name"].Value);
    }

    private static string? DeleteLine(Random rng, string source) => EditLines(source, lines => lines.RemoveAt(rng.Next(lines.Count)));

    private static string? DuplicateLine(Random rng, string source) => EditLines(source, lines =>
    {
        int i = rng.Next(lines.Count);
        lines.Insert(i, lines[i]);
    });

    private static string? SwapLines(Random rng, string source) => EditLines(source, lines =>
    {
        int i = rng.Next(lines.Count), j = rng.Next(lines.Count);
        (lines[i], lines[j]) = (lines[j], lines[i]);
    });

    private static string? ChangeNumber(Random rng, string source)
    {
        var numbers = Number.Matches(source).Cast<Match>().ToList();
        return numbers.Count == 0 ? null : Splice(source, numbers[rng.Next(numbers.Count)], Pick(rng, new[] { "0", "-1", "1", "2", "3", "7", "9999", "int.MaxValue", "-2147483648" }));
    }

    private static string? ChangeString(Random rng, string source)
    {
        var strings = StringLiteral.Matches(source).Cast<Match>().ToList();
        return strings.Count == 0 ? null : Splice(source, strings[rng.Next(strings.Count)].Groups["text"], Pick(rng, HostileNames.Concat(new[] { "conv1", "fc", "downsample", "nosuch" }).ToArray()));
    }

    private static string[] ReservedNames() => GeneratedNames.Concat(OtherNames).ToArray();

    private static bool InAttribute(string source, int index)
    {
        int open = source.LastIndexOf('[', index), close = source.LastIndexOf(']', index);
        return open > close && source.IndexOf('\n', open) > index;
    }

    private static string? WithNetworkClass(string source, Func<SyntaxNode, ClassDeclarationSyntax, SyntaxNode> edit)
    {
        var root = CSharpSyntaxTree.ParseText(source).GetRoot();
        var cls = root.DescendantNodes().OfType<ClassDeclarationSyntax>()
            .FirstOrDefault(c => c.AttributeLists.SelectMany(l => l.Attributes).Any(a => a.Name.ToString().StartsWith("Network", StringComparison.Ordinal)));
        return cls is null ? null : edit(root, cls).ToFullString();
    }

    private static string? ReplaceOne(Random rng, Regex pattern, string source, Func<Match, string> replacement)
    {
        var matches = pattern.Matches(source).Cast<Match>().ToList();
        if (matches.Count == 0)
        {
            return null;
        }

        Match match = matches[rng.Next(matches.Count)];
        return Splice(source, match, replacement(match));
    }

    private static string? EditLines(string source, Action<List<string>> edit)
    {
        var lines = source.Split('\n').ToList();
        if (lines.Count < 2)
        {
            return null;
        }

        edit(lines);
        return string.Join("\n", lines);
    }

    private static string Splice(string source, Capture at, string text) => source.Substring(0, at.Index) + text + source.Substring(at.Index + at.Length);

    private static T Pick<T>(Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];
}
