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
    /// <param name="r">Residual of the forward (read when the shape adds one and act2 needs its input).</param>
    /// <param name="bn">Scale, shift, running mean, running variance.</param>
    /// <param name="stats">Forward statistics; receives the two means.</param>
    /// <param name="dbn">Receives the gradients of scale and shift (overwritten).</param>
    /// <param name="threads">Threads launched.</param>
    public static void BackwardReduce(
        Index1D index, SpecializedValue<EpilogueShape> shape, ArrayView<float> dy, ArrayView<float> y, ArrayView<float> x,
        ArrayView<float> r, ArrayView<float> bn, ArrayView<float> stats, ArrayView<float> dbn, int threads)
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
                    float out1 = Activate(pre1, s.Act1);
                    float g = dy[i] * Gradient(NeedsInput(s.Act2) ? out1 + (s.Add ? r[i] : 0f) : 0f, y[i], s.Act2);
                    g *= Gradient(pre1, out1, s.Act1);
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
    /// <param name="r">Residual of the forward (read when the shape adds one and act2 needs its input).</param>
    /// <param name="bn">Scale, shift, running mean, running variance.</param>
    /// <param name="stats">Forward statistics and the backward means.</param>
    /// <param name="dx">Gradient of the input, accumulated into.</param>
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
            float pre2 = NeedsInput(s.Act2) ? Activate(Normalised(s, x, bn, stats, i), s.Act1) + (s.Add ? r[i] : 0f) : 0f;
            float g = dy[i] * Gradient(pre2, y[i], s.Act2);
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
                g *= Gradient(pre1, Activate(pre1, s.Act1), s.Act1);
                dx[i] += s.Training
                    ? scale * inv * (g - stats[(2 * channels) + c] - (xhat * stats[(3 * channels) + c]))
                    : scale * inv * g;
            }
            else
            {
                g *= Gradient(x[i], Activate(x[i], s.Act1), s.Act1);
                dx[i] += g;
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

    /// <summary>
    /// Applies an activation. Kernels cannot throw: an undefined value gives NaN, and <see cref="EpilogueShape.Validate"/>
    /// refuses one on the host before any kernel runs.
    /// </summary>
    /// <param name="v">The value.</param>
    /// <param name="activation">The activation.</param>
    /// <returns>The activated value.</returns>
    public static float Activate(float v, Activation activation) => activation switch
    {
        Activation.None => v,
        Activation.ReLU => v > 0f ? v : 0f,
        Activation.Tanh => Tanh(v),
        Activation.Sigmoid => 1f / (1f + Exp(-v)),
        Activation.GELU => v * NormalCdf(v),
        Activation.SiLU => v / (1f + Exp(-v)),
        _ => float.NaN,
    };

    /// <summary>
    /// Whether <see cref="Gradient"/> reads the activation's input (GELU, SiLU); the kernels' copy of
    /// <see cref="Activations.BackwardNeedsInput"/>, which they cannot call (it throws), checked equal by a test.
    /// </summary>
    /// <param name="activation">The activation.</param>
    /// <returns>True when the input is needed.</returns>
    public static bool NeedsInput(Activation activation) => activation == Activation.GELU || activation == Activation.SiLU;

    /// <summary>
    /// An activation's derivative: from its output for ReLU (0 at 0, as PyTorch's), tanh and sigmoid, from its input for
    /// GELU (<c>Phi(x) + x phi(x)</c>) and SiLU (<c>s (1 + x (1 - s))</c>); the other argument is not read.
    /// </summary>
    /// <param name="input">The activation's input (read where <see cref="NeedsInput"/>).</param>
    /// <param name="output">The activation's output.</param>
    /// <param name="activation">The activation.</param>
    /// <returns>The derivative; NaN for an undefined activation.</returns>
    public static float Gradient(float input, float output, Activation activation) => activation switch
    {
        Activation.None => 1f,
        Activation.ReLU => output > 0f ? 1f : 0f,
        Activation.Tanh => 1f - (output * output),
        Activation.Sigmoid => output * (1f - output),
        Activation.GELU => NormalCdf(input) + (input * InvSqrt2Pi * Exp(-0.5f * input * input)),
        Activation.SiLU => SiLUGradient(input),
        _ => float.NaN,
    };

    /// <summary>The standard normal distribution function <c>Phi(x) = (1 + erf(x / sqrt 2)) / 2</c>.</summary>
    /// <param name="x">The value.</param>
    /// <returns>Phi(x).</returns>
    /// <remarks>
    /// erfc by Abramowitz and Stegun 7.1.26 (absolute error at most 1.5e-7 for erf), on |x| so that the small tail
    /// <c>Phi(x) = erfc(|x| / sqrt 2) / 2</c> for negative x is computed directly, not as a difference near 1.
    /// </remarks>
    public static float NormalCdf(float x)
    {
        float a = (x < 0f ? -x : x) * 0.70710678118654752f;
        float t = 1f / (1f + (0.3275911f * a));
        float poly = t * (0.254829592f + (t * (-0.284496736f + (t * (1.421413741f + (t * (-1.453152027f + (t * 1.061405429f))))))));
        float half = 0.5f * poly * Exp(-(a * a));
        return x < 0f ? half : 1f - half;
    }

    private const float InvSqrt2Pi = 0.398942280401432678f;

    private static float SiLUGradient(float x)
    {
        float sigmoid = 1f / (1f + Exp(-x));
        return sigmoid * (1f + (x * (1f - sigmoid)));
    }

    private static float Sqrt(float v) => XMath.Sqrt(v);

    private static float Exp(float v) => XMath.Exp(v);

    private static float Tanh(float v) => XMath.Tanh(v);
}
