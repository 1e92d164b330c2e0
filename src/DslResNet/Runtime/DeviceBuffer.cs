using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>
/// One zeroed device allocation and its <see cref="ArrayView{T}"/>: an ILGPU accelerator buffer on ILGPU devices, plain
/// aligned host memory (<see cref="HostBuffer"/>) on the SIMD CPU device, which has no ILGPU context at all (so CPU inference
/// runs where ILGPU cannot start, e.g. in a NativeAOT executable: ILGPU's <c>Context</c> uses Reflection.Emit).
/// Read and write it through the device's backend (<c>Device.Backend.Read/Write</c>), never ILGPU's <c>CopyToCPU</c>, which
/// needs an accelerator stream.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
internal sealed class DeviceBuffer<T> : IDisposable
    where T : unmanaged
{
    private readonly Device _device;
    private readonly MemoryBuffer _buffer;

    /// <summary>Allocates <paramref name="length"/> zeroed elements on <paramref name="device"/>.</summary>
    /// <param name="device">The device.</param>
    /// <param name="length">Elements, at least 1.</param>
    public DeviceBuffer(Device device, long length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        _device = device;
        if (device.IsSimd)
        {
            var host = new HostBuffer(length, Unsafe.SizeOf<T>());
            _buffer = host;
            View = new ArrayView<T>(host, 0, length);
        }
        else
        {
            MemoryBuffer1D<T, Stride1D.Dense> buffer = device.Accelerator.Allocate1D<T>(length);
            buffer.MemSetToZero();
            _buffer = buffer;
            View = buffer.View;
        }
    }

    // A SIMD device's view of a pinned array (see Over).
    private DeviceBuffer(Device device, HostBuffer borrowed, long length)
    {
        _device = device;
        _buffer = borrowed;
        View = new ArrayView<T>(borrowed, 0, length);
    }

    /// <summary>The whole buffer.</summary>
    public ArrayView<T> View { get; }

    /// <summary>A SIMD device's buffer over <paramref name="pinned"/>'s elements, which it does not own: on that device
    /// "device" memory is host memory, so a host array and the device's view of it can be one (the parameter store's host
    /// copy and its device values, without a copy either way).</summary>
    /// <param name="device">A SIMD device.</param>
    /// <param name="pinned">An array on the pinned object heap (<see cref="GC.AllocateArray{T}(int, bool)"/> with pinned), at
    /// least one element; it must outlive the buffer.</param>
    /// <returns>The buffer; its <see cref="Dispose"/> leaves the array alone.</returns>
    public static unsafe DeviceBuffer<T> Over(Device device, T[] pinned)
    {
        ArgumentNullException.ThrowIfNull(pinned);
        ArgumentOutOfRangeException.ThrowIfLessThan(pinned.Length, 1);
        if (!device.IsSimd)
        {
            throw new ArgumentException("Only a SIMD device's buffers are host memory.", nameof(device));
        }

        var host = new HostBuffer(Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned)), pinned.Length, Unsafe.SizeOf<T>());
        return new DeviceBuffer<T>(device, host, pinned.Length);
    }

    /// <summary>Elements held.</summary>
    public long Length => View.Length;

    /// <summary>Frees the memory (an ILGPU buffer only while its accelerator lives: ILGPU frees an accelerator's buffers with it).</summary>
    public void Dispose()
    {
        if (_buffer is HostBuffer || !_device.IsDisposed)
        {
            _buffer.Dispose();
        }
    }
}

/// <summary>
/// Zeroed, 64-byte aligned native memory presented as an ILGPU <see cref="MemoryBuffer"/> with no accelerator, so the
/// SIMD backend's <see cref="ArrayView{T}"/> bindings work without an ILGPU context. Only its address is used: ILGPU's
/// stream copies and fills are refused.
/// </summary>
/// <remarks>
/// On Linux, a buffer of <see cref="MappedBytes"/> or more (the arenas, the parameter store of a large network) is an
/// anonymous mapping, 2 MiB aligned and marked for transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c>): the kernel
/// hands out zeroed pages as they are first touched, so creating a network does not write its whole arena once to
/// zero it (that pass took most of a ResNet-20 network's construction time), pages never touched cost nothing, and
/// huge pages cut the TLB misses of the convolutions' strided reads. Smaller buffers, and other systems, use the C
/// allocator's zeroed memory (calloc, which also skips the clearing for memory fresh from the system).
/// </remarks>
internal sealed unsafe partial class HostBuffer : MemoryBuffer
{
    /// <summary>The size from which a buffer is its own mapping (Linux).</summary>
    internal const long MappedBytes = 4L << 20;

