using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>The tiled kernels of the weight and bias gradients.</summary>
internal static partial class TiledConvKernels
{
    /// <summary>
    /// One split's share of <c>dw[co,ci,ky,kx] = sum over (n,oy,ox) of dy[n,co,oy,ox] x[n,ci,oy*S-P+ky,ox*S-P+kx]</c>:
    /// split z adds output pixels <c>[z*chunk, (z+1)*chunk)</c> (chunk = <paramref name="chunk"/>, a multiple of 16) and
    /// overwrites <c>partial[z*Weights + co*Cin*k*k + kk]</c>. Grid: (ceil(Cin*k*k / 64), ceil(Cout / 64), splits) groups of 256.
    /// </summary>
    /// <param name="shape">The shape.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="x">Input.</param>
    /// <param name="partial">Splits x weights floats, overwritten.</param>
    /// <param name="chunk">Output pixels (over the batch) per split.</param>
    public static void BackwardWeights(SpecializedValue<ConvShape> shape, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> partial, int chunk)
    {
        ConvShape s = shape.Value;
        ArrayView<float> tileA = SharedMemory.Allocate<float>(TileK * TileM);
        ArrayView<float> tileB = SharedMemory.Allocate<float>(TileK * TileN);
        int tid = Group.IdxX;
        int k = s.Kernel;
        int taps = k * k;
        int wo = s.OutWidth;
        int pixels = s.OutHeight * wo;
        int gemmM = s.InChannels * taps;
        int gemmK = s.N * pixels;
        int m0 = Grid.IdxX * TileM;
        int n0 = Grid.IdxY * TileN;
        int kBegin = Grid.IdxZ * chunk;
        int kEnd = kBegin + chunk < gemmK ? kBegin + chunk : gemmK;

        // This thread's A row: one weight tap (ci, ky, kx) for the whole launch.
        int aCol = tid % TileM;
        int aRow = tid / TileM;
        int am = m0 + aCol;
        bool aValid = am < gemmM;
        int aci = am / taps;
        int atap = am - (aci * taps);
        int aky = atap / k;
        int iyShift = aky - s.Padding;
        int ixShift = atap - (aky * k) - s.Padding;
        int xChannel = aci * s.Height * s.Width;
        int xImageStride = s.InChannels * s.Height * s.Width;

        int bk = tid % TileK;
        int bn = tid / TileK;

        MicroTile acc = default;
        for (int k0 = kBegin; k0 < kEnd; k0 += TileK)
        {
            for (int r = 0; r < LoadsPerThread; r++)
            {
                int kl = aRow + (r * (Threads / TileM));
                int kIndex = k0 + kl;
                float v = 0f;
                if (aValid && kIndex < kEnd)
                {
                    int n = kIndex / pixels;
                    int pix = kIndex - (n * pixels);
                    int oy = pix / wo;
                    int iy = (oy * s.Stride) + iyShift;
                    int ix = ((pix - (oy * wo)) * s.Stride) + ixShift;
                    if (iy >= 0 && iy < s.Height && ix >= 0 && ix < s.Width)
                    {
                        v = x[(n * xImageStride) + xChannel + (iy * s.Width) + ix];
                    }
                }

                tileA[(kl * TileM) + aCol] = v;
            }

            int bIndex = k0 + bk;
            int bImage = bIndex / pixels;
            int bpix = bIndex - (bImage * pixels);
            for (int r = 0; r < LoadsPerThread; r++)
            {
                int nl = bn + (r * (Threads / TileK));
                int co = n0 + nl;
                tileB[(bk * TileN) + nl] = co < s.OutChannels && bIndex < kEnd ? dy[(((bImage * s.OutChannels) + co) * pixels) + bpix] : 0f;
            }

            Group.Barrier();
            acc.Multiply(tileA, tileB, tid % MicroStride, tid / MicroStride);
            Group.Barrier();
        }

        int tx = tid % MicroStride;
        int ty = tid / MicroStride;
        int weights = s.OutChannels * gemmM;
        int slice = Grid.IdxZ * weights;
        for (int i = 0; i < 4; i++)
        {
            int m = m0 + tx + (i * MicroStride);
            if (m >= gemmM)
            {
                continue;
            }

            Row row = acc.GetRow(i);
            for (int j = 0; j < 4; j++)
            {
                int co = n0 + ty + (j * MicroStride);
                if (co < s.OutChannels)
                {
                    partial[slice + (co * gemmM) + m] = row.Get(j);
                }
            }
        }
    }

    /// <summary>
    /// <c>dw[i] = sum over z in order of partial[z*Weights + i]</c>, overwritten: the fixed-order second pass of the weight
    /// gradient. Grid: any, groups of 256 (a grid-stride loop).
    /// </summary>
    /// <param name="shape">The shape.</param>
    /// <param name="partial">Splits x weights floats.</param>
    /// <param name="dw">Gradient of the weights, overwritten.</param>
    /// <param name="splits">Splits.</param>
    public static void ReduceSplits(SpecializedValue<ConvShape> shape, ArrayView<float> partial, ArrayView<float> dw, int splits)
    {
        ConvShape s = shape.Value;
        int weights = s.OutChannels * s.InChannels * s.Kernel * s.Kernel;
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < weights; i += stride)
        {
            float sum = 0f;
            for (int z = 0; z < splits; z++)
            {
                sum += partial[(z * weights) + i];
            }

            dw[i] = sum;
        }
    }

    /// <summary>
    /// <c>db[co] = sum over (n, pixel) of dy[n,co,pixel]</c>, overwritten: a thread per channel adding in a fixed order
    /// (deterministic, no barriers). Grid: ceil(Cout / 256) groups of 256. A bias comes with dense layers and with
    /// convolutions that have no batch norm after them, not with a ResNet's hot convolutions; a big map with a bias would want a
    /// group per channel and a tree (which the CPU accelerator's emulated barriers make slow to test).
    /// </summary>
    /// <param name="shape">The shape.</param>
    /// <param name="dy">Gradient of the output.</param>
    /// <param name="db">Gradient of the bias, overwritten.</param>
    public static void BiasGradient(SpecializedValue<ConvShape> shape, ArrayView<float> dy, ArrayView<float> db)
    {
        ConvShape s = shape.Value;
        int co = Grid.GlobalIndex.X;
        if (co >= s.OutChannels)
        {
            return;
        }

        int pixels = s.OutHeight * s.OutWidth;
        float sum = 0f;
        for (int n = 0; n < s.N; n++)
        {
            int start = ((n * s.OutChannels) + co) * pixels;
            float partial = 0f;
            for (int i = 0; i < pixels; i++)
            {
                partial += dy[start + i];
            }

            sum += partial;
        }

        db[co] = sum;
    }
}
