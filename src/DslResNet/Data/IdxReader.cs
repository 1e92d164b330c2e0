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
    /// <returns>The dimensions and the data.</returns>
    /// <exception cref="DatasetException">The file is missing or is not a valid unsigned-byte IDX file.</exception>
    public static IdxFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DatasetException(path, $"IDX file '{path}' does not exist.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException(path, $"IDX file '{path}' could not be read: {e.Message}", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses the bytes of an IDX file (raw or gzip).</summary>
    /// <param name="bytes">The file's bytes.</param>
    /// <param name="path">The file's name, for error messages.</param>
    /// <returns>The dimensions and the data.</returns>
    /// <exception cref="DatasetException">The bytes are not a valid unsigned-byte IDX file.</exception>
    public static IdxFile Parse(byte[] bytes, string path)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(path);
        string name;
        if (IsGzip(bytes))
        {
            bytes = Decompress(bytes, path);
            name = path + "' (gzip-compressed, " + bytes.Length.ToString(CultureInfo.InvariantCulture) + " bytes decompressed)";
        }
        else
        {
            name = path + "'";
        }

        if (bytes.Length < 4)
        {
            throw Error(path, name, $"is too short for an IDX header ({bytes.Length} bytes; the magic number alone takes 4)");
        }
        if (bytes[0] != 0 || bytes[1] != 0)
        {
            throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                $"has a wrong magic number: it starts with 0x{bytes[0]:X2} 0x{bytes[1]:X2}, an IDX file starts with 0x00 0x00"));
        }
        if (bytes[2] != UnsignedByteType)
        {
            throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                $"has data type code 0x{bytes[2]:X2} ({TypeName(bytes[2])}); only 0x08 (unsigned byte) is supported"));
        }
        int ndims = bytes[3];
        if (ndims < 1 || ndims > MaxDimensions)
        {
            throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                $"declares {ndims} dimensions; between 1 and {MaxDimensions} are supported"));
        }
        int headerLength = 4 + 4 * ndims;
        if (bytes.Length < headerLength)
        {
            throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                $"is truncated in its header: {ndims} dimensions need {headerLength} header bytes, the file has {bytes.Length}"));
        }

        var dims = new int[ndims];
        long expected = 1;
        for (int i = 0; i < ndims; i++)
        {
            int o = 4 + 4 * i;
            uint d = ((uint)bytes[o] << 24) | ((uint)bytes[o + 1] << 16) | ((uint)bytes[o + 2] << 8) | bytes[o + 3];
            if (d == 0 || d > int.MaxValue)
            {
                throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                    $"has dimension {i} equal to {(d > int.MaxValue ? ((int)d).ToString(CultureInfo.InvariantCulture) : d.ToString(CultureInfo.InvariantCulture))}; every dimension must be positive"));
            }
            dims[i] = (int)d;
            expected *= d;
            if (expected > Array.MaxLength)
            {
                throw Error(path, name, "declares more data than an array can hold");
            }
        }

        long actual = bytes.Length - headerLength;
        if (actual < expected)
        {
            throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                $"is truncated: dimensions [{string.Join(", ", dims)}] need {expected} data bytes, the file has {actual}"));
        }
        if (actual > expected)
        {
            throw Error(path, name, string.Create(CultureInfo.InvariantCulture,
                $"has trailing bytes: dimensions [{string.Join(", ", dims)}] need {expected} data bytes, the file has {actual} ({actual - expected} extra)"));
        }

        var data = new byte[expected];
        Buffer.BlockCopy(bytes, headerLength, data, 0, (int)expected);
        return new IdxFile(dims, data);
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

    private static byte[] Decompress(byte[] bytes, string path)
    {
        try
        {
            using var input = new MemoryStream(bytes, writable: false);
            using var zip = new GZipStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream();
            zip.CopyTo(output);
            return output.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new DatasetException(path, $"IDX file '{path}' starts with the gzip magic number but could not be decompressed: {e.Message}", e);
        }
    }

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
