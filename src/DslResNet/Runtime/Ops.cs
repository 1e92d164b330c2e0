using System;
using DslResNet.Kernels.Ilgpu;
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
    public static void Need(string op, string tensor, ArrayView<float> view, long elements)
    {
        if (view.Length < elements)
        {
            throw new ArgumentException($"{op}: tensor '{tensor}' has {view.Length} elements; {elements} are needed.", tensor);
        }
    }
}

/// <summary>A convolution (or a dense layer as a 1x1 convolution on a 1x1 map).</summary>
public sealed class ConvOp
{
    private readonly Device _device;
    private readonly ConvShape _shape;
    private readonly ArrayView<float> _x, _w, _b, _y, _dy, _dx, _dw, _db;

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
    {
        ArgumentNullException.ThrowIfNull(device);
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

    /// <summary><c>y = conv(x, w) + b</c>.</summary>
    public void Forward()
    {
        // The kernel computes four outputs of a row per work item.
        long work = (long)_shape.N * _shape.OutChannels * _shape.OutHeight * ((_shape.OutWidth + 3) / 4);
        _device.Kernels.ConvForward(_device.ThreadsFor(work), SpecializedValue.New(_shape), _x, _w, _b, _y, _device.ThreadsFor(work));
    }

    /// <summary>Gradients of the weights and bias (overwritten) and, when <paramref name="data"/> and bound, of the input (accumulated).</summary>
    /// <param name="data">Whether to compute the input's gradient.</param>
    public void Backward(bool data = true)
    {
        long work = _shape.WeightElements + (_shape.Bias ? _shape.OutChannels : 0);
        _device.Kernels.ConvBackwardWeights(_device.ThreadsFor(work), SpecializedValue.New(_shape), _dy, _x, _dw, _db, _device.ThreadsFor(work));
        if (data && _dx.Length > 0)
        {
            // The kernel computes four inputs of a row per work item.
            long rows = (long)_shape.N * _shape.InChannels * _shape.Height * ((_shape.Width + 3) / 4);
            _device.Kernels.ConvBackwardData(_device.ThreadsFor(rows), SpecializedValue.New(_shape), _dy, _w, _dx, _device.ThreadsFor(rows));
        }
    }
}

/// <summary>Folds evaluation-mode batch norm into a convolution's weights and bias.</summary>
public sealed class FoldOp
{
    private readonly Device _device;
    private readonly ConvShape _shape;
    private readonly ArrayView<float> _w, _b, _bn, _wf, _bf;
    private readonly float _eps;

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
        long work = _shape.WeightElements + _shape.OutChannels;
        _device.Kernels.FoldBatchNorm(_device.ThreadsFor(work), SpecializedValue.New(_shape), _w, _b, _bn, _eps, _wf, _bf, _device.ThreadsFor(work));
    }
}

/// <summary>The fused pass <c>y = act2(act1(bn(x)) + r)</c>.</summary>
public sealed class EpilogueOp
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
    /// <param name="y">Output (may be <paramref name="x"/>).</param>
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
    }

    /// <summary>The shape.</summary>
    public EpilogueShape Shape => _shape;

    /// <summary>Batch statistics (training-mode batch norm, updating the running statistics), then the fused pass.</summary>
    public void Forward()
    {
        if (_shape.Norm && _shape.Training)
        {
            _device.Kernels.Statistics(_device.ThreadsFor(_shape.Channels), SpecializedValue.New(_shape), _x, _bn, _stats, _device.ThreadsFor(_shape.Channels));
        }

        _device.Kernels.EpilogueApply(_device.ThreadsFor(_shape.Elements), SpecializedValue.New(_shape), _x, _bn, _stats, _r, _y, _device.ThreadsFor(_shape.Elements));
    }

    /// <summary>Batch norm's two reductions (training mode), then the element-wise backward to the input and the residual.</summary>
    public void Backward()
    {
        if (_shape.Norm && _shape.Training)
        {
            _device.Kernels.EpilogueBackwardReduce(_device.ThreadsFor(_shape.Channels), SpecializedValue.New(_shape), _dy, _y, _x, _bn, _stats, _dbn, _device.ThreadsFor(_shape.Channels));
        }

        _device.Kernels.EpilogueBackward(_device.ThreadsFor(_shape.Elements), SpecializedValue.New(_shape), _dy, _y, _x, _bn, _stats, _dx, _dr, _device.ThreadsFor(_shape.Elements));
    }
}

