using System;
using System.Threading;
using DslResNet.Kernels.Ilgpu;
using DslResNet.Kernels.Simd;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>
/// The run-time steps the generated code strings together. Each is built once, for one layer, with its shape (a kernel
/// specialisation) and its tensors (views into the network's arenas and parameter buffers) bound, so a forward or backward
/// pass is a fixed sequence of calls with nothing looked up. Gradients of activations are always accumulated (the network
/// clears them before a backward pass); gradients of parameters are overwritten.
/// </summary>
internal static class OpChecks
{
    // Raw address of a host-memory view (the SIMD backend); zero for an empty view.
    public static IntPtr Ptr(ArrayView<float> view) => view.IsValid && view.Length > 0 ? view.LoadEffectiveAddressAsPtr() : IntPtr.Zero;

    public static void Need(string op, string tensor, ArrayView<float> view, long elements)
    {
        if (view.Length < elements)
        {
            throw new ArgumentException($"{op}: tensor '{tensor}' has {view.Length} elements; {elements} are needed.", tensor);
        }
    }
}

/// <summary>A convolution (or a dense layer as a 1x1 convolution on a 1x1 map).</summary>
public sealed class ConvOp : IDisposable
{
    private readonly Device _device;
    private readonly ConvShape _shape;
    private readonly ArrayView<float> _x, _w, _b, _y, _dy, _dx, _dw, _db;
    private readonly SimdConvolution? _simd;
    private readonly bool _training;
    private long _packed = -1;
    private ParameterVersion? _version;

    /// <summary>Binds the convolution on any device: on the SIMD backend it runs code compiled for <typeparamref name="TGeometry"/>.</summary>
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
        ArgumentNullException.ThrowIfNull(device);
        if (TGeometry.InChannels != shape.InChannels || TGeometry.Height != shape.Height || TGeometry.Width != shape.Width
            || TGeometry.OutChannels != shape.OutChannels || TGeometry.Kernel != shape.Kernel || TGeometry.Stride != shape.Stride
            || TGeometry.Padding != shape.Padding)
        {
            throw new ArgumentException($"Conv: the geometry {typeof(TGeometry).Name} does not match the shape {shape}.", nameof(shape));
        }

        SimdConvolution? simd = null;
        if (device.IsSimd)
        {
            shape.Validate();
            var tensors = new ConvTensors(OpChecks.Ptr(x), OpChecks.Ptr(w), OpChecks.Ptr(b), OpChecks.Ptr(y), OpChecks.Ptr(dy), OpChecks.Ptr(dx), OpChecks.Ptr(dw), OpChecks.Ptr(db));
            simd = SimdConvolution.Create<TGeometry>(device.Pool!, device.Width, shape.N, shape.Bias, tensors, device.Winograd);
        }

