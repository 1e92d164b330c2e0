using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>
/// The fused pass <c>y = act2(act1(bn(x)) + r)</c> and its backward. Batch-norm parameters travel as one view of
/// 4 x C floats (scale, shift, running mean, running variance, as torchvision's state dict orders them), their gradients
/// as 2 x C (scale, shift). <c>stats</c> holds 4 x C floats per layer: batch mean, 1/sqrt(batch variance + eps) from the
/// forward, and the two per-channel means the backward needs.
/// </summary>
/// <remarks>
/// The backward takes each activation's derivative from what it needs (<see cref="Activations.BackwardNeedsInput"/>): ReLU,
/// tanh and sigmoid from their output, as before; GELU and SiLU from their input, which the pass recomputes from what
/// training keeps anyway: act1's input is <c>bn(x)</c> (the convolution's output <c>x</c> and the batch statistics), act2's
/// is <c>act1(bn(x)) + r</c> (the residual is another group's output, kept too). Nothing extra is stored, and the
/// output-based activations compute exactly what they did.
/// </remarks>
public static class EpilogueKernels
{
    /// <summary>
    /// Batch statistics, one thread per channel (two passes: mean, then the biased variance of the centred values), and the
    /// running-statistics update with the unbiased variance, as PyTorch does.
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="bn">Scale, shift, running mean, running variance.</param>
    /// <param name="stats">Receives the mean and inverse standard deviation.</param>
    /// <param name="running">1: batch norm in eval mode inside a training pass (frozen layers); <paramref name="stats"/>
    /// receives the running mean and inverse standard deviation, which stay unchanged. 2: this device's moments only
    /// (synchronised batch norm): <paramref name="stats"/> receives the mean and the biased variance, the running
    /// statistics are left to the host, which combines the ranks' moments.</param>
    /// <param name="threads">Threads launched.</param>
    public static void Statistics(Index1D index, SpecializedValue<EpilogueShape> shape, ArrayView<float> x, ArrayView<float> bn, ArrayView<float> stats, int running, int threads)
    {
        EpilogueShape s = shape.Value;
        int channels = s.Channels;
        int spatial = s.Spatial;
        float count = (float)s.N * spatial;
        for (int c = index; c < channels; c += threads)
        {
            if (running == 1)
            {
                stats[c] = bn[(2 * channels) + c];
                stats[channels + c] = 1f / Sqrt(bn[(3 * channels) + c] + s.Eps);
                continue;
            }

            float sum = 0f;
            for (int n = 0; n < s.N; n++)
            {
                int baseIndex = ((n * channels) + c) * spatial;
                float partial = 0f;
                for (int j = 0; j < spatial; j++)
                {
                    partial += x[baseIndex + j];
                }

                sum += partial;
            }

            float mean = sum / count;
            float squares = 0f;
            for (int n = 0; n < s.N; n++)
            {
                int baseIndex = ((n * channels) + c) * spatial;
                float partial = 0f;
                for (int j = 0; j < spatial; j++)
                {
                    float d = x[baseIndex + j] - mean;
                    partial += d * d;
                }

                squares += partial;
            }

            float variance = squares / count;
            stats[c] = mean;
            if (running == 2)
            {
                stats[channels + c] = variance;
                continue;
            }

            stats[channels + c] = 1f / Sqrt(variance + s.Eps);
            float m = s.Momentum;
            bn[(2 * channels) + c] = ((1f - m) * bn[(2 * channels) + c]) + (m * mean);
            bn[(3 * channels) + c] = ((1f - m) * bn[(3 * channels) + c]) + (m * variance * count / (count - 1f));
        }
    }

    /// <summary><c>y = act2(act1(bn(x)) + r)</c>, element-wise; <paramref name="y"/> may be <paramref name="x"/>.</summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="bn">Scale, shift, running mean, running variance (read when the shape normalises).</param>
    /// <param name="stats">Batch mean and inverse standard deviation (read in training mode).</param>
    /// <param name="r">Residual (read when the shape adds one).</param>
    /// <param name="y">Output.</param>
    /// <param name="threads">Threads launched.</param>
    public static void Apply(
        Index1D index, SpecializedValue<EpilogueShape> shape, ArrayView<float> x, ArrayView<float> bn, ArrayView<float> stats,
        ArrayView<float> r, ArrayView<float> y, int threads)
    {
        EpilogueShape s = shape.Value;
        int channels = s.Channels;
        int total = s.N * channels * s.Spatial;
        for (int i = index; i < total; i += threads)
        {
            float v = x[i];
            if (s.Norm)
            {
                int c = (i / s.Spatial) % channels;
                float mean = s.Training ? stats[c] : bn[(2 * channels) + c];
                float inv = s.Training ? stats[channels + c] : 1f / Sqrt(bn[(3 * channels) + c] + s.Eps);
                v = ((v - mean) * inv * bn[c]) + bn[channels + c];
            }

            v = ActivationMath.Activate(v, s.Act1);
            if (s.Add)
            {
                v += r[i];
            }

            y[i] = ActivationMath.Activate(v, s.Act2);
        }
    }

