using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using DslResNet.IO;
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
        int count = CheckImages(images, exact);
        _host.LoadImages(images, count);
        return count;
    }

    // The number of images, after checking that there are whole ones, as many as allowed, all finite.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int CheckImages(ReadOnlySpan<float> images, bool exact)
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

        // One vector pass (ParameterStore.AllFinite); the culprit is looked for only when there is one (value by value,
        // the check took 1-2 ms of a batch of 8 ImageNet images).
        bool finite = ParameterStore.AllFinite(images);
        for (int i = 0; !finite && i < images.Length; i++)
        {
            if (!float.IsFinite(images[i]))
            {
                throw new ArgumentException($"{Definition.Name}: image {i / _imageElements} holds a non-finite value ({images[i]}) at element {i % _imageElements}.", nameof(images));
            }
        }

        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int LoadLabels(ReadOnlySpan<int> labels, bool exact)
    {
        int count = CheckLabels(labels, exact);
        _host.LoadLabels(labels);
        return count;
    }

    // The number of labels, after checking that there are as many as allowed and each names a class.
    private int CheckLabels(ReadOnlySpan<int> labels, bool exact)
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

        return labels.Length;
    }

    /// <summary>
    /// Images per pass of <see cref="Predict"/> and <see cref="Evaluate"/>: the SIMD backend runs a long call in passes whose
    /// buffers (the inference arena's share of so many images) come to about 4 MiB, at least 4 images a thread, so that
    /// each layer's input and output are still in the caches when the next layer reads them (measured, ResNet-20 at
    /// 1x28x28 on 2 threads: 161-165 microseconds an image in passes of 128, 153-157 in passes of 16 or 32). ILGPU devices
    /// run the whole call at once.
    /// </summary>
    private int InferencePassImages => Device.IsSimd
        ? Math.Min(BatchSize, Math.Max(4 * Device.Threads, (int)Math.Min(int.MaxValue, (4L << 20) / Math.Max(4, 4 * Layout.InferenceElementsPerImage))))
        : BatchSize;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunLoss(ArrayView<float> logits, int count, ArrayView<float> gradient) => _host.SoftmaxCrossEntropy(logits, count, gradient);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private BatchResult ReadLoss(int count)
    {
        (double sum, int hits) = _host.ReadLoss(count);
        return new BatchResult(sum / count, hits, count);
    }

    // Launches may be asynchronous (ILGPU); the SIMD backend's calls return when done.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Synchronize() => _host.Synchronize();
}
