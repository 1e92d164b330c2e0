using System;
using System.Diagnostics;
using System.IO;
using DslResNet.IO;
using DslResNet.Tests.Data;
using Xunit;

namespace DslResNet.Tests.IO;

/// <summary>Issue 12, items 3, 4, 5 and 8 on the save side: finite values only, paths checked, temp files cleaned.</summary>
public sealed class CheckpointSaveTests
{
    private static Checkpoint Small(float value)
    {
        Checkpoint c = new() { Epoch = 1 };
        c.Model.Add("conv1.weight", TensorData.Float([2], [0.5f, value]));
        c.OptimizerBuffers.Add("momentum_buffer.conv1.weight", TensorData.Float([2], [0f, 0f]));
        return c;
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Save_refuses_a_non_finite_value_and_names_the_tensor(float bad)
    {
        using TempDir dir = new();
        string path = dir.File("run.safetensors");
        Small(1f).Save(path);
        byte[] before = File.ReadAllBytes(path);
        CheckpointException e = Assert.Throws<CheckpointException>(() => Small(bad).Save(path));
        Assert.Contains("'conv1.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("index 1", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Save_refuses_a_non_finite_optimizer_buffer()
    {
        using TempDir dir = new();
        Checkpoint c = Small(1f);
        c.OptimizerBuffers["momentum_buffer.conv1.weight"].Floats![0] = float.PositiveInfinity;
        CheckpointException e = Assert.Throws<CheckpointException>(() => c.Save(dir.File("run.safetensors")));
        Assert.Contains("'optimizer.momentum_buffer.conv1.weight'", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void A_full_disk_is_a_CheckpointException_naming_the_path_and_the_reason()
    {
        using TempDir dir = new();
        string path = dir.File("run.safetensors");
        Small(1f).Save(path);
        byte[] before = File.ReadAllBytes(path);
        CheckpointException e = Assert.Throws<CheckpointException>(() => Small(2f).Save(path, s => new NoSpaceStream(s)));
        Assert.Equal(path, e.FilePath);
        Assert.Contains("No space left on device", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void CheckWritable_names_a_missing_directory_a_directory_and_a_fifo()
    {
        using TempDir dir = new();
        Assert.Contains("does not exist", Assert.Throws<CheckpointException>(() => Checkpoint.CheckWritable(dir.File("x/run.st"))).Message, StringComparison.Ordinal);
        Assert.Contains("is a directory", Assert.Throws<CheckpointException>(() => Checkpoint.CheckWritable(dir.Path)).Message, StringComparison.Ordinal);
        Checkpoint.CheckWritable(dir.File("fine.safetensors"));
        Assert.Empty(Directory.GetFiles(dir.Path));
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string fifo = dir.File("pipe");
        using (Process mkfifo = Process.Start("mkfifo", fifo))
        {
            mkfifo.WaitForExit();
        }

        Assert.True(UnixFileType.IsSpecial(fifo));
        Assert.False(UnixFileType.IsSpecial(dir.Path));
        Assert.True(UnixFileType.IsSpecial("/dev/null"));
        Assert.Contains("not a regular file", Assert.Throws<CheckpointException>(() => Checkpoint.CheckWritable(fifo)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_save_removes_stale_unlocked_temp_files_of_its_own_target_only()
    {
        using TempDir dir = new();
        string path = dir.File("run.safetensors");
        DateTime old = DateTime.UtcNow.AddMinutes(-1);
        string stale = Make(path + ".tmp-0123456789abcdef", old);
        string fresh = Make(path + ".tmp-fedcba9876543210", DateTime.UtcNow.AddSeconds(5));
        string locked = Make(path + ".tmp-00000000ffffffff", old);
        string otherPattern = Make(path + ".tmp-notours", old);
        string otherTarget = Make(dir.File("other.safetensors.tmp-0123456789abcdef"), old);
        using (new FileStream(locked, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            Small(1f).Save(path);
        }

        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh));
        Assert.True(File.Exists(locked));
        Assert.True(File.Exists(otherPattern));
        Assert.True(File.Exists(otherTarget));
        Assert.Equal(1, Checkpoint.Load(path).Epoch);
    }

    private static string Make(string file, DateTime modified)
    {
        File.WriteAllBytes(file, [1, 2, 3]);
        File.SetLastWriteTimeUtc(file, modified);
        return file;
    }

    private sealed class NoSpaceStream(Stream inner) : Stream
    {
        private long _written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _written;

        public override long Position { get => _written; set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (_written + count > 16)
            {
                throw new IOException("No space left on device");
            }

            inner.Write(buffer, offset, count);
            _written += count;
        }
    }
}
