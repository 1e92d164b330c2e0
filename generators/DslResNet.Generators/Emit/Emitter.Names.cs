using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using DslResNet.Generators.Model;
using DslResNet.Generators.Shapes;
using Microsoft.CodeAnalysis.CSharp;

namespace DslResNet.Generators.Emit;

/// <summary>
/// Names in and of the generated part: the members it declares (which a user's member must not reuse), identifiers
/// written back as C# (a keyword needs its <c>@</c>), and hint names that are unique and file-system safe for every
/// legal C# name.
/// </summary>
internal static partial class Emitter
{
    /// <summary>Every member the generated part declares under a fixed name (the constructor aside).</summary>
    public static readonly IReadOnlyCollection<string> DeclaredMembers = new HashSet<string>(StringComparer.Ordinal)
    {
        // WriteFacts, WriteInfo, WriteSummary
        "InputShape", "OutputShape", "ParameterCount", "MultiplyAddsPerImage", "ForwardFlopsPerImage",
        "TrainingActivationBytesPerImage", "InferenceActivationBytesPerImage", "Info", "Summary", "SummaryText", "CreateSummary",
        // WriteLayers, WriteParameters, WriteFusionGroups
        "CreateLayers", "CreateParameters", "CreateFusionGroups",
        // WriteRuntime: the overrides of NetworkBase
        "TrainingOutput", "TrainingOutputGradient", "InputGradientView", "InferenceOutput",
    };

    // Members named per plan: one geometry struct per distinct convolution shape (RuntimeProgram.Geometry).
    private static readonly Regex PlannedMember = new(
        @"^Conv[0-9]+x[0-9]+x[0-9]+To[0-9]+K[0-9]+S[0-9]+P[0-9]+$",
        RegexOptions.CultureInvariant);

    /// <summary>Whether the generated part may declare a member of this name.</summary>
    public static bool IsGeneratedMemberName(string name) => DeclaredMembers.Contains(name) || PlannedMember.IsMatch(name);

    /// <summary>A name as a C# identifier: <c>@</c> before a keyword or contextual keyword (always legal).</summary>
    internal static string Id(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None || SyntaxFacts.GetContextualKeywordKind(name) != SyntaxKind.None
            ? "@" + name
            : name;

    /// <summary>A dotted namespace with every segment as an identifier.</summary>
    internal static string NamespaceId(string ns) => string.Join(".", ns.Split('.').Select(Id));

    /// <summary>
    /// The hint name before disambiguation: <c>Namespace.Outer.Type</c>, with every character outside <c>[A-Za-z0-9_]</c>
    /// written as <c>-uXXXX</c> (no identifier contains '-', so this is one-to-one; and file systems that normalise
    /// Unicode cannot merge two names).
    /// </summary>
    public static string HintBase(NetworkIdentity identity)
    {
        var parts = new List<string>();
        if (identity.Namespace.Length > 0)
        {
            parts.AddRange(identity.Namespace.Split('.'));
        }

        parts.AddRange(identity.ContainingTypes.Select(t => t.Name));
        parts.Add(identity.Name);
        var sb = new StringBuilder();
        foreach (string part in parts)
        {
            if (sb.Length > 0)
            {
                sb.Append('.');
            }

            foreach (char c in part)
            {
                if (c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_')
                {
                    sb.Append(c);
                }
                else
                {
                    sb.Append("-u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                }
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// The hint name: <c>HintBase.g.cs</c>, unless other networks' bases equal this one ignoring case (as the compiler
    /// and case-insensitive file systems compare them). Then the networks of that group, in ordinal order of their
    /// full names, are <c>Base.g.cs</c>, <c>Base.2.g.cs</c>, ... (no identifier starts with a digit, so no other
    /// network's hint name can be one of these). Deterministic for a given set of networks.
    /// </summary>
    /// <param name="hintBase">This network's <see cref="HintBase"/>.</param>
    /// <param name="fullName">This network's full name.</param>
    /// <param name="all">Every generated network's hint base and full name.</param>
    public static string HintName(string hintBase, string fullName, IEnumerable<(string HintBase, string FullName)> all)
    {
        var group = all.Where(n => string.Equals(n.HintBase, hintBase, StringComparison.OrdinalIgnoreCase))
            .Select(n => n.FullName).Append(fullName).Distinct(StringComparer.Ordinal)
            .OrderBy(n => n, StringComparer.Ordinal).ToList();
        int index = group.IndexOf(fullName);
        return index == 0 ? hintBase + ".g.cs" : hintBase + "." + (index + 1).ToString(CultureInfo.InvariantCulture) + ".g.cs";
    }
}
