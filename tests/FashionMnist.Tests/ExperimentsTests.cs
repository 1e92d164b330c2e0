using System;
using System.IO;
using System.Linq;
using Xunit;

namespace FashionMnist.Tests;

/// <summary>
/// samples/Experiments run as a process, as README's command runs it: every claim at the tiny budget on a small generated
/// Fashion-MNIST-shaped dataset writes its report (claim, setup, verdict, command, wall time), its plot and a CSV with a row
/// for every arm (the plumbing, not the science); bad options are one-line errors naming the option.
/// </summary>
public sealed class ExperimentsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("experiments-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SampleResult Run(params string[] args) => SampleProcess.RunAssembly("Experiments.dll", _dir, args);

    private static void AssertOneLine(SampleResult r, params string[] mentions)
    {
        Assert.True(r.ExitCode == SampleProcess.UsageError, r.ToString());
        string[] lines = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.ToString());
        Assert.StartsWith("experiments: ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Error, StringComparison.Ordinal);
        foreach (string m in mentions)
        {
            Assert.Contains(m, lines[0], StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("degradation", new[] { "plain-20", "resnet-20" })]
    [InlineData("learning-rate", new[] { "batch norm", "no batch norm" })]
    [InlineData("dropout", new[] { "batch norm, no dropout", "batch norm, dropout 0.5", "no batch norm, dropout 0.2" })]
    [InlineData("placement", new[] { "ReLU, batch norm before", "tanh, batch norm after", "sigmoid, batch norm before" })]
    [InlineData("gradients", new[] { "plain-20", "resnet-20" })]
    [InlineData("transfer", new[] { "pretraining on classes 0-4", "pretrained, backbone frozen / 1% of labels", "from scratch / 100% of labels" })]
    public void Each_claim_writes_its_report_plot_and_csv_at_the_tiny_budget(string claim, string[] arms)
    {
        string data = WriteDataset(Path.Combine(_dir, "data"), train: 640, test: 64);
        string output = Path.Combine(_dir, "out");
        SampleResult r = Run(claim, "--budget", "tiny", "--data", data, "--out", output, "--threads", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains($"wrote {Path.Combine(output, claim + ".md")}", r.Out, StringComparison.Ordinal);

        string report = File.ReadAllText(Path.Combine(output, claim + ".md"));
        Assert.StartsWith("# Claim ", report, StringComparison.Ordinal);
        Assert.Contains("**Claim.** ", report, StringComparison.Ordinal);
        Assert.Matches(@"\*\*Verdict: (held|did not hold|mixed)\*\* \(budget `tiny`\)\. The tiny budget only checks that the experiment runs end to end; this verdict says nothing about the claim\. \S", report);
        Assert.Contains("## Setup", report, StringComparison.Ordinal);
        Assert.Contains($"dotnet run -c Release --project samples/Experiments -- {claim} --budget tiny", report, StringComparison.Ordinal);
        Assert.Matches(@"Wall time: \d+\.\d min", report);
        Assert.Contains($"![", report, StringComparison.Ordinal);
        Assert.Contains($"({claim}.png)", report, StringComparison.Ordinal);
        Assert.Contains($"[{claim}.csv]({claim}.csv)", report, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", report, StringComparison.Ordinal);

        byte[] png = File.ReadAllBytes(Path.Combine(output, claim + ".png"));
        Assert.True(png.Length > 10_000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', $"{claim}.png: {png.Length} bytes, not a drawn PNG");

        string[] csv = File.ReadAllLines(Path.Combine(output, claim + ".csv"));
        Assert.True(csv.Length > 1, $"{claim}.csv has no rows");
        // Text fields are quoted (arm names hold commas): every row has the header's number of fields.
        static int Fields(string line) => System.Text.RegularExpressions.Regex.Replace(line, "\"[^\"]*\"", "x").Split(',').Length;
        Assert.All(csv, line => Assert.Equal(Fields(csv[0]), Fields(line)));
        foreach (string arm in arms)
        {
            string field = arm.Contains(',', StringComparison.Ordinal) ? $"\"{arm}\"" : arm;
            Assert.Contains(csv, line => line.StartsWith(field + ",", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void A_missing_dataset_names_the_folder_and_the_package()
    {
        SampleResult r = Run("dropout", "--data", Path.Combine(_dir, "nowhere"), "--out", Path.Combine(_dir, "out"));
        AssertOneLine(r, "--data", "nowhere", "dataset-fashion-mnist");
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));
    }

    [Fact]
    public void A_dataset_too_small_for_the_tiny_budget_is_refused()
    {
        string data = WriteDataset(Path.Combine(_dir, "small"), train: 100, test: 20);
        SampleResult r = Run("degradation", "--budget", "tiny", "--data", data, "--out", Path.Combine(_dir, "out"));
        AssertOneLine(r, "too few images", "100 training");
    }

    [Theory]
    [InlineData(new string[0], "which claim?")]
    [InlineData(new[] { "resnets" }, "unknown claim 'resnets'")]
    [InlineData(new[] { "dropout", "placement" }, "one claim at a time")]
    [InlineData(new[] { "dropout", "--budget", "huge" }, "--budget 'huge'")]
    [InlineData(new[] { "dropout", "--budget" }, "--budget needs a value")]
    [InlineData(new[] { "dropout", "--threads", "0" }, "--threads '0'")]
    [InlineData(new[] { "dropout", "--out", "--budget", "tiny" }, "--out needs a value")]
    [InlineData(new[] { "dropout", "--bogus" }, "unknown option '--bogus'")]
    public void Bad_options_are_one_line_errors(string[] args, string mention) => AssertOneLine(Run(args), mention);

    [Fact]
    public void Help_lists_every_claim_and_budget()
    {
        SampleResult r = Run("--help");
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (string word in new[] { "degradation", "learning-rate", "dropout", "placement", "gradients", "transfer", "all", "tiny", "quick", "full" })
        {
            Assert.Contains(word, r.Out, StringComparison.Ordinal);
        }
    }

    /// <summary>IDX files of <paramref name="train"/> and <paramref name="test"/> images: each class a bright band at its own height, plus noise (learnable).</summary>
    private static string WriteDataset(string folder, int train, int test)
    {
        Directory.CreateDirectory(folder);
        foreach ((string prefix, int count) in new[] { ("train", train), ("t10k", test) })
        {
            Random random = new(count);
            int[] labels = Enumerable.Range(0, count).Select(i => i % 10).ToArray();
            byte[] pixels = new byte[count * 28 * 28];
            for (int n = 0; n < count; n++)
            {
                for (int p = 0; p < 28 * 28; p++)
                {
                    pixels[(n * 28 * 28) + p] = (byte)(random.Next(64) + ((p / 28) / 3 == labels[n] ? 180 : 0));
                }
            }

            File.WriteAllBytes(Path.Combine(folder, $"{prefix}-images-idx3-ubyte"), [.. Header(0x803, count, 28, 28), .. pixels]);
            File.WriteAllBytes(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte"), [.. Header(0x801, count), .. labels.Select(l => (byte)l)]);
        }

        return folder;
    }

    private static byte[] Header(params int[] values) =>
        values.SelectMany(v => new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v }).ToArray();
}
