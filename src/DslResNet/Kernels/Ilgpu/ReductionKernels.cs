using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>
/// The batch-norm reductions of <see cref="EpilogueKernels"/> as explicitly grouped kernels for GPUs: one group per channel
/// (launch with <c>new KernelConfig(channels, groupSize)</c>, <c>groupSize</c> a power of two of at most
/// <see cref="MaxGroupSize"/>). Each thread adds up a strided share of its channel's <c>N x spatial</c> values in float, then
/// the group adds the partial sums in a shared-memory tree. Same inputs, modes and outputs as
/// <see cref="EpilogueKernels.Statistics"/> and <see cref="EpilogueKernels.BackwardReduce"/>, and the same two-pass form for
/// the variance (the mean first, then the sum of squared deviations from it: no cancellation); the summation order is fixed
/// by the group size, so results are deterministic (no atomics).
/// </summary>
/// <remarks>
/// One group per channel gives a layer 16 to 2048 groups of 256 threads where the one-thread-per-channel kernels gave 16 to
/// 2048 threads. The element of a channel's flat index <c>k</c> in <c>[0, N x spatial)</c> is
/// <c>x[(n * C + c) * spatial + j]</c> with <c>n = k / spatial</c>, <c>j = k % spatial</c>; consecutive threads read
/// consecutive pixels, so loads coalesce.
/// </remarks>
public static class ReductionKernels
{
    /// <summary>The largest group the kernels accept (the shared arrays' length).</summary>
    public const int MaxGroupSize = 256;

    /// <summary>
    /// Batch statistics of channel <c>Grid.IdxX</c>; see <see cref="EpilogueKernels.Statistics"/> for the modes.
    /// </summary>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="bn">Scale, shift, running mean, running variance.</param>
    /// <param name="stats">Receives the mean and inverse standard deviation (mode 2: the mean and biased variance).</param>
    /// <param name="running">0: batch statistics and the running update; 1: the running statistics; 2: this device's moments only.</param>
    public static void Statistics(SpecializedValue<EpilogueShape> shape, ArrayView<float> x, ArrayView<float> bn, ArrayView<float> stats, int running)
    {
        EpilogueShape s = shape.Value;
        int channels = s.Channels;
        int spatial = s.Spatial;
        int c = Grid.IdxX;
        int t = Group.IdxX;
        int size = Group.DimX;
        ArrayView<float> shared = SharedMemory.Allocate<float>(MaxGroupSize);
        if (running == 1)
        {
            // Uniform across the group: no thread reaches a barrier below.
            if (t == 0)
            {
                stats[c] = bn[(2 * channels) + c];
                stats[channels + c] = 1f / XMath.Sqrt(bn[(3 * channels) + c] + s.Eps);
            }

            return;
        }

        int per = s.N * spatial;
        float count = (float)per;
        float partial = 0f;
        for (int k = t; k < per; k += size)
        {
            int n = k / spatial;
            partial += x[(((n * channels) + c) * spatial) + (k - (n * spatial))];
        }

        float mean = Sum(shared, partial, t, size) / count;
        partial = 0f;
        for (int k = t; k < per; k += size)
        {
            int n = k / spatial;
            float d = x[(((n * channels) + c) * spatial) + (k - (n * spatial))] - mean;
            partial += d * d;
        }

        float variance = Sum(shared, partial, t, size) / count;
        if (t != 0)
        {
            return;
        }

        stats[c] = mean;
        if (running == 2)
        {
            stats[channels + c] = variance;
            return;
        }

        stats[channels + c] = 1f / XMath.Sqrt(variance + s.Eps);
        float m = s.Momentum;
        bn[(2 * channels) + c] = ((1f - m) * bn[(2 * channels) + c]) + (m * mean);
        bn[(3 * channels) + c] = ((1f - m) * bn[(3 * channels) + c]) + (m * variance * count / (count - 1f));
    }

    /// <summary>
    /// The backward reductions of channel <c>Grid.IdxX</c>; see <see cref="EpilogueKernels.BackwardReduce"/>.
    /// </summary>
    /// <param name="shape">The shape.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="y">Output of the forward.</param>
    /// <param name="x">Input of the forward.</param>
    /// <param name="r">Residual of the forward (read when the shape adds one and act2 needs its input).</param>
    /// <param name="bn">Scale, shift, running mean, running variance.</param>
    /// <param name="stats">Forward statistics; receives the two means.</param>
    /// <param name="dbn">Receives the gradients of scale and shift (overwritten).</param>
    /// <param name="running">Non-zero when the forward normalised with the running statistics: the two means are zero.</param>
    public static void BackwardReduce(
        SpecializedValue<EpilogueShape> shape, ArrayView<float> dy, ArrayView<float> y, ArrayView<float> x,
        ArrayView<float> r, ArrayView<float> bn, ArrayView<float> stats, ArrayView<float> dbn, int running)
    {
        EpilogueShape s = shape.Value;
        int channels = s.Channels;
        int spatial = s.Spatial;
        int c = Grid.IdxX;
        int t = Group.IdxX;
        int size = Group.DimX;
        ArrayView<float> sharedG = SharedMemory.Allocate<float>(MaxGroupSize);
        ArrayView<float> sharedGx = SharedMemory.Allocate<float>(MaxGroupSize);
        float mean = stats[c];
        float inv = stats[channels + c];
        float scale = bn[c];
        float shift = bn[channels + c];
        int per = s.N * spatial;
        float partialG = 0f;
        float partialGx = 0f;
        for (int k = t; k < per; k += size)
        {
            int n = k / spatial;
            int i = (((n * channels) + c) * spatial) + (k - (n * spatial));
            float xhat = (x[i] - mean) * inv;
            float pre1 = (xhat * scale) + shift;
            float out1 = ActivationMath.Activate(pre1, s.Act1);
            float g = dy[i] * ActivationMath.Gradient(ActivationMath.NeedsInput(s.Act2) ? out1 + (s.Add ? r[i] : 0f) : 0f, y[i], s.Act2);
            g *= ActivationMath.Gradient(pre1, out1, s.Act1);
            partialG += g;
            partialGx += g * xhat;
        }

        sharedG[t] = partialG;
        sharedGx[t] = partialGx;
        Group.Barrier();
        for (int stride = size / 2; stride > 0; stride /= 2)
        {
            if (t < stride)
            {
                sharedG[t] += sharedG[t + stride];
                sharedGx[t] += sharedGx[t + stride];
            }

            Group.Barrier();
        }

        if (t == 0)
        {
            float count = (float)per;
            float sumG = sharedG[0];
            float sumGx = sharedGx[0];
            dbn[c] = sumGx;
            dbn[channels + c] = sumG;
            stats[(2 * channels) + c] = running != 0 ? 0f : sumG / count;
            stats[(3 * channels) + c] = running != 0 ? 0f : sumGx / count;
        }
    }

    // The group's sum of one value per thread, in a fixed tree order; every thread gets it. The last barrier lets the
    // caller reuse the shared array.
    private static float Sum(ArrayView<float> shared, float value, int t, int size)
    {
        shared[t] = value;
        Group.Barrier();
        for (int stride = size / 2; stride > 0; stride /= 2)
        {
            if (t < stride)
            {
                shared[t] += shared[t + stride];
            }

            Group.Barrier();
        }

        float total = shared[0];
        Group.Barrier();
        return total;
    }
}
