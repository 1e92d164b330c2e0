using System;
using System.Runtime.CompilerServices;
using DslResNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>The fused pass <c>y = act2(act1(bn(x)) + r)</c>.</summary>
public sealed class EpilogueOp : IDisposable
{
    private readonly EpilogueShape _shape;
    private readonly EpilogueBinding _tensors;
    private readonly IEpilogue _kernel;

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
        IBackend backend = OpChecks.Backend(device);
        shape.Validate();
        shape = shape with { OverwritesInputGradient = SameView(dx, dy) };
        OpChecks.Need("Epilogue", nameof(x), x, shape.Elements);
        OpChecks.Need("Epilogue", nameof(y), y, shape.Elements);
        OpChecks.Need("Epilogue", nameof(r), r, shape.Add ? shape.Elements : 0);
        OpChecks.Need("Epilogue", nameof(bn), bn, shape.Norm ? 4L * shape.Channels : 0);
        OpChecks.Need("Epilogue", nameof(stats), stats, shape.Norm && shape.Training ? 4L * shape.Channels : 0);
        _shape = shape;
        _tensors = new EpilogueBinding(x, bn, stats, r, y, dy, dx, dr, dbn);
        _kernel = backend.CreateEpilogue(shape, _tensors);
    }

    /// <summary>Makes the backward overwrite the residual gradient or the input gradient, whichever <paramref name="view"/> is
    /// (the residual's first), instead of adding into it (see <see cref="IGradientOverwriter"/>).</summary>
    /// <param name="view">The gradient buffer the network would zero before this backward.</param>
    /// <returns>Whether it overwrites it from now on.</returns>
    internal bool OverwriteGradient(ArrayView<float> view)
    {
        if (_kernel is not IGradientOverwriter kernel)
        {
            return false;
        }

        return (_shape.Add && OpChecks.Same(view, _tensors.Dr) && kernel.OverwriteGradient(GradientTarget.Residual))
            || (OpChecks.Same(view, _tensors.Dx) && kernel.OverwriteGradient(GradientTarget.Input));
    }

    // Whether dx is dy (the plan's in-place input gradient); views that overlap otherwise are refused.
    private static bool SameView(ArrayView<float> dx, ArrayView<float> dy)
    {
        if (!OpChecks.Overlap(dx, dy))
        {
            return false;
        }

        if (OpChecks.Same(dx, dy))
        {
            return true;
        }

        throw new ArgumentException($"Epilogue: the input gradient ({dx.Length} floats) overlaps the output gradient ({dy.Length} floats) without being the same view; it may only share its memory whole.", nameof(dx));
    }

    /// <summary>Whether a convolution applies this pass as it stores (its own forward is then a no-op).</summary>
    public bool FusedIntoConvolution { get; internal set; }

    /// <summary>The input.</summary>
    public ArrayView<float> Input => _tensors.X;

    /// <summary>The output.</summary>
    public ArrayView<float> Output => _tensors.Y;

    /// <summary>The residual.</summary>
    public ArrayView<float> Residual => _tensors.R;

    /// <summary>The shape.</summary>
    public EpilogueShape Shape => _shape;

    /// <summary>Training-mode batch norm normalises by its running statistics and leaves them unchanged (eval mode inside
    /// a training pass; see <c>NetworkBase.FrozenBatchNormInEvalMode</c>).</summary>
    internal bool RunningStatistics
    {
        get => _kernel.RunningStatistics;
        set => _kernel.RunningStatistics = value;
    }

    /// <summary>The tensors.</summary>
    internal EpilogueBinding Tensors => _tensors;

    /// <summary>The same pass reading <paramref name="x"/> instead (a new operation; this one is left as it is).</summary>
    /// <param name="device">The device.</param>
    /// <param name="x">The input.</param>
    /// <returns>The pass.</returns>
    internal EpilogueOp WithInput(Device device, ArrayView<float> x) =>
        new(device, _shape, x, _tensors.Bn, _tensors.Stats, _tensors.R, _tensors.Y, _tensors.Dy, _tensors.Dx, _tensors.Dr, _tensors.Dbn);

    /// <summary>The backend's pass.</summary>
    internal IEpilogue Kernel => _kernel;

    /// <summary>Forward for the first <paramref name="images"/> images (ILGPU kernels run the whole batch).</summary>
    /// <param name="images">Images.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(int images)
    {
        if (!FusedIntoConvolution)
        {
            _kernel.Forward(images);
        }
    }

    /// <summary>Batch statistics (training-mode batch norm, updating the running statistics), then the fused pass.</summary>
    public void Forward() => Forward(_shape.N);

    /// <summary>Writes the output again from the input as the last training forward did (training only, after it): the
    /// batch statistics it used, the running statistics left as they are. A network that does not keep the output for backward
    /// calls it before the backward needs the output.</summary>
    public void Reapply() => _kernel.Reapply();

    /// <summary>Batch norm's two reductions (training mode), then the element-wise backward to the input and the residual.</summary>
    public void Backward() => _kernel.Backward();

    /// <summary>Frees the backend's memory of this operation (statistics sinks, partial sums); idempotent.</summary>
    public void Dispose() => _kernel.Dispose();
}
