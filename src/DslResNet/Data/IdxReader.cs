using System;
using System.Globalization;
using System.IO;
using System.IO.Compression;

namespace DslResNet.Data;

/// <summary>The contents of an IDX file: its dimensions and its unsigned-byte data, in row-major order.</summary>
/// <param name="Dimensions">The dimensions, outermost first (for MNIST images: count, rows, columns).</param>
/// <param name="Data">The data, whose length is the product of <paramref name="Dimensions"/>.</param>
public sealed record IdxFile(int[] Dimensions, byte[] Data);

/// <summary>
/// Reads IDX files, the format of MNIST and Fashion-MNIST: two zero bytes, a type code, the number of dimensions,
/// the dimensions as big-endian 32-bit integers, then the data. Raw and gzip-compressed files are both read; gzip is
/// detected by its magic bytes (1F 8B), not by the file name.
/// </summary>
public static class IdxReader
{
    /// <summary>The IDX type code of unsigned bytes, the only type supported.</summary>
    public const byte UnsignedByteType = 0x08;

    /// <summary>The largest number of dimensions accepted.</summary>
    public const int MaxDimensions = 8;

    /// <summary>Reads an IDX file (raw or gzip).</summary>
    /// <param name="path">The file to read.</param>
    /// <param name="options">Limits on what the file may declare; null for <see cref="IdxReadOptions.Default"/>.</param>
    /// <returns>The dimensions and the data.</returns>
    /// <exception cref="DatasetException">The file is missing, is not a valid unsigned-byte IDX file, or declares more
    /// data than <see cref="IdxReadOptions.MaxDataBytes"/>.</exception>
    public static IdxFile Read(string path, IdxReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DatasetException(path, $"IDX file '{path}' does not exist.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException(path, $"IDX file '{path}' could not be read: {e.Message}", e);
        }
        using (file)
        {
            return Read(file, path, options);
        }
    }

    /// <summary>Parses the bytes of an IDX file (raw or gzip).</summary>
    /// <param name="bytes">The file's bytes.</param>
    /// <param name="path">The file's name, for error messages.</param>
    /// <param name="options">Limits on what the file may declare; null for <see cref="IdxReadOptions.Default"/>.</param>
    /// <returns>The dimensions and the data.</returns>
    /// <exception cref="DatasetException">The bytes are not a valid unsigned-byte IDX file, or declare more data than
    /// <see cref="IdxReadOptions.MaxDataBytes"/>.</exception>
    public static IdxFile Parse(byte[] bytes, string path, IdxReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new MemoryStream(bytes, writable: false);
        return Read(stream, path, options);
    }

