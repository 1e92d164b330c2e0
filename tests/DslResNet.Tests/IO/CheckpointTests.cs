using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DslResNet.IO;
using Xunit;

namespace DslResNet.Tests.IO;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dslresnet-ckpt-" + Guid.NewGuid().ToString("N"));

    public CheckpointTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static NetworkInfo Network(string name, params ParameterInfo[] parameters) =>
        new(name, TensorShape.Image(1, 2, 2), TensorShape.Flat(2), [], parameters, [], 0, 0);

    private static readonly ParameterInfo ConvWeight = new("conv1.weight", "conv1", ParameterRole.Weight, [2, 1, 3, 3]);
    private static readonly ParameterInfo BnMean = new("bn1.running_mean", "bn1", ParameterRole.RunningMean, [2]);
    private static readonly ParameterInfo BnTracked = new("bn1.num_batches_tracked", "bn1", ParameterRole.BatchesTracked, []);
    private static readonly ParameterInfo FcBias = new("fc.bias", "fc", ParameterRole.Bias, [2]);

    private static float[] Values(int n, int seed)
    {
        Random random = new(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    private static Checkpoint Sample()
    {
        Checkpoint c = new() { Epoch = 7, OptimizerStep = 12345, NetworkName = "TinyNet" };
        c.Model.Add("conv1.weight", TensorData.Float([2, 1, 3, 3], Values(18, 1)));
        c.Model.Add("bn1.running_mean", TensorData.Float([2], [0.25f, -1.5f]));
        c.Model.Add("bn1.num_batches_tracked", TensorData.Int64Scalar(938));
        c.Model.Add("fc.bias", TensorData.Float([2], [float.Epsilon, -0f]));
        c.OptimizerBuffers.Add("momentum_buffer.conv1.weight", TensorData.Float([2, 1, 3, 3], Values(18, 2)));
        c.OptimizerBuffers.Add("momentum_buffer.fc.bias", TensorData.Float([2], [1e-7f, 3f]));
        c.HyperParameters["lr"] = 0.1;
        c.HyperParameters["momentum"] = 0.9;
        c.HyperParameters["weight_decay"] = 5e-4;
        c.Metadata["note"] = "cosine schedule, warm-up 5";
        return c;
    }

    private static void AssertSameTensors(OrderedDictionary<string, TensorData> expected, OrderedDictionary<string, TensorData> actual)
    {
        Assert.Equal(expected.Keys, actual.Keys);
        foreach ((string name, TensorData e) in expected)
        {
            TensorData a = actual[name];
            Assert.Equal(e.DType, a.DType);
            Assert.Equal(e.Shape, a.Shape);
            if (e.DType == SafeTensorDType.F32)
            {
                Assert.Equal(e.Floats!.Select(BitConverter.SingleToInt32Bits), a.Floats!.Select(BitConverter.SingleToInt32Bits));
            }
            else
            {
                Assert.Equal(e.Int64s, a.Int64s);
            }
        }
    }

    [Fact]
    public void Round_trip_keeps_everything()
    {
        Checkpoint saved = Sample();
        string path = Path.Combine(_dir, "model.safetensors");
        saved.Save(path);

        Checkpoint loaded = Checkpoint.Load(path);
        AssertSameTensors(saved.Model, loaded.Model);
        AssertSameTensors(saved.OptimizerBuffers, loaded.OptimizerBuffers);
        Assert.Equal(938L, loaded.Model["bn1.num_batches_tracked"].ScalarInt64);
        Assert.Empty(loaded.Model["bn1.num_batches_tracked"].Shape);
        Assert.Equal(7, loaded.Epoch);
        Assert.Equal(12345L, loaded.OptimizerStep);
        Assert.Equal(saved.HyperParameters, loaded.HyperParameters);
        Assert.Equal("TinyNet", loaded.NetworkName);
        Assert.Equal(Checkpoint.LibraryVersion, loaded.Version);
        Assert.Equal("cosine schedule, warm-up 5", loaded.Metadata["note"]);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }

    [Fact]
    public void File_is_plain_safetensors_with_prefixed_optimizer_buffers_and_string_metadata()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        Sample().Save(path);
        SafeTensorsContent content = SafeTensors.Read(path);
        Assert.Equal(
            ["conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", "fc.bias", "optimizer.momentum_buffer.conv1.weight", "optimizer.momentum_buffer.fc.bias"],
            content.Tensors.Keys);
        Assert.Equal(SafeTensorDType.I64, content.Tensors["bn1.num_batches_tracked"].DType);
        Assert.Equal("7", content.Metadata["epoch"]);
        Assert.Equal("12345", content.Metadata["optimizer.step"]);
        Assert.Equal("0.1", content.Metadata["optimizer.hp.lr"]);
        Assert.Equal("TinyNet", content.Metadata["network"]);
        Assert.Equal(Checkpoint.FormatValue, content.Metadata[Checkpoint.FormatKey]);
    }

    [Fact]
    public void Reserved_metadata_keys_and_prefixed_model_names_are_refused()
    {
        string path = Path.Combine(_dir, "x.safetensors");
        Checkpoint c = new();
        c.Metadata["epoch"] = "3";
        Assert.Throws<InvalidOperationException>(() => c.Save(path));

        Checkpoint d = new();
        d.Model.Add("optimizer.thing", TensorData.Float([1], [1f]));
        Assert.Throws<InvalidOperationException>(() => d.Save(path));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Malformed_epoch_is_a_checkpoint_exception()
    {
        string path = Path.Combine(_dir, "bad-epoch.safetensors");
        SafeTensors.Write(path, [], new Dictionary<string, string> { ["epoch"] = "seven" });
        CheckpointException e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("'seven', not an integer", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_of_a_non_checkpoint_file_names_the_file()
    {
        string path = Path.Combine(_dir, "readme.txt");
        File.WriteAllText(path, "# Not a checkpoint\nJust words.\n");
        CheckpointException e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("not a safetensors file", e.Message, StringComparison.Ordinal);
    }

    // ---- Validation against a network ----

    [Fact]
    public void Matching_network_validates()
    {
        Checkpoint c = Sample();
        c.Validate(Network("TinyNet", ConvWeight, BnMean, BnTracked, FcBias));
        Assert.Empty(c.Mismatches(Network("TinyNet", ConvWeight, BnMean, BnTracked, FcBias)));
    }

    [Fact]
    public void Other_network_name_alone_is_not_an_error()
    {
        Sample().Validate(Network("OtherNet", ConvWeight, BnMean, BnTracked, FcBias));
    }

    [Fact]
    public void Every_mismatch_is_listed()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        Sample().Save(path);
        NetworkInfo info = Network(
            "WideNet",
            new ParameterInfo("conv1.weight", "conv1", ParameterRole.Weight, [4, 1, 3, 3]),
            BnTracked,
            new ParameterInfo("fc.weight", "fc", ParameterRole.Weight, [2, 4]),
            new ParameterInfo("bn1.running_mean", "bn1", ParameterRole.RunningVar, [2]));

        CheckpointException e = Assert.Throws<CheckpointException>(() => Checkpoint.LoadFor(path, info));
        string m = e.Message;
        Assert.Contains(path, m, StringComparison.Ordinal);
        Assert.Contains("does not fit network WideNet: 3 mismatches", m, StringComparison.Ordinal);
        Assert.Contains("saved from network 'TinyNet'", m, StringComparison.Ordinal);
        Assert.Contains("missing: fc.weight [2, 4]", m, StringComparison.Ordinal);
        Assert.Contains("unexpected: fc.bias [2]", m, StringComparison.Ordinal);
        Assert.Contains("shape: conv1.weight: expected [4, 1, 3, 3], found [2, 1, 3, 3]", m, StringComparison.Ordinal);
        Assert.DoesNotContain("optimizer", m, StringComparison.Ordinal);
        Assert.DoesNotContain("running_mean", m, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_dtype_for_num_batches_tracked_is_listed()
    {
        Checkpoint c = new();
        c.Model.Add("bn1.num_batches_tracked", TensorData.Float([], [3f]));
        CheckpointException e = Assert.Throws<CheckpointException>(() => c.Validate(Network("N", BnTracked)));
        Assert.Contains("dtype: bn1.num_batches_tracked: expected I64, found F32", e.Message, StringComparison.Ordinal);
        Assert.Null(e.FilePath);
    }

    // ---- Atomic writes ----

    /// <summary>Passes writes through until a byte budget runs out, then throws, as a full disk would.</summary>
    private sealed class FailingStream(Stream inner, long budget) : Stream
    {
        private long _left = budget;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            int take = (int)Math.Min(_left, buffer.Length);
            inner.Write(buffer[..take]);
            _left -= take;
            if (take < buffer.Length)
            {
                throw new IOException("Simulated: no space left on device.");
            }
        }
    }

    [Fact]
    public void Failed_save_midway_leaves_the_old_checkpoint_byte_identical_and_no_temp_file()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        Sample().Save(path);
        byte[] before = File.ReadAllBytes(path);

        Checkpoint newer = Sample();
        newer.Epoch = 8;
        newer.Model["conv1.weight"] = TensorData.Float([2, 1, 3, 3], Values(18, 99));
        string? tempSeen = null;
        CheckpointException e = Assert.Throws<CheckpointException>(() => newer.Save(path, s =>
        {
            tempSeen = ((FileStream)s).Name;
            return new FailingStream(s, before.Length / 2);
        }));
        Assert.Contains("Simulated", e.Message, StringComparison.Ordinal);
        Assert.Equal(path, e.FilePath);
        Assert.IsType<IOException>(e.InnerException);

        Assert.NotNull(tempSeen);
        Assert.StartsWith(path + ".tmp-", tempSeen, StringComparison.Ordinal);
        Assert.Equal(Path.GetDirectoryName(path), Path.GetDirectoryName(tempSeen));
        Assert.False(File.Exists(tempSeen));
        Assert.Equal([path], Directory.GetFiles(_dir));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(7, Checkpoint.Load(path).Epoch);
    }

    [Fact]
    public void Failing_writer_action_leaves_the_old_file_and_no_temp_file()
    {
        string path = Path.Combine(_dir, "data.bin");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write([9, 9, 9, 9]);
            throw new InvalidOperationException("boom");
        }));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Successful_save_replaces_the_old_checkpoint()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        Sample().Save(path);
        byte[] before = File.ReadAllBytes(path);

        Checkpoint newer = Sample();
        newer.Epoch = 8;
        newer.Model["fc.bias"] = TensorData.Float([2], [42f, 43f]);
        newer.Save(path);

        Assert.NotEqual(before, File.ReadAllBytes(path));
        Checkpoint loaded = Checkpoint.Load(path);
        Assert.Equal(8, loaded.Epoch);
        Assert.Equal([42f, 43f], loaded.Model["fc.bias"].Floats!);
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void RenameModel_renames_in_order_keeps_epoch_and_metadata_and_drops_optimizer_state()
    {
        Checkpoint c = Sample();
        Checkpoint renamed = c.RenameModel(n => n.StartsWith("bn1.", StringComparison.Ordinal) ? "stem.1." + n[4..] : n);
        Assert.Equal(["conv1.weight", "stem.1.running_mean", "stem.1.num_batches_tracked", "fc.bias"], renamed.Model.Keys);
        Assert.Same(c.Model["bn1.running_mean"], renamed.Model["stem.1.running_mean"]);
        Assert.Equal(7, renamed.Epoch);
        Assert.Equal("TinyNet", renamed.NetworkName);
        Assert.Equal("cosine schedule, warm-up 5", renamed.Metadata["note"]);
        Assert.Empty(renamed.OptimizerBuffers);
        Assert.Empty(renamed.HyperParameters);
        Assert.Equal(4, c.Model.Count);
        Assert.True(c.Model.ContainsKey("bn1.running_mean"));

        // Round trip through a file: the renamed copy saves and loads like any checkpoint.
        string path = Path.Combine(_dir, "renamed.safetensors");
        renamed.Save(path);
        AssertSameTensors(renamed.Model, Checkpoint.Load(path).Model);
    }

    [Fact]
    public void RenameModel_refuses_collisions_and_empty_names_naming_the_tensors()
    {
        Checkpoint c = Sample();
        ArgumentException collision = Assert.Throws<ArgumentException>(() => c.RenameModel(n => n.Split('.')[0] == "bn1" ? "bn1.x" : n));
        Assert.Contains("'bn1.running_mean' and 'bn1.num_batches_tracked' gave both the name 'bn1.x'", collision.Message);
        ArgumentException empty = Assert.Throws<ArgumentException>(() => c.RenameModel(n => n == "fc.bias" ? "" : n));
        Assert.Contains("'fc.bias' gave an empty name", empty.Message);
    }
}
