using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace DslResNet.Generators.Emit;

/// <summary>
/// Turns a sequence of emitted items (the statements of one fusion group, one row of a table) into a sequence with loops:
/// where <c>k</c> consecutive items repeat <c>m</c> times with the same text except for integer literals that change
/// by a constant step from one repetition to the next, they are written once inside <c>for (int r = 0; r &lt; m; r++)</c>
/// with each changing literal as <c>start + step * r</c> (inside a string literal, an interpolation hole). So repeated
/// blocks of equal shape cost the size of one block, and generated code grows with the distinct shapes, not the depth.
/// </summary>
/// <remarks>
/// An integer literal is a run of digits that does not continue an identifier (<c>layer1</c>, <c>Conv16x32</c> stay text)
/// and is not part of a real literal (<c>0.1f</c>, <c>1E-05f</c> stay text); digits between the dots of a dotted name
/// (<c>layer1.5.conv1</c>) are literals, so a block's index can change. Rolling is exact by construction: every item of
/// the loop was compared with the template, and every literal checked to lie on its line, so the loop writes the same
/// values in the same order as the unrolled items would. In comment lines a changing literal is shown as <c>{expr}</c>.
/// </remarks>
internal static class LoopRoller
{
    /// <summary>The longest period tried, in items (two bottleneck blocks whose gradient buffers alternate fit).</summary>
    private const int MaxPeriod = 48;

    /// <summary>The fewest repetitions worth a loop (two stay as they are: a loop would not be shorter to read).</summary>
    private const int MinReps = 3;

    /// <summary>Rolls <paramref name="items"/> into lines.</summary>
    /// <param name="items">The items in order; each is one or more lines.</param>
    /// <param name="loopVariable">The loop variable's name (<c>r</c>; nested rolls are not made).</param>
    /// <param name="rollable">Whether rolling is allowed at all (false writes every item as it is).</param>
    /// <returns>The lines, loops included, unindented inside each loop by one level of four spaces.</returns>
    public static List<string> Roll(IReadOnlyList<IReadOnlyList<string>> items, string loopVariable = "r", bool rollable = true)
    {
        var parsed = items.Select(Parse).ToList();
        var keys = new Dictionary<string, int>(StringComparer.Ordinal);
        int[] key = parsed.Select(p => keys.TryGetValue(p.Key, out int k) ? k : keys[p.Key] = keys.Count).ToArray();
        var lines = new List<string>();
        int i = 0;
        while (i < parsed.Count)
        {
            (int period, int reps) = rollable ? Best(parsed, key, i) : (0, 1);
            if (reps >= MinReps && rollable)
            {
                // A longer roll that starts at the next item wins over a short one here (a stray repeat must not split it).
                (int nextPeriod, int nextReps) = Best(parsed, key, i + 1);
                if (nextReps >= MinReps && nextPeriod * nextReps > period * reps + 1)
                {
                    reps = 1;
                }
            }

            if (reps > MinReps && Tables(parsed, i + period, period, reps - 1) < Tables(parsed, i, period, reps))
            {
                // The first repetition is the odd one out (a stage's first block changes stride or channels): written
                // as it is, the loop that follows steps evenly.
                for (int j = 0; j < period; j++)
                {
                    lines.AddRange(items[i + j]);
                }

                i += period;
                continue;
            }

            if (reps >= 2 * MinReps && Tables(parsed, i, period, reps) > 0 && Tables(parsed, i, 2 * period, reps / 2) == 0)
            {
                // Buffers used in turn (A, B, A, B): two repetitions per turn of the loop step evenly.
                period *= 2;
                reps /= 2;
            }

            if (reps < MinReps)
            {
                lines.AddRange(items[i]);
                i++;
                continue;
            }

            // Per item of the period and per literal: a constant, a line through the repetitions, or a table.
            var exprs = new List<string?[]>();
            var tables = new List<(string Name, long[] Values)>();
            for (int j = 0; j < period; j++)
            {
                Item first = parsed[i + j];
                var e = new string?[first.Values.Length];
                for (int s = 0; s < e.Length; s++)
                {
                    long[] seq = Enumerable.Range(0, reps).Select(r => parsed[i + (r * period) + j].Values[s]).ToArray();
                    long d = seq[1] - seq[0];
                    if (seq.Select((v, r) => v - seq[0] == d * r).All(x => x))
                    {
                        bool wide = seq.Any(v => Math.Abs(v) > int.MaxValue);
                        e[s] = d == 0 ? null : Expression(seq[0], d, loopVariable, wide);
                        continue;
                    }

                    int t = tables.FindIndex(x => x.Values.SequenceEqual(seq));
                    if (t < 0)
                    {
                        tables.Add(("__" + loopVariable + Emitter.Num(tables.Count), seq));
                        t = tables.Count - 1;
                    }

                    e[s] = tables[t].Name + "[" + loopVariable + "]";
                }

                exprs.Add(e);
            }

            string indent = tables.Count > 0 ? "    " : string.Empty;
            if (tables.Count > 0)
            {
                // Values that do not step evenly (buffers reused in turn): one table per sequence, read by the loop.
                lines.Add("{");
                foreach ((string name, long[] values) in tables)
                {
                    string type = values.Any(v => v > int.MaxValue || v < int.MinValue) ? "long" : "int";
                    lines.Add($"    {type}[] {name} = {{ {string.Join(", ", values.Select(Emitter.Num))} }};");
                }
            }

            lines.Add($"{indent}for (int {loopVariable} = 0; {loopVariable} < {Emitter.Num(reps)}; {loopVariable}++)");
            lines.Add(indent + "{");
            for (int j = 0; j < period; j++)
            {
                foreach (string line in parsed[i + j].Render(exprs[j]))
                {
                    lines.Add(line.Length == 0 ? line : indent + "    " + line);
                }
            }

            lines.Add(indent + "}");
            if (tables.Count > 0)
            {
                lines.Add("}");
            }

            i += period * reps;
        }

        return lines;
    }