    private const nuint HugePage = 2 << 20;
    private const int Alignment = 64;

    // The allocation as made: the mapping (its start and length) or the C allocator's block.
    private void* _block;
    private nuint _mappedLength;

    /// <summary>Allocates <paramref name="length"/> zeroed elements of <paramref name="elementSize"/> bytes.</summary>
    /// <param name="length">Elements.</param>
    /// <param name="elementSize">Bytes per element.</param>
    /// <exception cref="OutOfMemoryException">The system refused the memory.</exception>
    public HostBuffer(long length, int elementSize)
        : base(null!, length, elementSize)
    {
        nuint bytes = checked((nuint)(length * elementSize));
        if (OperatingSystem.IsLinux() && bytes >= MappedBytes)
        {
            // Rounded up to whole huge pages, plus one for the alignment; the unused ends stay untouched (no memory).
            nuint mapped = checked(((bytes + HugePage - 1) & ~(HugePage - 1)) + HugePage);
            void* region = Mmap(null, mapped, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
            if (region == MapFailed)
            {
                throw new OutOfMemoryException($"The system refused a mapping of {mapped} bytes for a {bytes}-byte buffer (errno {Marshal.GetLastPInvokeError()}).");
            }

            _block = region;
            _mappedLength = mapped;
            nuint aligned = ((nuint)region + HugePage - 1) & ~(HugePage - 1);
            // Advice only: without transparent huge pages (or with them off) the mapping works with small pages.
            _ = Madvise((void*)aligned, mapped - (aligned - (nuint)region), MadviseHugePage);
            NativePtr = (IntPtr)aligned;
        }
        else
        {
            void* block = NativeMemory.AllocZeroed(bytes + Alignment);
            _block = block;
            NativePtr = (IntPtr)(((nuint)block + Alignment - 1) & ~(nuint)(Alignment - 1));
        }
    }

    /// <summary>Presents <paramref name="length"/> elements at <paramref name="borrowed"/>, memory it does not own (pinned,
    /// and kept alive by its owner longer than this buffer): disposing it frees nothing.</summary>
    /// <param name="borrowed">The memory.</param>
    /// <param name="length">Elements.</param>
    /// <param name="elementSize">Bytes per element.</param>
    public HostBuffer(void* borrowed, long length, int elementSize)
        : base(null!, length, elementSize)
    {
        NativePtr = (IntPtr)borrowed;
    }

    /// <inheritdoc/>
    protected override void MemSet(AcceleratorStream stream, byte value, in ArrayView<byte> targetView) => throw NoStream();

    /// <inheritdoc/>
    protected override void CopyTo(AcceleratorStream stream, in ArrayView<byte> sourceView, in ArrayView<byte> targetView) => throw NoStream();

    /// <inheritdoc/>
    protected override void CopyFrom(AcceleratorStream stream, in ArrayView<byte> sourceView, in ArrayView<byte> targetView) => throw NoStream();

    /// <inheritdoc/>
    protected override void DisposeAcceleratorObject(bool disposing)
    {
        if (_block != null)
        {
            if (_mappedLength != 0)
            {
                _ = Munmap(_block, _mappedLength);
            }
            else
            {
                NativeMemory.Free(_block);
            }

            _block = null;
            _mappedLength = 0;
            NativePtr = IntPtr.Zero;
        }
    }

    private static NotSupportedException NoStream() =>
        new("A SIMD device's buffer is host memory with no ILGPU accelerator; read and write it through the device's backend.");

    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;
    private const int MadviseHugePage = 14;
    private static readonly void* MapFailed = (void*)-1;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
