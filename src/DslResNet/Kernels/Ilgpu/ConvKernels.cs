using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>
/// Direct convolution: forward, backward to the input, backward to the weights and bias. Every kernel loops over its
/// work with a stride of <c>threads</c> (the launch size), so the CPU accelerator runs a few long threads and a GPU many.
/// Each output element is computed by exactly one thread, in a fixed order, so results are deterministic.
/// </summary>
internal static class ConvKernels
{
    /// <summary>
    /// <c>y[n,co,oy,ox] = b[co] + sum w[co,ci,ky,kx] x[n,ci,oy*S-P+ky,ox*S-P+kx]</c>. A thread computes four neighbouring
    /// outputs of a row, so each weight is loaded once for four multiply-adds; blocks whose windows lie inside the row
    /// skip the bounds checks.
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape, a compile-time constant of the specialised kernel.</param>
    /// <param name="x">Input.</param>
    /// <param name="w">Weights.</param>
    /// <param name="b">Bias (read when the shape has one).</param>
    /// <param name="y">Output, overwritten.</param>
    /// <param name="threads">Threads launched.</param>
    public static void Forward(
        Index1D index, SpecializedValue<ConvShape> shape, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> y, int threads)
    {
        ConvShape s = shape.Value;
        int ho = s.OutHeight;
        int wo = s.OutWidth;
        int k = s.Kernel;
        int stride = s.Stride;
        int blocks = (wo + 3) / 4;
        int total = s.N * s.OutChannels * ho * blocks;
        for (int i = index; i < total; i += threads)
        {
            int bx = i % blocks;
            int t = i / blocks;
            int oy = t % ho;
            t /= ho;
            int co = t % s.OutChannels;
            int n = t / s.OutChannels;
            int ox0 = bx * 4;
            float bias = s.Bias ? b[co] : 0f;
            float a0 = bias;
            float a1 = bias;
            float a2 = bias;
            float a3 = bias;
            int iy0 = (oy * stride) - s.Padding;
            int ix0 = (ox0 * stride) - s.Padding;
            bool interior = ix0 >= 0 && ix0 + (3 * stride) + k <= s.Width && ox0 + 3 < wo;
            // A grouped convolution reads only its group's input channels; with one group, all of them.
            int cig = s.InPerGroup;
            int ciFirst = (co / s.OutPerGroup) * cig;
            for (int cl = 0; cl < cig; cl++)
            {
                int xBase = (n * s.InChannels + ciFirst + cl) * s.Height;
                int wBase = (co * cig + cl) * k;
                for (int ky = 0; ky < k; ky++)
                {
                    int iy = iy0 + ky;
                    if (iy < 0 || iy >= s.Height)
                    {
                        continue;
                    }

                    int xRow = ((xBase + iy) * s.Width) + ix0;
                    int wRow = (wBase + ky) * k;
                    if (interior)
                    {
                        for (int kx = 0; kx < k; kx++)
                        {
                            float wv = w[wRow + kx];
                            a0 += x[xRow + kx] * wv;
                            a1 += x[xRow + stride + kx] * wv;
                            a2 += x[xRow + (2 * stride) + kx] * wv;
                            a3 += x[xRow + (3 * stride) + kx] * wv;
                        }
                    }
                    else
                    {
                        for (int kx = 0; kx < k; kx++)
                        {
                            float wv = w[wRow + kx];
                            int ix = ix0 + kx;
                            if (ix >= 0 && ix < s.Width)
                            {
                                a0 += x[xRow + kx] * wv;
                            }

                            if (ix + stride >= 0 && ix + stride < s.Width)
                            {
                                a1 += x[xRow + stride + kx] * wv;
                            }

                            if (ix + (2 * stride) >= 0 && ix + (2 * stride) < s.Width)
                            {
                                a2 += x[xRow + (2 * stride) + kx] * wv;
                            }

                            if (ix + (3 * stride) >= 0 && ix + (3 * stride) < s.Width)
                            {
                                a3 += x[xRow + (3 * stride) + kx] * wv;
                            }
                        }
                    }
                }
            }

            int o = ((((n * s.OutChannels) + co) * ho) + oy) * wo + ox0;
            y[o] = a0;
            if (ox0 + 1 < wo)
            {
                y[o + 1] = a1;
            }

            if (ox0 + 2 < wo)
            {
                y[o + 2] = a2;
            }

            if (ox0 + 3 < wo)
            {
                y[o + 3] = a3;
            }
        }
    }