        return new ConvOp(device, shape, x, w, b, y, dy, dx, dw, db, simd);
    }

    /// <summary>Binds the convolution.</summary>
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
    public ConvOp(
        Device device, ConvShape shape, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> y,
        ArrayView<float> dy = default, ArrayView<float> dx = default, ArrayView<float> dw = default, ArrayView<float> db = default)
        : this(device, shape, x, w, b, y, dy, dx, dw, db, null)
    {
        if (device.IsSimd)
        {
            throw new ArgumentException("Conv: the SIMD backend compiles each convolution for its geometry; build it with ConvOp.Create<TGeometry>.", nameof(device));
        }
    }

    /// <summary>The SIMD backend's convolution (null on ILGPU devices).</summary>
    public SimdConvolution? Simd => _simd;

    private ConvOp(
        Device device, ConvShape shape, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> y,
        ArrayView<float> dy, ArrayView<float> dx, ArrayView<float> dw, ArrayView<float> db, SimdConvolution? simd)
    {
        ArgumentNullException.ThrowIfNull(device);
        _simd = simd;
        _training = dy.IsValid && dy.Length > 0;
        shape.Validate();
        OpChecks.Need("Conv", nameof(x), x, shape.InputElements);
        OpChecks.Need("Conv", nameof(w), w, shape.WeightElements);
        OpChecks.Need("Conv", nameof(b), b, shape.Bias ? shape.OutChannels : 0);
        OpChecks.Need("Conv", nameof(y), y, shape.OutputElements);
        _device = device;
        _shape = shape;
        (_x, _w, _b, _y, _dy, _dx, _dw, _db) = (x, w, b, y, dy, dx, dw, db);
    }

    /// <summary>The shape.</summary>
    public ConvShape Shape => _shape;

    /// <summary>On the SIMD backend, makes the forward pass add up batch statistics for <paramref name="epilogue"/>'s batch norm.</summary>
    /// <param name="epilogue">The fused pass that follows.</param>
    public void FuseStatistics(EpilogueOp epilogue)
    {
        ArgumentNullException.ThrowIfNull(epilogue);
        if (_simd is not null && epilogue.Simd?.Sink is { } sink)
        {
            _simd.Statistics = sink;
        }
    }

    /// <summary>
    /// On the SIMD backend, makes this (inference) convolution apply <paramref name="epilogue"/> as it stores its output, and
    /// <paramref name="epilogue"/>'s own pass a no-op, when the pass is ReLUs and a residual add in place on this output.
    /// </summary>
    /// <param name="epilogue">The inference pass that follows.</param>
    public void FuseEpilogue(EpilogueOp epilogue)
    {
        ArgumentNullException.ThrowIfNull(epilogue);
        EpilogueShape e = epilogue.Shape;
        bool simple = !e.Norm && e.Act1 is Activation.None or Activation.ReLU && e.Act2 is Activation.None or Activation.ReLU;
        if (_simd is null || _training || !simple || OpChecks.Ptr(epilogue.Input) != OpChecks.Ptr(_y) || OpChecks.Ptr(epilogue.Output) != OpChecks.Ptr(_y))
        {
            return;
        }

        _simd.FuseEpilogue(e.Act1 == Activation.ReLU, e.Add ? OpChecks.Ptr(epilogue.Residual) : IntPtr.Zero, e.Act2 == Activation.ReLU);
        epilogue.FusedIntoConvolution = true;
    }

    /// <summary>
    /// Ties an inference convolution to its network's parameter version, so that it repacks its weights only after they
    /// changed. An unbound convolution repacks on every call.
    /// </summary>
    /// <param name="version">The network's version.</param>
    internal void Bind(ParameterVersion version) => _version = version;

    /// <summary><c>y = conv(x, w) + b</c> for the first <paramref name="images"/> images (ILGPU kernels run the whole batch).</summary>
    /// <param name="images">Images.</param>
    public void Forward(int images)
    {
        if (_simd is not null)
        {
            // Inference repacks its (folded) weights only after its network's parameters changed; unbound, every time.
            long generation = _version?.Current ?? -1;
            _simd.Forward(images, _training || generation < 0 || generation != _packed);
            _packed = generation;
            return;
        }

        Forward();
    }

    /// <summary><c>y = conv(x, w) + b</c>.</summary>
    public void Forward()
    {
        if (_simd is not null)
        {
            Forward(_shape.N);
            return;
        }

        // The kernel computes four outputs of a row per work item.
        long work = (long)_shape.N * _shape.OutChannels * _shape.OutHeight * ((_shape.OutWidth + 3) / 4);
        _device.Kernels.ConvForward(_device.ThreadsFor(work), SpecializedValue.New(_shape), _x, _w, _b, _y, _device.ThreadsFor(work));
    }

    /// <summary>Gradients of the weights and bias (overwritten) and, when <paramref name="data"/> and bound, of the input (accumulated).</summary>
    /// <param name="data">Whether to compute the input's gradient.</param>
    public void Backward(bool data = true)
    {
        if (_simd is not null)
        {
            _simd.Backward(data);
            return;
        }

        long work = _shape.WeightElements + (_shape.Bias ? _shape.OutChannels : 0);
        _device.Kernels.ConvBackwardWeights(_device.ThreadsFor(work), SpecializedValue.New(_shape), _dy, _x, _dw, _db, _device.ThreadsFor(work));
        if (data && _dx.Length > 0)
        {
            // The kernel computes four inputs of a row per work item.
            long rows = (long)_shape.N * _shape.InChannels * _shape.Height * ((_shape.Width + 3) / 4);
            _device.Kernels.ConvBackwardData(_device.ThreadsFor(rows), SpecializedValue.New(_shape), _dy, _w, _dx, _device.ThreadsFor(rows));
        }
    }

    /// <summary>Frees the SIMD backend's native memory of this operation (packed weights, partial sums); idempotent.</summary>
    public void Dispose() => _simd?.Dispose();
}

