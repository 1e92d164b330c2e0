using System;
using System.Runtime.CompilerServices;
using DslResNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>A copy: flatten (a reshape; on the SIMD backend it also reorders a map's NHWC values channel-major) and dropout in evaluation mode.</summary>
public sealed class CopyOp : IDisposable
{
    private readonly ICopy _kernel;
    private readonly ArrayView<float> _x, _y;

    /// <summary>Binds the copy.</summary>
    /// <param name="device">The device.</param>
    /// <param name="count">Elements.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="dx">Gradient of the input.</param>
    /// <param name="channels">Channels of the input map per image (0: treat the tensor as one flat image).</param>
    /// <param name="spatial">Pixels of the input map.</param>
    /// <param name="flatten">Whether the output is flat, in PyTorch's channel-major order.</param>
    public CopyOp(
        Device device, long count, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy = default, ArrayView<float> dx = default,
        int channels = 0, int spatial = 1, bool flatten = false)
    {
        IBackend backend = OpChecks.Backend(device);
        Limits.Check(count);
        OpChecks.Need("Copy", nameof(x), x, count);
        OpChecks.Need("Copy", nameof(y), y, count);
        _kernel = backend.CreateCopy(new CopyShape(count, channels, spatial, flatten), new MapBinding(x, y, dy, dx));
        (_x, _y) = (x, y);
    }

    /// <summary>The backend's copy.</summary>
    internal ICopy Kernel => _kernel;

    /// <summary>The input.</summary>
    internal ArrayView<float> Input => _x;

    /// <summary>The output.</summary>
    internal ArrayView<float> Output => _y;

    /// <summary><c>y = x</c> for the first <paramref name="images"/> images (ILGPU kernels copy everything).</summary>
    /// <param name="images">Images.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(int images) => _kernel.Forward(images);

    /// <summary><c>y = x</c>.</summary>
    public void Forward() => _kernel.Forward(int.MaxValue);

    /// <summary><c>dx += dy</c>.</summary>
    public void Backward() => _kernel.Backward();

    /// <summary>Frees the backend's memory of this operation, if any; idempotent.</summary>
    public void Dispose() => _kernel.Dispose();
}
