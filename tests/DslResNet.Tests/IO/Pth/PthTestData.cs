using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using DslResNet.IO.Pth;

namespace DslResNet.Tests.IO.Pth;

/// The committed fixtures (made by tests/fixtures/make_pth.py with PyTorch 1.13.1) and helpers that build pickles.
internal static class PthTestData
{
    public static string Fixture(string name, [CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "Fixtures", "pth", name);

    /// expected.json: name -> (dtype, shape, raw bytes, f32 bytes or null), in PyTorch's order.
    public static List<(string Name, string DType, int[] Shape, byte[] Raw, byte[]? F32)> Expected()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Fixture("expected.json")));
        List<(string, string, int[], byte[], byte[]?)> list = [];
        foreach (JsonProperty p in doc.RootElement.GetProperty("tensors").EnumerateObject())
        {
            JsonElement e = p.Value;
            List<int> shape = [];
            foreach (JsonElement d in e.GetProperty("shape").EnumerateArray())
            {
                shape.Add(d.GetInt32());
            }

            byte[]? f32 = e.TryGetProperty("f32", out JsonElement f) ? Convert.FromHexString(f.GetString()!) : null;
            list.Add((p.Name, e.GetProperty("dtype").GetString()!, shape.ToArray(), Convert.FromHexString(e.GetProperty("raw").GetString()!), f32));
        }

        return list;
    }

    /// A zip the way torch.save lays it out, around a given pickle and records.
    public static byte[] Zip(byte[] pickle, params (string Name, byte[] Data)[] records)
    {
        using MemoryStream stream = new();
        ZipStoreWriter zip = new(stream);
        zip.Add("archive/data.pkl", pickle);
        foreach ((string name, byte[] data) in records)
        {
            zip.Add("archive/" + name, data);
        }

        zip.Add("archive/version", "3\n"u8);
        zip.Finish();
        return stream.ToArray();
    }
}

/// Emits pickle opcodes by hand, to build valid and hostile pickles.
internal sealed class PickleBuilder
{
    private readonly List<byte> _bytes = [0x80, 0x02];

    public PickleBuilder Op(char op)
    {
        _bytes.Add((byte)op);
        return this;
    }

    public PickleBuilder Op(byte op)
    {
        _bytes.Add(op);
        return this;
    }

    public PickleBuilder Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public PickleBuilder Global(string module, string name)
    {
        _bytes.Add((byte)'c');
        _bytes.AddRange(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));
        return this;
    }

    public PickleBuilder Text(string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        _bytes.Add((byte)'X');
        _bytes.AddRange(BitConverter.GetBytes(b.Length));
        _bytes.AddRange(b);
        return this;
    }

    public PickleBuilder Int(long v)
    {
        _bytes.Add(0x8a);
        _bytes.Add(8);
        _bytes.AddRange(BitConverter.GetBytes(v));
        return this;
    }

    public PickleBuilder Ints(IEnumerable<long> values)
    {
        Op('(');
        foreach (long v in values)
        {
            Int(v);
        }

        return Op('t');
    }

    /// Pushes _rebuild_tensor_v2(storage KEY of NUMEL, offset, size, stride, False, OrderedDict()).
    public PickleBuilder Tensor(string key, long numel, long offset, long[] size, long[] stride, string storageType = "FloatStorage")
    {
        Global("torch._utils", "_rebuild_tensor_v2").Op('(');
        Op('(').Text("storage").Global("torch", storageType).Text(key).Text("cpu").Int(numel).Op('t').Op('Q');
        Int(offset).Ints(size).Ints(stride).Op(0x89);
        Global("collections", "OrderedDict").Op(')').Op('R');
        return Op('t').Op('R');
    }

    /// An OrderedDict of one entry NAME holding the tensor that <paramref name="tensor"/> pushes, then STOP.
    public static byte[] StateDict(string name, Action<PickleBuilder> tensor)
    {
        PickleBuilder p = new();
        p.Global("collections", "OrderedDict").Op(')').Op('R').Text(name);
        tensor(p);
        return p.Op('s').Op('.').ToArray();
    }

    public byte[] ToArray() => [.. _bytes];
}
