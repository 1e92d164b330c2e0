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
    /// <param name="threads">Threads launched.</param>
    public static void Statistics(Index1D index, SpecializedValue<EpilogueShape> shape, ArrayView<float> x, ArrayView<float> bn, ArrayView<float> stats, int threads)
    {
        EpilogueShape s = shape.Value;
        int channels = s.Channels;
        int spatial = s.Spatial;
        float count = (float)s.N * spatial;
        for (int c = index; c < channels; c += threads)
        {
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

            v = Activate(v, s.Act1);
            if (s.Add)
            {
                v += r[i];
            }

            y[i] = Activate(v, s.Act2);
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
    /// <param name="bn">Scale, shift, running mean, running variance.</param>
    /// <param name="stats">Forward statistics; receives the two means.</param>
    /// <param name="dbn">Receives the gradients of scale and shift (overwritten).</param>
    /// <param name="threads">Threads launched.</param>
    public static void BackwardReduce(
        Index1D index, SpecializedValue<EpilogueShape> shape, ArrayView<float> dy, ArrayView<float> y, ArrayView<float> x,
        ArrayView<float> bn, ArrayView<float> stats, ArrayView<float> dbn, int threads)
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
                    float g = dy[i] * Derivative(y[i], s.Act2);
                    g *= Derivative(Activate((xhat * scale) + shift, s.Act1), s.Act1);
                    partialG += g;
                    partialGx += g * xhat;
                }

                sumG += partialG;
                sumGx += partialGx;
            }

            dbn[c] = sumGx;
            dbn[channels + c] = sumG;
            stats[(2 * channels) + c] = sumG / count;
            stats[(3 * channels) + c] = sumGx / count;
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
    /// <param name="bn">Scale, shift, running mean, running variance.</param>
    /// <param name="stats">Forward statistics and the backward means.</param>
    /// <param name="dx">Gradient of the input, accumulated into.</param>
    /// <param name="dr">Gradient of the residual, accumulated into.</param>
    /// <param name="threads">Threads launched.</param>
    public static void Backward(
        Index1D index, SpecializedValue<EpilogueShape> shape, ArrayView<float> dy, ArrayView<float> y, ArrayView<float> x,
        ArrayView<float> bn, ArrayView<float> stats, ArrayView<float> dx, ArrayView<float> dr, int threads)
    {
        EpilogueShape s = shape.Value;
        int channels = s.Channels;
        int total = s.N * channels * s.Spatial;
        for (int i = index; i < total; i += threads)
        {
            float g = dy[i] * Derivative(y[i], s.Act2);
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
                g *= Derivative(Activate((xhat * scale) + bn[channels + c], s.Act1), s.Act1);
                dx[i] += s.Training
                    ? scale * inv * (g - stats[(2 * channels) + c] - (xhat * stats[(3 * channels) + c]))
                    : scale * inv * g;
            }
            else
            {
                g *= Derivative(Activate(x[i], s.Act1), s.Act1);
                dx[i] += g;
            }
        }
    }

    /// <summary>Applies an activation.</summary>
    /// <param name="v">The value.</param>
    /// <param name="activation">The activation.</param>
    /// <returns>The activated value.</returns>
    public static float Activate(float v, Activation activation) => activation switch
    {
        Activation.ReLU => v > 0f ? v : 0f,
        Activation.Tanh => Tanh(v),
        Activation.Sigmoid => 1f / (1f + Exp(-v)),
        _ => v,
    };

    /// <summary>An activation's derivative, from its output (ReLU's is 0 at 0, as PyTorch's).</summary>
    /// <param name="output">The activation's output.</param>
    /// <param name="activation">The activation.</param>
    /// <returns>The derivative.</returns>
    public static float Derivative(float output, Activation activation) => activation switch
    {
        Activation.ReLU => output > 0f ? 1f : 0f,
        Activation.Tanh => 1f - (output * output),
        Activation.Sigmoid => output * (1f - output),
        _ => 1f,
    };

    private static float Sqrt(float v) => XMath.Sqrt(v);

    private static float Exp(float v) => XMath.Exp(v);

    private static float Tanh(float v) => XMath.Tanh(v);
}