    /// <summary>
    /// Reads an IDX file (raw or gzip) from a stream. The header is read first and its claim bounded by
    /// <see cref="IdxReadOptions.MaxDataBytes"/> before any data is read; decompression stops at the size the header
    /// implies plus one byte, so a file with more data than its header says (a gzip bomb) is refused after reading at
    /// most that much.
    /// </summary>
    /// <param name="stream">The file's bytes, from the start; read forwards only, left open.</param>
    /// <param name="path">The file's name, for error messages.</param>
    /// <param name="options">Limits on what the file may declare; null for <see cref="IdxReadOptions.Default"/>.</param>
    /// <returns>The dimensions and the data.</returns>
    /// <exception cref="DatasetException">The bytes are not a valid unsigned-byte IDX file, declare more data than
    /// <see cref="IdxReadOptions.MaxDataBytes"/>, or cannot be read or decompressed.</exception>
    public static IdxFile Read(Stream stream, string path, IdxReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(path);
        options ??= IdxReadOptions.Default;
        try
        {
            var magic = new byte[2];
            int got = ReadFully(stream, magic, 0, 2);
            if (got == 2 && IsGzip(magic))
            {
                long? size = GzipSize(stream);
                using var zip = new GZipStream(new PrefixedStream(magic, stream), CompressionMode.Decompress, leaveOpen: true);
                return ReadContent(zip, path, path + "' (gzip-compressed)", options, size, modulo: true);
            }
            long? plain = stream.CanSeek ? got + (stream.Length - stream.Position) : null;
            return ReadContent(new PrefixedStream(magic.AsSpan(0, got).ToArray(), stream), path, path + "'", options, plain, modulo: false);
        }
        catch (Exception e) when (e is InvalidDataException)
        {
            throw new DatasetException(path, $"IDX file '{path}' starts with the gzip magic number but could not be decompressed: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException(path, $"IDX file '{path}' could not be read: {e.Message}", e);
        }
    }

    // A seekable gzip file's uncompressed size modulo 2^32, from its trailer (ISIZE, the last four bytes, little-endian);
    // the stream is left where it was. Null when the stream cannot seek, is too short, or claims an impossible ratio.
    private static long? GzipSize(Stream stream)
    {
        if (!stream.CanSeek || stream.Length - stream.Position < 18)
        {
            return null;
        }

        long position = stream.Position;
        try
        {
            stream.Seek(-4, SeekOrigin.End);
            Span<byte> trailer = stackalloc byte[4];
            if (stream.ReadAtLeast(trailer, 4, throwOnEndOfStream: false) != 4)
            {
                return null;
            }

            // Deflate expands at most 1032-fold: a trailer claiming more is not believed (nor is it needed to read).
            long size = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer);
            return size <= 1032L * (stream.Length - position) ? size : null;
        }
        finally
        {
            stream.Position = position;
        }
    }

