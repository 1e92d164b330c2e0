using System.Linq;
using DslResNet.Generators.Infrastructure;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Xunit;

namespace DslResNet.Generators.Tests.Robustness;

/// <summary>Every string the generator writes as a C# literal reads back as itself, on one line.</summary>
public sealed class CSharpLiteralTests
{
    [Theory]
    [InlineData("conv1")]
    [InlineData("a\nb\rc\r\nd")]
    [InlineData("\u2028\u2029\u0085\u000B\u000C\u0000\u007F")]
    [InlineData("\"quoted\" and \\back\\slashed\\")]
    [InlineData("*/ // /* \t é \U0001F600")]
    public void Quote_round_trips_through_the_parser_on_one_line(string value)
    {
        string literal = CSharpLiteral.Quote(value);

        var expression = (LiteralExpressionSyntax)SyntaxFactory.ParseExpression(literal);
        Assert.False(expression.ContainsDiagnostics, literal);
        Assert.Equal(value, expression.Token.ValueText);
        Assert.DoesNotContain(literal, c => c is '\n' or '\r' or '\u2028' or '\u2029' or '\u0085');
    }

    [Fact]
    public void Every_char_round_trips()
    {
        string all = new(Enumerable.Range(0, 0x3000).Select(i => (char)i).Where(c => !char.IsSurrogate(c)).ToArray());
        var expression = (LiteralExpressionSyntax)SyntaxFactory.ParseExpression(CSharpLiteral.Quote(all));
        Assert.Equal(all, expression.Token.ValueText);
    }
}
