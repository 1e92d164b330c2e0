using System;
using System.IO;
using System.Linq;
using DslResNet.IO;
using Xunit;

namespace FashionMnist.Tests;

/// <summary>
/// README's quick start: its C# block is samples/QuickStart/Program.cs, character for character (so the program that is
/// built and run here is the one README shows), and that program runs end to end on a small generated Fashion-MNIST-shaped
/// dataset: it trains, evaluates, saves a checkpoint that loads, predicts and writes an ONNX file.
/// </summary>
public sealed class QuickStartTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("quickstart-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string RepositoryRoot()
    {
        DirectoryInfo? d = new(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "DslResNet.sln")))
        {
            d = d.Parent;
        }

        return d?.FullName ?? throw new InvalidOperationException($"No DslResNet.sln above {AppContext.BaseDirectory}.");
    }

    [Fact]
    public void Readme_quick_start_is_the_sample_program()
    {
        string root = RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");
        int section = readme.IndexOf("\n## Quick start\n", StringComparison.Ordinal);
        Assert.True(section >= 0, "README has no '## Quick start' section.");
        const string Fence = "```csharp\n";
        int start = readme.IndexOf(Fence, section, StringComparison.Ordinal) + Fence.Length;
        int end = readme.IndexOf("\n```\n", start, StringComparison.Ordinal) + 1;
        string block = readme[start..end];
        string program = File.ReadAllText(Path.Combine(root, "samples", "QuickStart", "Program.cs")).ReplaceLineEndings("\n");
        Assert.Equal(program, block);
    }

    [Fact]
    public void The_quick_start_trains_saves_loads_predicts_and_exports()
    {
        string data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        foreach ((string prefix, int count) in new[] { ("train", 128), ("t10k", 32) })
        {
            Random random = new(count);
            int[] labels = Enumerable.Range(0, count).Select(i => i % 10).ToArray();
            // Each class a brighter horizontal band at its own height, plus noise: learnable, so the loss can fall.
            byte[] pixels = new byte[count * 28 * 28];
            for (int n = 0; n < count; n++)
            {
                for (int p = 0; p < 28 * 28; p++)
                {
                    int row = p / 28;
                    pixels[(n * 28 * 28) + p] = (byte)(random.Next(64) + (row / 3 == labels[n] ? 180 : 0));
                }
            }

            File.WriteAllBytes(Path.Combine(data, $"{prefix}-images-idx3-ubyte"), [.. Header(0x803, count, 28, 28), .. pixels]);
            File.WriteAllBytes(Path.Combine(data, $"{prefix}-labels-idx1-ubyte"), [.. Header(0x801, count), .. labels.Select(l => (byte)l)]);
        }

        SampleResult r = SampleProcess.RunAssembly("QuickStart.dll", _dir, data);
        Assert.True(r.ExitCode == 0, r.ToString());
        string[] lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains("TinyResNet, 42,938 parameters", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("epoch 2: train loss ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("test accuracy ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("test image 0: predicted ", StringComparison.Ordinal));

        Checkpoint saved = Checkpoint.Load(Path.Combine(_dir, "tiny.safetensors"));
        Assert.Equal([16, 1, 3, 3], saved.Model["conv1.weight"].Shape);
        Assert.Equal([10, 32], saved.Model["fc.weight"].Shape);
        byte[] onnx = File.ReadAllBytes(Path.Combine(_dir, "tiny.onnx"));
        Assert.True(onnx.Length > 100_000, $"tiny.onnx has {onnx.Length} bytes; 42,938 float weights need about 172 KB.");
    }

    private static byte[] Header(params int[] values) =>
        values.SelectMany(v => new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v }).ToArray();
}
