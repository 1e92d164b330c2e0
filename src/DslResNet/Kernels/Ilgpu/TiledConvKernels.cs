using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>
/// Convolutions as shared-memory tiled implicit GEMMs, for GPUs (explicitly grouped kernels: launch each with a
/// <see cref="KernelConfig"/> of <see cref="Threads"/> threads per group; <c>IlgpuBackend.TiledConvolution</c> computes the grids).
/// Dense convolutions only (Groups = 1); grouped ones keep <see cref="ConvKernels"/>. Maps in NCHW, weights Cout x Cin x k x k.
/// <list type="bullet">
/// <item>Forward: C[M x N] = A[M x K] B[K x N] with M = N*Ho*Wo output pixels, N = Cout, K = Cin*k*k; A is the input gathered
/// on the fly (im2col never stored), B the weights read as stored (<c>w[co*K + kk]</c>).</item>
/// <item>Backward to the input: M = N*H*W input pixels, N = Cin, K = Cout*k*k; <c>A[(n,iy,ix)][(co,ky,kx)] = dy[n,co,oy,ox]</c>
/// where <c>oy*S = iy+P-ky</c> and <c>ox*S = ix+P-kx</c> (zero where that is not divisible by the stride or falls outside the
/// output: the scatter-free gather); B the weights transposed, read in place. Accumulated into dx. At stride 2 three quarters
/// of A is zero: correct, and left to a later phase-split kernel (only a ResNet's few downsampling layers pay it).</item>
/// <item>Backward to the weights: M = Cin*k*k, N = Cout, K = N*Ho*Wo output pixels, split over K across
/// <c>splits</c> groups in z (big images have few weight tiles and a long K); each split writes its own slice of a
/// partial buffer and <see cref="ReduceSplits"/> adds the slices in split order. No atomics: the same inputs give the same bits
/// every run.</item>
/// <item>Bias gradient: a thread per output channel, in a fixed order.</item>
/// </list>
/// <para>
/// Tiles: 64 x 64 outputs per group, K-step 16, 256 threads each computing a 4 x 4 register micro-tile (16 accumulators,
/// 8 shared loads per 16 fused multiply-adds per K). A thread's rows are <c>tx + 16 i</c> and columns <c>ty + 16 j</c>
/// (tx = thread % 16, ty = thread / 16), strided rather than contiguous, so a warp reads 16 consecutive floats of the A tile
/// (no bank conflicts) and one or two broadcast words of the B tile, and its stores of C are 16 consecutive pixels of a map
/// (coalesced in NCHW). Each load step fetches 4 floats of A and 4 of B per thread; a thread's A pixel (or, for the weight
/// gradient, its A tap) is fixed for the whole launch, so its index arithmetic is hoisted out of the K loop. Shared memory:
/// two 16 x 64 float tiles, 8 KB per group (the static limit is 48 KB), so up to eight groups (2,048 threads) fit an SM's
/// 228 KB and registers (about 40 per thread expected) are what bounds occupancy. 64 x 64 suits ResNet's 16 to 512 channels
/// and 7x7 to 56x56 maps: smaller tiles halve the reuse, larger ones leave most groups idle on the small CIFAR maps.
/// </para>
/// <para>
/// What a GPU run should check: the PTX's registers per thread (ptxas -v, or the driver's cuFuncGetAttribute) and the
/// achieved occupancy (at least 4 groups per SM of an H100); shared memory per group 8,192 bytes static; time per layer
/// against the direct kernels and cuDNN (PyTorch) on ResNet-20's and ResNet-50's shapes; that the backward-to-input kernel
/// at stride 2 is not the bottleneck; and results equal (to 1e-4 relative) to the CPU accelerator's on the same inputs.
/// Not done yet: double-buffered tiles (loads of step k+1 overlapping the math of step k), vectorised float4 loads, and a
/// TF32 tensor-core path.
/// </para>
/// On the CPU accelerator these kernels need an accelerator that emulates groups of <see cref="Threads"/> threads (ILGPU's
/// default CPU device has 16); <c>Device</c> creates one when the tiled path is asked for there.
/// </summary>
internal static partial class TiledConvKernels
{
    /// <summary>Threads per group.</summary>
    public const int Threads = 256;

