using ILGPU.Algorithms;

namespace DslResNet.Kernels;

/// <summary>
/// Activations and their derivatives, element by element: the one definition every backend computes with (ILGPU kernels
/// compile these methods; the SIMD backend calls them for its scalar tails and the activations it does not vectorise).
/// </summary>
internal static class ActivationMath
{
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
    /// Whether <see cref="Gradient"/> reads the activation's input (GELU, SiLU); every backend's copy of
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

    private static float Exp(float v) => XMath.Exp(v);

    private static float Tanh(float v) => XMath.Tanh(v);
}

/// <summary>Dropout's masks: the same (seed, step, element) gives the same keep or drop on every backend.</summary>
internal static class DropoutMask
{
    /// <summary>A uniform number in [0, 1) from a counter-based hash: the same inputs give the same number on every device.</summary>
    /// <param name="seed">The seed.</param>
    /// <param name="step">The step.</param>
    /// <param name="element">The element.</param>
    /// <returns>The number, a multiple of 2^-24.</returns>
    public static float Uniform(int seed, int step, int element)
    {
        uint h = Mix((uint)seed ^ 0x9E3779B9u);
        h = Mix(h ^ (uint)step);
        h = Mix(h ^ (uint)element);
        return (int)(h >> 8) * (1f / 16777216f);
    }

    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x7FEB352Du;
        h ^= h >> 15;
        h *= 0x846CA68Bu;
        h ^= h >> 16;
        return h;
    }
}
