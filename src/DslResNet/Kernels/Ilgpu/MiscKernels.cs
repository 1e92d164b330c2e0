using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>The option-A shortcut, the channel-wise scale, dropout, copies and the softmax cross-entropy loss.</summary>
internal static class MiscKernels
{
    /// <summary>Option-A shortcut forward: <c>y[n, p + c, i, j] = x[n, c, i*s, j*s]</c>, zeros elsewhere.</summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output, overwritten.</param>
    /// <param name="threads">Threads launched.</param>
    public static void ShortcutForward(Index1D index, SpecializedValue<ShortcutShape> shape, ArrayView<float> x, ArrayView<float> y, int threads)
    {
        ShortcutShape s = shape.Value;
        int ho = s.OutHeight;
        int wo = s.OutWidth;
        int total = s.N * s.OutChannels * ho * wo;
        for (int i = index; i < total; i += threads)
        {
            int ox = i % wo;
            int t = i / wo;
            int oy = t % ho;
            t /= ho;
            int c = (t % s.OutChannels) - s.PadBefore;
            int n = t / s.OutChannels;
            y[i] = c >= 0 && c < s.InChannels ? x[(((((n * s.InChannels) + c) * s.Height) + (oy * s.Stride)) * s.Width) + (ox * s.Stride)] : 0f;
        }
    }

    /// <summary>Option-A shortcut backward: each sampled input element receives its output's gradient.</summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="dx">Gradient of the input, accumulated into.</param>
    /// <param name="threads">Threads launched.</param>
    public static void ShortcutBackward(Index1D index, SpecializedValue<ShortcutShape> shape, ArrayView<float> dy, ArrayView<float> dx, int threads)
    {
        ShortcutShape s = shape.Value;
        int ho = s.OutHeight;
        int wo = s.OutWidth;
        int total = s.N * s.InChannels * s.Height * s.Width;
        for (int i = index; i < total; i += threads)
        {
            int ix = i % s.Width;
            int t = i / s.Width;
            int iy = t % s.Height;
            t /= s.Height;
            int c = t % s.InChannels;
            int n = t / s.InChannels;
            if (iy % s.Stride == 0 && ix % s.Stride == 0)
            {
                dx[i] += dy[(((((n * s.OutChannels) + c + s.PadBefore) * ho) + (iy / s.Stride)) * wo) + (ix / s.Stride)];
            }
        }
    }

    /// <summary>Channel-wise scale forward on NCHW: <c>y[i] = x[i] * s[i / spatial]</c> (s is N x C).</summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">The map.</param>
    /// <param name="scale">The scale, N x C.</param>
    /// <param name="y">Output, overwritten.</param>
    /// <param name="threads">Threads launched.</param>
    public static void ChannelScaleForward(Index1D index, SpecializedValue<ChannelScaleShape> shape, ArrayView<float> x, ArrayView<float> scale, ArrayView<float> y, int threads)
    {
        ChannelScaleShape s = shape.Value;
        int total = s.N * s.Channels * s.Spatial;
        for (int i = index; i < total; i += threads)
        {
            y[i] = x[i] * scale[i / s.Spatial];
        }
    }

    /// <summary>Channel-wise scale backward to the map: <c>dx[i] += dy[i] * s[i / spatial]</c>.</summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="scale">The scale, N x C.</param>
    /// <param name="dx">Gradient of the map, accumulated into.</param>
    /// <param name="threads">Threads launched.</param>
    public static void ChannelScaleBackwardData(Index1D index, SpecializedValue<ChannelScaleShape> shape, ArrayView<float> dy, ArrayView<float> scale, ArrayView<float> dx, int threads)
    {
        ChannelScaleShape s = shape.Value;
        int total = s.N * s.Channels * s.Spatial;
        for (int i = index; i < total; i += threads)
        {
            dx[i] += dy[i] * scale[i / s.Spatial];
        }
    }

    /// <summary>Channel-wise scale backward to the scale: one thread per image and channel sums <c>dy * x</c> over its pixels.</summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="x">The map.</param>
    /// <param name="ds">Gradient of the scale (N x C), accumulated into.</param>
    /// <param name="threads">Threads launched.</param>
    public static void ChannelScaleBackwardScale(Index1D index, SpecializedValue<ChannelScaleShape> shape, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> ds, int threads)
    {
        ChannelScaleShape s = shape.Value;
        int total = s.N * s.Channels;
        for (int j = index; j < total; j += threads)
        {
            float sum = 0f;
            int start = j * s.Spatial;
            for (int p = 0; p < s.Spatial; p++)
            {
                sum += dy[start + p] * x[start + p];
            }

            ds[j] += sum;
        }
    }

