using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace DslResNet.IO.Pth;

/// <summary>
/// Writes a zip archive of uncompressed ("stored") entries, each entry's data aligned to
/// <see cref="PthWriter.Alignment"/> bytes by padding in its local header's extra field (id <c>FB</c>, as PyTorch's
/// writer); timestamps are zero so the output is deterministic. No zip64: offsets and sizes stay under 4 GiB.
/// </summary>
internal sealed class ZipStoreWriter(Stream output)
{
    private readonly List<(byte[] Name, uint Crc, uint Size, uint Offset)> entries = [];
    private long position;

    public void Add(string name, ReadOnlySpan<byte> data)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        long headerEnd = position + 30 + nameBytes.Length + 4;
        int padding = (int)((PthWriter.Alignment - (headerEnd % PthWriter.Alignment)) % PthWriter.Alignment);
        long dataEnd = headerEnd + padding + data.Length;
        if (dataEnd >= uint.MaxValue || entries.Count >= ushort.MaxValue)
        {
            throw new InvalidOperationException("The .pth archive would reach 4 GiB or 65535 records; the writer does not write zip64.");
        }

        uint crc = Crc32.Compute(data);
        Span<byte> h = stackalloc byte[30];
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0x04034b50);   // local file header
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 20);      // version needed: 2.0
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 0);       // flags
        BinaryPrimitives.WriteUInt16LittleEndian(h[8..], 0);       // method: stored
        BinaryPrimitives.WriteUInt32LittleEndian(h[10..], 0);      // time, date
        BinaryPrimitives.WriteUInt32LittleEndian(h[14..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(h[18..], (uint)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(h[22..], (uint)data.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(h[26..], (ushort)nameBytes.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)(4 + padding));
        output.Write(h);
        output.Write(nameBytes);
        Span<byte> extra = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(extra, 0x4246);     // 'FB': padding
        BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], (ushort)padding);
        output.Write(extra);
        output.Write(new byte[padding]);
        output.Write(data);
        entries.Add((nameBytes, crc, (uint)data.Length, (uint)position));
        position = dataEnd;
    }

    public void Finish()
    {
        long start = position;
        Span<byte> c = stackalloc byte[46];
        foreach ((byte[] name, uint crc, uint size, uint offset) in entries)
        {
            c.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(c, 0x02014b50);   // central directory header
            BinaryPrimitives.WriteUInt16LittleEndian(c[4..], 20);      // version made by
            BinaryPrimitives.WriteUInt16LittleEndian(c[6..], 20);      // version needed
            BinaryPrimitives.WriteUInt32LittleEndian(c[16..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(c[20..], size);
            BinaryPrimitives.WriteUInt32LittleEndian(c[24..], size);
            BinaryPrimitives.WriteUInt16LittleEndian(c[28..], (ushort)name.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(c[42..], offset);
            output.Write(c);
            output.Write(name);
            position += 46 + name.Length;
        }

        if (position >= uint.MaxValue)
        {
            throw new InvalidOperationException("The .pth archive would reach 4 GiB; the writer does not write zip64.");
        }

        Span<byte> e = stackalloc byte[22];
        e.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(e, 0x06054b50);       // end of central directory
        BinaryPrimitives.WriteUInt16LittleEndian(e[8..], (ushort)entries.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(e[10..], (ushort)entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(e[12..], (uint)(position - start));
        BinaryPrimitives.WriteUInt32LittleEndian(e[16..], (uint)start);
        output.Write(e);
        output.Flush();
    }
}
