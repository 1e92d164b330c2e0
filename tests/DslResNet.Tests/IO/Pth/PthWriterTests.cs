using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using DslResNet.IO;
using DslResNet.IO.Pth;
using DslResNet.Tests.Data;
using Xunit;

namespace DslResNet.Tests.IO.Pth;

/// The writer: round trips through the reader, and the zip's structure byte by byte. (That the output loads with real
/// torch.load was checked by hand with PyTorch 1.13.1; CI has no PyTorch.)
public sealed class PthWriterTests
{
    private static Checkpoint Sample()
    {
        Checkpoint c = new();
        c.Model.Add("conv1.weight", TensorData.Float([2, 1, 3, 3], Enumerable.Range(0, 18).Select(i => MathF.Sin(i) * 1e-3f).ToArray()));
        c.Model.Add("bn1.running_var", TensorData.Float([2], [float.Epsilon, 3e38f]));
        c.Model.Add("bn1.num_batches_tracked", TensorData.Int64Scalar(long.MaxValue - 1));
        c.Model.Add("fc.bias", TensorData.Float([2], [-0f, 1f]));
        c.Model.Add("empty", TensorData.Float([0, 4], []));
        return c;
    }

    [Fact]
    public void SavePth_RoundTripsBitExactly()
    {
        using TempDir dir = new();
        Checkpoint saved = Sample();
        saved.SavePth(dir.File("x.pth"));
        Checkpoint loaded = Checkpoint.Load(dir.File("x.pth"));
        Assert.Equal(saved.Model.Keys, loaded.Model.Keys);
        foreach ((string name, TensorData e) in saved.Model)
        {
            TensorData a = loaded.Model[name];
            Assert.Equal(e.DType, a.DType);
            Assert.Equal(e.Shape, a.Shape);
            Assert.Equal(e.Floats?.Select(BitConverter.SingleToInt32Bits), a.Floats?.Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(e.Int64s, a.Int64s);
        }
    }

    [Fact]
    public void Write_RoundTripsEveryDTypeOfTheFixture()
    {
        OrderedDictionary<string, PthTensor> original = PthReader.Read(PthTestData.Fixture("tiny.pth"));
        using MemoryStream stream = new();
        PthWriter.Write(stream, original);
        stream.Position = 0;
        OrderedDictionary<string, PthTensor> back = PthReader.Read(stream, "memory");
        Assert.Equal(original.Keys, back.Keys);
        foreach ((string name, PthTensor t) in original)
        {
            Assert.Equal(t.DType, back[name].DType);
            Assert.Equal(t.Shape, back[name].Shape);
            Assert.Equal(t.Data, back[name].Data);
        }
    }

    [Fact]
    public void Write_LaysOutTheZipAsTorchSave()
    {
        using MemoryStream stream = new();
        Sample().WritePthTo(stream);
        byte[] file = stream.ToArray();

        // Deterministic.
        using MemoryStream again = new();
        Sample().WritePthTo(again);
        Assert.Equal(file, again.ToArray());

        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8)); // CRC-32's standard check value

        // Walk the local headers: stored, no data descriptor, CRC right, data aligned to 64 bytes.
        List<string> names = [];
        Dictionary<string, byte[]> records = [];
        int pos = 0;
        while (BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(pos)) == 0x04034b50)
        {
            ReadOnlySpan<byte> h = file.AsSpan(pos);
            Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(h[6..]));   // flags
            Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(h[8..]));   // method: stored
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(h[14..]);
            int size = BinaryPrimitives.ReadInt32LittleEndian(h[18..]);
            Assert.Equal(size, BinaryPrimitives.ReadInt32LittleEndian(h[22..]));
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(h[26..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
            string name = Encoding.UTF8.GetString(h.Slice(30, nameLength));
            Assert.Equal(0x4246, BinaryPrimitives.ReadUInt16LittleEndian(h[(30 + nameLength)..])); // 'FB' padding
            int data = pos + 30 + nameLength + extraLength;
            Assert.Equal(0, data % 64);
            byte[] bytes = file.AsSpan(data, size).ToArray();
            Assert.Equal(crc, Crc32.Compute(bytes));
            names.Add(name);
            records[name] = bytes;
            pos = data + size;
        }

        Assert.Equal(["archive/data.pkl", "archive/byteorder", "archive/data/0", "archive/data/1", "archive/data/2", "archive/data/3", "archive/data/4", "archive/version"], names);
        Assert.Equal("little"u8.ToArray(), records["archive/byteorder"]);
        Assert.Equal("3\n"u8.ToArray(), records["archive/version"]);
        Assert.Equal(BitConverter.GetBytes(long.MaxValue - 1), records["archive/data/2"]);
        Assert.Equal(BitConverter.GetBytes(float.Epsilon).Concat(BitConverter.GetBytes(3e38f)), records["archive/data/1"]);
        Assert.Equal([0x80, 0x02, (byte)'c', .. "collections\nOrderedDict\n"u8], records["archive/data.pkl"].Take(27));
        Assert.Equal((byte)'.', records["archive/data.pkl"][^1]);

        // The central directory and its end record agree; System.IO.Compression reads the archive as stored.
        Assert.Equal(0x02014b50u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(pos)));
        Assert.Equal(0x06054b50u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(file.Length - 22)));
        Assert.Equal(names.Count, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(file.Length - 12)));
        Assert.Equal(pos, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(file.Length - 6)));
        using ZipArchive zip = new(new MemoryStream(file), ZipArchiveMode.Read);
        Assert.Equal(names, zip.Entries.Select(e => e.FullName));
        Assert.All(zip.Entries, e => Assert.Equal(e.Length, e.CompressedLength));
    }

    [Fact]
    public void SavePth_RefusesNonFiniteAndLeavesNoFile()
    {
        using TempDir dir = new();
        Checkpoint c = Sample();
        c.Model.Add("bad", TensorData.Float([1], [float.NaN]));
        CheckpointException e = Assert.Throws<CheckpointException>(() => c.SavePth(dir.File("x.pth")));
        Assert.Contains("non-finite", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