    /// <summary>
    /// <c>dx[n,ci,iy,ix] += sum over (co,ky,kx) with iy = oy*S-P+ky, ix = ox*S-P+kx of w[co,ci,ky,kx] dy[n,co,oy,ox]</c>.
    /// A thread computes four neighbouring inputs of a row; for stride 1, blocks whose taps all land inside the output
    /// row share each weight load and skip the bounds checks.
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="w">Weights.</param>
    /// <param name="dx">Gradient of the input, accumulated into.</param>
    /// <param name="threads">Threads launched.</param>
    public static void BackwardData(
        Index1D index, SpecializedValue<ConvShape> shape, ArrayView<float> dy, ArrayView<float> w, ArrayView<float> dx, int threads)
    {
        ConvShape s = shape.Value;
        int ho = s.OutHeight;
        int wo = s.OutWidth;
        int k = s.Kernel;
        int blocks = (s.Width + 3) / 4;
        int total = s.N * s.InChannels * s.Height * blocks;
        for (int i = index; i < total; i += threads)
        {
            int bx = i % blocks;
            int t = i / blocks;
            int iy = t % s.Height;
            t /= s.Height;
            int ci = t % s.InChannels;
            int n = t / s.InChannels;
            int ix0 = bx * 4;
            int rowBase = (((n * s.InChannels) + ci) * s.Height + iy) * s.Width;

            // Only the output channels of this input channel's group read it.
            int cig = s.InPerGroup;
            int cl = ci % cig;
            int coFirst = (ci / cig) * s.OutPerGroup;
            int coEnd = coFirst + s.OutPerGroup;

            // Kernel rows that reach an output row inside the map: 0 <= iy + P - ky <= (ho - 1) * S.
            int kyLow = Max(0, iy + s.Padding - ((ho - 1) * s.Stride));
            int kyHigh = Min(k - 1, iy + s.Padding);
            if (s.Stride == 1 && ix0 + 3 < s.Width && ix0 + s.Padding - (k - 1) >= 0 && ix0 + 3 + s.Padding <= wo - 1)
            {
                float a0 = 0f;
                float a1 = 0f;
                float a2 = 0f;
                float a3 = 0f;
                for (int co = coFirst; co < coEnd; co++)
                {
                    int dyBase = (n * s.OutChannels + co) * ho;
                    int wBase = (co * cig + cl) * k;
                    for (int ky = kyLow; ky <= kyHigh; ky++)
                    {
                        int dyRow = ((dyBase + iy + s.Padding - ky) * wo) + ix0 + s.Padding;
                        int wRow = (wBase + ky) * k;
                        for (int kx = 0; kx < k; kx++)
                        {
                            float wv = w[wRow + kx];
                            a0 += wv * dy[dyRow - kx];
                            a1 += wv * dy[dyRow + 1 - kx];
                            a2 += wv * dy[dyRow + 2 - kx];
                            a3 += wv * dy[dyRow + 3 - kx];
                        }
                    }
                }

                dx[rowBase + ix0] += a0;
                dx[rowBase + ix0 + 1] += a1;
                dx[rowBase + ix0 + 2] += a2;
                dx[rowBase + ix0 + 3] += a3;
                continue;
            }

            for (int ix = ix0; ix < ix0 + 4 && ix < s.Width; ix++)
            {
                float acc = 0f;
                int kxLow = Max(0, ix + s.Padding - ((wo - 1) * s.Stride));
                int kxHigh = Min(k - 1, ix + s.Padding);
                for (int co = coFirst; co < coEnd; co++)
                {
                    int dyBase = (n * s.OutChannels + co) * ho;
                    int wBase = (co * cig + cl) * k;
                    for (int ky = kyLow; ky <= kyHigh; ky++)
                    {
                        int py = iy + s.Padding - ky;
                        if (py % s.Stride != 0)
                        {
                            continue;
                        }

                        int dyRow = (dyBase + (py / s.Stride)) * wo;
                        int wRow = (wBase + ky) * k;
                        for (int kx = kxLow; kx <= kxHigh; kx++)
                        {
                            int px = ix + s.Padding - kx;
                            if (px % s.Stride == 0)
                            {
                                acc += w[wRow + kx] * dy[dyRow + (px / s.Stride)];
                            }
                        }
                    }
                }

                dx[rowBase + ix] += acc;
            }
        }
    }

