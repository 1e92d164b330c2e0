using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using DslResNet.Training;

namespace Experiments;

/// <summary>Held, did not hold, or mixed.</summary>
internal enum Verdict
{
    Held,
    DidNotHold,
    Mixed,
}

/// <summary>A claim's report, docs/experiments/&lt;claim&gt;.md: the claim, the setup, tables, plots, the verdict, the command and the wall time.</summary>
internal sealed class Report(string claim, string title)
{
    private readonly StringBuilder _body = new();

    public string Claim { get; } = claim;

    public string Title { get; } = title;

    public string Statement { get; set; } = "";

    public Verdict Verdict { get; set; }

    public string VerdictText { get; set; } = "";

    public string Setup { get; set; } = "";

    public string Caveats { get; set; } = "";

    public static string Pct(double fraction) => double.IsFinite(fraction) ? (100 * fraction).ToString("F2", CultureInfo.InvariantCulture) + "%" : "-";

    public static string Pp(double fraction) => (100 * fraction).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pp";

    public static string Words(Verdict v) => v switch
    {
        Verdict.Held => "held",
        Verdict.DidNotHold => "did not hold",
        Verdict.Mixed => "mixed",
        _ => throw new ArgumentOutOfRangeException(nameof(v), v, "unknown verdict"),
    };

    public void Heading(string text) => _body.Append("## ").AppendLine(text).AppendLine();

    public void Paragraph(string text) => _body.AppendLine(text).AppendLine();

    public void Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        _body.AppendLine("| " + string.Join(" | ", header) + " |");
        _body.AppendLine("|" + string.Concat(header.Select(_ => "---|")));
        foreach (IReadOnlyList<string> row in rows)
        {
            _body.AppendLine("| " + string.Join(" | ", row) + " |");
        }

        _body.AppendLine();
    }

    public void Image(string file, string alt) => _body.AppendLine(CultureInfo.InvariantCulture, $"![{alt}]({file})").AppendLine();

    /// <summary>Writes the report; returns its path.</summary>
    public string Write(Context ctx, TimeSpan wall, double? loadAtStart, double? loadAtEnd, string csvFile)
    {
        StringBuilder s = new();
        s.AppendLine(CultureInfo.InvariantCulture, $"# {Title}").AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"**Claim.** {Statement}").AppendLine();
        string plumbing = ctx.Tiny ? "The tiny budget only checks that the experiment runs end to end; this verdict says nothing about the claim. " : "";
        s.AppendLine(CultureInfo.InvariantCulture, $"**Verdict: {Words(Verdict)}** (budget `{ctx.Budget}`). {plumbing}{VerdictText}").AppendLine();
        s.AppendLine("## Setup").AppendLine();
        s.AppendLine(Setup).AppendLine();
        s.Append(_body);
        if (Caveats.Length > 0)
        {
            s.AppendLine("## Why it may differ from the paper").AppendLine();
            s.AppendLine(Caveats).AppendLine();
        }

        s.AppendLine("## Reproduce").AppendLine();
        s.AppendLine("```");
        s.AppendLine(CultureInfo.InvariantCulture, $"dotnet run -c Release --project samples/Experiments -- {Claim} --budget {ctx.Budget}");
        s.AppendLine("```").AppendLine();
        string load = loadAtStart is { } a && loadAtEnd is { } b
            ? string.Create(CultureInfo.InvariantCulture, $"; one-minute load average {a:F1} at the start and {b:F1} at the end on {Environment.ProcessorCount} cores, so the machine was {(Math.Max(a, b) > Environment.ProcessorCount ? "shared with other work and the times are longer than an idle machine's" : "not overloaded")}")
            : "";
        s.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Wall time: {wall.TotalMinutes:F1} min ({ctx.Device.Description}{load}). Raw per-epoch figures: [{csvFile}]({csvFile}). Written {DateTime.UtcNow:yyyy-MM-dd} UTC."));
        string path = ctx.OutPath(Claim + ".md");
        File.WriteAllText(path, s.ToString().Replace("\r\n", "\n", StringComparison.Ordinal));
        return path;
    }
}

/// <summary>The raw figures: one CSV row per arm, seed and epoch (or evaluation point).</summary>
internal sealed class Csv
{
    private readonly StringBuilder _s = new("arm,seed,epoch,steps,train_loss,train_accuracy,test_loss,test_accuracy,learning_rate,seconds,note\n");

    public void Add(string arm, int seed, EpochMetrics m, long steps, string note = "") =>
        Row(arm, seed, m.Epoch, steps, m.TrainLoss, m.TrainAccuracy, m.TestLoss, m.TestAccuracy, m.LearningRate, m.Seconds, note);

    public void Row(string arm, int seed, int epoch, long steps, double trainLoss, double trainAccuracy, double testLoss, double testAccuracy, double learningRate, double seconds, string note = "") =>
        _s.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"{Quote(arm)},{seed},{epoch},{steps},{trainLoss:G6},{trainAccuracy:G6},{testLoss:G6},{testAccuracy:G6},{learningRate:G6},{seconds:F2},{Quote(note)}"));

    /// <summary>A text field, quoted when it holds a comma or a quote (RFC 4180; arm names hold commas).</summary>
    public static string Quote(string text) =>
        text.AsSpan().IndexOfAny(',', '"') < 0 ? text : "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A claim whose raw figures are not per epoch sets its own CSV text here.</summary>
    public string? Raw { get; set; }

    public void Save(string path) => File.WriteAllText(path, Raw ?? _s.ToString());
}
