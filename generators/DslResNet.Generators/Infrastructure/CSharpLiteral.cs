using System.Globalization;
using System.Text;

namespace DslResNet.Generators.Infrastructure;

/// <summary>C# string literals for generated code and for diagnostics that quote a user's string.</summary>
internal static class CSharpLiteral
{
    /// <summary>A C# string literal: quotes, backslashes and every character that could end or hide in a line escaped.</summary>
    public static string Quote(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '"': sb.Append("\\\""); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                // Every other character that could end the line or hide in it (U+0085, U+2028, U+2029, controls).
                case var _ when char.IsControl(c) || c is '\u0085' or '\u2028' or '\u2029':
                    sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                    break;
                default: sb.Append(c); break;
            }
        }

        return sb.Append('"').ToString();
    }
}
