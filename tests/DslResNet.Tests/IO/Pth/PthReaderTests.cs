using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using DslResNet.IO;
using DslResNet.IO.Pth;
using DslResNet.Tests.Data;
using Xunit;

namespace DslResNet.Tests.IO.Pth;

/// Real PyTorch 1.13.1 output (tests/fixtures/make_pth.py) read bit-exactly against PyTorch's own bytes (expected.json).
public sealed class PthReaderTests
{
    private static readonly Dictionary<string, PthDType> DTypes = new()
    {
        ["float32"] = PthDType.Float32, ["float64"] = PthDType.Float64, ["float16"] = PthDType.Float16,
        ["bfloat16"] = PthDType.BFloat16, ["int64"] = PthDType.Int64, ["int32"] = PthDType.Int32,
    };

    private static void AssertMatchesPyTorch(OrderedDictionary<string, PthTensor> actual)
    {
        var expected = PthTestData.Expected();
        Assert.Equal(expected.Select(e => e.Name), actual.Keys);
        foreach ((string name, string dtype, int[] shape, byte[] raw, _) in expected)
        {
            PthTensor t = actual[name];
            Assert.Equal(DTypes[dtype], t.DType);
            Assert.Equal(shape, t.Shape);
            Assert.True(raw.AsSpan().SequenceEqual(t.Data), $"{name}: bytes differ from PyTorch's");
        }
    }

    [Theory]
    [InlineData("tiny.pth")]
    [InlineData("tiny_legacy.pth")]
    public void Fixture_LoadsBitExactly(string file) => AssertMatchesPyTorch(PthReader.Read(PthTestData.Fixture(file)));

    [Fact]
    public void Fixture_CoversViewsSharedStoragesAndEveryDType()
    {
        // Guards against a fixture that silently stopped exercising what it is for.
        var expected = PthTestData.Expected().ToDictionary(e => e.Name);
        Assert.Equal(new[] { 5, 3 }, expected["extra.transposed"].Shape);
        Assert.Equal(new[] { 3, 3 }, expected["extra.strided"].Shape);
        Assert.Equal(DTypes.Keys.Order(), expected.Values.Select(e => e.DType).Distinct().Order());
        Assert.Empty(expected["extra.empty"].Raw);
    }

    [Fact]
    public void ToTensorData_WidensAsPyTorchDoes()
    {
        OrderedDictionary<string, PthTensor> tensors = PthReader.Read(PthTestData.Fixture("tiny.pth"));
        foreach ((string name, _, _, byte[] raw, byte[]? f32) in PthTestData.Expected())
        {
            TensorData t = tensors[name].ToTensorData();
            if (f32 is null)
            {
                Assert.Equal(SafeTensorDType.I64, t.DType);
                long[] fromRaw = tensors[name].DType == PthDType.Int32
                    ? MemoryMarshal.Cast<byte, int>(raw).ToArray().Select(v => (long)v).ToArray()
                    : MemoryMarshal.Cast<byte, long>(raw).ToArray();
                Assert.Equal(fromRaw, t.Int64s);
            }
            else
            {
                Assert.True(f32.AsSpan().SequenceEqual(MemoryMarshal.AsBytes(t.Floats.AsSpan())), $"{name}: float32 values differ from PyTorch's t.float()");
            }
        }
    }

    [Theory]
    [InlineData("model.safetensors")]
    [InlineData("model.bin")]
    [InlineData("model.pth")]
    public void CheckpointLoad_ReadsPthByContentNotExtension(string name)
    {
        using TempDir dir = new();
        string path = dir.File(name);
        File.Copy(PthTestData.Fixture("tiny_model.pth"), path);
        Checkpoint c = Checkpoint.Load(path);
        string[] names = ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked", "fc.weight", "fc.bias"];
        Assert.Equal(names, c.Model.Keys);
        Assert.Equal(SafeTensorDType.I64, c.Model["bn1.num_batches_tracked"].DType);
        Assert.Equal(3, c.Model["bn1.num_batches_tracked"].ScalarInt64);
        Assert.Equal(new[] { 4, 3, 3, 3 }, c.Model["conv1.weight"].Shape);
        Assert.Equal(PthTestData.Expected()[0].Raw, MemoryMarshal.AsBytes(c.Model["conv1.weight"].Floats.AsSpan()).ToArray());
        Assert.Empty(c.OptimizerBuffers);

        NetworkInfo info = new("Tiny", TensorShape.Image(3, 5, 5), TensorShape.Flat(3), [],
        [
            new("conv1.weight", "conv1", ParameterRole.Weight, [4, 3, 3, 3]),
            new("bn1.weight", "bn1", ParameterRole.Weight, [4]),
            new("bn1.bias", "bn1", ParameterRole.Bias, [4]),
            new("bn1.running_mean", "bn1", ParameterRole.RunningMean, [4]),
            new("bn1.running_var", "bn1", ParameterRole.RunningVar, [4]),
            new("bn1.num_batches_tracked", "bn1", ParameterRole.BatchesTracked, []),
            new("fc.weight", "fc", ParameterRole.Weight, [3, 4]),
            new("fc.bias", "fc", ParameterRole.Bias, [3]),
        ], [], 0, 0);
        Assert.Empty(c.Mismatches(info));
    }

    [Fact]
    public void CheckpointLoad_StillReadsSafetensorsAndNamesBadContent()
    {
        using TempDir dir = new();
        Checkpoint saved = new();
        saved.Model.Add("w", TensorData.Float([2], [1f, 2f]));
        saved.Save(dir.File("a.pth"));
        Assert.Equal([1f, 2f], Checkpoint.Load(dir.File("a.pth")).Model["w"].Floats!);

        File.WriteAllBytes(dir.File("tar.pth"), [.. new byte[257], .. "ustar"u8, .. new byte[250]]);
        CheckpointException e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(dir.File("tar.pth")));
        Assert.Contains("tar format", e.Message);
    }
}