    /// <summary>
    /// Dropout: keeps an element when a hash of (seed, step, element) is at least <paramref name="rate"/> and scales it by
    /// 1 / (1 - rate). The mask is recomputed by the backward, never stored. Forward: <c>y = mask x</c>; backward:
    /// <c>dx += mask dy</c> (pass <paramref name="accumulate"/> 1).
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="total">Elements.</param>
    /// <param name="source">x (forward) or dy (backward).</param>
    /// <param name="target">y (forward, overwritten) or dx (backward, accumulated).</param>
    /// <param name="rate">The drop probability.</param>
    /// <param name="seed">The network's seed mixed with the layer.</param>
    /// <param name="step">The training step.</param>
    /// <param name="accumulate">1 to add into the target, 0 to overwrite it.</param>
    /// <param name="threads">Threads launched.</param>
    public static void Dropout(
        Index1D index, SpecializedValue<int> total, ArrayView<float> source, ArrayView<float> target, float rate, int seed, int step, int accumulate, int threads)
    {
        int count = total.Value;
        float scale = 1f / (1f - rate);
        for (int i = index; i < count; i += threads)
        {
            float value = DropoutMask.Uniform(seed, step, i) >= rate ? source[i] * scale : 0f;
            target[i] = accumulate != 0 ? target[i] + value : value;
        }
    }

    /// <summary><c>target = source</c> (or <c>+=</c> with <paramref name="accumulate"/> 1).</summary>
    /// <param name="index">The thread.</param>
    /// <param name="total">Elements.</param>
    /// <param name="source">Source.</param>
    /// <param name="target">Target.</param>
    /// <param name="accumulate">1 to add, 0 to overwrite.</param>
    /// <param name="threads">Threads launched.</param>
    public static void Copy(Index1D index, SpecializedValue<int> total, ArrayView<float> source, ArrayView<float> target, int accumulate, int threads)
    {
        int count = total.Value;
        for (int i = index; i < count; i += threads)
        {
            target[i] = accumulate != 0 ? target[i] + source[i] : source[i];
        }
    }

    /// <summary>
    /// Softmax cross-entropy, one thread per image of the first <paramref name="count"/>: <c>loss[n] = logsumexp(z) - z[label]</c>
    /// computed with the maximum subtracted, <c>correct[n]</c> 1 when the first highest logit is the label, and
    /// <c>dz = (softmax(z) - onehot) * gradientScale</c> (1 / batch for a mean loss). Images past <paramref name="count"/> get a
    /// zero gradient.
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="classes">Classes per image.</param>
    /// <param name="logits">N x classes.</param>
    /// <param name="labels">N labels.</param>
    /// <param name="count">Images that count.</param>
    /// <param name="gradientScale">Scale of the gradient.</param>
    /// <param name="loss">Per-image loss.</param>
    /// <param name="correct">Per-image 1 or 0.</param>
    /// <param name="dz">Gradient of the logits, overwritten.</param>
    /// <param name="rows">Images in the buffers.</param>
    /// <param name="threads">Threads launched.</param>
    public static void SoftmaxCrossEntropy(
        Index1D index, SpecializedValue<int> classes, ArrayView<float> logits, ArrayView<int> labels, int count, float gradientScale,
        ArrayView<float> loss, ArrayView<float> correct, ArrayView<float> dz, int rows, int threads)
    {
        int k = classes.Value;
        for (int n = index; n < rows; n += threads)
        {
            int baseIndex = n * k;
            if (n >= count)
            {
                for (int j = 0; j < k; j++)
                {
                    dz[baseIndex + j] = 0f;
                }

                continue;
            }

            float max = logits[baseIndex];
            int best = 0;
            for (int j = 1; j < k; j++)
            {
                float v = logits[baseIndex + j];
                if (v > max || (float.IsNaN(v) && !float.IsNaN(max)))
                {
                    max = v;
                    best = j;
                }
            }

            float sum = 0f;
            for (int j = 0; j < k; j++)
            {
                sum += XMath.Exp(logits[baseIndex + j] - max);
            }

            int label = labels[n];
            float logSum = XMath.Log(sum);
            loss[n] = logSum - (logits[baseIndex + label] - max);
            correct[n] = best == label ? 1f : 0f;
            for (int j = 0; j < k; j++)
            {
                float p = XMath.Exp(logits[baseIndex + j] - max) / sum;
                dz[baseIndex + j] = (p - (j == label ? 1f : 0f)) * gradientScale;
            }
        }
    }
}
