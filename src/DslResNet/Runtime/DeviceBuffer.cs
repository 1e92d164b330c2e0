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

    /// <summary>The whole buffer.</summary>
    public ArrayView<T> View { get; }

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
internal sealed unsafe class HostBuffer : MemoryBuffer
{
    /// <summary>Allocates and zeroes <paramref name="length"/> elements of <paramref name="elementSize"/> bytes.</summary>
    /// <param name="length">Elements.</param>
    /// <param name="elementSize">Bytes per element.</param>
    public HostBuffer(long length, int elementSize)
        : base(null!, length, elementSize)
    {
        nuint bytes = checked((nuint)(length * elementSize));
        void* memory = NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(memory, bytes);
        NativePtr = (IntPtr)memory;
    }

    /// <inheritdoc />
    protected override void MemSet(AcceleratorStream stream, byte value, in ArrayView<byte> targetView) => throw NoStream();

    /// <inheritdoc />
    protected override void CopyTo(AcceleratorStream stream, in ArrayView<byte> sourceView, in ArrayView<byte> targetView) => throw NoStream();

    /// <inheritdoc />
    protected override void CopyFrom(AcceleratorStream stream, in ArrayView<byte> sourceView, in ArrayView<byte> targetView) => throw NoStream();

    /// <inheritdoc />
    protected override void DisposeAcceleratorObject(bool disposing)
    {
        if (NativePtr != IntPtr.Zero)
        {
            NativeMemory.AlignedFree((void*)NativePtr);
            NativePtr = IntPtr.Zero;
        }
    }

    private static NotSupportedException NoStream() =>
        new("A SIMD device's buffer is host memory with no ILGPU accelerator; read and write it through the device's backend.");
}
