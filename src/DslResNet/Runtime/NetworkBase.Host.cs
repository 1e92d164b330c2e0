using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using DslResNet.IO;
using DslResNet.Training;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

// NetworkBase's host side: loading images and labels, the loss, synchronisation and the host addresses the SIMD backend touches.
public abstract partial class NetworkBase
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunInference()
    {
        if (!_foldedCurrent)
        {
            FoldBatchNorm();
            _foldedCurrent = true;
        }

        ForwardInference(_lastCount);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int LoadImages(ReadOnlySpan<float> images, bool exact)
    {
        if (images.Length % _imageElements != 0)
        {
            throw new ArgumentException(
                $"{Definition.Name}: images hold {images.Length} values, not a whole number of {Definition.InputShape} images ({_imageElements} values each).", nameof(images));
        }

        int count = images.Length / _imageElements;
        if (exact ? count != BatchSize : count < 1 || count > BatchSize)
        {
            throw new ArgumentException(
                exact
                    ? $"{Definition.Name}: a training step takes exactly {BatchSize} images (the batch size it was built for); got {count}."
                    : $"{Definition.Name}: between 1 and {BatchSize} images are allowed; got {count}.",
                nameof(images));
        }

        for (int i = 0; i < images.Length; i++)
        {
            if (!float.IsFinite(images[i]))
            {
                throw new ArgumentException($"{Definition.Name}: image {i / _imageElements} holds a non-finite value ({images[i]}) at element {i % _imageElements}.", nameof(images));
            }
        }

        if (Device.IsSimd)
        {
            // Host memory: copied in place, channels-last for the SIMD backend, nothing allocated.
            Span<float> input = HostSpan(Addresses.Input, images.Length);
            if (Channels > 1 && Pixels > 1)
            {
                for (int n = 0; n < count; n++)
                {
                    ReadOnlySpan<float> image = images.Slice(n * _imageElements, _imageElements);
                    Span<float> target = input.Slice(n * _imageElements, _imageElements);
                    for (int c = 0; c < Channels; c++)
                    {
                        for (int p = 0; p < Pixels; p++)
                        {
                            target[(p * Channels) + c] = image[(c * Pixels) + p];
                        }
                    }
                }
            }
            else
            {
                images.CopyTo(input);
            }

            return count;
        }

        if (count < BatchSize)
        {
            _input.MemSetToZero();
        }

        _input.View.SubView(0, images.Length).CopyFromCPU(images.ToArray());
        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int LoadLabels(ReadOnlySpan<int> labels, bool exact)
    {
        if (exact ? labels.Length != BatchSize : labels.Length < 1 || labels.Length > BatchSize)
        {
            throw new ArgumentException($"{Definition.Name}: expected {(exact ? BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture) : "1 to " + BatchSize)} labels; got {labels.Length}.", nameof(labels));
        }

        if (!Definition.OutputShape.IsFlat)
        {
            throw new InvalidOperationException($"{Definition.Name}: the classification loss needs a flat output; the output is {Definition.OutputShape}.");
        }

        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0 || labels[i] >= _classes)
            {
                throw new ArgumentException($"{Definition.Name}: label {i} is {labels[i]}; labels must be 0 to {_classes - 1}.", nameof(labels));
            }
        }

        if (Device.IsSimd)
        {
            labels.CopyTo(HostLabels(labels.Length));
            return labels.Length;
        }

        _labels.View.SubView(0, labels.Length).CopyFromCPU(labels.ToArray());
        return labels.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunLoss(ArrayView<float> logits, int count, ArrayView<float> gradient, bool inference)
    {
        if (Device.IsSimd)
        {
            SoftmaxCrossEntropyOnHost(inference ? Addresses.InferenceOutput : Addresses.TrainingOutput, count, inference ? Addresses.EvaluationGradient : Addresses.TrainingOutputGradient);
            return;
        }

        int threads = Device.ThreadsFor(BatchSize);
        Device.Kernels.SoftmaxCrossEntropy(
            threads, SpecializedValue.New(_classes), logits, _labels.View, count, 1f / count, _loss.View, _correct.View, gradient, BatchSize, threads);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private BatchResult ReadLoss(int count)
    {
        if (Device.IsSimd)
        {
            Span<float> losses = HostSpan(Addresses.Loss, count);
            Span<float> rights = HostSpan(Addresses.Correct, count);
            double total = 0;
            int hits = 0;
            for (int i = 0; i < count; i++)
            {
                total += losses[i];
                hits += rights[i] > 0.5f ? 1 : 0;
            }

            return new BatchResult(total / count, hits, count);
        }

        float[] loss = new float[count];
        float[] correct = new float[count];
        _loss.View.SubView(0, count).CopyToCPU(loss);
        _correct.View.SubView(0, count).CopyToCPU(correct);
        double sum = 0;
        int right = 0;
        for (int i = 0; i < count; i++)
        {
            sum += loss[i];
            right += correct[i] > 0.5f ? 1 : 0;
        }

        return new BatchResult(sum / count, right, count);
    }

    // The kernel's arithmetic on host memory (the SIMD backend): loss, whether the top class is right, and the gradient.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SoftmaxCrossEntropyOnHost(IntPtr logitsAddress, int count, IntPtr gradientAddress)
    {
        int k = _classes;
        Span<float> logits = HostSpan(logitsAddress, BatchSize * k);
        Span<float> dz = HostSpan(gradientAddress, BatchSize * k);
        Span<int> labels = HostLabels(BatchSize);
        Span<float> loss = HostSpan(Addresses.Loss, BatchSize);
        Span<float> correct = HostSpan(Addresses.Correct, BatchSize);
        float scale = 1f / count;
        for (int n = 0; n < BatchSize; n++)
        {
            Span<float> z = logits.Slice(n * k, k);
            Span<float> g = dz.Slice(n * k, k);
            if (n >= count)
            {
                g.Clear();
                continue;
            }

            float max = z[0];
            int best = 0;
            for (int j = 1; j < k; j++)
            {
                if (z[j] > max || (float.IsNaN(z[j]) && !float.IsNaN(max)))
                {
                    max = z[j];
                    best = j;
                }
            }

            float sum = 0f;
            for (int j = 0; j < k; j++)
            {
                sum += MathF.Exp(z[j] - max);
            }

            int label = labels[n];
            loss[n] = MathF.Log(sum) - (z[label] - max);
            correct[n] = best == label ? 1f : 0f;
            for (int j = 0; j < k; j++)
            {
                g[j] = ((MathF.Exp(z[j] - max) / sum) - (j == label ? 1f : 0f)) * scale;
            }
        }
    }

    // ILGPU launches are asynchronous; the SIMD backend's calls return when done.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Synchronize()
    {
        if (!Device.IsSimd)
        {
            Device.Accelerator.Synchronize();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ClearGradients()
    {
        if (Device.IsSimd)
        {
            // The gradient arena is the largest buffer (hundreds of MiB at batch 128): every thread clears a slice.
            _clear ??= new ClearWork(Addresses.Gradients, _gradients.Length) { Parts = Device.Pool!.Threads * 16 };
            Device.Pool!.Run(_clear, _clear.Parts, balanced: true);
            return;
        }

        _gradients.MemSetToZero();
    }

    private int Channels => Definition.InputShape.IsFlat ? 1 : Definition.InputShape.Channels;

    private int Pixels => Definition.InputShape.IsFlat ? 1 : Definition.InputShape.Height * Definition.InputShape.Width;

    // Addresses of the host-memory views the SIMD backend touches directly, taken once (ILGPU's lookup is not free).
    private static unsafe Span<float> HostSpan(IntPtr address, int length) => new((void*)address, length);

    private unsafe Span<int> HostLabels(int length) => new((void*)Addresses.Labels, length);

    private HostAddresses Addresses => _hostAddresses ??= new HostAddresses(
        OpChecks.Ptr(_input.View), OpChecks.Ptr(_gradients.View), OpChecks.Ptr(_loss.View), OpChecks.Ptr(_correct.View), OpChecks.Ptr(_evaluationGradient.View),
        OpChecks.Ptr(TrainingOutput), OpChecks.Ptr(TrainingOutputGradient), OpChecks.Ptr(InferenceOutput), IntAddress(_labels.View));

    private static IntPtr IntAddress(ArrayView<int> view) => view.LoadEffectiveAddressAsPtr();

    private sealed unsafe class ClearWork(IntPtr start, long floats) : DslResNet.Kernels.Simd.IParallelWork
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end, int thread)
        {
            long total = floats;
            for (int u = first; u < end; u++)
            {
                long from = total * u / Parts;
                long to = total * (u + 1) / Parts;
                new Span<float>((float*)start + from, checked((int)(to - from))).Clear();
            }
        }

        public int Parts { get; set; } = 1;

        public override string ToString() => "clear the gradient arena";
    }

    private sealed record HostAddresses(
        IntPtr Input, IntPtr Gradients, IntPtr Loss, IntPtr Correct, IntPtr EvaluationGradient, IntPtr TrainingOutput, IntPtr TrainingOutputGradient,
        IntPtr InferenceOutput, IntPtr Labels);
}
