using System;
using System.IO;
using System.Linq;
using Xunit;

namespace FashionMnist.Tests;

/// <summary>samples/Transfer run as a process with input a user gets wrong: exit 2, one line on standard error naming it, nothing written.</summary>
public sealed class TransferSampleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("transfer-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SampleResult Run(params string[] args) => SampleProcess.RunAssembly("Transfer.dll", _dir, args);

    private static void AssertOneLine(SampleResult r, params string[] mentions)
    {
        Assert.True(r.ExitCode == SampleProcess.UsageError, r.ToString());
        string[] lines = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.ToString());
        Assert.StartsWith("transfer: ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Error, StringComparison.Ordinal);
        foreach (string m in mentions)
        {
            Assert.Contains(m, lines[0], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_missing_dataset_names_the_folder_and_the_package()
    {
        SampleResult r = Run("--data", Path.Combine(_dir, "nowhere"), "--out", Path.Combine(_dir, "out"));
        AssertOneLine(r, "--data", "nowhere", "dataset-fashion-mnist");
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));
    }

    [Theory]
    [InlineData("--threads", "0", "--threads")]
    [InlineData("--seed", "x", "--seed")]
    [InlineData("--bogus", null, "--bogus")]
    [InlineData("--out", null, "--out needs a value")]
    public void Bad_options_are_one_line_errors(string option, string? value, string mention)
    {
        SampleResult r = value is null ? Run(option) : Run(option, value);
        AssertOneLine(r, mention);
    }

    [Fact]
    public void A_dataset_too_small_for_one_percent_is_refused_instead_of_training_nothing()
    {
        string data = Path.Combine(_dir, "tiny");
        Directory.CreateDirectory(data);
        foreach ((string prefix, int count) in new[] { ("train", 200), ("t10k", 20) })
        {
            byte[] pixels = new byte[count * 28 * 28];
            new Random(count).NextBytes(pixels);
            File.WriteAllBytes(Path.Combine(data, $"{prefix}-images-idx3-ubyte"), [.. Header(0x803, count, 28, 28), .. pixels]);
            File.WriteAllBytes(Path.Combine(data, $"{prefix}-labels-idx1-ubyte"), [.. Header(0x801, count), .. Enumerable.Range(0, count).Select(i => (byte)(i % 10))]);
        }

        SampleResult r = Run("--data", data, "--out", Path.Combine(_dir, "out"), "--threads", "1");
        AssertOneLine(r, "too few images", "32 needed");
    }

    private static byte[] Header(params int[] values) =>
        values.SelectMany(v => new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v }).ToArray();
}