    /// <summary>Rows of C (the GEMM's M) per group.</summary>
    public const int TileM = 64;

    /// <summary>Columns of C (the GEMM's N) per group.</summary>
    public const int TileN = 64;

    /// <summary>The K-step: columns of A and rows of B held in shared memory at a time.</summary>
    public const int TileK = 16;

    // Each thread loads TileK * TileM / Threads = 4 values of each tile per step; the micro-tile is 4 x 4.
    private const int LoadsPerThread = TileK * TileM / Threads;
    private const int MicroStride = 16;

    /// <summary>
    /// <c>y[n,co,oy,ox] = b[co] + sum w[co,ci,ky,kx] x[n,ci,oy*S-P+ky,ox*S-P+kx]</c>, overwritten. Grid: (ceil(N*Ho*Wo / 64),
    /// ceil(Cout / 64)) groups of 256.
    /// </summary>
    /// <param name="shape">The shape, a compile-time constant of the specialised kernel.</param>
    /// <param name="x">Input.</param>
    /// <param name="w">Weights.</param>
    /// <param name="b">Bias (read when the shape has one).</param>
    /// <param name="y">Output.</param>
    public static void Forward(SpecializedValue<ConvShape> shape, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> y)
    {
        ConvShape s = shape.Value;
        ArrayView<float> tileA = SharedMemory.Allocate<float>(TileK * TileM);
        ArrayView<float> tileB = SharedMemory.Allocate<float>(TileK * TileN);
        int tid = Group.IdxX;
        int k = s.Kernel;
        int taps = k * k;
        int pixels = s.OutHeight * s.OutWidth;
        int gemmM = s.N * pixels;
        int gemmK = s.InChannels * taps;
        int m0 = Grid.IdxX * TileM;
        int n0 = Grid.IdxY * TileN;

        // This thread's A row: one output pixel for the whole launch.
        int aCol = tid % TileM;
        int aRow = tid / TileM;
        int am = m0 + aCol;
        bool aValid = am < gemmM;
        int an = aValid ? am / pixels : 0;
        int apix = am - (an * pixels);
        int aoy = apix / s.OutWidth;
        int iy0 = (aoy * s.Stride) - s.Padding;
        int ix0 = ((apix - (aoy * s.OutWidth)) * s.Stride) - s.Padding;
        int xImage = an * s.InChannels * s.Height * s.Width;

        // This thread's B column and rows.
        int bk = tid % TileK;
        int bn = tid / TileK;

        MicroTile acc = default;
        for (int k0 = 0; k0 < gemmK; k0 += TileK)
        {
            for (int r = 0; r < LoadsPerThread; r++)
            {
                int kl = aRow + (r * (Threads / TileM));
                int kIndex = k0 + kl;
                float v = 0f;
                if (aValid && kIndex < gemmK)
                {
                    int ci = kIndex / taps;
                    int tap = kIndex - (ci * taps);
                    int ky = tap / k;
                    int iy = iy0 + ky;
                    int ix = ix0 + tap - (ky * k);
                    if (iy >= 0 && iy < s.Height && ix >= 0 && ix < s.Width)
                    {
                        v = x[xImage + (((ci * s.Height) + iy) * s.Width) + ix];
                    }
                }

                tileA[(kl * TileM) + aCol] = v;
            }

            for (int r = 0; r < LoadsPerThread; r++)
            {
                int nl = bn + (r * (Threads / TileK));
                int co = n0 + nl;
                int kIndex = k0 + bk;
                tileB[(bk * TileN) + nl] = co < s.OutChannels && kIndex < gemmK ? w[(co * gemmK) + kIndex] : 0f;
            }

            Group.Barrier();
            acc.Multiply(tileA, tileB, tid % MicroStride, tid / MicroStride);
            Group.Barrier();
        }

        int tx = tid % MicroStride;
        int ty = tid / MicroStride;
        for (int i = 0; i < 4; i++)
        {
            int m = m0 + tx + (i * MicroStride);
            if (m >= gemmM)
            {
                continue;
            }

            int n = m / pixels;
            int pix = m - (n * pixels);
            Row row = acc.GetRow(i);
            for (int j = 0; j < 4; j++)
            {
                int co = n0 + ty + (j * MicroStride);
                if (co < s.OutChannels)
                {
                    y[(((n * s.OutChannels) + co) * pixels) + pix] = row.Get(j) + (s.Bias ? b[co] : 0f);
                }
            }
        }
    }