    /// <summary>
    /// <c>dw[co,ci,ky,kx] = sum over (n,oy,ox) of dy[n,co,oy,ox] x[n,ci,oy*S-P+ky,ox*S-P+kx]</c>, overwritten; threads past the
    /// weights compute <c>db[co] = sum dy[n,co,.,.]</c> when the shape has a bias.
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="x">Input.</param>
    /// <param name="dw">Gradient of the weights, overwritten.</param>
    /// <param name="db">Gradient of the bias, overwritten (when the shape has one).</param>
    /// <param name="threads">Threads launched.</param>
    public static void BackwardWeights(
        Index1D index, SpecializedValue<ConvShape> shape, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> dw, ArrayView<float> db, int threads)
    {
        ConvShape s = shape.Value;
        int ho = s.OutHeight;
        int wo = s.OutWidth;
        int k = s.Kernel;
        int cig = s.InPerGroup;
        int weights = s.OutChannels * cig * k * k;
        int total = weights + (s.Bias ? s.OutChannels : 0);
        for (int i = index; i < total; i += threads)
        {
            if (i >= weights)
            {
                int c = i - weights;
                float sum = 0f;
                for (int n = 0; n < s.N; n++)
                {
                    int baseIndex = (n * s.OutChannels + c) * ho * wo;
                    float partial = 0f;
                    for (int j = 0; j < ho * wo; j++)
                    {
                        partial += dy[baseIndex + j];
                    }

                    sum += partial;
                }

                db[c] = sum;
                continue;
            }

            int kx = i % k;
            int t = i / k;
            int ky = t % k;
            t /= k;
            int co = t / cig;
            int ci = ((co / s.OutPerGroup) * cig) + (t % cig);

            // Only outputs whose window reaches inside the input along each axis contribute.
            int oyFirst = Clamp(CeilDiv(s.Padding - ky, s.Stride), 0, ho);
            int oyEnd = Clamp(CeilDiv(s.Height + s.Padding - ky, s.Stride), 0, ho);
            int oxFirst = Clamp(CeilDiv(s.Padding - kx, s.Stride), 0, wo);
            int oxEnd = Clamp(CeilDiv(s.Width + s.Padding - kx, s.Stride), 0, wo);
            float acc = 0f;
            for (int n = 0; n < s.N; n++)
            {
                int dyBase = (n * s.OutChannels + co) * ho;
                int xBase = (n * s.InChannels + ci) * s.Height;
                float partial = 0f;
                for (int oy = oyFirst; oy < oyEnd; oy++)
                {
                    int iy = (oy * s.Stride) - s.Padding + ky;
                    int dyRow = (dyBase + oy) * wo;
                    int xRow = (xBase + iy) * s.Width;
                    for (int ox = oxFirst; ox < oxEnd; ox++)
                    {
                        partial += dy[dyRow + ox] * x[xRow + (ox * s.Stride) - s.Padding + kx];
                    }
                }

                acc += partial;
            }

            dw[i] = acc;
        }
    }

    /// <summary>
    /// Folds evaluation-mode batch norm into the preceding convolution: <c>wf = w * g / sqrt(rv + eps)</c> and
    /// <c>bf = beta + (b - rm) * g / sqrt(rv + eps)</c>, with the bias taken as 0 when the convolution has none.
    /// </summary>
    /// <param name="index">The thread.</param>
    /// <param name="shape">The convolution's shape (its Bias says whether <paramref name="b"/> is read).</param>
    /// <param name="w">Weights.</param>
    /// <param name="b">Bias.</param>
    /// <param name="bn">Batch norm's scale, shift, running mean and running variance, each OutChannels long, in that order.</param>
    /// <param name="eps">Batch norm epsilon.</param>
    /// <param name="wf">Folded weights.</param>
    /// <param name="bf">Folded bias.</param>
    /// <param name="threads">Threads launched.</param>
    public static void FoldBatchNorm(
        Index1D index, SpecializedValue<ConvShape> shape, ArrayView<float> w, ArrayView<float> b, ArrayView<float> bn, float eps,
        ArrayView<float> wf, ArrayView<float> bf, int threads)
    {
        ConvShape s = shape.Value;
        int c = s.OutChannels;
        int perChannel = s.InPerGroup * s.Kernel * s.Kernel;
        int weights = c * perChannel;
        for (int i = index; i < weights + c; i += threads)
        {
            int co = i < weights ? i / perChannel : i - weights;
            float scale = bn[co] / Sqrt(bn[(3 * c) + co] + eps);
            if (i < weights)
            {
                wf[i] = w[i] * scale;
            }
            else
            {
                float bias = s.Bias ? b[co] : 0f;
                bf[co] = bn[c + co] + ((bias - bn[(2 * c) + co]) * scale);
            }
        }
    }

    private static int CeilDiv(int a, int b) => a >= 0 ? (a + b - 1) / b : -((-a) / b);

    private static int Max(int a, int b) => a > b ? a : b;

    private static int Min(int a, int b) => a < b ? a : b;

    private static int Clamp(int value, int low, int high) => value < low ? low : value > high ? high : value;

    private static float Sqrt(float value) => XMath.Sqrt(value);
}
