using System;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>The ILGPU backend's <see cref="INetworkHost"/>: copies through ILGPU, the loss as a kernel, launches awaited on the accelerator.</summary>
internal sealed class IlgpuNetworkHost : INetworkHost
{
    private readonly IlgpuBackend _backend;
    private readonly Accelerator _accelerator;
    private readonly HostBinding _b;

    /// <summary>Binds the network's buffers.</summary>
    /// <param name="backend">The backend.</param>
    /// <param name="accelerator">The accelerator the buffers live on.</param>
    /// <param name="binding">The buffers.</param>
    public IlgpuNetworkHost(IlgpuBackend backend, Accelerator accelerator, HostBinding binding) => (_backend, _accelerator, _b) = (backend, accelerator, binding);

    /// <inheritdoc />
    public void LoadImages(ReadOnlySpan<float> images, int count)
    {
        if (count < _b.BatchSize)
        {
            _b.Input.SubView(images.Length).MemSetToZero();
        }

        _b.Input.SubView(0, images.Length).CopyFromCPU(images.ToArray());
    }

    /// <inheritdoc />
    public void LoadLabels(ReadOnlySpan<int> labels) => _b.Labels.SubView(0, labels.Length).CopyFromCPU(labels.ToArray());

    /// <inheritdoc />
    public void SoftmaxCrossEntropy(ArrayView<float> logits, int count, ArrayView<float> gradient)
    {
        int threads = _backend.ThreadsFor(_b.BatchSize);
        _backend.Kernels.SoftmaxCrossEntropy(
            threads, SpecializedValue.New(_b.Classes), logits, _b.Labels, count, 1f / count, _b.Loss, _b.Correct, gradient, _b.BatchSize, threads);
    }

    /// <inheritdoc />
    public (double Sum, int Hits) ReadLoss(int count)
    {
        float[] loss = new float[count];
        float[] correct = new float[count];
        _b.Loss.SubView(0, count).CopyToCPU(loss);
        _b.Correct.SubView(0, count).CopyToCPU(correct);
        double sum = 0;
        int hits = 0;
        for (int i = 0; i < count; i++)
        {
            sum += loss[i];
            hits += correct[i] > 0.5f ? 1 : 0;
        }

        return (sum, hits);
    }

    /// <inheritdoc />
    public void Read(ArrayView<float> source, Span<float> target)
    {
        float[] values = new float[target.Length];
        source.SubView(0, values.Length).CopyToCPU(values);
        values.CopyTo(target);
    }

    /// <inheritdoc />
    public void ReadImages(ArrayView<float> source, Span<float> target) => Read(source, target); // NCHW already

    /// <inheritdoc />
    public void ClearGradient(ArrayView<float> gradient) => gradient.MemSetToZero();

    /// <inheritdoc />
    public void Synchronize() => _accelerator.Synchronize();
}
