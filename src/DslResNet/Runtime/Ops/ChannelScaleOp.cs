using System;
using System.Runtime.CompilerServices;
using DslResNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>
/// The channel-wise scale of squeeze-and-excitation: <c>y = x * s</c>, where s holds one value per image and channel and is
/// broadcast over the pixels. Its backward adds into both inputs' gradients: <c>dx += dy * s</c> and
/// <c>ds += sum over pixels of dy * x</c>.
/// </summary>
public sealed class ChannelScaleOp : IDisposable
{
    private readonly ChannelScaleShape _shape;
    private readonly IChannelScale _kernel;
    private readonly ArrayView<float> _x;
    private readonly ArrayView<float> _s;
    private readonly ArrayView<float> _y;

    /// <summary>Binds the scale.</summary>
    /// <param name="device">The device.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">The map, N x C x H x W.</param>
    /// <param name="s">The scale, N x C.</param>
    /// <param name="y">Output, shaped as <paramref name="x"/>.</param>
    /// <param name="dy">Gradient of the output (empty for inference).</param>
    /// <param name="dx">Gradient of the map (needed with <paramref name="dy"/>).</param>
    /// <param name="ds">Gradient of the scale (needed with <paramref name="dy"/>).</param>
    /// <exception cref="ArgumentException">A tensor is shorter than the shape needs, or a gradient is missing.</exception>
    public ChannelScaleOp(
        Device device, ChannelScaleShape shape, ArrayView<float> x, ArrayView<float> s, ArrayView<float> y,
        ArrayView<float> dy = default, ArrayView<float> dx = default, ArrayView<float> ds = default)
    {
        IBackend backend = OpChecks.Backend(device);
        shape.Validate();
        OpChecks.Need("ChannelScale", nameof(x), x, shape.Elements);
        OpChecks.Need("ChannelScale", nameof(s), s, shape.ScaleElements);
        OpChecks.Need("ChannelScale", nameof(y), y, shape.Elements);
        if (HostView.Bound(dy))
        {
            OpChecks.Need("ChannelScale", nameof(dy), dy, shape.Elements);
            OpChecks.Need("ChannelScale", nameof(dx), dx, shape.Elements);
            OpChecks.Need("ChannelScale", nameof(ds), ds, shape.ScaleElements);
        }

        _shape = shape;
        _kernel = backend.CreateChannelScale(shape, new ChannelScaleBinding(x, s, y, dy, dx, ds));
        (_x, _s, _y) = (x, s, y);
    }

    /// <summary>The backend's scale.</summary>
    internal IChannelScale Kernel => _kernel;

    /// <summary>The map and the scale it reads.</summary>
    internal ArrayView<float>[] Inputs => [_x, _s];

    /// <summary>The output.</summary>
    internal ArrayView<float> Output => _y;

    /// <summary>Forward for the first <paramref name="images"/> images (ILGPU kernels run the whole batch).</summary>
    /// <param name="images">Images.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(int images) => _kernel.Forward(images);

    /// <summary>Forward.</summary>
    public void Forward() => _kernel.Forward(_shape.N);

    /// <summary>Backward (accumulates into both inputs' gradients).</summary>
    public void Backward() => _kernel.Backward();

    /// <summary>Frees the backend's memory of this operation, if any; idempotent.</summary>
    public void Dispose() => _kernel.Dispose();
}
