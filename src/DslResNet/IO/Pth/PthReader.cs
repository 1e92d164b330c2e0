using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Numerics;
using System.Text;

namespace DslResNet.IO.Pth;

/// <summary>
/// Reads PyTorch's <c>.pth</c> files (<c>torch.save(model.state_dict(), path)</c>) without executing anything: the
/// zip format (PyTorch 1.6 and later: <c>NAME/data.pkl</c>, a pickle, and the raw storages <c>NAME/data/KEY</c>)
/// and the legacy pickle-sequence format (<c>_use_new_zipfile_serialization=False</c>). The pickle is run by a
/// restricted unpickler that admits only what a state_dict needs; every other opcode or global, every size or offset
/// out of range, and a compressed or damaged archive is refused with a <see cref="CheckpointException"/> naming the
/// file, the part and the position.
/// </summary>
public static class PthReader
{
    /// <summary>Largest pickle accepted (64 MiB; ResNet-152's is under 100 KB).</summary>
    public const int MaxPickleBytes = 64 << 20;

    /// <summary>Most zip entries accepted.</summary>
    public const int MaxEntries = 1 << 20;

    // The legacy format's first pickle: PROTO 2, LONG1 of 10 bytes, the magic number 0x1950a86a20f9469cfc6c.
    private static readonly byte[] LegacyMagic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
    private static readonly BigInteger LegacyMagicNumber = BigInteger.Parse("1950a86a20f9469cfc6c", NumberStyles.HexNumber);

    /// <summary>The kinds of <c>.pth</c> content <see cref="Detect"/> tells apart.</summary>
    public enum Format
    {
        /// <summary>Not a <c>.pth</c> file.</summary>
        None,

        /// <summary>A zip archive (PyTorch 1.6 and later).</summary>
        Zip,

        /// <summary>The legacy pickle sequence (<c>_use_new_zipfile_serialization=False</c>).</summary>
        Legacy,

        /// <summary>The tar format of PyTorch before 0.4 (not supported).</summary>
        Tar,
    }