/// <summary>Folds evaluation-mode batch norm into a convolution's weights and bias.</summary>
public sealed class FoldOp : IDisposable
{
    private readonly Device _device;
    private readonly ConvShape _shape;
    private readonly ArrayView<float> _w, _b, _bn, _wf, _bf;
    private readonly float _eps;
    private ParameterVersion? _version;

    /// <summary>Binds the fold.</summary>
    /// <param name="device">The device.</param>
    /// <param name="shape">The convolution's training shape (Bias says whether it has its own bias).</param>
    /// <param name="w">Weights.</param>
    /// <param name="b">Bias (empty without one).</param>
    /// <param name="bn">Batch norm's scale, shift, running mean and running variance.</param>
    /// <param name="eps">Batch norm epsilon.</param>
    /// <param name="wf">Folded weights.</param>
    /// <param name="bf">Folded bias.</param>
    public FoldOp(Device device, ConvShape shape, ArrayView<float> w, ArrayView<float> b, ArrayView<float> bn, float eps, ArrayView<float> wf, ArrayView<float> bf)
    {
        ArgumentNullException.ThrowIfNull(device);
        shape.Validate();
        OpChecks.Need("Fold", nameof(bn), bn, 4L * shape.OutChannels);
        OpChecks.Need("Fold", nameof(wf), wf, shape.WeightElements);
        OpChecks.Need("Fold", nameof(bf), bf, shape.OutChannels);
        (_device, _shape, _w, _b, _bn, _eps, _wf, _bf) = (device, shape, w, b, bn, eps, wf, bf);
    }

    /// <summary>Writes the folded weights and bias.</summary>
    public void Run()
    {
        if (_device.IsSimd)
        {
            RunOnHost();
            return;
        }

        long work = _shape.WeightElements + _shape.OutChannels;
        _device.Kernels.FoldBatchNorm(_device.ThreadsFor(work), SpecializedValue.New(_shape), _w, _b, _bn, _eps, _wf, _bf, _device.ThreadsFor(work));
    }

    // The same arithmetic as the kernel, on host memory.
    private unsafe void RunOnHost()
    {
        float* w = (float*)OpChecks.Ptr(_w);
        float* b = (float*)OpChecks.Ptr(_b);
        float* bn = (float*)OpChecks.Ptr(_bn);
        float* wf = (float*)OpChecks.Ptr(_wf);
        float* bf = (float*)OpChecks.Ptr(_bf);
        int c = _shape.OutChannels;
        int perChannel = _shape.InChannels * _shape.Kernel * _shape.Kernel;
        for (int co = 0; co < c; co++)
        {
            float scale = bn[co] / MathF.Sqrt(bn[(3 * c) + co] + _eps);
            for (int i = co * perChannel; i < (co + 1) * perChannel; i++)
            {
                wf[i] = w[i] * scale;
            }

            float bias = _shape.Bias ? b[co] : 0f;
            bf[co] = bn[c + co] + ((bias - bn[(2 * c) + co]) * scale);
        }

        _version?.Advance();
    }

