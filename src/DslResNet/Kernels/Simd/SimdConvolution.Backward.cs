using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DslResNet.Kernels.Simd;

// The backward pass of SimdConvolution<G, TS, TV>: the weight gradient per image, its reduction over slices of the batch, and the
// input gradient.
internal sealed unsafe partial class SimdConvolution<G, TS, TV>
    where G : struct, IConvGeometry
    where TS : struct, ISimd<TV>
    where TV : struct
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WeightsImage(int n, int thread, int slice)
    {
        float* scratch = _pool.Scratch(thread);
        float* padded = scratch;
        PadInput(_x + ((long)n * InPixels * G.InChannels), padded, -G.Padding, PaddedHeight);
        float* dy = _dy + ((long)n * OutPixels * G.OutChannels);
        if ((G.OutChannels & 15) != 0)
        {
            // Pixels CoutP apart so that whole vectors can be read; the extra channels are zero.
            float* copy = scratch + (PaddedHeight * RowStride);
            for (int p = 0; p < OutPixels; p++)
            {
                new ReadOnlySpan<float>(dy + ((long)p * G.OutChannels), G.OutChannels).CopyTo(new Span<float>(copy + ((long)p * CoutP), G.OutChannels));
                new Span<float>(copy + ((long)p * CoutP) + G.OutChannels, CoutP - G.OutChannels).Clear();
            }

            dy = copy;
        }

        float* partial = Partials + (slice * (WeightsPadded + CoutP));
        int dyStride = (G.OutChannels & 15) == 0 ? G.OutChannels : CoutP;

        // Rows of the image at a time (see WeightRowBlock), every tap and channel block over each, so that their input and
        // output-gradient rows are read from L2 by all the blocks; then the next rows, adding to the same partial sums.
        int block = WeightRowBlock;
        for (int oh0 = 0; oh0 < OutHeight; oh0 += block)
        {
            int rows = Math.Min(block, OutHeight - oh0);
            float* xRows = padded + ((long)oh0 * G.Stride * RowStride);
            float* dyRows = dy + ((long)oh0 * OutWidth * dyStride);
            if (WeightsRow16)
            {
                // 16 input channels as the vectors, the output gradient broadcast once per kernel row: partials [tap][oc][16].
                for (int kh = 0; kh < 3; kh++)
                {
                    for (int oc0 = 0; oc0 < G.OutChannels; oc0 += 8)
                    {
                        MicroKernels<G, TS, TV>.BackwardWeightsRow16(Math.Min(8, G.OutChannels - oc0), xRows + (kh * RowStride), dyRows + oc0, partial + ((((long)kh * 3 * G.OutChannels) + oc0) * 16), rows);
                    }
                }

                continue;
            }

            for (int tap = 0; tap < Taps; tap++)
            {
                int kh = tap / G.Kernel;
                int kw = tap % G.Kernel;
                float* xTap = xRows + (kh * RowStride) + (kw * G.InChannels);
                int oc0 = 0;
                while (oc0 < CoutP)
                {
                    int vectors = Blocks<TS, TV>.Vectors(CoutP - oc0);
                    int most = Blocks<TS, TV>.WeightRows(vectors);
                    for (int ic0 = 0; ic0 < G.InChannels; ic0 += most)
                    {
                        int count = Math.Min(most, G.InChannels - ic0);
                        float* dw = partial + ((((long)tap * G.InChannels) + ic0) * CoutP) + oc0;
                        switch (vectors)
                        {
                            case 4: MicroKernels<G, TS, TV>.BackwardWeights4(count, xTap + ic0, dyRows + oc0, dw, rows); break;
                            case 2: MicroKernels<G, TS, TV>.BackwardWeights2(count, xTap + ic0, dyRows + oc0, dw, rows); break;
                            default: MicroKernels<G, TS, TV>.BackwardWeights1(count, xTap + ic0, dyRows + oc0, dw, rows); break;
                        }
                    }

                    oc0 += 16 * vectors;
                }
            }
        }

        if (_bias)
        {
            int stride = (G.OutChannels & 15) == 0 ? G.OutChannels : CoutP;
            float* db = partial + WeightsPadded;
            for (int p = 0; p < OutPixels; p++)
            {
                for (int c = 0; c < G.OutChannels; c++)
                {
                    db[c] += dy[((long)p * stride) + c];
                }
            }
        }
    }

    // Output rows of an image the weight gradient takes at a time. Each (tap, output-channel group, input-channel block)
    // streams its rows' inputs and output gradients, a cache line of each a pixel for 12 multiply-adds; over a whole image
    // larger than L2 (ResNet-50's 56x56 stage: 1.6 to 4 MB an image) those lines came from L3 for every block. Rows whose
    // input and output gradient fit in 192 KB are read from L2 instead, at the cost of adding every block's sums into the
    // partials once per row block: so only where the partials are at most 4 MB (every ResNet-50 layer but the 3x3 ones of
    // its last stage and the stride-2 1x1 into it, 9 and 8 MB, for 400 KB to 1.2 MB an image). `profile resnet50-224 train
    // 2`, two alternated runs each: with at most 256 KB of partials the 56x56 layers ran 1.4 to 2.4 times as fast; raising
    // that to 4 MB took the 14x14 and 28x28 ones from 77/70 to 64/43 ms (256x14x14->1024), 74/63 to 58/45 (128x28x28 3x3),
    // 59/51 to 54/35 (1024x14x14->256).
    private static int WeightRowBlock
    {
        get
        {
            long rowFloats = ((long)OutWidth * CoutP) + ((long)G.Stride * RowStride);
            long image = (rowFloats * OutHeight) + ((long)(G.Kernel - G.Stride) * RowStride);
            const long Budget = 48 * 1024, LargestPartials = 1024 * 1024;
            return image <= Budget || WeightsPadded > LargestPartials ? OutHeight : (int)Math.Clamp(Budget / rowFloats, 1, OutHeight);
        }
    }

    // 16 input channels, stride 1, 3x3: the weight gradient with input pixels as vectors (see BackwardWeightsRow16); its 24
    // accumulators need the wide register file.
    private static bool WeightsRow16 => G.InChannels == 16 && G.Stride == 1 && G.Kernel == 3 && Blocks<TS, TV>.Wide;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReduceWeightGradient(int oc0, int oc1)
    {
        // The slices' partial sums, added in slice order (the same result every time), into OIHW: 16 output channels at a
        // time, a vector of each slice's partials ([tap][ic][CoutP] holds them side by side) added and the 16 sums stored
        // down the gradient's rows. One channel at a time, with the partials' address and the fields reloaded for every
        // value, this took 189 ms of a 2.2 s ResNet-50 step (13 ms for 2.4M weights on 2 slices).
        long stride = WeightsPadded + CoutP;
        int slices = _slices;
        float* partials = Partials;
        float* dw = _dw;
        int inputs = G.InChannels;
        int taps = Taps;
        int coutP = CoutP;
        long row = (long)inputs * taps;
        float* sums = stackalloc float[16];
        for (int b0 = oc0; b0 < oc1;)
        {
            int b1 = WeightsRow16 ? b0 + 1 : Math.Min(oc1, (b0 & ~15) + 16);
            bool whole = !WeightsRow16 && b1 - b0 == 16;
            for (int tap = 0; tap < taps; tap++)
            {
                for (int ic = 0; ic < inputs; ic++)
                {
                    float* d = dw + ((long)b0 * row) + ((long)ic * taps) + tap;
                    if (whole)
                    {
                        float* p = partials + ((((long)tap * inputs) + ic) * coutP) + b0;
                        TV sum = TS.Load(p);
                        for (int t = 1; t < slices; t++)
                        {
                            sum = TS.Add(sum, TS.Load(p + (t * stride)));
                        }

                        TS.Store(sums, sum);
                        for (int k = 0; k < 16; k++)
                        {
                            d[k * row] = sums[k];
                        }

                        continue;
                    }

                    for (int oc = b0; oc < b1; oc++)
                    {
                        float* p = WeightsRow16 ? partials + (((tap * G.OutChannels) + oc) * 16) + ic : partials + ((((long)tap * inputs) + ic) * coutP) + oc;
                        float sum = p[0];
                        for (int t = 1; t < slices; t++)
                        {
                            sum += p[t * stride];
                        }

                        d[(oc - b0) * row] = sum;
                    }
                }
            }

            b0 = b1;
        }

        if (_bias && _db is not null)
        {
            for (int oc = oc0; oc < oc1; oc++)
            {
                float* p = Partials + WeightsPadded + oc;
                float sum = p[0];
                for (int t = 1; t < slices; t++)
                {
                    sum += p[t * stride];
                }

                _db[oc] = sum;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DataImage(int n, int thread)
    {
        float* padded = _pool.Scratch(thread);
        new Span<float>(padded, DataRows * PaddedWidth * CinP).Clear();
        float* dy = _dy + ((long)n * OutPixels * G.OutChannels);
        for (int oh = 0; oh < OutHeight; oh++)
        {
            float* dyRow = dy + ((long)oh * OutWidth * G.OutChannels);
            for (int tap = 0; tap < Taps; tap++)
            {
                int kh = tap / G.Kernel;
                int kw = tap % G.Kernel;
                float* target = padded + ((((long)(oh * G.Stride) + kh) * PaddedWidth) + kw) * CinP;
                float* wt = _transposed + ((long)tap * G.OutChannels * CinP);
                int ic0 = 0;
                while (ic0 < CinP)
                {
                    int vectors = Blocks<TS, TV>.Vectors(CinP - ic0);
                    int most = Blocks<TS, TV>.DataPixels(vectors);
                    int blocks = (OutWidth + most - 1) / most;
                    int small = OutWidth / blocks;
                    int large = blocks - (OutWidth % blocks);
                    int ow0 = 0;
                    for (int b = 0; b < blocks; b++)
                    {
                        int count = b < large ? small : small + 1;
                        float* d = dyRow + ((long)ow0 * G.OutChannels);
                        float* t = target + ((long)ow0 * G.Stride * CinP) + ic0;
                        switch (vectors)
                        {
                            case 4: MicroKernels<G, TS, TV>.BackwardData4(count, d, wt + ic0, t); break;
                            case 2: MicroKernels<G, TS, TV>.BackwardData2(count, d, wt + ic0, t); break;
                            default: MicroKernels<G, TS, TV>.BackwardData1(count, d, wt + ic0, t); break;
                        }

                        ow0 += count;
                    }

                    ic0 += 16 * vectors;
                }
            }
        }

        // The interior of the padded gradient is the input's gradient.
        float* dx = _dx + ((long)n * InPixels * G.InChannels);
        for (int ih = 0; ih < G.Height; ih++)
        {
            for (int iw = 0; iw < G.Width; iw++)
            {
                float* s = padded + ((((long)(ih + G.Padding) * PaddedWidth) + iw + G.Padding) * CinP);
                float* d = dx + ((((long)ih * G.Width) + iw) * G.InChannels);
                int c = 0;
                for (; c + 16 <= G.InChannels; c += 16)
                {
                    TS.Store(d + c, TS.Add(TS.Load(d + c), TS.Load(s + c)));
                }

                for (; c < G.InChannels; c++)
                {
                    d[c] += s[c];
                }
            }
        }
    }
}
