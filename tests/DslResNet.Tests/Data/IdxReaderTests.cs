using System;
using System.IO;
using System.IO.Compression;
using DslResNet.Data;
using Xunit;

namespace DslResNet.Tests.Data;

public sealed class IdxReaderTests
{
    private static byte[] Header(byte type, params int[] dims)
    {
        var bytes = new byte[4 + 4 * dims.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++)
        {
            bytes[4 + 4 * i] = (byte)(dims[i] >> 24);
            bytes[5 + 4 * i] = (byte)(dims[i] >> 16);
            bytes[6 + 4 * i] = (byte)(dims[i] >> 8);
            bytes[7 + 4 * i] = (byte)dims[i];
        }
        return bytes;
    }

    private static byte[] Concat(byte[] a, byte[] b)
    {
        var r = new byte[a.Length + b.Length];
        a.CopyTo(r, 0);
        b.CopyTo(r, a.Length);
        return r;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var zip = new GZipStream(output, CompressionLevel.Optimal))
        {
            zip.Write(bytes);
        }
        return output.ToArray();
    }

    private static byte[] Sequence(int n)
    {
        var data = new byte[n];
        for (int i = 0; i < n; i++)
        {
            data[i] = (byte)(i * 7 + 3);
        }
        return data;
    }

    [Theory]
    [InlineData(false, "images")]
    [InlineData(true, "images")]
    [InlineData(true, "images.idx")] // gzip detected by content, not the name
    [InlineData(false, "images.gz")]  // a raw file with a .gz name is still raw
    public void Round_trip_raw_and_gzip(bool gzip, string name)
    {
        using var dir = new TempDir();
        byte[] data = Sequence(3 * 4 * 5);
        string path = dir.File(name);
        IdxReader.Write(path, [3, 4, 5], data, gzip);
        Assert.Equal(gzip, IdxReader.IsGzip(File.ReadAllBytes(path)));

        IdxFile file = IdxReader.Read(path);
        Assert.Equal(new[] { 3, 4, 5 }, file.Dimensions);
        Assert.Equal(data, file.Data);
    }

    [Fact]
    public void Hand_written_bytes_are_big_endian()
    {
        using var dir = new TempDir();
        string path = dir.File("labels");
        File.WriteAllBytes(path, [0, 0, 8, 1, 0, 0, 1, 2, .. Sequence(258)]);
        IdxFile file = IdxReader.Read(path);
        Assert.Equal(new[] { 258 }, file.Dimensions);
        Assert.Equal(Sequence(258), file.Data);
    }

    private static DatasetException Fails(byte[] bytes, bool gzip = false)
    {
        using var dir = new TempDir();
        string path = dir.File("bad-idx");
        File.WriteAllBytes(path, gzip ? Gzip(bytes) : bytes);
        var e = Assert.Throws<DatasetException>(() => IdxReader.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.FilePath);
        return e;
    }

    [Fact]
    public void Wrong_magic_is_rejected()
    {
        byte[] bytes = Concat(Header(8, 2), [1, 2]);
        bytes[1] = 0x01;
        Assert.Contains("magic", Fails(bytes).Message);
    }

    [Theory]
    [InlineData(0x0D, "float")]
    [InlineData(0x09, "signed byte")]
    [InlineData(0x42, "0x42")]
    public void Unsupported_type_is_rejected(byte type, string named)
    {
        var e = Fails(Concat(Header(type, 2), [1, 2]));
        Assert.Contains(named, e.Message);
        Assert.Contains("only 0x08 (unsigned byte)", e.Message);
    }

    [Fact]
    public void Truncated_data_names_expected_and_actual_counts()
    {
        var e = Fails(Concat(Header(8, 2, 3), Sequence(5)));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("6 data bytes", e.Message);
        Assert.Contains("has 5", e.Message);
    }

    [Fact]
    public void Truncated_gzip_data_is_rejected()
    {
        var e = Fails(Concat(Header(8, 10), Sequence(9)), gzip: true);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("10 data bytes", e.Message);
        Assert.Contains("has 9", e.Message);
    }

    [Fact]
    public void Truncated_header_is_rejected()
    {
        Assert.Contains("truncated", Fails([0, 0, 8, 3, 0, 0, 0, 1]).Message);
        Assert.Contains("too short", Fails([0, 0]).Message);
    }

    [Fact]
    public void Trailing_bytes_are_rejected()
    {
        var e = Fails(Concat(Header(8, 2, 3), Sequence(8)));
        Assert.Contains("trailing", e.Message);
        Assert.Contains("6 data bytes", e.Message);
        Assert.Contains("has more", e.Message);
    }

    [Fact]
    public void Zero_dimension_is_rejected()
    {
        var e = Fails(Header(8, 3, 0, 2));
        Assert.Contains("dimension 1 equal to 0", e.Message);
    }

    [Fact]
    public void Zero_dimension_count_is_rejected()
    {
        Assert.Contains("0 dimensions", Fails([0, 0, 8, 0]).Message);
    }

    [Fact]
    public void Corrupt_gzip_is_rejected()
    {
        byte[] gz = Gzip(Concat(Header(8, 100), Sequence(100)));
        var e = Fails(gz[..12]);
        Assert.Contains("gzip", e.Message);
    }

    [Fact]
    public void Missing_file_is_a_dataset_exception()
    {
        using var dir = new TempDir();
        string path = dir.File("nope");
        var e = Assert.Throws<DatasetException>(() => IdxReader.Read(path));
        Assert.Contains(path, e.Message);
    }
}
