using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using DslResNet.IO;
using Xunit;

namespace DslResNet.Tests.IO;

/// <summary>Hostile checkpoints made here: every failure of Load is a CheckpointException naming the file and entry.</summary>
public sealed class CheckpointLoadChecksTests
{
    private static byte[] Raw(string json)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (long)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    private static byte[] File(Dictionary<string, TensorData> tensors, Dictionary<string, string>? metadata = null)
    {
        using var stream = new MemoryStream();
        SafeTensors.Write(stream, tensors, metadata ?? new Dictionary<string, string> { ["format"] = "pt" });
        return stream.ToArray();
    }

    private static Checkpoint Load(byte[] bytes, CheckpointLoadOptions? options = null) =>
        Checkpoint.Load(new MemoryStream(bytes, writable: false), "hostile.safetensors", options ?? CheckpointLoadOptions.Default);

    private static CheckpointException Fails(byte[] bytes)
    {
        var e = Assert.Throws<CheckpointException>(() => Load(bytes));
        Assert.Contains("hostile.safetensors", e.Message);
        return e;
    }

    [Theory]
    [InlineData("{\"__metadata__\":{\"note\":\"\\ud800\"}}")]
    [InlineData("{\"__metadata__\":{\"\\udc00\":\"x\"}}")]
    [InlineData("{\"w\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")]
    public void Lone_surrogate_escape_is_a_checkpoint_exception(string json)
    {
        byte[] bytes = Raw(json);
        if (json.StartsWith("{\"w", StringComparison.Ordinal))
        {
            bytes = [.. bytes, 0, 0, 0, 0];
        }
        Fails(bytes);
    }

    [Fact]
    public void Nan_weight_is_refused_naming_the_tensor_unless_the_caller_opts_out()
    {
        byte[] bytes = File(new() { ["conv1.weight"] = TensorData.Float([3], [1f, float.NaN, 2f]) });
        var e = Fails(bytes);
        Assert.Contains("conv1.weight", e.Message);
        Assert.Contains("non-finite", e.Message);
        Checkpoint loaded = Load(bytes, new CheckpointLoadOptions { CheckValues = false });
        Assert.True(float.IsNaN(loaded.Model["conv1.weight"].Floats![1]));
    }

    [Fact]
    public void Infinite_momentum_buffer_is_refused()
    {
        byte[] bytes = File(new()
        {
            ["fc.bias"] = TensorData.Float([2], [0f, 1f]),
            [Checkpoint.OptimizerPrefix + "momentum_buffer.fc.bias"] = TensorData.Float([2], [float.PositiveInfinity, 0f]),
        });
        Assert.Contains("momentum_buffer.fc.bias", Fails(bytes).Message);
    }

    [Fact]
    public void Negative_running_var_is_refused()
    {
        byte[] bytes = File(new() { ["bn1.running_var"] = TensorData.Float([2], [1f, -0.5f]) });
        var e = Fails(bytes);
        Assert.Contains("bn1.running_var", e.Message);
        Assert.Contains("negative", e.Message);
        Assert.Equal(-0.5f, Load(bytes, new CheckpointLoadOptions { CheckValues = false }).Model["bn1.running_var"].Floats![1]);
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(-1L)]
    public void Optimizer_step_that_would_wrap_is_refused(long step)
    {
        byte[] bytes = File(new() { ["fc.bias"] = TensorData.Float([1], [0f]) },
            new() { [Checkpoint.OptimizerStepKey] = step.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        Assert.Contains(Checkpoint.OptimizerStepKey, Fails(bytes).Message);
    }

    [Fact]
    public void Fuzzed_files_load_or_give_a_checkpoint_exception()
    {
        byte[] valid = File(new()
        {
            ["conv1.weight"] = TensorData.Float([2, 1, 3, 3], new float[18]),
            ["bn1.running_var"] = TensorData.Float([2], [1f, 2f]),
            ["bn1.num_batches_tracked"] = TensorData.Int64Scalar(5),
            [Checkpoint.OptimizerPrefix + "momentum_buffer.conv1.weight"] = TensorData.Float([2, 1, 3, 3], new float[18]),
        }, new() { [Checkpoint.OptimizerStepKey] = "12", [Checkpoint.EpochKey] = "3", ["note"] = "n\u00e9" });
        var random = new Random(12345);
        int loaded = 0;
        for (int i = 0; i < 400; i++)
        {
            byte[] bytes;
            if (i % 4 == 0)
            {
                bytes = valid[..random.Next(valid.Length)];
            }
            else
            {
                bytes = (byte[])valid.Clone();
                for (int flips = 1 + random.Next(3); flips > 0; flips--)
                {
                    // Mostly in the header, where the structure is.
                    int at = random.Next(2) == 0 ? random.Next(Math.Min(bytes.Length, 400)) : random.Next(bytes.Length);
                    bytes[at] ^= (byte)(1 << random.Next(8));
                }
            }
            try
            {
                Load(bytes);
                loaded++;
            }
            catch (CheckpointException)
            {
            }
        }
        Assert.InRange(loaded, 0, 399);
    }
}
