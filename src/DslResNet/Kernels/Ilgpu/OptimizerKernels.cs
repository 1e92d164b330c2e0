using ILGPU;
using ILGPU.Algorithms;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>
/// The hyper-parameters of one SGD update of one parameter, as the host computes them (<c>Sgd.Update</c>).
/// </summary>
/// <param name="LearningRate">The learning rate times the parameter's scale.</param>
/// <param name="Decay">The weight decay (0 where it does not apply).</param>
/// <param name="Momentum">The momentum factor (0: no buffer).</param>
/// <param name="Keep">One minus the dampening.</param>
/// <param name="Nesterov">1 for Nesterov momentum.</param>
/// <param name="First">1 on the parameter's first step with momentum: the buffer starts as the gradient.</param>
public readonly record struct SgdArguments(float LearningRate, float Decay, float Momentum, float Keep, int Nesterov, int First);

/// <summary>
/// The per-step scalars of one AdamW update of one parameter, as the host computes them (<c>AdamW.Update</c>).
/// </summary>
/// <param name="Shrink">The decoupled weight decay's factor, <c>1 - lr * weight_decay</c> (1 where it does not apply).</param>
/// <param name="Beta2">beta2.</param>
/// <param name="OneMinusBeta1">1 - beta1.</param>
/// <param name="OneMinusBeta2">1 - beta2.</param>
/// <param name="StepSize"><c>lr / (1 - beta1^t)</c>.</param>
/// <param name="SqrtBiasCorrection2"><c>sqrt(1 - beta2^t)</c>.</param>
/// <param name="Epsilon">eps.</param>
/// <param name="First">1 on the parameter's first step: both moments start at zero.</param>
public readonly record struct AdamWArguments(
    float Shrink, float Beta2, float OneMinusBeta1, float OneMinusBeta2, float StepSize, float SqrtBiasCorrection2, float Epsilon, int First);

/// <summary>
/// Optimizer updates over a parameter's device values, gradient and state, element-wise, with the same float operations in
/// the same order as the host optimizers (so the ILGPU CPU accelerator reproduces them bit for bit, and a GPU to float
/// rounding), and the finiteness check that gates a step.
/// </summary>
public static class OptimizerKernels
{
    /// <summary>
    /// <c>torch.optim.SGD</c>: <c>g = grad + wd p</c>; <c>buf = g</c> (first step) or <c>momentum buf + (1 - dampening) g</c>;
    /// <c>p -= lr (nesterov ? g + momentum buf : buf)</c>; without momentum <c>p -= lr g</c> and no buffer is touched.
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="p">The values, updated.</param>
    /// <param name="grad">The gradient.</param>
    /// <param name="buffer">The momentum buffer, updated (unused without momentum).</param>
    /// <param name="a">The hyper-parameters.</param>
    /// <param name="count">Elements.</param>
    /// <param name="threads">Threads launched.</param>
    public static void Sgd(Index1D index, ArrayView<float> p, ArrayView<float> grad, ArrayView<float> buffer, SgdArguments a, int count, int threads)
    {
        for (int i = index; i < count; i += threads)
        {
            float value = p[i];
            float g = grad[i] + (a.Decay * value);
            if (a.Momentum == 0f)
            {
                p[i] = value - (a.LearningRate * g);
                continue;
            }

            float b = a.First != 0 ? g : (a.Momentum * buffer[i]) + (a.Keep * g);
            buffer[i] = b;
            float step = a.Nesterov != 0 ? g + (a.Momentum * b) : b;
            p[i] = value - (a.LearningRate * step);
        }
    }

    /// <summary>
    /// AdamW (decoupled weight decay) as <c>torch.optim.AdamW</c>: <c>p *= 1 - lr wd</c>; <c>m += (1 - b1)(g - m)</c>;
    /// <c>v = b2 v + (1 - b2) g g</c>; <c>p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)</c>.
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="p">The values, updated.</param>
    /// <param name="grad">The gradient.</param>
    /// <param name="m">The first moment (<c>exp_avg</c>), updated.</param>
    /// <param name="v">The second moment (<c>exp_avg_sq</c>), updated.</param>
    /// <param name="a">The step's scalars.</param>
    /// <param name="count">Elements.</param>
    /// <param name="threads">Threads launched.</param>
    public static void AdamW(Index1D index, ArrayView<float> p, ArrayView<float> grad, ArrayView<float> m, ArrayView<float> v, AdamWArguments a, int count, int threads)
    {
        for (int i = index; i < count; i += threads)
        {
            float g = grad[i];
            float value = p[i] * a.Shrink;
            float mi = a.First != 0 ? 0f : m[i];
            float vi = a.First != 0 ? 0f : v[i];
            mi += a.OneMinusBeta1 * (g - mi);
            vi = (a.Beta2 * vi) + (a.OneMinusBeta2 * g * g);
            m[i] = mi;
            v[i] = vi;
            float denominator = (XMath.Sqrt(vi) / a.SqrtBiasCorrection2) + a.Epsilon;
            p[i] = value - (a.StepSize * mi / denominator);
        }
    }

    /// <summary>Sets <c>flag[0]</c> to 1 when any of the first <paramref name="count"/> values is NaN or infinite (never clears it).</summary>
    /// <param name="index">The thread.</param>
    /// <param name="values">The values.</param>
    /// <param name="flag">One int, 0 before the first check.</param>
    /// <param name="count">Elements.</param>
    /// <param name="threads">Threads launched.</param>
    public static void NonFinite(Index1D index, ArrayView<float> values, ArrayView<int> flag, int count, int threads)
    {
        for (int i = index; i < count; i += threads)
        {
            if (!XMath.IsFinite(values[i]))
            {
                // Every writer writes the same 1: the result does not depend on their order.
                flag[0] = 1;
            }
        }
    }
}
