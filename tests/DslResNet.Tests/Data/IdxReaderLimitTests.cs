using System;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using DslResNet.Data;
using Xunit;

namespace DslResNet.Tests.Data;

/// <summary>Hostile IDX files: gzip bombs, lying headers, dimensions past int.</summary>
public sealed class IdxReaderLimitTests
{
    /// <summary>A read-only stream that counts the bytes pulled from it.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            BytesRead += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static byte[] Header(params uint[] dims)
    {
        var bytes = new byte[4 + 4 * dims.Length];
        bytes[2] = IdxReader.UnsignedByteType;
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

    /// <summary>A gzip stream of the header followed by <paramref name="zeros"/> zero bytes, streamed through GZipStream.</summary>
    private static byte[] GzipWithZeros(byte[] header, long zeros)
    {
        using var output = new MemoryStream();
        using (var zip = new GZipStream(output, CompressionLevel.Fastest))
        {
            zip.Write(header);
            var block = new byte[1 << 20];
            for (long left = zeros; left > 0; left -= block.Length)
            {
                zip.Write(block, 0, (int)Math.Min(block.Length, left));
            }
        }
        return output.ToArray();
    }

    [Fact]
    public void Gzip_bomb_is_refused_after_reading_little_more_than_the_header_implies()
    {
        // Header: 10 images of 28x28 (7,840 bytes); then 256 MiB of zeros.
        byte[] bomb = GzipWithZeros(Header(10, 28, 28), 256L << 20);
        var counting = new CountingStream(new MemoryStream(bomb, writable: false));
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<DatasetException>(() => IdxReader.Read(counting, "bomb.gz"));
        clock.Stop();
        Assert.Contains("trailing", e.Message);
        Assert.Contains("bomb.gz", e.Message);
        // The whole bomb is hundreds of kilobytes compressed; the reader stops after a few buffers of it.
        Assert.True(counting.BytesRead < bomb.Length / 4,
            $"read {counting.BytesRead} of {bomb.Length} compressed bytes; it should stop after header + data + 1 decompressed bytes");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Lying_header_over_the_limit_is_refused_before_reading_data()
    {
        // 2,400,000 images of 28x28 (1.88 GB) claimed; 8 MiB of data present.
        byte[] liar = GzipWithZeros(Header(2_400_000, 28, 28), 8L << 20);
        var counting = new CountingStream(new MemoryStream(liar, writable: false));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DatasetException>(() => IdxReader.Read(counting, "liar.gz"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("limit", e.Message);
        Assert.Contains("2400000, 28, 28", e.Message);
        Assert.Contains("MaxDataBytes", e.Message);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");
        Assert.True(counting.BytesRead < 64 << 10, $"read {counting.BytesRead} compressed bytes");
    }

    [Fact]
    public void Lying_header_within_a_raised_limit_is_truncated_without_allocating_the_claim()
    {
        byte[] liar = GzipWithZeros(Header(2_400_000, 28, 28), 8L << 20);
        var options = new IdxReadOptions { MaxDataBytes = Array.MaxLength };
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DatasetException>(() => IdxReader.Parse(liar, "liar.gz", options));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("truncated", e.Message);
        Assert.True(allocated < 100L << 20, $"allocated {allocated} bytes for 8 MiB of data");
    }

    [Fact]
    public void Gzip_trailer_agreeing_with_a_lying_header_is_not_believed_past_deflates_ratio()
    {
        // The claim (1.88 GB) and the trailer's ISIZE agree, but 8 MiB of zeros compress to a few kilobytes, which
        // deflate cannot expand to 1.88 GB: the reader must not allocate the claim.
        byte[] liar = GzipWithZeros(Header(2_400_000, 28, 28), 8L << 20);
        uint claimed = (uint)((16L + (2_400_000L * 28 * 28)) & 0xFFFFFFFF);
        BitConverter.TryWriteBytes(liar.AsSpan(liar.Length - 4), claimed);
        var options = new IdxReadOptions { MaxDataBytes = Array.MaxLength };
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DatasetException>(() => IdxReader.Parse(liar, "liar.gz", options));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("liar.gz", e.Message);
        Assert.True(allocated < 100L << 20, $"allocated {allocated} bytes for 8 MiB of data");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_size_the_file_confirms_is_read_into_one_allocation(bool gzip)
    {
        // 3 MiB of data: growing by doubling from 1 MiB allocates 1 + 2 + 3 MiB; a size confirmed by the file's length
        // (plain) or its gzip trailer allocates the 3 MiB once.
        byte[] data = new byte[3 << 20];
        new Random(4).NextBytes(data);
        byte[] file = [.. Header(3, 1024, 1024), .. data];
        if (gzip)
        {
            using var output = new MemoryStream();
            using (var zip = new GZipStream(output, CompressionLevel.Fastest))
            {
                zip.Write(file);
            }

            file = output.ToArray();
        }

        string path = Path.Combine(Path.GetTempPath(), $"dslresnet-idx-{Environment.ProcessId}-{gzip}");
        File.WriteAllBytes(path, file);
        try
        {
            IdxReader.Read(path); // warm-up: first-call allocations of the streams are not the reader's
            long before = GC.GetAllocatedBytesForCurrentThread();
            IdxFile read = IdxReader.Read(path);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(data, read.Data);
            Assert.True(allocated < (3L << 20) + (512 << 10), $"allocated {allocated} bytes to read {data.Length}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Limit_is_the_callers_to_raise()
    {
        byte[] file = [.. Header(4, 4), .. new byte[16]];
        var e = Assert.Throws<DatasetException>(() => IdxReader.Parse(file, "small", new IdxReadOptions { MaxDataBytes = 15 }));
        Assert.Contains("limit of 15", e.Message);
        IdxFile ok = IdxReader.Parse(file, "small", new IdxReadOptions { MaxDataBytes = 16 });
        Assert.Equal(16, ok.Data.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => new IdxReadOptions { MaxDataBytes = 0 });
    }

    [Theory]
    [InlineData(0x80000000u, "2147483648")]
    [InlineData(0xFFFFFFFFu, "4294967295")]
    public void Dimension_past_int_is_printed_unsigned(uint dimension, string printed)
    {
        var e = Assert.Throws<DatasetException>(() => IdxReader.Parse(Header(2, dimension), "big"));
        Assert.Contains($"dimension 1 equal to {printed}", e.Message);
        Assert.DoesNotContain("-", e.Message.Replace("IDX", "", StringComparison.Ordinal).Split("equal to")[1]);
    }

    [Fact]
    public void Real_gzip_file_still_reads()
    {
        using var dir = new TempDir();
        string path = dir.File("ok.gz");
        var data = new byte[3 * 5 * 7];
        new Random(7).NextBytes(data);
        IdxReader.Write(path, [3, 5, 7], data, gzip: true);
        IdxFile read = IdxReader.Read(path);
        Assert.Equal([3, 5, 7], read.Dimensions);
        Assert.Equal(data, read.Data);
    }
}