/// <summary>Max, average or global-average pooling.</summary>
public sealed class PoolOp
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
    }

    /// <summary>Forward.</summary>
    public void Forward() =>
        _device.Kernels.PoolForward(_device.ThreadsFor(_shape.OutputElements), SpecializedValue.New(_shape), _x, _y, _device.ThreadsFor(_shape.OutputElements));

    /// <summary>Backward (accumulates into the input's gradient).</summary>
    public void Backward() =>
        _device.Kernels.PoolBackward(_device.ThreadsFor(_shape.InputElements), SpecializedValue.New(_shape), _x, _dy, _dx, _device.ThreadsFor(_shape.InputElements));
}

/// <summary>The option-A (zero-padding) shortcut.</summary>
public sealed class ShortcutOp
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
    }

    /// <summary>Forward.</summary>
    public void Forward() =>
        _device.Kernels.ShortcutForward(_device.ThreadsFor(_shape.OutputElements), SpecializedValue.New(_shape), _x, _y, _device.ThreadsFor(_shape.OutputElements));

    /// <summary>Backward (accumulates into the input's gradient).</summary>
    public void Backward() =>
        _device.Kernels.ShortcutBackward(_device.ThreadsFor(_shape.InputElements), SpecializedValue.New(_shape), _dy, _dx, _device.ThreadsFor(_shape.InputElements));
}

/// <summary>A copy: flatten (a reshape that keeps the layout) and dropout in evaluation mode.</summary>
public sealed class CopyOp
{
    private readonly Device _device;
    private readonly int _count;
    private readonly ArrayView<float> _x, _y, _dy, _dx;

    /// <summary>Binds the copy.</summary>
    /// <param name="device">The device.</param>
    /// <param name="count">Elements.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="dx">Gradient of the input.</param>
    public CopyOp(Device device, long count, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy = default, ArrayView<float> dx = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        Limits.Check(count);
        OpChecks.Need("Copy", nameof(x), x, count);
        OpChecks.Need("Copy", nameof(y), y, count);
        (_device, _count, _x, _y, _dy, _dx) = (device, (int)count, x, y, dy, dx);
    }

    /// <summary><c>y = x</c>.</summary>
    public void Forward() => _device.Kernels.Copy(_device.ThreadsFor(_count), SpecializedValue.New(_count), _x, _y, 0, _device.ThreadsFor(_count));

    /// <summary><c>dx += dy</c>.</summary>
    public void Backward() => _device.Kernels.Copy(_device.ThreadsFor(_count), SpecializedValue.New(_count), _dy, _dx, 1, _device.ThreadsFor(_count));
}

/// <summary>Dropout in training mode, with masks drawn from (seed, step, element) and recomputed by the backward.</summary>
public sealed class DropoutOp
{
    private readonly Device _device;
    private readonly int _count;
    private readonly float _rate;
    private readonly int _seed;
    private readonly ArrayView<float> _x, _y, _dy, _dx;

    /// <summary>Binds the dropout.</summary>
    /// <param name="device">The device.</param>
    /// <param name="count">Elements.</param>
    /// <param name="rate">Drop probability, 0 to below 1.</param>
    /// <param name="seed">The network's seed mixed with the layer's index.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="dx">Gradient of the input.</param>
    public DropoutOp(Device device, long count, float rate, int seed, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy = default, ArrayView<float> dx = default)
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
    }

    /// <summary>Forward for a training step.</summary>
    /// <param name="step">The step: the mask's counter.</param>
    public void Forward(long step) =>
        _device.Kernels.Dropout(_device.ThreadsFor(_count), SpecializedValue.New(_count), _x, _y, _rate, _seed, unchecked((int)step), 0, _device.ThreadsFor(_count));

    /// <summary>Backward for the same step.</summary>
    /// <param name="step">The step given to <see cref="Forward"/>.</param>
    public void Backward(long step) =>
        _device.Kernels.Dropout(_device.ThreadsFor(_count), SpecializedValue.New(_count), _dy, _dx, _rate, _seed, unchecked((int)step), 1, _device.ThreadsFor(_count));
}
