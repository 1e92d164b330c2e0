using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace DslResNet.Generators.Infrastructure;

/// <summary>
/// A location kept as plain values (pipeline models must not hold a <see cref="Location"/>, which pins a syntax tree);
/// rebuilt into a <see cref="Location"/> when a diagnostic is reported.
/// </summary>
/// <param name="Path">The syntax tree's file path.</param>
/// <param name="Start">Start offset in the file.</param>
/// <param name="Length">Length in characters.</param>
/// <param name="StartLine">Zero-based start line.</param>
/// <param name="StartColumn">Zero-based start column.</param>
/// <param name="EndLine">Zero-based end line.</param>
/// <param name="EndColumn">Zero-based end column.</param>
internal sealed record SourceSpan(string Path, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn)
{
    /// <summary>Where nothing better is known.</summary>
    public static readonly SourceSpan None = new(string.Empty, 0, 0, 0, 0, 0, 0);

    /// <summary>The span of a syntax node or token location.</summary>
    public static SourceSpan From(Location location)
    {
        if (!location.IsInSource)
        {
            return None;
        }

        FileLinePositionSpan line = location.GetLineSpan();
        return new SourceSpan(
            location.SourceTree!.FilePath, location.SourceSpan.Start, location.SourceSpan.Length,
            line.StartLinePosition.Line, line.StartLinePosition.Character, line.EndLinePosition.Line, line.EndLinePosition.Character);
    }

    /// <summary>The span of a syntax node.</summary>
    public static SourceSpan From(SyntaxNode node) => From(node.GetLocation());

    /// <summary>
    /// Rebuilds a location, attached to the compilation's syntax tree for <see cref="Path"/> when there is one
    /// (so that #pragma and the IDE see it), else as an external file location.
    /// </summary>
    public Location ToLocation(Compilation? compilation = null)
    {
        if (ReferenceEquals(this, None) || Path.Length == 0)
        {
            return Location.None;
        }

        SyntaxTree? tree = compilation?.SyntaxTrees.FirstOrDefault(t => string.Equals(t.FilePath, Path, StringComparison.Ordinal));
        return tree is not null && Start + Length <= tree.Length
            ? Location.Create(tree, new TextSpan(Start, Length))
            : Location.Create(Path, new TextSpan(Start, Length), new LinePositionSpan(new LinePosition(StartLine, StartColumn), new LinePosition(EndLine, EndColumn)));
    }
}
