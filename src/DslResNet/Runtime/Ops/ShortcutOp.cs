using System;
using System.Runtime.CompilerServices;
using DslResNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>The option-A (zero-padding) shortcut.</summary>
public sealed class ShortcutOp : IDisposable
{
    private readonly ShortcutShape _shape;
    private readonly IShortcut _kernel;
    private readonly ArrayView<float> _x, _y;

    /// <summary>Binds the shortcut.</summary>
    /// <param name="device">The device.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="dx">Gradient of the input.</param>
    public ShortcutOp(Device device, ShortcutShape shape, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy = default, ArrayView<float> dx = default)
    {
        IBackend backend = OpChecks.Backend(device);
        shape.Validate();
        OpChecks.Need("Shortcut", nameof(x), x, shape.InputElements);
        OpChecks.Need("Shortcut", nameof(y), y, shape.OutputElements);
        _shape = shape;
        _kernel = backend.CreateShortcut(shape, new MapBinding(x, y, dy, dx));
        (_x, _y) = (x, y);
    }

    /// <summary>The backend's shortcut.</summary>
    internal IShortcut Kernel => _kernel;

    /// <summary>The input.</summary>
    internal ArrayView<float> Input => _x;

    /// <summary>The output.</summary>
    internal ArrayView<float> Output => _y;

    /// <summary>Forward for the first <paramref name="images"/> images (ILGPU kernels run the whole batch).</summary>
    /// <param name="images">Images.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(int images) => _kernel.Forward(images);

    /// <summary>Forward.</summary>
    public void Forward() => _kernel.Forward(_shape.N);

    /// <summary>Backward (accumulates into the input's gradient).</summary>
    public void Backward() => _kernel.Backward();

    /// <summary>Frees the backend's memory of this operation, if any; idempotent.</summary>
    public void Dispose() => _kernel.Dispose();
}
