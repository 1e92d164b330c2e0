using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;

namespace DslResNet.IO;

/// <summary>The contents of a safetensors file: tensors in file order and the <c>__metadata__</c> strings.</summary>
/// <param name="Tensors">Tensors by name, in the order of their data in the file.</param>
/// <param name="Metadata">The header's <c>__metadata__</c> (empty when absent).</param>
public sealed record SafeTensorsContent(OrderedDictionary<string, TensorData> Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of UTF-8 JSON padded with spaces to a multiple of 8, then the raw little-endian data of
/// the tensors, contiguous, in the order written.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest header accepted when reading (100 MB), as the reference implementation.</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>The header key that holds the string-to-string metadata.</summary>
    public const string MetadataKey = "__metadata__";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    /// <summary>Writes tensors and metadata to a stream in the safetensors format.</summary>
    /// <param name="stream">Where to write; left open.</param>
    /// <param name="tensors">Tensors by name, written in this order. Enumerated once, before anything is written.</param>
    /// <param name="metadata">The <c>__metadata__</c> strings; omitted from the header when null or empty.</param>
    /// <exception cref="ArgumentException">A name is empty, repeated, or is <c>__metadata__</c>.</exception>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, TensorData>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        List<KeyValuePair<string, TensorData>> list = tensors.ToList();
        byte[] header = BuildHeader(list, metadata);

        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        foreach (KeyValuePair<string, TensorData> pair in list)
        {
            WriteData(stream, pair.Value);
        }
    }

    /// <summary>Writes tensors and metadata to a file (not atomically; see <see cref="AtomicFile"/>).</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="tensors">Tensors by name, written in this order.</param>
    /// <param name="metadata">The <c>__metadata__</c> strings.</param>
    public static void Write(string path, IEnumerable<KeyValuePair<string, TensorData>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using FileStream file = new(path, FileMode.Create, FileAccess.Write, FileShare.None);
        Write(file, tensors, metadata);
    }

    /// <summary>The header bytes (JSON, padded with spaces to a multiple of 8) for tensors and metadata.</summary>
    /// <param name="tensors">Tensors by name, in data order.</param>
    /// <param name="metadata">The <c>__metadata__</c> strings, or null.</param>
    public static byte[] BuildHeader(IReadOnlyList<KeyValuePair<string, TensorData>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        HashSet<string> seen = new(StringComparer.Ordinal);
        using MemoryStream json = new();
        using (Utf8JsonWriter writer = new(json, WriterOptions))
        {
            writer.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                writer.WriteStartObject(MetadataKey);
                foreach (KeyValuePair<string, string> entry in metadata)
                {
                    writer.WriteString(entry.Key, entry.Value);
                }

                writer.WriteEndObject();
            }

            long offset = 0;
            foreach ((string name, TensorData tensor) in tensors)
            {
                if (string.IsNullOrEmpty(name) || name == MetadataKey)
                {
                    throw new ArgumentException($"'{name}' cannot name a tensor.", nameof(tensors));
                }

                if (!seen.Add(name))
                {
                    throw new ArgumentException($"Tensor '{name}' is given twice.", nameof(tensors));
                }

                long end = offset + (tensor.Elements * tensor.ElementSize);
                writer.WriteStartObject(name);
                writer.WriteString("dtype", tensor.DType.ToString());
                writer.WriteStartArray("shape");
                foreach (int d in tensor.Shape)
                {
                    writer.WriteNumberValue(d);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(end);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset = end;
            }

            writer.WriteEndObject();
        }

        int length = (int)json.Length;
        int padded = (length + 7) / 8 * 8;
        byte[] header = new byte[padded];
        json.GetBuffer().AsSpan(0, length).CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }

    private static void WriteData(Stream stream, TensorData tensor)
    {
        if (BitConverter.IsLittleEndian)
        {
            ReadOnlySpan<byte> bytes = tensor.DType == SafeTensorDType.F32
                ? MemoryMarshal.AsBytes(tensor.Floats.AsSpan())
                : MemoryMarshal.AsBytes(tensor.Int64s.AsSpan());
            stream.Write(bytes);
            return;
        }

        byte[] buffer = new byte[8];
        if (tensor.DType == SafeTensorDType.F32)
        {
            foreach (float f in tensor.Floats!)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buffer, f);
                stream.Write(buffer, 0, 4);
            }
        }
        else
        {
            foreach (long v in tensor.Int64s!)
            {
                BinaryPrimitives.WriteInt64LittleEndian(buffer, v);
                stream.Write(buffer, 0, 8);
            }
        }
    }

    /// <summary>Reads and validates a safetensors file.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="CheckpointException">The file cannot be opened or is not a valid safetensors file of supported dtypes; the message names the file and the problem.</exception>
    public static SafeTensorsContent Read(string path)
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

    /// <summary>Reads and validates safetensors content from a seekable stream, from its current position to its end.</summary>
    /// <param name="stream">A readable, seekable stream.</param>
    /// <param name="sourceName">The name to give in error messages (the file's path).</param>
    /// <exception cref="CheckpointException">The content is not a valid safetensors file of supported dtypes.</exception>
    public static SafeTensorsContent Read(Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        if (!stream.CanSeek)
        {
            throw new ArgumentException("The stream must be seekable.", nameof(stream));
        }

        try
        {
            return ReadCore(stream, sourceName);
        }
        catch (IOException e)
        {
            throw new CheckpointException(sourceName, "cannot be read: " + e.Message, e);
        }
    }

    private static SafeTensorsContent ReadCore(Stream stream, string source)
    {
        long start = stream.Position;
        long total = stream.Length - start;
        if (total < 8)
        {
            throw new CheckpointException(source, $"is not a safetensors file: it is {total} bytes long, shorter than the 8-byte header length.");
        }

        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderLength)
        {
            throw new CheckpointException(source, $"is not a safetensors file: the header length {headerLength} is larger than the {MaxHeaderLength}-byte limit.");
        }

        if ((long)headerLength > total - 8)
        {
            throw new CheckpointException(source, $"is not a safetensors file or is truncated: the header length {headerLength} exceeds the {total - 8} bytes that follow it.");
        }

        byte[] header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataLength = total - 8 - (long)headerLength;

        int first = 0;
        while (first < header.Length && header[first] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            first++;
        }

        if (first == header.Length || header[first] != (byte)'{')
        {
            throw new CheckpointException(source, "is not a safetensors file: the header is not a JSON object.");
        }

        if (!Utf8.IsValid(header))
        {
            throw new CheckpointException(source, "is not a safetensors file: the header is not valid JSON (it is not valid UTF-8).");
        }

        List<Entry> entries = [];
        Dictionary<string, string> metadata = new(StringComparer.Ordinal);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(header);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException(source, "is not a safetensors file: the header is not a JSON object.");
            }

            HashSet<string> names = new(StringComparer.Ordinal);
            foreach (JsonProperty property in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    throw new CheckpointException(source, $"the header names '{property.Name}' twice.");
                }

                if (property.Name == MetadataKey)
                {
                    ReadMetadata(source, property.Value, metadata);
                }
                else
                {
                    entries.Add(ReadEntry(source, property.Name, property.Value));
                }
            }
        }
        catch (JsonException e)
        {
            throw new CheckpointException(source, "the header is not valid JSON: " + e.Message, e);
        }
        catch (InvalidOperationException e)
        {
            // System.Text.Json parses a lone surrogate escape ("\ud800") but cannot turn it into a string.
            throw new CheckpointException(source, "the header holds a string that is not valid UTF-16 (a lone surrogate escape): " + e.Message, e);
        }

        CheckOffsets(source, entries, dataLength);

        long dataStart = start + 8 + (long)headerLength;
        OrderedDictionary<string, TensorData> tensors = new(StringComparer.Ordinal);
        foreach (Entry entry in entries.OrderBy(e => e.Begin))
        {
            stream.Position = dataStart + entry.Begin;
            tensors.Add(entry.Name, ReadData(stream, entry));
        }

        return new SafeTensorsContent(tensors, metadata);
    }

    private sealed record Entry(string Name, SafeTensorDType DType, int[] Shape, long Begin, long End);

    private static void ReadMetadata(string source, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new CheckpointException(source, $"the header's {MetadataKey} is not an object of strings.");
        }

        foreach (JsonProperty p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
            {
                throw new CheckpointException(source, $"the header's {MetadataKey} entry '{p.Name}' is not a string.");
            }

            if (!metadata.TryAdd(p.Name, p.Value.GetString()!))
            {
                throw new CheckpointException(source, $"the header's {MetadataKey} names '{p.Name}' twice.");
            }
        }
    }

    private static Entry ReadEntry(string source, string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new CheckpointException(source, $"tensor '{name}': the header entry is not an object.");
        }

        if (!value.TryGetProperty("dtype", out JsonElement dtypeElement))
        {
            throw new CheckpointException(source, $"tensor '{name}': the header entry has no 'dtype'.");
        }

        if (!value.TryGetProperty("shape", out JsonElement shapeElement))
        {
            throw new CheckpointException(source, $"tensor '{name}': the header entry has no 'shape'.");
        }

        if (!value.TryGetProperty("data_offsets", out JsonElement offsetsElement))
        {
            throw new CheckpointException(source, $"tensor '{name}': the header entry has no 'data_offsets'.");
        }

        string? dtypeText = dtypeElement.ValueKind == JsonValueKind.String ? dtypeElement.GetString() : null;
        SafeTensorDType dtype = dtypeText switch
        {
            "F32" => SafeTensorDType.F32,
            "I64" => SafeTensorDType.I64,
            null => throw new CheckpointException(source, $"tensor '{name}': 'dtype' is not a string."),
            _ => throw new CheckpointException(source, $"tensor '{name}': unknown or unsupported dtype '{dtypeText}' (supported: F32, I64)."),
        };

        if (shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw new CheckpointException(source, $"tensor '{name}': 'shape' is not an array.");
        }

        List<int> shape = [];
        foreach (JsonElement d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int dim) || dim < 0)
            {
                throw new CheckpointException(source, $"tensor '{name}': 'shape' holds {d.GetRawText()}, not a non-negative 32-bit integer.");
            }

            shape.Add(dim);
        }

        if (offsetsElement.ValueKind != JsonValueKind.Array || offsetsElement.GetArrayLength() != 2)
        {
            throw new CheckpointException(source, $"tensor '{name}': 'data_offsets' is not an array of two integers.");
        }

        long[] offsets = new long[2];
        for (int i = 0; i < 2; i++)
        {
            JsonElement o = offsetsElement[i];
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out offsets[i]) || offsets[i] < 0)
            {
                throw new CheckpointException(source, $"tensor '{name}': 'data_offsets' holds {o.GetRawText()}, not a non-negative integer.");
            }
        }

        (long begin, long end) = (offsets[0], offsets[1]);
        if (end < begin)
        {
            throw new CheckpointException(source, $"tensor '{name}': data_offsets [{begin}, {end}] end before they begin.");
        }

        int[] dims = shape.ToArray();
        long elements = 1;
        foreach (int d in dims)
        {
            elements = d == 0 || elements <= long.MaxValue / 8 / d ? elements * d : throw new CheckpointException(source, $"tensor '{name}': shape {TensorData.FormatShape(dims)} is too large.");
        }

        long expectedBytes = elements * TensorData.SizeOf(dtype);
        if (end - begin != expectedBytes)
        {
            throw new CheckpointException(source, $"tensor '{name}': shape {TensorData.FormatShape(dims)} of {dtypeText} needs {expectedBytes} bytes but data_offsets [{begin}, {end}] span {end - begin}.");
        }

        if (elements > Array.MaxLength)
        {
            throw new CheckpointException(source, $"tensor '{name}': {elements} elements are more than one array can hold.");
        }

        return new Entry(name, dtype, dims, begin, end);
    }

    private static void CheckOffsets(string source, List<Entry> entries, long dataLength)
    {
        long expected = 0;
        Entry? previous = null;
        foreach (Entry e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.End > dataLength)
            {
                throw new CheckpointException(source, $"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] are out of range: the data section is {dataLength} bytes (the file is truncated or the offsets are wrong).");
            }

            if (e.Begin < expected)
            {
                throw new CheckpointException(source, $"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous!.Name}' at [{previous.Begin}, {previous.End}].");
            }

            if (e.Begin > expected)
            {
                throw new CheckpointException(source, $"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] leave bytes [{expected}, {e.Begin}] of the data section covered by no tensor.");
            }

            expected = e.End;
            previous = e;
        }

        if (expected != dataLength)
        {
            throw new CheckpointException(source, $"has {dataLength - expected} bytes of trailing data after the last tensor (the tensors cover {expected} of {dataLength} data bytes).");
        }
    }

    private static TensorData ReadData(Stream stream, Entry entry)
    {
        int count = (int)((entry.End - entry.Begin) / TensorData.SizeOf(entry.DType));
        if (entry.DType == SafeTensorDType.F32)
        {
            float[] values = new float[count];
            stream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
            if (!BitConverter.IsLittleEndian)
            {
                Span<int> bits = MemoryMarshal.Cast<float, int>(values.AsSpan());
                BinaryPrimitives.ReverseEndianness(bits, bits);
            }

            return TensorData.Float(entry.Shape, values);
        }

        long[] longs = new long[count];
        stream.ReadExactly(MemoryMarshal.AsBytes(longs.AsSpan()));
        if (!BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.ReverseEndianness(longs, longs);
        }

        return TensorData.Int64(entry.Shape, longs);
    }
}
