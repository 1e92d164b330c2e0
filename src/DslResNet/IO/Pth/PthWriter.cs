using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace DslResNet.IO.Pth;

/// <summary>
/// Writes a state_dict in PyTorch's zip <c>.pth</c> format, as <c>torch.save(model.state_dict(), path)</c> does:
/// <c>archive/data.pkl</c> (a protocol-2 pickle of an OrderedDict of <c>_rebuild_tensor_v2</c> calls),
/// <c>archive/byteorder</c> (<c>little</c>), one uncompressed record <c>archive/data/K</c> per tensor, its data aligned
/// to 64 bytes, and <c>archive/version</c> (<c>3</c>). The files load with <c>torch.load(path)</c> and
/// <c>torch.load(path, weights_only=True)</c>. No zip64: the archive must stay under 4 GiB.
/// </summary>
public static class PthWriter
{
    /// <summary>The folder that holds the records in the archive.</summary>
    public const string ArchiveName = "archive";

    /// <summary>Alignment of every record's data in the file, as PyTorch's writer.</summary>
    public const int Alignment = 64;

    /// <summary>Writes tensors to a file atomically (see <see cref="Checkpoint.Save(string)"/>).</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="tensors">Tensors by name, written in this order.</param>
    /// <exception cref="CheckpointException">The file could not be written; the message names it and the reason.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, TensorData>> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Write(path, tensors.Select(kv => new KeyValuePair<string, PthTensor>(kv.Key, PthTensor.From(kv.Value))));
    }

    /// <summary>Writes tensors of any <see cref="PthDType"/> to a file atomically.</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="tensors">Tensors by name, written in this order.</param>
    /// <exception cref="CheckpointException">The file could not be written; the message names it and the reason.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, PthTensor>> tensors)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        List<KeyValuePair<string, PthTensor>> list = tensors.ToList();
        try
        {
            AtomicFile.Write(path, stream => Write(stream, list));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, $"could not be saved ({e.Message}); the previous file, if any, is unchanged.", e);
        }
    }

    /// <summary>Writes tensors to a stream (not atomic).</summary>
    /// <param name="stream">Where to write; left open.</param>
    /// <param name="tensors">Tensors by name, written in this order.</param>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, TensorData>> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Write(stream, tensors.Select(kv => new KeyValuePair<string, PthTensor>(kv.Key, PthTensor.From(kv.Value))));
    }

    /// <summary>Writes tensors of any <see cref="PthDType"/> to a stream (not atomic).</summary>
    /// <param name="stream">Where to write; left open.</param>
    /// <param name="tensors">Tensors by name, written in this order.</param>
    /// <exception cref="ArgumentException">A name is empty or repeated.</exception>
    /// <exception cref="InvalidOperationException">The archive would reach 4 GiB (no zip64).</exception>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, PthTensor>> tensors)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        List<KeyValuePair<string, PthTensor>> list = tensors.ToList();
        HashSet<string> seen = new(StringComparer.Ordinal);
        foreach (KeyValuePair<string, PthTensor> kv in list)
        {
            if (string.IsNullOrEmpty(kv.Key) || !seen.Add(kv.Key))
            {
                throw new ArgumentException($"Tensor name '{kv.Key}' is empty or given twice.", nameof(tensors));
            }
        }

        ZipStoreWriter zip = new(stream);
        zip.Add(ArchiveName + "/data.pkl", BuildPickle(list));
        zip.Add(ArchiveName + "/byteorder", "little"u8);
        for (int i = 0; i < list.Count; i++)
        {
            zip.Add(ArchiveName + "/data/" + i.ToString(CultureInfo.InvariantCulture), list[i].Value.Data);
        }

        zip.Add(ArchiveName + "/version", "3\n"u8);
        zip.Finish();
    }

    /// <summary>The pickle of the state_dict: what <c>torch.save</c> writes for tensors that each own a contiguous storage.</summary>
    /// <param name="tensors">Tensors by name; tensor i is stored in record <c>data/i</c>.</param>
    public static byte[] BuildPickle(IReadOnlyList<KeyValuePair<string, PthTensor>> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        PickleWriter p = new();
        p.Proto();
        p.Global("collections", "OrderedDict");
        p.EmptyTuple();
        p.Reduce();
        if (tensors.Count > 0)
        {
            p.Mark();
            for (int i = 0; i < tensors.Count; i++)
            {
                (string name, PthTensor t) = tensors[i];
                p.Text(name);
                p.Global("torch._utils", "_rebuild_tensor_v2");
                p.Mark();
                {
                    // persistent id ('storage', storage type, key, location, numel)
                    p.Mark();
                    p.Text("storage");
                    p.Global("torch", StorageName(t.DType));
                    p.Text(i.ToString(CultureInfo.InvariantCulture));
                    p.Text("cpu");
                    p.Int(t.Elements);
                    p.Tuple();
                    p.PersistentId();
                    p.Int(0);
                    p.Mark();
                    foreach (int d in t.Shape)
                    {
                        p.Int(d);
                    }

                    p.Tuple();
                    p.Mark();
                    long stride = 1;
                    long[] strides = new long[t.Shape.Length];
                    for (int d = t.Shape.Length - 1; d >= 0; d--)
                    {
                        strides[d] = stride;
                        stride *= t.Shape[d];
                    }

                    foreach (long s in strides)
                    {
                        p.Int(s);
                    }

                    p.Tuple();
                    p.False();
                    p.Global("collections", "OrderedDict");
                    p.EmptyTuple();
                    p.Reduce();
                }

                p.Tuple();
                p.Reduce();
            }

            p.SetItems();
        }

        p.Stop();
        return p.ToArray();
    }

    private static string StorageName(PthDType dtype) => dtype switch
    {
        PthDType.Float32 => "FloatStorage",
        PthDType.Float64 => "DoubleStorage",
        PthDType.Float16 => "HalfStorage",
        PthDType.BFloat16 => "BFloat16Storage",
        PthDType.Int64 => "LongStorage",
        PthDType.Int32 => "IntStorage",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Emits the protocol-2 opcodes the writer needs; globals are memoized and fetched again with BINGET.</summary>
    private sealed class PickleWriter
    {
        private readonly MemoryStream output = new();
        private readonly Dictionary<string, int> globals = new(StringComparer.Ordinal);

        public void Proto()
        {
            output.WriteByte(0x80);
            output.WriteByte(2);
        }

        public void Global(string module, string name)
        {
            string key = module + "\n" + name + "\n";
            if (globals.TryGetValue(key, out int slot))
            {
                Get(slot);
                return;
            }

            output.WriteByte((byte)'c');
            output.Write(Encoding.ASCII.GetBytes(key));
            slot = globals.Count;
            globals[key] = slot;
            Put(slot);
        }

        public void Text(string text)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            output.WriteByte((byte)'X');
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)bytes.Length);
            output.Write(length);
            output.Write(bytes);
        }

        public void Int(long value)
        {
            Span<byte> b = stackalloc byte[8];
            if (value is >= 0 and < 256)
            {
                output.WriteByte((byte)'K');
                output.WriteByte((byte)value);
            }
            else if (value is >= 0 and < 65536)
            {
                output.WriteByte((byte)'M');
                BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)value);
                output.Write(b[..2]);
            }
            else if (value is >= int.MinValue and <= int.MaxValue)
            {
                output.WriteByte((byte)'J');
                BinaryPrimitives.WriteInt32LittleEndian(b, (int)value);
                output.Write(b[..4]);
            }
            else
            {
                output.WriteByte(0x8a);
                output.WriteByte(8);
                BinaryPrimitives.WriteInt64LittleEndian(b, value);
                output.Write(b);
            }
        }

        public void Mark() => output.WriteByte((byte)'(');

        public void Tuple() => output.WriteByte((byte)'t');

        public void EmptyTuple() => output.WriteByte((byte)')');

        public void Reduce() => output.WriteByte((byte)'R');

        public void False() => output.WriteByte(0x89);

        public void PersistentId() => output.WriteByte((byte)'Q');

        public void SetItems() => output.WriteByte((byte)'u');

        public void Stop() => output.WriteByte((byte)'.');

        public byte[] ToArray() => output.ToArray();

        private void Put(int slot)
        {
            output.WriteByte((byte)'r');
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, slot);
            output.Write(b);
        }

        private void Get(int slot)
        {
            output.WriteByte((byte)'j');
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, slot);
            output.Write(b);
        }
    }
}
