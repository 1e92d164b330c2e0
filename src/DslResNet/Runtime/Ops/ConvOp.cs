using System;
using System.Runtime.CompilerServices;
using DslResNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>A convolution (or a dense layer as a 1x1 convolution on a 1x1 map).</summary>
public sealed class ConvOp : IDisposable
{
    private readonly IBackend _backend;
    private readonly ConvShape _shape;
    private readonly ConvBinding _tensors;
    private readonly IConvolution _kernel;
    private readonly bool _training;
    private long _packed = -1;
    private ParameterVersion? _version;

    /// <summary>Binds the convolution on any device: a backend that compiles per geometry (the SIMD backend) runs code
    /// compiled for <typeparamref name="TGeometry"/>.</summary>
    /// <typeparam name="TGeometry">The geometry as constants (emitted by the generator); must agree with <paramref name="shape"/>.</typeparam>
    /// <param name="device">The device.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="w">Weights.</param>
    /// <param name="b">Bias (empty without one).</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Gradient of the output (empty for inference).</param>
    /// <param name="dx">Gradient of the input (empty when it is not needed).</param>
    /// <param name="dw">Gradient of the weights (empty for inference).</param>
    /// <param name="db">Gradient of the bias.</param>
    /// <returns>The convolution.</returns>
    public static ConvOp Create<TGeometry>(
        Device device, ConvShape shape, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> y,
        ArrayView<float> dy = default, ArrayView<float> dx = default, ArrayView<float> dw = default, ArrayView<float> db = default)
        where TGeometry : struct, IConvGeometry
    {
        IBackend backend = OpChecks.Backend(device);
        if (TGeometry.InChannels != shape.InChannels || TGeometry.Height != shape.Height || TGeometry.Width != shape.Width
            || TGeometry.OutChannels != shape.OutChannels || TGeometry.Kernel != shape.Kernel || TGeometry.Stride != shape.Stride
            || TGeometry.Padding != shape.Padding || TGeometry.Groups != shape.Groups)
        {
            throw new ArgumentException($"Conv: the geometry {typeof(TGeometry).Name} does not match the shape {shape}.", nameof(shape));
        }

        ConvBinding tensors = Bind(shape, x, w, b, y, dy, dx, dw, db);
        return new ConvOp(backend, shape, tensors, backend.CreateConvolution<TGeometry>(shape, tensors))
        {
            _create = t => backend.CreateConvolution<TGeometry>(shape, t),
        };
    }

    /// <summary>Binds the convolution on a backend that needs no compile-time geometry (the ILGPU kernels).</summary>
    /// <param name="device">The device.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="w">Weights.</param>
    /// <param name="b">Bias (empty without one).</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Gradient of the output (empty for inference).</param>
    /// <param name="dx">Gradient of the input (empty when it is not needed).</param>
    /// <param name="dw">Gradient of the weights (empty for inference).</param>
    /// <param name="db">Gradient of the bias.</param>
    /// <exception cref="ArgumentException">The device's backend compiles per geometry (use <see cref="Create{TGeometry}"/>),
    /// or a tensor is too small.</exception>
    public ConvOp(
        Device device, ConvShape shape, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> y,
        ArrayView<float> dy = default, ArrayView<float> dx = default, ArrayView<float> dw = default, ArrayView<float> db = default)
        : this(OpChecks.Backend(device), shape, Bind(shape, x, w, b, y, dy, dx, dw, db), null)
    {
    }

    private ConvOp(IBackend backend, ConvShape shape, ConvBinding tensors, IConvolution? kernel)
    {
        _backend = backend;
        _shape = shape;
        _tensors = tensors;
        _training = tensors.Training;
        _kernel = kernel ?? backend.CreateConvolution(shape, tensors);
        _create = t => backend.CreateConvolution(shape, t);
    }

    // Makes the backend's convolution for other tensors (the geometry's compiled code where Create bound one).
    private Func<ConvBinding, IConvolution> _create;

    /// <summary>The same convolution writing <paramref name="y"/> instead (a new operation; this one is left as it is).</summary>
    /// <param name="y">The output.</param>
    /// <returns>The convolution.</returns>
    internal ConvOp WithOutput(ArrayView<float> y)
    {
        OpChecks.Need("Conv", nameof(y), y, _shape.OutputElements);
        ConvBinding tensors = _tensors with { Y = y };
        return new ConvOp(_backend, _shape, tensors, _create(tensors)) { _create = _create };
    }

    /// <summary>The output.</summary>
    internal ArrayView<float> Output => _tensors.Y;