    private static string Expression(long start, long step, string r, bool wide)
    {
        string suffix = wide ? "L" : string.Empty;
        string term = Math.Abs(step) == 1 ? (wide ? "1L * " + r : r) : Emitter.Num(Math.Abs(step)) + suffix + " * " + r;
        if (start == 0)
        {
            return step < 0 ? "-" + term : term;
        }

        return Emitter.Num(start) + suffix + (step < 0 ? " - " : " + ") + term;
    }

    // How many literals of the roll (i, period, reps) neither stay constant nor step evenly.
    private static int Tables(List<Item> parsed, int i, int period, int reps)
    {
        int count = 0;
        for (int j = 0; j < period; j++)
        {
            for (int s = 0; s < parsed[i + j].Values.Length; s++)
            {
                long v0 = parsed[i + j].Values[s], d = parsed[i + period + j].Values[s] - v0;
                for (int r = 2; r < reps; r++)
                {
                    if (parsed[i + (r * period) + j].Values[s] - v0 != d * r)
                    {
                        count++;
                        break;
                    }
                }
            }
        }

        return count;
    }

    // The (period, repetitions) that covers most items from i on; (0, 1) when nothing repeats.
    private static (int Period, int Reps) Best(List<Item> parsed, int[] key, int i)
    {
        (int Period, int Reps) best = (0, 1);
        for (int k = 1; k <= MaxPeriod && i + (2 * k) <= parsed.Count; k++)
        {
            int m = 1;
            while (i + ((m + 1) * k) <= parsed.Count && Matches(key, i, k, m))
            {
                m++;
            }

            if (m >= MinReps && k * m > best.Period * best.Reps)
            {
                best = (k, m);
            }
        }

        return best;
    }

    // Whether repetition m (0-based) of the k items from i has their templates.
    private static bool Matches(int[] key, int i, int k, int m)
    {
        for (int j = 0; j < k; j++)
        {
            if (key[i + (m * k) + j] != key[i + j])
            {
                return false;
            }
        }

        return true;
    }

    private static Item Parse(IReadOnlyList<string> lines)
    {
        var tokens = new List<List<Token>>();
        var values = new List<long>();
        foreach (string line in lines)
        {
            tokens.Add(Tokenize(line, values));
        }

        var key = new StringBuilder();
        foreach (List<Token> line in tokens)
        {
            foreach (Token t in line)
            {
                key.Append(t.Slot >= 0 ? "\u0001" : t.Text);
            }

            key.Append('\n');
        }

        return new Item(key.ToString(), values.ToArray(), tokens);
    }

