using System;
using System.Runtime.CompilerServices;
using DslResNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>Max, average or global-average pooling.</summary>
public sealed class PoolOp : IDisposable
{
    private readonly PoolShape _shape;
    private readonly MapBinding _tensors;
    private readonly IPooling _kernel;

    /// <summary>Binds the pooling.</summary>
    /// <param name="device">The device.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="dx">Gradient of the input.</param>
    public PoolOp(Device device, PoolShape shape, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy = default, ArrayView<float> dx = default)
    {
        IBackend backend = OpChecks.Backend(device);
        shape.Validate();
        OpChecks.Need("Pool", nameof(x), x, shape.InputElements);
        OpChecks.Need("Pool", nameof(y), y, shape.OutputElements);
        _shape = shape;
        _tensors = new MapBinding(x, y, dy, dx);
        _kernel = backend.CreatePooling(shape, _tensors);
    }

    /// <summary>The backend's pooling.</summary>
    internal IPooling Kernel => _kernel;

    /// <summary>Forward for the first <paramref name="images"/> images (ILGPU kernels run the whole batch).</summary>
    /// <param name="images">Images.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(int images) => _kernel.Forward(images);

    /// <summary>Forward.</summary>
    public void Forward() => _kernel.Forward(_shape.N);

    /// <summary>The shape.</summary>
    internal PoolShape Shape => _shape;

    /// <summary>The tensors.</summary>
    internal MapBinding Tensors => _tensors;

    /// <summary>Whether the backend's pooling runs on tensors at other addresses too (see <see cref="IRelocatable"/>).</summary>
    internal bool Relocatable => _kernel is IRelocatable;

    /// <summary>The forward of <paramref name="images"/> images with its input and output at the given addresses.</summary>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="images">Images.</param>
    internal void ForwardAt(IntPtr x, IntPtr y, int images) => ((IRelocatable)_kernel).ForwardAt(x, y, IntPtr.Zero, images, false);

    /// <summary>Backward (accumulates into the input's gradient).</summary>
    public void Backward() => _kernel.Backward();

    /// <summary>Frees the backend's memory of this operation, if any; idempotent.</summary>
    public void Dispose() => _kernel.Dispose();
}