    // Validates the shape and the tensors' sizes.
    private static ConvBinding Bind(
        ConvShape shape, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> y,
        ArrayView<float> dy, ArrayView<float> dx, ArrayView<float> dw, ArrayView<float> db)
    {
        shape.Validate();
        OpChecks.Need("Conv", nameof(x), x, shape.InputElements);
        OpChecks.Need("Conv", nameof(w), w, shape.WeightElements);
        OpChecks.Need("Conv", nameof(b), b, shape.Bias ? shape.OutChannels : 0);
        OpChecks.Need("Conv", nameof(y), y, shape.OutputElements);
        return new ConvBinding(x, w, b, y, dy, dx, dw, db);
    }

    /// <summary>The shape.</summary>
    public ConvShape Shape => _shape;

    /// <summary>The backend's convolution.</summary>
    internal IConvolution Kernel => _kernel;

    /// <summary>Lets the forward pass add up batch statistics for <paramref name="epilogue"/>'s batch norm, where the backend can.</summary>
    /// <param name="epilogue">The fused pass that follows.</param>
    public void FuseStatistics(EpilogueOp epilogue)
    {
        ArgumentNullException.ThrowIfNull(epilogue);
        _backend.FuseStatistics(_kernel, epilogue.Kernel);
    }

    /// <summary>
    /// Makes this (inference) convolution apply <paramref name="epilogue"/> as it stores its output, and
    /// <paramref name="epilogue"/>'s own pass a no-op, where the backend can (the SIMD backend: a pass of ReLUs and a residual
    /// add in place on this output).
    /// </summary>
    /// <param name="epilogue">The inference pass that follows.</param>
    public void FuseEpilogue(EpilogueOp epilogue)
    {
        ArgumentNullException.ThrowIfNull(epilogue);
        if (_backend.FuseEpilogue(_kernel, _tensors, epilogue.Kernel, epilogue.Shape, epilogue.Tensors))
        {
            epilogue.FusedIntoConvolution = true;
        }
    }

    /// <summary>
    /// Ties an inference convolution to its network's parameter version, so that it repacks its weights only after they
    /// changed. An unbound convolution repacks on every call.
    /// </summary>
    /// <param name="version">The network's version.</param>
    internal void Bind(ParameterVersion version) => _version = version;

    /// <summary><c>y = conv(x, w) + b</c> for the first <paramref name="images"/> images (ILGPU kernels run the whole batch).</summary>
    /// <param name="images">Images.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(int images)
    {
        // Inference repacks its (folded) weights only after its network's parameters changed; unbound, every time.
        long version = _version?.Current ?? -1;
        _kernel.Forward(images, _training || version < 0 || version != _packed);
        _packed = version;
    }

    /// <summary><c>y = conv(x, w) + b</c>.</summary>
    public void Forward() => Forward(_shape.N);

    /// <summary>Makes the backward overwrite the input gradient instead of adding into it, where <paramref name="view"/> is
    /// that gradient and the backend's pass writes every element of it (see <see cref="IGradientOverwriter"/>).</summary>
    /// <param name="view">The gradient buffer the network would zero before this backward.</param>
    /// <returns>Whether it overwrites it from now on.</returns>
    internal bool OverwriteGradient(ArrayView<float> view) =>
        _kernel is IGradientOverwriter kernel && OpChecks.Same(view, _tensors.Dx) && kernel.OverwriteGradient(GradientTarget.Input);

    /// <summary>The input gradient (empty for inference).</summary>
    internal ArrayView<float> InputGradient => _tensors.Dx;

    /// <summary>Whether the backend's convolution runs on tensors at other addresses too (see <see cref="IRelocatable"/>).</summary>
    internal bool Relocatable => _kernel is IRelocatable;

    /// <summary>The tensors.</summary>
    internal ConvBinding Tensors => _tensors;

    /// <summary>The inference forward of <paramref name="images"/> images with its input, output and fused residual at the
    /// given addresses (see <see cref="IRelocatable"/>); the weights repacked as <see cref="Forward(int)"/> does.</summary>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="residual">The fused residual, or zero.</param>
    /// <param name="images">Images.</param>
    internal void ForwardAt(IntPtr x, IntPtr y, IntPtr residual, int images)
    {
        long version = _version?.Current ?? -1;
        ((IRelocatable)_kernel).ForwardAt(x, y, residual, images, _training || version < 0 || version != _packed);
        _packed = version;
    }

    /// <summary>Gradients of the weights and bias (overwritten) and, when <paramref name="data"/> and bound, of the input (accumulated).</summary>
    /// <param name="data">Whether to compute the input's gradient.</param>
    /// <param name="weights">Whether to compute the weights' and bias's gradients (false for a frozen layer).</param>
    public void Backward(bool data = true, bool weights = true) => _kernel.Backward(data, weights);

    /// <summary>Frees the backend's memory of this operation (packed weights, partial sums); idempotent.</summary>
    public void Dispose() => _kernel.Dispose();
}
