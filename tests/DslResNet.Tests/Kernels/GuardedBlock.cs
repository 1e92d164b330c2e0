using System;
using System.Runtime.InteropServices;
using DslResNet.Runtime;
using ILGPU;

namespace DslResNet.Tests.Kernels;

/// <summary>
/// Floats that end exactly where a page the process may not touch begins (Linux: an anonymous mapping whose last page is
/// PROT_NONE), so that a kernel reading or writing even one float past the end of its tensor stops the test process with a
/// segmentation fault instead of reading a neighbour's memory unnoticed.
/// </summary>
internal sealed unsafe partial class GuardedBlock : IDisposable
{
    private const int ProtNone = 0, ProtReadWrite = 3, MapPrivateAnonymous = 0x22;
    private byte* _mapping;
    private readonly nuint _length;
    private HostBuffer? _view;

    /// <summary>Maps the block and copies <paramref name="values"/> into it.</summary>
    /// <param name="values">The contents (their start is aligned only as their length makes it: the SIMD kernels load and
    /// store unaligned).</param>
    public GuardedBlock(ReadOnlySpan<float> values)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("GuardedBlock maps pages with mmap and mprotect (Linux).");
        }

        long bytes = (long)values.Length * sizeof(float);
        long page = Environment.SystemPageSize;
        long data = (bytes + page - 1) / page * page;
        _length = (nuint)(data + page);
        _mapping = (byte*)Mmap(null, _length, ProtReadWrite, MapPrivateAnonymous, -1, 0);
        if (_mapping == (byte*)-1)
        {
            throw new InvalidOperationException($"mmap of {_length} bytes failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        if (Mprotect(_mapping + data, (nuint)page, ProtNone) != 0)
        {
            _ = Munmap(_mapping, _length);
            throw new InvalidOperationException($"mprotect failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        Pointer = (float*)(_mapping + data - bytes);
        Length = values.Length;
        values.CopyTo(new Span<float>(Pointer, Length));
    }

    /// <summary>The first float.</summary>
    public float* Pointer { get; }

    /// <summary>The address of the first float.</summary>
    public IntPtr Address => (IntPtr)Pointer;

    /// <summary>Floats.</summary>
    public int Length { get; }

    /// <summary>The floats, in place.</summary>
    public Span<float> Span => new(Pointer, Length);

    /// <summary>A copy of the contents.</summary>
    /// <returns>The floats.</returns>
    public float[] Read() => new ReadOnlySpan<float>(Pointer, Length).ToArray();

    /// <summary>The block as a SIMD device's view (host memory the view borrows), for the kernels that take
    /// <see cref="ArrayView{T}"/> bindings.</summary>
    /// <returns>The view of the <see cref="Length"/> floats.</returns>
    public ArrayView<float> View() => new((_view ??= new HostBuffer(Pointer, Length, sizeof(float))), 0, Length);

    /// <summary>The block's 32-bit values as integers (labels), in a SIMD device's view.</summary>
    /// <returns>The view of <see cref="Length"/> integers.</returns>
    public ArrayView<int> IntView() => new((_view ??= new HostBuffer(Pointer, Length, sizeof(float))), 0, Length);

    /// <summary>Unmaps the block.</summary>
    public void Dispose()
    {
        _view?.Dispose();
        _view = null;
        if (_mapping is not null)
        {
            _ = Munmap(_mapping, _length);
            _mapping = null;
        }
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(void* address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* address, nuint length);
}