    /// <summary>Ties the folding to its network's parameter version: folding counts as a change of the inference weights.</summary>
    /// <param name="version">The network's version.</param>
    internal void Bind(ParameterVersion version) => _version = version;

    /// <summary>Nothing to free: this operation holds no native memory of its own (its tensors belong to the network).</summary>
    public void Dispose()
    {
    }
}

/// <summary>The fused pass <c>y = act2(act1(bn(x)) + r)</c>.</summary>
public sealed class EpilogueOp : IDisposable
{
    private readonly Device _device;
    private readonly EpilogueShape _shape;
    private readonly ArrayView<float> _x, _bn, _stats, _r, _y, _dy, _dx, _dr, _dbn;

    /// <summary>Binds the pass.</summary>
    /// <param name="device">The device.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="bn">Batch norm's scale, shift, running mean and running variance (empty without batch norm).</param>
    /// <param name="stats">4 x channels of scratch for batch statistics (training-mode batch norm).</param>
    /// <param name="r">Residual (empty without an add).</param>
    /// <param name="y">Output (may be <paramref name="x"/> for inference; training's backward reads <paramref name="x"/> and
    /// <paramref name="r"/> as the forward saw them, to recompute batch norm's and GELU's or SiLU's inputs).</param>
    /// <param name="dy">Gradient of the output (empty for inference).</param>
    /// <param name="dx">Gradient of the input.</param>
    /// <param name="dr">Gradient of the residual.</param>
    /// <param name="dbn">Gradient of batch norm's scale and shift.</param>
    public EpilogueOp(
        Device device, EpilogueShape shape, ArrayView<float> x, ArrayView<float> bn, ArrayView<float> stats, ArrayView<float> r, ArrayView<float> y,
        ArrayView<float> dy = default, ArrayView<float> dx = default, ArrayView<float> dr = default, ArrayView<float> dbn = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        shape.Validate();
        OpChecks.Need("Epilogue", nameof(x), x, shape.Elements);
        OpChecks.Need("Epilogue", nameof(y), y, shape.Elements);
        OpChecks.Need("Epilogue", nameof(r), r, shape.Add ? shape.Elements : 0);
        OpChecks.Need("Epilogue", nameof(bn), bn, shape.Norm ? 4L * shape.Channels : 0);
        OpChecks.Need("Epilogue", nameof(stats), stats, shape.Norm && shape.Training ? 4L * shape.Channels : 0);
        (_device, _shape, _x, _bn, _stats, _r, _y, _dy, _dx, _dr, _dbn) = (device, shape, x, bn, stats, r, y, dy, dx, dr, dbn);
        if (device.IsSimd)
        {
            var tensors = new EpilogueTensors(OpChecks.Ptr(x), OpChecks.Ptr(bn), OpChecks.Ptr(r), OpChecks.Ptr(y), OpChecks.Ptr(dy), OpChecks.Ptr(dx), OpChecks.Ptr(dr), OpChecks.Ptr(dbn));
            Simd = SimdEpilogue.Create(device.Pool!, device.Width, shape, tensors);
        }
    }

    /// <summary>The SIMD backend's pass (null on ILGPU devices).</summary>
    public SimdEpilogue? Simd { get; }

    /// <summary>Whether a convolution applies this pass as it stores (its own forward is then a no-op).</summary>
    public bool FusedIntoConvolution { get; internal set; }

    /// <summary>The input.</summary>
    public ArrayView<float> Input => _x;

    /// <summary>The output.</summary>
    public ArrayView<float> Output => _y;

    /// <summary>The residual.</summary>
    public ArrayView<float> Residual => _r;

    /// <summary>Forward for the first <paramref name="images"/> images (ILGPU kernels run the whole batch).</summary>
    /// <param name="images">Images.</param>
    public void Forward(int images)
    {
        if (FusedIntoConvolution)
        {
            return;
        }

        if (Simd is not null)
        {
            Simd.Forward(images);
            return;
        }

        Forward();
    }