    /// <summary>
    /// Backward, first pass (training-mode batch norm only), one thread per channel: with <c>g</c> the gradient reaching
    /// batch norm's output, writes <c>dscale = sum g xhat</c>, <c>dshift = sum g</c>, and their means into <c>stats</c>.
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="y">Output of the forward.</param>
    /// <param name="x">Input of the forward.</param>
    /// <param name="r">Residual of the forward (read when the shape adds one and act2 needs its input).</param>
    /// <param name="bn">Scale, shift, running mean, running variance.</param>
    /// <param name="stats">Forward statistics; receives the two means.</param>
    /// <param name="dbn">Receives the gradients of scale and shift (overwritten).</param>
    /// <param name="running">Non-zero when the forward normalised with the running statistics: the two means are zero
    /// (no terms through constant statistics).</param>
    /// <param name="threads">Threads launched.</param>
    public static void BackwardReduce(
        Index1D index, SpecializedValue<EpilogueShape> shape, ArrayView<float> dy, ArrayView<float> y, ArrayView<float> x,
        ArrayView<float> r, ArrayView<float> bn, ArrayView<float> stats, ArrayView<float> dbn, int running, int threads)
    {
        EpilogueShape s = shape.Value;
        int channels = s.Channels;
        int spatial = s.Spatial;
        float count = (float)s.N * spatial;
        for (int c = index; c < channels; c += threads)
        {
            float mean = stats[c];
            float inv = stats[channels + c];
            float scale = bn[c];
            float shift = bn[channels + c];
            float sumG = 0f;
            float sumGx = 0f;
            for (int n = 0; n < s.N; n++)
            {
                int baseIndex = ((n * channels) + c) * spatial;
                float partialG = 0f;
                float partialGx = 0f;
                for (int j = 0; j < spatial; j++)
                {
                    int i = baseIndex + j;
                    float xhat = (x[i] - mean) * inv;
                    float pre1 = (xhat * scale) + shift;
                    float out1 = ActivationMath.Activate(pre1, s.Act1);
                    float g = dy[i] * ActivationMath.Gradient(ActivationMath.NeedsInput(s.Act2) ? out1 + (s.Add ? r[i] : 0f) : 0f, y[i], s.Act2);
                    g *= ActivationMath.Gradient(pre1, out1, s.Act1);
                    partialG += g;
                    partialGx += g * xhat;
                }

                sumG += partialG;
                sumGx += partialGx;
            }

            dbn[c] = sumGx;
            dbn[channels + c] = sumG;
            stats[(2 * channels) + c] = running != 0 ? 0f : sumG / count;
            stats[(3 * channels) + c] = running != 0 ? 0f : sumGx / count;
        }
    }

    /// <summary>
    /// Backward, element-wise: adds the gradient of the residual into <paramref name="dr"/> (when the shape adds one) and the
    /// gradient of the input into <paramref name="dx"/>: through the batch statistics in training mode,
    /// <c>dx = scale * invstd * (g - mean(g) - xhat * mean(g xhat))</c>.
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="y">Output of the forward.</param>
    /// <param name="x">Input of the forward.</param>
    /// <param name="r">Residual of the forward (read when the shape adds one and act2 needs its input).</param>
    /// <param name="bn">Scale, shift, running mean, running variance.</param>
    /// <param name="stats">Forward statistics and the backward means.</param>
    /// <param name="dx">Gradient of the input, accumulated into (written, when the shape says so: then it is dy).</param>
    /// <param name="dr">Gradient of the residual, accumulated into.</param>
    /// <param name="threads">Threads launched.</param>
    public static void Backward(
        Index1D index, SpecializedValue<EpilogueShape> shape, ArrayView<float> dy, ArrayView<float> y, ArrayView<float> x,
        ArrayView<float> r, ArrayView<float> bn, ArrayView<float> stats, ArrayView<float> dx, ArrayView<float> dr, int threads)
    {
        EpilogueShape s = shape.Value;
        int channels = s.Channels;
        int total = s.N * channels * s.Spatial;
        for (int i = index; i < total; i += threads)
        {
            float pre2 = ActivationMath.NeedsInput(s.Act2) ? ActivationMath.Activate(Normalised(s, x, bn, stats, i), s.Act1) + (s.Add ? r[i] : 0f) : 0f;
            float g = dy[i] * ActivationMath.Gradient(pre2, y[i], s.Act2);
            if (s.Add)
            {
                dr[i] += g;
            }

            if (s.Norm)
            {
                int c = (i / s.Spatial) % channels;
                float scale = bn[c];
                float mean = s.Training ? stats[c] : bn[(2 * channels) + c];
                float inv = s.Training ? stats[channels + c] : 1f / Sqrt(bn[(3 * channels) + c] + s.Eps);
                float xhat = (x[i] - mean) * inv;
                float pre1 = (xhat * scale) + bn[channels + c];
                g *= ActivationMath.Gradient(pre1, ActivationMath.Activate(pre1, s.Act1), s.Act1);
                float prior = s.OverwritesInputGradient ? 0f : dx[i];
                dx[i] = prior + (s.Training
                    ? scale * inv * (g - stats[(2 * channels) + c] - (xhat * stats[(3 * channels) + c]))
                    : scale * inv * g);
            }
            else
            {
                g *= ActivationMath.Gradient(x[i], ActivationMath.Activate(x[i], s.Act1), s.Act1);
                dx[i] = (s.OverwritesInputGradient ? 0f : dx[i]) + g;
            }
        }
    }

    // bn(x) at element i as the forward computed it (x itself without batch norm).
    private static float Normalised(EpilogueShape s, ArrayView<float> x, ArrayView<float> bn, ArrayView<float> stats, int i)
    {
        if (!s.Norm)
        {
            return x[i];
        }

        int channels = s.Channels;
        int c = (i / s.Spatial) % channels;
        float mean = s.Training ? stats[c] : bn[(2 * channels) + c];
        float inv = s.Training ? stats[channels + c] : 1f / Sqrt(bn[(3 * channels) + c] + s.Eps);
        return ((x[i] - mean) * inv * bn[c]) + bn[channels + c];
    }

    private static float Sqrt(float v) => XMath.Sqrt(v);
}
