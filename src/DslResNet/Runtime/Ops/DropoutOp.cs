using System;
using DslResNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>Dropout in training mode, with masks drawn from (seed, step, element) and recomputed by the backward.</summary>
public sealed class DropoutOp : IDisposable
{
    private readonly IDropout _kernel;

    /// <summary>Binds the dropout.</summary>
    /// <param name="device">The device.</param>
    /// <param name="count">Elements.</param>
    /// <param name="rate">Drop probability, 0 to below 1.</param>
    /// <param name="seed">The network's seed mixed with the layer's index.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="dx">Gradient of the input.</param>
    /// <param name="channels">Channels per image (0: one flat image); masks follow the channel-major element index.</param>
    /// <param name="spatial">Pixels per channel.</param>
    public DropoutOp(
        Device device, long count, float rate, int seed, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy = default, ArrayView<float> dx = default,
        int channels = 0, int spatial = 1)
    {
        IBackend backend = OpChecks.Backend(device);
        Limits.Check(count);
        if (!(rate >= 0f && rate < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "The dropout rate must be at least 0 and below 1.");
        }

        OpChecks.Need("Dropout", nameof(x), x, count);
        OpChecks.Need("Dropout", nameof(y), y, count);
        _kernel = backend.CreateDropout(new DropoutShape(count, rate, seed, channels, spatial), new MapBinding(x, y, dy, dx));
    }

    /// <summary>The backend's dropout.</summary>
    internal IDropout Kernel => _kernel;

    /// <summary>Forward for a training step.</summary>
    /// <param name="step">The step: the mask's counter.</param>
    public void Forward(long step) => _kernel.Forward(step);

    /// <summary>Backward for the same step.</summary>
    /// <param name="step">The step given to <see cref="Forward"/>.</param>
    public void Backward(long step) => _kernel.Backward(step);

    /// <summary>Frees the backend's memory of this operation, if any; idempotent.</summary>
    public void Dispose() => _kernel.Dispose();
}
