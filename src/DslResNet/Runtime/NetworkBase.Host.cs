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

        _host.LoadImages(images, count);
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

        _host.LoadLabels(labels);
        return labels.Length;
    }

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
