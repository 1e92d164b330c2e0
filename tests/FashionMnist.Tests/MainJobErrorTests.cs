using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using Xunit;

namespace FashionMnist.Tests;

/// <summary>
/// The main job, run as a process with input a user gets wrong: each case ends within the time limit with exit code 2
/// and one line on standard error that names the option and says what is wrong; no stack trace, no hang, no file
/// written. A good small dataset runs to exit 0 first, so a failure of the harness is not taken for a refusal.
/// </summary>
public sealed partial class MainJobErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fashion-mnist-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_good_small_dataset_trains_one_step_and_saves()
    {
        string data = Dataset("good", side: 28);
        string checkpoint = Path.Combine(_dir, "run.safetensors");
        SampleResult r = Run("--data", data, "--batch", "8", "--epochs", "1", "--max-steps", "1", "--eval-limit", "8",
            "--checkpoint", checkpoint, "--plot", "none", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(checkpoint), r.ToString());
    }

    [Fact]
    public void Images_that_are_not_28x28_are_a_one_line_error()
    {
        string data = Dataset("wrong-size", side: 32);
        SampleResult r = Run(Args(data, Path.Combine(_dir, "run.safetensors")));
        r.AssertOneLineError("--data", "32");
        Assert.False(File.Exists(Path.Combine(_dir, "run.safetensors")));
    }

    [Fact]
    public void A_checkpoint_path_that_is_a_fifo_is_refused_without_blocking()
    {
        string fifo = Path.Combine(_dir, "fifo.safetensors");
        MakeFifo(fifo);
        Run(Args(Dataset("good", side: 28), fifo)).AssertOneLineError("--checkpoint", "fifo.safetensors");
    }

    [Fact]
    public void A_checkpoint_path_that_is_not_seekable_is_refused()
    {
        Run(Args(Dataset("good", side: 28), "/dev/null")).AssertOneLineError("--checkpoint", "/dev/null");
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("directory")]
    public void A_checkpoint_path_that_cannot_be_written_is_refused_before_training(string kind)
    {
        string path = kind == "missing" ? Path.Combine(_dir, "no-such-dir", "run.safetensors") : _dir;
        Run(Args(Dataset("good", side: 28), path)).AssertOneLineError("--checkpoint", kind == "missing" ? "no-such-dir" : _dir);
    }

    [Fact]
    public void A_data_folder_holding_a_fifo_is_refused_without_blocking()
    {
        string data = Path.Combine(_dir, "fifo-data");
        Directory.CreateDirectory(data);
        MakeFifo(Path.Combine(data, "train-images-idx3-ubyte"));
        Run(Args(data, Path.Combine(_dir, "run.safetensors"))).AssertOneLineError("--data", "train-images-idx3-ubyte");
    }

    [Fact]
    public void A_missing_dataset_is_a_one_line_error()
    {
        Run(Args(Path.Combine(_dir, "nothing-here"), Path.Combine(_dir, "run.safetensors"))).AssertOneLineError("nothing-here");
    }

    [Fact]
    public void More_threads_than_processors_is_refused()
    {
        Run(Args(Dataset("good", side: 28), Path.Combine(_dir, "run.safetensors"), threads: "999")).AssertOneLineError("--threads", "999");
    }

    [Fact]
    public void A_batch_larger_than_the_dataset_is_refused()
    {
        Run(Args(Dataset("good", side: 28), Path.Combine(_dir, "run.safetensors"), batch: "60000")).AssertOneLineError("--batch", "60000");
    }

    // The dataset is read on another thread while the device and the network are built (see Program.Run); its errors
    // still come first, as when it was read before them.
    [Fact]
    public void A_damaged_dataset_is_reported_before_a_device_error()
    {
        string data = Dataset("damaged", side: 28);
        File.WriteAllBytes(Path.Combine(data, "train-images-idx3-ubyte"), [1, 2, 3]);
        // No CUDA device in CI: creating it fails, but the dataset's error is the one reported (where there is one, the
        // network is built and the dataset's error follows alike).
        SampleResult r = Run([.. Args(data, Path.Combine(_dir, "run.safetensors")), "--device", "cuda"]);
        r.AssertOneLineError("train-images-idx3-ubyte");
        Assert.DoesNotContain("--device", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_batch_larger_than_the_dataset_is_reported_before_the_memory_it_would_need()
    {
        // 60000 images of ResNet-20 need more memory than a test machine has: the network's own refusal would name bytes.
        SampleResult r = Run(Args(Dataset("good", side: 28), Path.Combine(_dir, "run.safetensors"), batch: "60000"));
        r.AssertOneLineError("--batch", "60000", "is larger than the 16 training images");
    }

    [Fact]
    public void Resume_without_a_checkpoint_is_refused()
    {
        Run([.. Args(Dataset("good", side: 28), Path.Combine(_dir, "absent.safetensors")), "--resume"]).AssertOneLineError("--resume", "absent.safetensors");
    }

    [Fact]
    public void A_damaged_checkpoint_to_resume_from_is_refused()
    {
        string checkpoint = Path.Combine(_dir, "damaged.safetensors");
        File.WriteAllBytes(checkpoint, [1, 2, 3]);
        Run([.. Args(Dataset("good", side: 28), checkpoint), "--resume"]).AssertOneLineError("--resume", "damaged.safetensors");
        Assert.Equal([1, 2, 3], File.ReadAllBytes(checkpoint));
    }

    private static string[] Args(string data, string checkpoint, string batch = "8", string threads = "1") =>
        ["--data", data, "--batch", batch, "--epochs", "1", "--max-steps", "1", "--eval-limit", "8", "--checkpoint", checkpoint, "--plot", "none", "--threads", threads];

    /// <summary>Writes the four IDX files (16 training and 8 test images of side x side, labels 0..9) under a new folder.</summary>
    private string Dataset(string name, int side)
    {
        string folder = Path.Combine(_dir, name);
        if (Directory.Exists(folder))
        {
            return folder;
        }

        Directory.CreateDirectory(folder);
        foreach ((string prefix, int count) in new[] { ("train", 16), ("t10k", 8) })
        {
            byte[] pixels = new byte[count * side * side];
            new Random(count).NextBytes(pixels);
            File.WriteAllBytes(Path.Combine(folder, $"{prefix}-images-idx3-ubyte"), [.. Header(0x803, count, side, side), .. pixels]);
            byte[] labels = Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray();
            File.WriteAllBytes(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte"), [.. Header(0x801, count), .. labels]);
        }

        return folder;
    }

    private static byte[] Header(params int[] values) =>
        values.SelectMany(v => new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v }).ToArray();

    private static void MakeFifo(string path)
    {
        if (Mkfifo(path, Convert.ToUInt32("644", 8)) != 0)
        {
            throw new IOException($"mkfifo '{path}' failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mkfifo(string path, uint mode);

    private SampleResult Run(params string[] args) => SampleProcess.Run(_dir, args);
}