    /// <summary>Which <c>.pth</c> format the first bytes of a file show (a zip's local header, the legacy magic, a tar header).</summary>
    /// <param name="head">The file's first bytes (at least 512 to detect tar).</param>
    public static Format Detect(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 4 && head[0] == 'P' && head[1] == 'K' && ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6)))
        {
            return Format.Zip;
        }

        if (head.StartsWith(LegacyMagic))
        {
            return Format.Legacy;
        }

        return head.Length >= 262 && head[257..262].SequenceEqual("ustar"u8) ? Format.Tar : Format.None;
    }

    /// <summary>Reads a <c>.pth</c> state_dict.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The tensors by name, in the file's order.</returns>
    /// <exception cref="CheckpointException">The file cannot be opened, is not a supported <c>.pth</c> state_dict, or is refused.</exception>
    public static OrderedDictionary<string, PthTensor> Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, "cannot be opened: " + e.Message, e);
        }

        using (file)
        {
            return Read(file, path);
        }
    }

    /// <summary>Reads a <c>.pth</c> state_dict from a seekable stream, from its current position to its end.</summary>
    /// <param name="stream">A readable, seekable stream; left open.</param>
    /// <param name="sourceName">The name to give in error messages.</param>
    /// <returns>The tensors by name, in the file's order.</returns>
    /// <exception cref="CheckpointException">The content is not a supported <c>.pth</c> state_dict, or is refused.</exception>
    public static OrderedDictionary<string, PthTensor> Read(Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        if (!stream.CanSeek)
        {
            throw new ArgumentException("The stream must be seekable.", nameof(stream));
        }

        long start = stream.Position;
        byte[] head = new byte[512];
        int got = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = start;
        try
        {
            return Detect(head.AsSpan(0, got)) switch
            {
                Format.Zip => ReadZip(stream, sourceName),
                Format.Legacy => ReadLegacy(stream, sourceName),
                Format.Tar => throw new CheckpointException(sourceName, "is a .pth in the tar format of PyTorch before 0.4, which is not supported; load it with PyTorch and save it again."),
                _ => throw new CheckpointException(sourceName, "is not a .pth file: it is neither a zip archive nor PyTorch's legacy pickle format."),
            };
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new CheckpointException(sourceName, "cannot be read: " + e.Message, e);
        }
    }

    private static OrderedDictionary<string, PthTensor> ReadZip(Stream stream, string source)
    {
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointException(source, "is not a valid zip archive (truncated or damaged): " + e.Message, e);
        }

        using (zip)
        {
            if (zip.Entries.Count > MaxEntries)
            {
                throw new CheckpointException(source, $"holds {zip.Entries.Count} zip entries, more than the {MaxEntries} accepted.");
            }

            Dictionary<string, ZipArchiveEntry> entries = new(StringComparer.Ordinal);
            foreach (ZipArchiveEntry entry in zip.Entries)
            {
                if (!entries.TryAdd(entry.FullName, entry))
                {
                    throw new CheckpointException(source, $"the zip entry '{entry.FullName}' appears twice.");
                }
            }

            List<string> pickles = entries.Keys.Where(n => n.EndsWith("/data.pkl", StringComparison.Ordinal) && n.IndexOf('/', StringComparison.Ordinal) == n.Length - 9).ToList();
            if (pickles.Count != 1)
            {
                throw new CheckpointException(source, pickles.Count == 0
                    ? "the zip archive holds no NAME/data.pkl, so it is not a torch.save file."
                    : $"the zip archive holds {pickles.Count} data.pkl records ({string.Join(", ", pickles)}); torch.save writes one.");
            }

            string prefix = pickles[0][..^"data.pkl".Length];
            if (entries.TryGetValue(prefix + "byteorder", out ZipArchiveEntry? order))
            {
                string text = Encoding.ASCII.GetString(ReadEntry(source, order, stream.Length));
                if (text != "little")
                {
                    throw new CheckpointException(source, $"its byteorder record says '{text}'; only little-endian storages are supported.");
                }
            }

            byte[] pickle = ReadEntry(source, entries[pickles[0]], MaxPickleBytes);
            Dictionary<string, StorageRef> storages = new(StringComparer.Ordinal);
            object? root = new PickleMachine(source, pickles[0], pickle, 0, pickle.Length, storages, legacyIds: false).Run();
            Dictionary<string, byte[]> bytes = new(StringComparer.Ordinal);
            foreach (StorageRef storage in storages.Values)
            {
                string name = prefix + "data/" + storage.Key;
                if (!entries.TryGetValue(name, out ZipArchiveEntry? entry))
                {
                    throw new CheckpointException(source, $"{pickles[0]} names storage '{storage.Key}', but the archive has no record '{name}'.");
                }

                long needed = storage.Numel * PthTensor.SizeOf(storage.DType);
                if (entry.Length != needed)
                {
                    throw new CheckpointException(source, string.Create(CultureInfo.InvariantCulture,
                        $"record '{name}' holds {entry.Length} bytes, but {pickles[0]} declares storage '{storage.Key}' as {storage.Numel} {storage.DType} elements ({needed} bytes)."));
                }

                bytes[storage.Key] = ReadEntry(source, entry, stream.Length);
            }

            return Materialize(source, pickles[0], root, bytes);
        }
    }

    private static byte[] ReadEntry(string source, ZipArchiveEntry entry, long limit)
    {
        if (entry.IsEncrypted)
        {
            throw new CheckpointException(source, $"the zip entry '{entry.FullName}' is encrypted.");
        }

        if (entry.CompressedLength != entry.Length)
        {
            throw new CheckpointException(source, string.Create(CultureInfo.InvariantCulture,
                $"the zip entry '{entry.FullName}' is compressed ({entry.CompressedLength} bytes holding {entry.Length}); torch.save stores entries uncompressed, and compressed ones are refused."));
        }

        if (entry.Length > limit || entry.Length > Array.MaxLength)
        {
            throw new CheckpointException(source, string.Create(CultureInfo.InvariantCulture,
                $"the zip entry '{entry.FullName}' claims {entry.Length} bytes, more than the {limit} accepted."));
        }

        byte[] buffer = new byte[entry.Length];
        try
        {
            using Stream s = entry.Open();
            s.ReadExactly(buffer);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new CheckpointException(source, $"the zip entry '{entry.FullName}' cannot be read (truncated or damaged): {e.Message}", e);
        }

        if (Crc32.Compute(buffer) != entry.Crc32)
        {
            throw new CheckpointException(source, $"the zip entry '{entry.FullName}' fails its CRC-32 check (the file is damaged).");
        }

        return buffer;
    }

    // The legacy format: five pickles (magic number, protocol version 1001, system info, the state_dict, the storage
    // keys) then, for each key in that order, an int64 element count and the storage's raw bytes.
    private static OrderedDictionary<string, PthTensor> ReadLegacy(Stream stream, string source)
    {
        long length = stream.Length - stream.Position;
        if (length > Array.MaxLength)
        {
            throw new CheckpointException(source, $"is a legacy-format .pth of {length} bytes, more than this reader holds in memory.");
        }

        byte[] data = new byte[length];
        stream.ReadExactly(data);
        Dictionary<string, StorageRef> storages = new(StringComparer.Ordinal);
        int pos = 0;
        object? Next(string part, bool legacyIds = false)
        {
            PickleMachine machine = new(source, part, data, pos, data.Length, storages, legacyIds);
            object? value = machine.Run();
            pos = machine.Position;
            return value;
        }

        if (Next("the magic-number pickle") is not BigInteger magic || magic != LegacyMagicNumber)
        {
            throw new CheckpointException(source, "is not a legacy .pth: the magic number is wrong.");
        }

        if (Next("the protocol-version pickle") is not 1001L)
        {
            throw new CheckpointException(source, "is a legacy .pth of an unknown protocol version (1001 is supported).");
        }

        if (Next("the system-info pickle") is not PyDict info || !info.Items.Any(kv => kv.Key is "little_endian" && kv.Value is true))
        {
            throw new CheckpointException(source, "is a legacy .pth written on a big-endian machine (or without system info); only little-endian storages are supported.");
        }

        object? root = Next("the state_dict pickle", legacyIds: true);
        if (Next("the storage-keys pickle") is not PyList keys || keys.Items.Any(k => k is not string))
        {
            throw new CheckpointException(source, "its storage-keys pickle is not a list of strings.");
        }

        Dictionary<string, byte[]> bytes = new(StringComparer.Ordinal);
        foreach (string key in keys.Items.Cast<string>())
        {
            if (!storages.TryGetValue(key, out StorageRef? storage) || bytes.ContainsKey(key))
            {
                throw new CheckpointException(source, $"its storage-keys list names '{key}', which the state_dict does not use or names twice.");
            }

            if (data.Length - pos < 8)
            {
                throw new CheckpointException(source, $"storage '{key}' at byte {pos}: the file ends before its element count (truncated).");
            }

            long count = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(pos));
            long needed = storage.Numel * PthTensor.SizeOf(storage.DType);
            if (count != storage.Numel || needed > data.Length - pos - 8)
            {
                throw new CheckpointException(source, string.Create(CultureInfo.InvariantCulture,
                    $"storage '{key}' at byte {pos}: {count} elements are stored and {data.Length - pos - 8} bytes remain, but the state_dict declares {storage.Numel} {storage.DType} elements ({needed} bytes)."));
            }

            bytes[key] = data.AsSpan(pos + 8, (int)needed).ToArray();
            pos += 8 + (int)needed;
        }

        if (bytes.Count != storages.Count)
        {
            throw new CheckpointException(source, $"the state_dict uses {storages.Count} storages but the file stores {bytes.Count}.");
        }

        if (pos != data.Length)
        {
            throw new CheckpointException(source, $"has {data.Length - pos} bytes of trailing data after the last storage.");
        }

        return Materialize(source, "the state_dict pickle", root, bytes);
    }

    private static OrderedDictionary<string, PthTensor> Materialize(string source, string part, object? root, Dictionary<string, byte[]> storages)
    {
        if (root is not PyDict dict)
        {
            throw new CheckpointException(source, $"{part} holds {PickleMachine.Describe(root)}, not a state_dict (a dict of tensors).");
        }

        OrderedDictionary<string, PthTensor> tensors = new(StringComparer.Ordinal);
        foreach ((object key, object? value) in dict.Items)
        {
            if (key is not string name)
            {
                throw new CheckpointException(source, $"{part}: the state_dict has the key {PickleMachine.Describe(key)}, not a string.");
            }

            if (value is not TensorRef t)
            {
                throw new CheckpointException(source, $"{part}: state_dict entry '{name}' is {PickleMachine.Describe(value)}, not a tensor; only a state_dict of tensors is read (no optimizer state or nested dicts).");
            }

            tensors.Add(name, Gather(t, storages[t.Storage.Key]));
        }

        return tensors;
    }

    // Copies a tensor's elements, as its sizes and strides select them from its storage, into row-major order.
    // RebuildTensor has checked that every index is inside the storage.
    private static PthTensor Gather(TensorRef t, byte[] storage)
    {
        int size = PthTensor.SizeOf(t.Storage.DType);
        int[] shape = t.Size.Select(s => (int)s).ToArray();
        byte[] result = new byte[t.Elements * size];
        long expected = 1;
        bool contiguous = true;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            contiguous &= shape[d] == 1 || t.Stride[d] == expected;
            expected *= shape[d];
        }

        if (contiguous)
        {
            Buffer.BlockCopy(storage, (int)(t.Offset * size), result, 0, result.Length);
        }
        else if (t.Elements > 0)
        {
            int rank = shape.Length;
            int[] index = new int[rank];
            long source = t.Offset;
            for (long n = 0; n < t.Elements; n++)
            {
                Buffer.BlockCopy(storage, (int)(source * size), result, (int)(n * size), size);
                for (int d = rank - 1; d >= 0; d--)
                {
                    if (++index[d] < shape[d])
                    {
                        source += t.Stride[d];
                        break;
                    }

                    source -= (long)(shape[d] - 1) * t.Stride[d];
                    index[d] = 0;
                }
            }
        }

        return new PthTensor(t.Storage.DType, shape, result);
    }
}