    /// <summary>The shape.</summary>
    public EpilogueShape Shape => _shape;

    /// <summary>Batch statistics (training-mode batch norm, updating the running statistics), then the fused pass.</summary>
    public void Forward()
    {
        if (FusedIntoConvolution)
        {
            return;
        }

        if (Simd is not null)
        {
            Simd.Forward(_shape.N);
            return;
        }

        if (_shape.Norm && _shape.Training)
        {
            _device.Kernels.Statistics(_device.ThreadsFor(_shape.Channels), SpecializedValue.New(_shape), _x, _bn, _stats, _device.ThreadsFor(_shape.Channels));
        }

        _device.Kernels.EpilogueApply(_device.ThreadsFor(_shape.Elements), SpecializedValue.New(_shape), _x, _bn, _stats, _r, _y, _device.ThreadsFor(_shape.Elements));
    }

    /// <summary>Batch norm's two reductions (training mode), then the element-wise backward to the input and the residual.</summary>
    public void Backward()
    {
        if (Simd is not null)
        {
            Simd.Backward();
            return;
        }

        if (_shape.Norm && _shape.Training)
        {
            _device.Kernels.EpilogueBackwardReduce(_device.ThreadsFor(_shape.Channels), SpecializedValue.New(_shape), _dy, _y, _x, _r, _bn, _stats, _dbn, _device.ThreadsFor(_shape.Channels));
        }

        _device.Kernels.EpilogueBackward(_device.ThreadsFor(_shape.Elements), SpecializedValue.New(_shape), _dy, _y, _x, _r, _bn, _stats, _dx, _dr, _device.ThreadsFor(_shape.Elements));
    }

    /// <summary>Frees the SIMD backend's native memory of this operation (packed weights, partial sums); idempotent.</summary>
    public void Dispose() => Simd?.Dispose();
}

/// <summary>Max, average or global-average pooling.</summary>
public sealed class PoolOp : IDisposable
{
    private readonly Device _device;
    private readonly PoolShape _shape;
    private readonly ArrayView<float> _x, _y, _dy, _dx;

    /// <summary>Binds the pooling.</summary>
    /// <param name="device">The device.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="dx">Gradient of the input.</param>
    public PoolOp(Device device, PoolShape shape, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy = default, ArrayView<float> dx = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        shape.Validate();
        OpChecks.Need("Pool", nameof(x), x, shape.InputElements);
        OpChecks.Need("Pool", nameof(y), y, shape.OutputElements);
        (_device, _shape, _x, _y, _dy, _dx) = (device, shape, x, y, dy, dx);
        _simd = device.IsSimd ? new SimdPooling(device.Pool!, shape, OpChecks.Ptr(x), OpChecks.Ptr(y), OpChecks.Ptr(dy), OpChecks.Ptr(dx)) : null;
    }

    private readonly SimdPooling? _simd;

    /// <summary>Forward for the first <paramref name="images"/> images (ILGPU kernels run the whole batch).</summary>
    /// <param name="images">Images.</param>
    public void Forward(int images)
    {
        if (_simd is not null)
        {
            _simd.Forward(images);
            return;
        }

        Forward();
    }

    /// <summary>Forward.</summary>
    public void Forward()
    {
        if (_simd is not null)
        {
            _simd.Forward(_shape.N);
            return;
        }

        _device.Kernels.PoolForward(_device.ThreadsFor(_shape.OutputElements), SpecializedValue.New(_shape), _x, _y, _device.ThreadsFor(_shape.OutputElements));
    }

    /// <summary>Backward (accumulates into the input's gradient).</summary>
    public void Backward()
    {
        if (_simd is not null)
        {
            _simd.Backward();
            return;
        }

        _device.Kernels.PoolBackward(_device.ThreadsFor(_shape.InputElements), SpecializedValue.New(_shape), _x, _dy, _dx, _device.ThreadsFor(_shape.InputElements));
    }

