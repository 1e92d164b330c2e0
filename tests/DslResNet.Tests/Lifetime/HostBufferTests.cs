using System;
using System.IO;
using System.Runtime.InteropServices;
using DslResNet.Runtime;
using DslResNet.Tests.Networks;
using Xunit;

namespace DslResNet.Tests.Lifetime;

/// <summary>
/// The SIMD device's host buffers: small ones from the C allocator, large ones (Linux) their own anonymous mappings with
/// huge-page advice. Both are zeroed, 64-byte aligned (mappings 2 MiB aligned), writable end to end, and unmapped or
/// freed by Dispose. Alone in the allocation collection, so that no other test's memory is counted.
/// </summary>
[Collection(AllocationCollection.Name)]
public sealed unsafe class HostBufferTests
{
    [Theory]
    [InlineData(1000)] // the C allocator
    [InlineData(HostBuffer.MappedBytes / 4 + 3)] // a mapping (Linux), not a whole number of pages
    public void BuffersAreZeroedAlignedAndWritableToTheEnd(long floats)
    {
        using HostBuffer buffer = new(floats, sizeof(float));
        nint address = buffer.NativePtr;
        Assert.Equal(0, address % 64);
        if (OperatingSystem.IsLinux() && floats * sizeof(float) >= HostBuffer.MappedBytes)
        {
            Assert.Equal(0, address % (2 << 20));
        }

        Span<float> all = new((void*)address, checked((int)floats));
        Assert.True(all.IndexOfAnyExcept(0f) < 0, "a new buffer must read as zeros");
        all.Fill(1.5f);
        Assert.Equal(1.5f, all[^1]);
        Assert.Equal(1.5f, all[0]);
    }

    [Fact]
    public void DisposeReturnsLargeBuffersToTheSystem()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // 100 buffers of 64 MiB, each written end to end: 6.4 GB if a mapping outlived its Dispose.
        long before = ResidentBytes();
        for (int i = 0; i < 100; i++)
        {
            using HostBuffer buffer = new(16L << 20, sizeof(float));
            new Span<float>((void*)buffer.NativePtr, 16 << 20).Fill(i);
        }

        long grown = ResidentBytes() - before;
        Assert.True(grown < 64L << 20, $"100 disposed 64 MiB buffers grew the resident set by {grown >> 20} MiB");
    }

    [Fact]
    public void TouchedPagesAloneAreResident()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // A 256 MiB arena of which one float is written: creating it must not write (and so commit) the whole of it.
        long before = ResidentBytes();
        using HostBuffer buffer = new(64L << 20, sizeof(float));
        ((float*)buffer.NativePtr)[12345] = 1f;
        long grown = ResidentBytes() - before;
        Assert.True(grown < 32L << 20, $"a new 256 MiB buffer with one value written made {grown >> 20} MiB resident");
    }

    private static long ResidentBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("/proc/self/status has no VmRSS line.");
    }
}