    private static IdxFile ReadContent(Stream input, string path, string name, IdxReadOptions options, long? contentSize, bool modulo)
    {
        var head = new byte[4 + 4 * MaxDimensions];
        int length = ReadFully(input, head, 0, 4);
        if (length < 4)
        {
            throw Error(path, name, $"is too short for an IDX header ({length} bytes; the magic number alone takes 4)");
        }
        if (head[0] != 0 || head[1] != 0)
        {
            throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                $"has a wrong magic number: it starts with 0x{head[0]:X2} 0x{head[1]:X2}, an IDX file starts with 0x00 0x00"));
        }
        if (head[2] != UnsignedByteType)
        {
            throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                $"has data type code 0x{head[2]:X2} ({TypeName(head[2])}); only 0x08 (unsigned byte) is supported"));
        }
        int ndims = head[3];
        if (ndims < 1 || ndims > MaxDimensions)
        {
            throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                $"declares {ndims} dimensions; between 1 and {MaxDimensions} are supported"));
        }
        int headerLength = 4 + 4 * ndims;
        length += ReadFully(input, head, 4, headerLength - 4);
        if (length < headerLength)
        {
            throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                $"is truncated in its header: {ndims} dimensions need {headerLength} header bytes, the file has {length}"));
        }

        var dims = new int[ndims];
        var shown = new uint[ndims];
        long expected = 1;
        for (int i = 0; i < ndims; i++)
        {
            int o = 4 + 4 * i;
            uint d = ((uint)head[o] << 24) | ((uint)head[o + 1] << 16) | ((uint)head[o + 2] << 8) | head[o + 3];
            shown[i] = d;
            if (d == 0 || d > int.MaxValue)
            {
                throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                    $"has dimension {i} equal to {d}; every dimension must be between 1 and {int.MaxValue}"));
            }
            dims[i] = (int)d;
        }
        for (int i = 0; i < ndims; i++)
        {
            // expected stays at most MaxDataBytes (under 2^31) before each product with a value under 2^31: no overflow.
            expected *= shown[i];
            if (expected > options.MaxDataBytes)
            {
                throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                    $"declares dimensions [{string.Join(", ", shown)}], more than the limit of {options.MaxDataBytes} data bytes (IdxReadOptions.MaxDataBytes; raise it to read larger files)"));
            }
        }

        // Read at most expected + 1 bytes: one more than the header implies proves trailing data without
        // decompressing the rest. The buffer grows with the data actually present, so a lying header costs nothing;
        // where the file itself states the same size (a plain file's length, a gzip trailer's ISIZE), the whole
        // buffer is allocated at once, which spares the doubling's copies (a third of Fashion-MNIST's load time).
        long total = headerLength + expected;
        bool confirmed = contentSize is { } size && (modulo ? (total & 0xFFFFFFFFL) == size : total == size);
        var data = new byte[confirmed ? expected : Math.Min(expected, 1 << 20)];
        long actual = 0;
        while (true)
        {
            if (actual == data.Length && actual < expected)
            {
                Array.Resize(ref data, (int)Math.Min(expected, 2L * data.Length));
            }
            if (actual == expected)
            {
                var probe = new byte[1];
                if (ReadFully(input, probe, 0, 1) == 1)
                {
                    throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                        $"has trailing bytes: dimensions [{string.Join(", ", dims)}] need {expected} data bytes, the file has more"));
                }
                break;
            }
            int n = input.Read(data, (int)actual, (int)Math.Min(data.Length - actual, 1 << 20));
            if (n == 0)
            {
                throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                    $"is truncated: dimensions [{string.Join(", ", dims)}] need {expected} data bytes, the file has {actual}"));
            }
            actual += n;
        }
        return new IdxFile(dims, data);
    }

    private static int ReadFully(Stream input, byte[] buffer, int offset, int count)
    {
        int total = 0;
        while (total < count)
        {
            int n = input.Read(buffer, offset + total, count - total);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    /// <summary>Writes an unsigned-byte IDX file (raw, or gzip-compressed when <paramref name="gzip"/> is set).</summary>
    /// <param name="path">The file to write.</param>
    /// <param name="dimensions">The dimensions; each positive, their product equal to the data's length.</param>
    /// <param name="data">The data.</param>
    /// <param name="gzip">Whether to compress the file with gzip.</param>
    public static void Write(string path, int[] dimensions, byte[] data, bool gzip = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(dimensions);
        ArgumentNullException.ThrowIfNull(data);
        if (dimensions.Length < 1 || dimensions.Length > MaxDimensions)
        {
            throw new ArgumentException($"An IDX file has between 1 and {MaxDimensions} dimensions.", nameof(dimensions));
        }
        long product = 1;
        foreach (int d in dimensions)
        {
            if (d <= 0)
            {
                throw new ArgumentException("Every dimension must be positive.", nameof(dimensions));
            }
            product *= d;
        }
        if (product != data.Length)
        {
            throw new ArgumentException("The data's length must equal the product of the dimensions.", nameof(data));
        }

        var bytes = new byte[4 + 4 * dimensions.Length + data.Length];
        bytes[2] = UnsignedByteType;
        bytes[3] = (byte)dimensions.Length;
        for (int i = 0; i < dimensions.Length; i++)
        {
            int o = 4 + 4 * i;
            uint d = (uint)dimensions[i];
            bytes[o] = (byte)(d >> 24);
            bytes[o + 1] = (byte)(d >> 16);
            bytes[o + 2] = (byte)(d >> 8);
            bytes[o + 3] = (byte)d;
        }
        Buffer.BlockCopy(data, 0, bytes, 4 + 4 * dimensions.Length, data.Length);

        if (!gzip)
        {
            File.WriteAllBytes(path, bytes);
            return;
        }
        using var file = File.Create(path);
        using var zip = new GZipStream(file, CompressionLevel.Fastest);
        zip.Write(bytes, 0, bytes.Length);
    }

    /// <summary>Whether the bytes start with the gzip magic number 1F 8B.</summary>
    /// <param name="bytes">A file's bytes.</param>
    /// <returns>True for gzip data.</returns>
    public static bool IsGzip(ReadOnlySpan<byte> bytes) => bytes.Length >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B;

    private static string TypeName(byte code) => code switch
    {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "short",
        0x0C => "int",
        0x0D => "float",
        0x0E => "double",
        _ => "not an IDX type",
    };

    private static DatasetException Error(string path, string name, string problem) => new(path, $"IDX file '{name} {problem}.");
}