    /// <summary>Nothing to free: this operation holds no native memory of its own (its tensors belong to the network).</summary>
    public void Dispose()
    {
    }
}

/// <summary>The option-A (zero-padding) shortcut.</summary>
public sealed class ShortcutOp : IDisposable
{
    private readonly Device _device;
    private readonly ShortcutShape _shape;
    private readonly ArrayView<float> _x, _y, _dy, _dx;

    /// <summary>Binds the shortcut.</summary>
    /// <param name="device">The device.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="dx">Gradient of the input.</param>
    public ShortcutOp(Device device, ShortcutShape shape, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy = default, ArrayView<float> dx = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        shape.Validate();
        OpChecks.Need("Shortcut", nameof(x), x, shape.InputElements);
        OpChecks.Need("Shortcut", nameof(y), y, shape.OutputElements);
        (_device, _shape, _x, _y, _dy, _dx) = (device, shape, x, y, dy, dx);
        _simd = device.IsSimd ? new SimdShortcut(device.Pool!, shape, OpChecks.Ptr(x), OpChecks.Ptr(y), OpChecks.Ptr(dy), OpChecks.Ptr(dx)) : null;
    }

    private readonly SimdShortcut? _simd;

    /// <summary>Forward for the first <paramref name="images"/> images (ILGPU kernels run the whole batch).</summary>
    /// <param name="images">Images.</param>
    public void Forward(int images)
    {
        if (_simd is not null)
        {
            _simd.Forward(images);
            return;
        }

        Forward();
    }

    /// <summary>Forward.</summary>
    public void Forward()
    {
        if (_simd is not null)
        {
            _simd.Forward(_shape.N);
            return;
        }

        _device.Kernels.ShortcutForward(_device.ThreadsFor(_shape.OutputElements), SpecializedValue.New(_shape), _x, _y, _device.ThreadsFor(_shape.OutputElements));
    }

    /// <summary>Backward (accumulates into the input's gradient).</summary>
    public void Backward()
    {
        if (_simd is not null)
        {
            _simd.Backward();
            return;
        }

        _device.Kernels.ShortcutBackward(_device.ThreadsFor(_shape.InputElements), SpecializedValue.New(_shape), _dy, _dx, _device.ThreadsFor(_shape.InputElements));
    }

    /// <summary>Nothing to free: this operation holds no native memory of its own (its tensors belong to the network).</summary>
    public void Dispose()
    {
    }
}

/// <summary>A copy: flatten (a reshape; on the SIMD backend it also reorders a map's NHWC values channel-major) and dropout in evaluation mode.</summary>
public sealed class CopyOp : IDisposable
{
    private readonly Device _device;
    private readonly int _count;
    private readonly ArrayView<float> _x, _y, _dy, _dx;
    private readonly SimdCopy? _simd;

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
        ArgumentNullException.ThrowIfNull(device);
        Limits.Check(count);
        OpChecks.Need("Copy", nameof(x), x, count);
        OpChecks.Need("Copy", nameof(y), y, count);
        (_device, _count, _x, _y, _dy, _dx) = (device, (int)count, x, y, dy, dx);
        if (device.IsSimd)
        {
            (int batch, int c, int hw) = SimdLayout.Images(count, channels, spatial, "Copy");
            _simd = new SimdCopy(device.Pool!, batch, c, hw, flatten, 0f, 0, OpChecks.Ptr(x), OpChecks.Ptr(y), OpChecks.Ptr(dy), OpChecks.Ptr(dx));
        }
    }

    /// <summary><c>y = x</c> for the first <paramref name="images"/> images (ILGPU kernels copy everything).</summary>
    /// <param name="images">Images.</param>
    public void Forward(int images)
    {
        if (_simd is not null)
        {
            _simd.Forward(images, false, 0);
            return;
        }

        Forward();
    }

    /// <summary><c>y = x</c>.</summary>
    public void Forward()
    {
        if (_simd is not null)
        {
            _simd.Forward(int.MaxValue, false, 0);
            return;
        }

        _device.Kernels.Copy(_device.ThreadsFor(_count), SpecializedValue.New(_count), _x, _y, 0, _device.ThreadsFor(_count));
    }

    /// <summary><c>dx += dy</c>.</summary>
    public void Backward()
    {
        if (_simd is not null)
        {
            _simd.Backward(false, 0);
            return;
        }

        _device.Kernels.Copy(_device.ThreadsFor(_count), SpecializedValue.New(_count), _dy, _dx, 1, _device.ThreadsFor(_count));
    }

    /// <summary>Nothing to free: this operation holds no native memory of its own (its tensors belong to the network).</summary>
    public void Dispose()
    {
    }
}

