using System;
using DslResNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>Folds evaluation-mode batch norm into a convolution's weights and bias.</summary>
public sealed class FoldOp : IDisposable
{
    private readonly IFold _kernel;
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
        IBackend backend = OpChecks.Backend(device);
        shape.Validate();
        OpChecks.Need("Fold", nameof(bn), bn, 4L * shape.OutChannels);
        OpChecks.Need("Fold", nameof(wf), wf, shape.WeightElements);
        OpChecks.Need("Fold", nameof(bf), bf, shape.OutChannels);
        _kernel = backend.CreateFold(shape, eps, new FoldBinding(w, b, bn, wf, bf));
    }

    /// <summary>Writes the folded weights and bias; the network's inference weights count as changed.</summary>
    public void Run()
    {
        _kernel.Run();
        _version?.Advance();
    }

    /// <summary>Ties the folding to its network's parameter version: folding counts as a change of the inference weights.</summary>
    /// <param name="version">The network's version.</param>
    internal void Bind(ParameterVersion version) => _version = version;

    /// <summary>Frees the backend's memory of this operation, if any; idempotent.</summary>
    public void Dispose() => _kernel.Dispose();
}