    /// <summary>
    /// <c>dx[n,ci,iy,ix] += sum over (co,ky,kx) with oy*S = iy+P-ky, ox*S = ix+P-kx of w[co,ci,ky,kx] dy[n,co,oy,ox]</c>.
    /// Grid: (ceil(N*H*W / 64), ceil(Cin / 64)) groups of 256.
    /// </summary>
    /// <param name="shape">The shape.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="w">Weights.</param>
    /// <param name="dx">Gradient of the input, accumulated into.</param>
    public static void BackwardData(SpecializedValue<ConvShape> shape, ArrayView<float> dy, ArrayView<float> w, ArrayView<float> dx)
    {
        ConvShape s = shape.Value;
        ArrayView<float> tileA = SharedMemory.Allocate<float>(TileK * TileM);
        ArrayView<float> tileB = SharedMemory.Allocate<float>(TileK * TileN);
        int tid = Group.IdxX;
        int k = s.Kernel;
        int taps = k * k;
        int ho = s.OutHeight;
        int wo = s.OutWidth;
        int pixels = s.Height * s.Width;
        int gemmM = s.N * pixels;
        int gemmK = s.OutChannels * taps;
        int m0 = Grid.IdxX * TileM;
        int n0 = Grid.IdxY * TileN;

        // This thread's A row: one input pixel for the whole launch, shifted by the padding.
        int aCol = tid % TileM;
        int aRow = tid / TileM;
        int am = m0 + aCol;
        bool aValid = am < gemmM;
        int an = aValid ? am / pixels : 0;
        int apix = am - (an * pixels);
        int aiy = apix / s.Width;
        int py0 = aiy + s.Padding;
        int px0 = apix - (aiy * s.Width) + s.Padding;
        int dyImage = an * s.OutChannels * ho * wo;

        int bk = tid % TileK;
        int bn = tid / TileK;

        MicroTile acc = default;
        for (int k0 = 0; k0 < gemmK; k0 += TileK)
        {
            for (int r = 0; r < LoadsPerThread; r++)
            {
                int kl = aRow + (r * (Threads / TileM));
                int kIndex = k0 + kl;
                float v = 0f;
                if (aValid && kIndex < gemmK)
                {
                    int co = kIndex / taps;
                    int tap = kIndex - (co * taps);
                    int ky = tap / k;
                    int py = py0 - ky;
                    int px = px0 - (tap - (ky * k));
                    if (py >= 0 && px >= 0 && py % s.Stride == 0 && px % s.Stride == 0)
                    {
                        int oy = py / s.Stride;
                        int ox = px / s.Stride;
                        if (oy < ho && ox < wo)
                        {
                            v = dy[dyImage + (((co * ho) + oy) * wo) + ox];
                        }
                    }
                }

                tileA[(kl * TileM) + aCol] = v;
            }

            int bIndex = k0 + bk;
            int bco = bIndex / taps;
            int btap = bIndex - (bco * taps);
            for (int r = 0; r < LoadsPerThread; r++)
            {
                int nl = bn + (r * (Threads / TileK));
                int ci = n0 + nl;
                tileB[(bk * TileN) + nl] = ci < s.InChannels && bIndex < gemmK ? w[(((bco * s.InChannels) + ci) * taps) + btap] : 0f;
            }

            Group.Barrier();
            acc.Multiply(tileA, tileB, tid % MicroStride, tid / MicroStride);
            Group.Barrier();
        }

        int tx = tid % MicroStride;
        int ty = tid / MicroStride;
        for (int i = 0; i < 4; i++)
        {
            int m = m0 + tx + (i * MicroStride);
            if (m >= gemmM)
            {
                continue;
            }

            int n = m / pixels;
            int pix = m - (n * pixels);
            Row row = acc.GetRow(i);
            for (int j = 0; j < 4; j++)
            {
                int ci = n0 + ty + (j * MicroStride);
                if (ci < s.InChannels)
                {
                    dx[(((n * s.InChannels) + ci) * pixels) + pix] += row.Get(j);
                }
            }
        }
    }
}
