using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace DslResNet.Kernels.Simd;

/// <summary>
/// The SIMD backend's native memory: 64-byte aligned, zeroed blocks, each freed exactly once by the object that allocated
/// it (its <c>Dispose</c>). Live bytes and blocks are counted, process-wide, so that tests can prove that creating and
/// disposing networks and devices returns every byte.
/// </summary>
internal static unsafe class NativeBlocks
{
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
        byte* block = (byte*)NativeMemory.AlignedAlloc(checked((nuint)(bytes + Header)), Header);
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
}
