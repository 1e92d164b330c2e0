using System;
using System.Text;

namespace DslResNet.Generators.Infrastructure;

/// <summary>Writes C# with four-space indentation and <c>\n</c> line endings, whatever the machine.</summary>
internal sealed class IndentedWriter
{
    private readonly StringBuilder _text = new();
    private int _depth;

    /// <summary>Writes one line at the current depth (an empty line carries no indentation).</summary>
    public IndentedWriter WriteLine(string line = "")
    {
        if (line.Length > 0)
        {
            _text.Append(' ', _depth * 4);
            _text.Append(line);
        }

        _text.Append('\n');
        return this;
    }

    /// <summary>Writes <c>{</c>, indents until the returned scope is disposed, then writes <c>}</c> plus <paramref name="closing"/>.</summary>
    public Scope WriteBlock(string? header = null, string closing = "")
    {
        if (header is not null)
        {
            WriteLine(header);
        }

        WriteLine("{");
        _depth++;
        return new Scope(this, closing);
    }

    /// <summary>Indents until the returned scope is disposed, without braces.</summary>
    public Scope Indent()
    {
        _depth++;
        return new Scope(this, null);
    }

    /// <inheritdoc />
    public override string ToString() => _text.ToString();

    /// <summary>Closes a block opened by <see cref="WriteBlock"/> or <see cref="Indent"/>.</summary>
    internal readonly struct Scope : IDisposable
    {
        private readonly IndentedWriter _writer;
        private readonly string? _closing;

        public Scope(IndentedWriter writer, string? closing)
        {
            _writer = writer;
            _closing = closing;
        }

        public void Dispose()
        {
            _writer._depth--;
            if (_closing is not null)
            {
                _writer.WriteLine("}" + _closing);
            }
        }
    }
}