/// <summary>Dropout in training mode, with masks drawn from (seed, step, element) and recomputed by the backward.</summary>
public sealed class DropoutOp : IDisposable
{
    private readonly Device _device;
    private readonly int _count;
    private readonly float _rate;
    private readonly int _seed;
    private readonly ArrayView<float> _x, _y, _dy, _dx;
    private readonly SimdCopy? _simd;

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
        ArgumentNullException.ThrowIfNull(device);
        Limits.Check(count);
        if (!(rate >= 0f && rate < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "The dropout rate must be at least 0 and below 1.");
        }

        OpChecks.Need("Dropout", nameof(x), x, count);
        OpChecks.Need("Dropout", nameof(y), y, count);
        (_device, _count, _rate, _seed, _x, _y, _dy, _dx) = (device, (int)count, rate, seed, x, y, dy, dx);
        if (device.IsSimd)
        {
            (int batch, int c, int hw) = SimdLayout.Images(count, channels, spatial, "Dropout");
            _simd = new SimdCopy(device.Pool!, batch, c, hw, false, rate, seed, OpChecks.Ptr(x), OpChecks.Ptr(y), OpChecks.Ptr(dy), OpChecks.Ptr(dx));
        }
    }

    /// <summary>Forward for a training step.</summary>
    /// <param name="step">The step: the mask's counter.</param>
    public void Forward(long step)
    {
        if (_simd is not null)
        {
            _simd.Forward(int.MaxValue, true, step);
            return;
        }

        _device.Kernels.Dropout(_device.ThreadsFor(_count), SpecializedValue.New(_count), _x, _y, _rate, _seed, unchecked((int)step), 0, _device.ThreadsFor(_count));
    }

    /// <summary>Backward for the same step.</summary>
    /// <param name="step">The step given to <see cref="Forward"/>.</param>
    public void Backward(long step)
    {
        if (_simd is not null)
        {
            _simd.Backward(true, step);
            return;
        }

        _device.Kernels.Dropout(_device.ThreadsFor(_count), SpecializedValue.New(_count), _dy, _dx, _rate, _seed, unchecked((int)step), 1, _device.ThreadsFor(_count));
    }

    /// <summary>Nothing to free: this operation holds no native memory of its own (its tensors belong to the network).</summary>
    public void Dispose()
    {
    }
}

/// <summary>How the SIMD backend sees a flat count: images of channels x pixels.</summary>
internal static class SimdLayout
{
    public static (int Batch, int Channels, int Spatial) Images(long count, int channels, int spatial, string op)
    {
        if (channels <= 0)
        {
            return (1, 1, (int)count);
        }

        long perImage = (long)channels * Math.Max(1, spatial);
        if (count % perImage != 0)
        {
            throw new ArgumentException($"{op}: {count} elements are not whole images of {channels} x {spatial} values.", nameof(count));
        }

        return ((int)(count / perImage), channels, Math.Max(1, spatial));
    }
}
