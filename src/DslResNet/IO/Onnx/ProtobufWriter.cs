using System;
using System.Buffers.Binary;
using System.IO;
using System.Text;

namespace DslResNet.IO;

/// <summary>
/// The few protocol-buffer encodings an ONNX file needs (https://protobuf.dev/programming-guides/encoding/): varints
/// (wire type 0), fixed 32-bit values (wire type 5) and length-delimited bytes, strings and nested messages (wire type 2).
/// A nested message is written into a writer of its own and then copied in behind its length. Repeated scalars are
/// written unpacked, one tag per element, as onnx.proto (proto2) declares them; parsers accept either form.
/// </summary>
internal sealed class ProtobufWriter
{
    private const int WireVarint = 0;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;

    private readonly MemoryStream _buffer = new();

    /// <summary>A varint field (int32, int64, enum, bool). Negative values take ten bytes, as protobuf encodes them.</summary>
    public void Int64(int field, long value)
    {
        Tag(field, WireVarint);
        Varint(unchecked((ulong)value));
    }

    /// <summary>A 32-bit float field, little-endian.</summary>
    public void Float(int field, float value)
    {
        Tag(field, WireFixed32);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        _buffer.Write(bytes);
    }

    /// <summary>A UTF-8 string field.</summary>
    public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A bytes field.</summary>
    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, WireLengthDelimited);
        Varint((ulong)value.Length);
        _buffer.Write(value);
    }

    /// <summary>A nested message field: <paramref name="body"/> writes the message's own fields.</summary>
    public void Message(int field, Action<ProtobufWriter> body)
    {
        ProtobufWriter inner = new();
        body(inner);
        Tag(field, WireLengthDelimited);
        Varint((ulong)inner._buffer.Length);
        inner._buffer.Position = 0;
        inner._buffer.CopyTo(_buffer);
    }

    /// <summary>Copies everything written to <paramref name="stream"/>.</summary>
    public void CopyTo(Stream stream)
    {
        _buffer.Position = 0;
        _buffer.CopyTo(stream);
        _buffer.Position = _buffer.Length;
    }

    private void Tag(int field, int wireType)
    {
        if (field < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(field), field, "Protobuf field numbers start at 1.");
        }

        Varint(((ulong)field << 3) | (uint)wireType);
    }

    private void Varint(ulong value)
    {
        Span<byte> bytes = stackalloc byte[10];
        int n = 0;
        while (value >= 0x80)
        {
            bytes[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        bytes[n++] = (byte)value;
        _buffer.Write(bytes[..n]);
    }
}
