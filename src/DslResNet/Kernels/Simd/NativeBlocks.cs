using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace DslResNet.Kernels.Simd;

/// <summary>
/// The SIMD backend's native memory: 64-byte aligned, zeroed blocks, each freed exactly once by the object that allocated
/// it (its <c>Dispose</c>). Live bytes and blocks are counted, process-wide, so that tests can prove that creating and
/// disposing networks and devices returns every byte.
/// </summary>
internal static unsafe partial class NativeBlocks
{
    // From this size a block is aligned to, and advised as, transparent huge pages (Linux; the kernel here has them in
    // "madvise" mode): the weight-gradient partial sums and the packed weights of a large layer are read at strides of
    // kilobytes to megabytes, and on small pages every read was a TLB miss.
    private const long HugeBytes = 4L << 20;
    private const nuint HugePage = 2 << 20;
    private const int MadviseHugePage = 14;

    // Each block starts with a 64-byte header holding its size, so that the pointer handed out stays 64-byte aligned and
    // Free knows how much to uncount.
    private const int Header = 64;
    private static long _liveBytes;
    private static long _liveBlocks;

    /// <summary>Bytes allocated and not yet freed (headers excluded).</summary>
    public static long LiveBytes => Volatile.Read(ref _liveBytes);

    /// <summary>Blocks allocated and not yet freed.</summary>
    public static long LiveBlocks => Volatile.Read(ref _liveBlocks);

    /// <summary>Allocates <paramref name="count"/> zeroed values of <typeparamref name="T"/>, 64-byte aligned.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="count">Elements; at least one is allocated.</param>
    /// <returns>The block; free it with <see cref="Free"/>.</returns>
    /// <exception cref="OutOfMemoryException">The memory is not available.</exception>
    public static T* Allocate<T>(long count)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        long bytes = checked(Math.Max(1, count) * sizeof(T));
        bool huge = bytes >= HugeBytes && OperatingSystem.IsLinux();
        byte* block = (byte*)NativeMemory.AlignedAlloc(checked((nuint)(bytes + Header)), huge ? HugePage : Header);
        if (huge)
        {
            // Advice only, before the clear below first touches the pages; without huge pages the block works as it is.
            _ = Madvise(block, (nuint)(bytes + Header), MadviseHugePage);
        }

        *(long*)block = bytes;
        NativeMemory.Clear(block + Header, (nuint)bytes);
        Interlocked.Add(ref _liveBytes, bytes);
        Interlocked.Increment(ref _liveBlocks);
        return (T*)(block + Header);
    }

    /// <summary>Frees a block from <see cref="Allocate{T}"/>; null is ignored.</summary>
    /// <param name="pointer">The block.</param>
    public static void Free(void* pointer)
    {
        if (pointer is null)
        {
            return;
        }

        byte* block = (byte*)pointer - Header;
        Interlocked.Add(ref _liveBytes, -*(long*)block);
        Interlocked.Decrement(ref _liveBlocks);
        NativeMemory.AlignedFree(block);
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
