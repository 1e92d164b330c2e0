using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>
/// Max, average (padding counted, as PyTorch's default) and global-average pooling, forward and backward. The backward
/// gathers: one thread per input element sums what every window containing it sends back, so no atomics are needed and
/// results are deterministic. Max pooling sends the gradient to the first maximum of a window in row-major order.
/// </summary>
internal static class PoolKernels
{
    /// <summary>Forward.</summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="threads">Threads launched.</param>
    public static void Forward(Index1D index, SpecializedValue<PoolShape> shape, ArrayView<float> x, ArrayView<float> y, int threads)
    {
        PoolShape s = shape.Value;
        int ho = s.OutHeight;
        int wo = s.OutWidth;
        int total = s.N * s.Channels * ho * wo;
        for (int i = index; i < total; i += threads)
        {
            if (s.Kind == PoolKind.GlobalAverage)
            {
                int plane = s.Height * s.Width;
                float sum = 0f;
                for (int j = 0; j < plane; j++)
                {
                    sum += x[(i * plane) + j];
                }

                y[i] = sum / plane;
                continue;
            }

            int ox = i % wo;
            int t = i / wo;
            int oy = t % ho;
            int nc = t / ho;
            y[i] = s.Kind == PoolKind.Max ? WindowMax(s, x, nc, oy, ox, out _) : WindowSum(s, x, nc, oy, ox) / (s.Kernel * s.Kernel);
        }
    }

    /// <summary>Backward: adds the input's gradient into <paramref name="dx"/>.</summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="x">Input of the forward (read by max pooling).</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="dx">Gradient of the input, accumulated into.</param>
    /// <param name="threads">Threads launched.</param>
    public static void Backward(
        Index1D index, SpecializedValue<PoolShape> shape, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, int threads)
    {
        PoolShape s = shape.Value;
        int ho = s.OutHeight;
        int wo = s.OutWidth;
        int total = s.N * s.Channels * s.Height * s.Width;
        for (int i = index; i < total; i += threads)
        {
            int ix = i % s.Width;
            int t = i / s.Width;
            int iy = t % s.Height;
            int nc = t / s.Height;
            if (s.Kind == PoolKind.GlobalAverage)
            {
                dx[i] += dy[nc] / (s.Height * s.Width);
                continue;
            }

            float acc = 0f;

            // Windows covering iy: oy*S - P <= iy <= oy*S - P + K - 1.
            int oyLow = CeilDiv(iy + s.Padding - s.Kernel + 1, s.Stride);
            int oyHigh = (iy + s.Padding) / s.Stride;
            int oxLow = CeilDiv(ix + s.Padding - s.Kernel + 1, s.Stride);
            int oxHigh = (ix + s.Padding) / s.Stride;
            for (int oy = oyLow < 0 ? 0 : oyLow; oy <= oyHigh && oy < ho; oy++)
            {
                for (int ox = oxLow < 0 ? 0 : oxLow; ox <= oxHigh && ox < wo; ox++)
                {
                    float g = dy[(((nc * ho) + oy) * wo) + ox];
                    if (s.Kind == PoolKind.Average)
                    {
                        acc += g / (s.Kernel * s.Kernel);
                    }
                    else
                    {
                        WindowMax(s, x, nc, oy, ox, out int winner);
                        if (winner == i)
                        {
                            acc += g;
                        }
                    }
                }
            }

            dx[i] += acc;
        }
    }

    private static float WindowMax(PoolShape s, ArrayView<float> x, int nc, int oy, int ox, out int winner)
    {
        float best = float.NegativeInfinity;
        winner = -1;
        for (int ky = 0; ky < s.Kernel; ky++)
        {
            int iy = (oy * s.Stride) - s.Padding + ky;
            if (iy < 0 || iy >= s.Height)
            {
                continue;
            }

            for (int kx = 0; kx < s.Kernel; kx++)
            {
                int ix = (ox * s.Stride) - s.Padding + kx;
                if (ix < 0 || ix >= s.Width)
                {
                    continue;
                }

                int j = (((nc * s.Height) + iy) * s.Width) + ix;
                float v = x[j];

                // A NaN wins as it does in PyTorch, so it propagates instead of vanishing.
                if (winner < 0 || v > best || (float.IsNaN(v) && !float.IsNaN(best)))
                {
                    best = v;
                    winner = j;
                }
            }
        }

        return best;
    }

    private static float WindowSum(PoolShape s, ArrayView<float> x, int nc, int oy, int ox)
    {
        float sum = 0f;
        for (int ky = 0; ky < s.Kernel; ky++)
        {
            int iy = (oy * s.Stride) - s.Padding + ky;
            if (iy < 0 || iy >= s.Height)
            {
                continue;
            }

            for (int kx = 0; kx < s.Kernel; kx++)
            {
                int ix = (ox * s.Stride) - s.Padding + kx;
                if (ix >= 0 && ix < s.Width)
                {
                    sum += x[(((nc * s.Height) + iy) * s.Width) + ix];
                }
            }
        }

        return sum;
    }

    private static int CeilDiv(int a, int b) => a >= 0 ? (a + b - 1) / b : -((-a) / b);
}
