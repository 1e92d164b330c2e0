using System;
using ILGPU;

namespace DslResNet.Kernels;

/// <summary>The buffers one network moves between the caller and the device, with the facts the moves need.</summary>
/// <param name="Input">The input images, in the backend's layout.</param>
/// <param name="Labels">The labels of a batch.</param>
/// <param name="Loss">Per-image loss.</param>
/// <param name="Correct">Per image, 1 where the top class is the label.</param>
/// <param name="BatchSize">Images per batch.</param>
/// <param name="Classes">Logits per image.</param>
/// <param name="Channels">Input channels (1 for a flat input).</param>
/// <param name="Pixels">Input pixels per channel (1 for a flat input).</param>
internal readonly record struct HostBinding(
    ArrayView<float> Input, ArrayView<int> Labels, ArrayView<float> Loss, ArrayView<float> Correct,
    int BatchSize, int Classes, int Channels, int Pixels);

/// <summary>
/// A network's traffic with the caller on one backend: images and labels in (the caller's N x C x H x W order converted to the
/// backend's), the softmax cross-entropy loss, results and the input's gradient out, gradient buffers cleared, and
/// completion awaited. Everything the network does outside its layers' operations, so that it holds no backend branch.
/// </summary>
internal interface INetworkHost
{
    /// <summary>Copies <paramref name="count"/> images (N x C x H x W, already checked) into the input.</summary>
    /// <param name="images">The images.</param>
    /// <param name="count">How many (at most the batch size; the rest of the input is unspecified).</param>
    void LoadImages(ReadOnlySpan<float> images, int count);

    /// <summary>Copies a batch's labels (already checked).</summary>
    /// <param name="labels">The labels.</param>
    void LoadLabels(ReadOnlySpan<int> labels);

    /// <summary>Mean softmax cross-entropy over the first <paramref name="count"/> images: per-image loss and hit, and the gradient of the mean (zero for the other rows).</summary>
    /// <param name="logits">Batch x classes logits.</param>
    /// <param name="count">Images in the batch.</param>
    /// <param name="gradient">Where the gradient of the mean loss with respect to the logits goes.</param>
    void SoftmaxCrossEntropy(ArrayView<float> logits, int count, ArrayView<float> gradient);

    /// <summary>The sum of the per-image losses and the number of hits of the last <see cref="SoftmaxCrossEntropy"/>.</summary>
    /// <param name="count">Images in the batch.</param>
    /// <returns>The sum and the hits.</returns>
    (double Sum, int Hits) ReadLoss(int count);

    /// <summary>Copies flat results (logits) to the caller.</summary>
    /// <param name="source">The device's values.</param>
    /// <param name="target">The caller's span, as long as the values to copy.</param>
    void Read(ArrayView<float> source, Span<float> target);

    /// <summary>Copies the input's gradient to the caller in N x C x H x W order.</summary>
    /// <param name="source">The device's input gradient, in the backend's layout.</param>
    /// <param name="target">BatchSize images.</param>
    void ReadImages(ArrayView<float> source, Span<float> target);

    /// <summary>Zeroes one gradient buffer (a view of the gradient arena), before the backward step that first adds into it.</summary>
    /// <param name="gradient">The buffer.</param>
    void ClearGradient(ArrayView<float> gradient);

    /// <summary>Waits until every operation launched so far has finished.</summary>
    void Synchronize();
}