    // Splits a line into text and integer-literal slots, knowing which string literal each token sits in.
    private static List<Token> Tokenize(string line, List<long> values)
    {
        var tokens = new List<Token>();
        bool comment = line.TrimStart().StartsWith("//", StringComparison.Ordinal);
        int stringId = -1, strings = 0;
        var text = new StringBuilder();
        int i = 0;
        void Flush()
        {
            if (text.Length > 0)
            {
                tokens.Add(new Token(text.ToString(), -1, stringId, comment));
                text.Clear();
            }
        }

        while (i < line.Length)
        {
            char c = line[i];
            if (!comment && c == '"')
            {
                Flush();
                if (stringId < 0)
                {
                    stringId = strings++;
                    tokens.Add(new Token("\"", -1, stringId, false, Opens: true));
                }
                else
                {
                    tokens.Add(new Token("\"", -1, stringId, false));
                    stringId = -1;
                }

                i++;
                continue;
            }

            if (stringId >= 0 && c == '\\' && i + 1 < line.Length)
            {
                text.Append(c).Append(line[i + 1]);
                i += 2;
                continue;
            }

            // A minus sign that starts an argument belongs to its literal (so a value may cross zero).
            bool negative = c == '-' && stringId < 0 && i + 1 < line.Length && line[i + 1] >= '0' && line[i + 1] <= '9' && StartsArgument(line, i);
            if (negative || (c >= '0' && c <= '9' && (i == 0 || !IsIdentifierChar(line[i - 1]))))
            {
                int start = i;
                if (negative)
                {
                    i++;
                }

                int end = i;
                while (end < line.Length && char.IsDigit(line[end]) && line[end] < 128)
                {
                    end++;
                }

                bool real = (end + 1 < line.Length && line[end] == '.' && char.IsDigit(line[end + 1]))
                    || (end < line.Length && (IsIdentifierChar(line[end])));
                if (!real && end - i <= 18)
                {
                    Flush();
                    values.Add(long.Parse(line.Substring(start, end - start), CultureInfo.InvariantCulture));
                    tokens.Add(new Token(line.Substring(start, end - start), values.Count - 1, stringId, comment));
                    i = end;
                    continue;
                }

                i = start;

                // A real literal (or one too long to be a slot): copy it whole.
                while (end < line.Length && (IsIdentifierChar(line[end]) || line[end] == '.' || ((line[end] == '-' || line[end] == '+') && (line[end - 1] == 'E' || line[end - 1] == 'e'))))
                {
                    end++;
                }

                text.Append(line, i, end - i);
                i = end;
                continue;
            }

            text.Append(c);
            i++;
        }

        Flush();
        return tokens;
    }

    // Whether position i starts an argument or an initializer element: the text before it ends in ( , [ { or =.
    private static bool StartsArgument(string line, int i)
    {
        int p = i - 1;
        while (p >= 0 && line[p] == ' ')
        {
            p--;
        }

        return p >= 0 && "(,[{=".IndexOf(line[p]) >= 0;
    }

    private static bool IsIdentifierChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    /// <summary>A piece of a line: text, or the integer literal numbered <paramref name="Slot"/>.</summary>
    private sealed record Token(string Text, int Slot, int StringId, bool Comment, bool Opens = false);

    /// <summary>An item: its template key, its literals in order, and its lines as tokens.</summary>
    private sealed record Item(string Key, long[] Values, List<List<Token>> Lines)
    {
        // The item with each literal that changes written as its expression of the loop variable.
        public IEnumerable<string> Render(string?[] exprs)
        {
            foreach (List<Token> line in Lines)
            {
                var interpolated = new HashSet<int>(line.Where(t => t.Slot >= 0 && t.StringId >= 0 && exprs[t.Slot] is not null).Select(t => t.StringId));
                var sb = new StringBuilder();
                for (int t = 0; t < line.Count; t++)
                {
                    Token token = line[t];
                    bool inHole = token.StringId >= 0 && interpolated.Contains(token.StringId);
                    if (token.Slot < 0)
                    {
                        if (token.Opens && inHole)
                        {
                            sb.Append('$');
                        }

                        sb.Append(inHole && token.Text != "\"" ? token.Text.Replace("{", "{{").Replace("}", "}}") : token.Text);
                        continue;
                    }

                    string? expr = exprs[token.Slot];
                    if (expr is null)
                    {
                        sb.Append(token.Text);
                    }
                    else if (token.Comment || inHole)
                    {
                        sb.Append('{').Append(expr).Append('}');
                    }
                    else
                    {
                        string before = sb.ToString().TrimEnd();
                        char prev = before.Length == 0 ? '(' : before[before.Length - 1];
                        string after = t + 1 < line.Count && line[t + 1].Slot < 0 ? line[t + 1].Text.TrimStart() : ")";
                        char next = after.Length == 0 ? ')' : after[0];
                        bool bare = "(,[{=".IndexOf(prev) >= 0 && "),]};".IndexOf(next) >= 0;
                        sb.Append(bare || expr.EndsWith("]", StringComparison.Ordinal) ? expr : "(" + expr + ")");
                    }
                }

                yield return sb.ToString();
            }
        }
    }
}
