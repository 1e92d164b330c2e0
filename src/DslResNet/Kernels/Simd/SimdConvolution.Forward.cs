using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DslResNet.Kernels.Simd;

// The forward pass of SimdConvolution<G, TS, TV>: weight packing, padded input rows, the register-tiled inner loops, the
// store with its fused epilogue and the batch statistics.
internal sealed unsafe partial class SimdConvolution<G, TS, TV>
    where G : struct, IConvGeometry
    where TS : struct, ISimd<TV>
    where TV : struct
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Pack(int ic0, int ic1)
    {
        // Written in order, read with a stride. A data convolution reads the forward weights [ic][oc][kh][kw] rotated.
        for (int tap = 0; tap < Taps; tap++)
        {
            for (int ic = ic0; ic < ic1; ic++)
            {
                float* dst = _packed + (((tap * G.InChannels) + ic) * CoutP);
                if (_flipSource)
                {
                    float* src = _w + (ic * G.OutChannels * Taps) + (Taps - 1 - tap);
                    for (int oc = 0; oc < G.OutChannels; oc++)
                    {
                        dst[oc] = src[oc * Taps];
                    }
                }
                else
                {
                    float* src = _w + (ic * Taps) + tap;
                    for (int oc = 0; oc < G.OutChannels; oc++)
                    {
                        dst[oc] = src[oc * G.InChannels * Taps];
                    }
                }
            }
        }
    }

    // The output at image 0, pixel (0, 0): the value the statistics are taken around. A value from the batch keeps the sums
    // of squares small however far the mean is from zero, and depends only on this step's input and weights, so repeating a
    // forward pass repeats its result exactly.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FirstPixel(float* shift, int oc0, int oc1)
    {
        for (int oc = oc0; oc < oc1; oc++)
        {
            float sum = _bias ? _b[oc] : 0f;
            for (int ic = 0; ic < G.InChannels; ic++)
            {
                for (int kh = 0; kh < G.Kernel; kh++)
                {
                    int ih = kh - G.Padding;
                    if (ih < 0 || ih >= G.Height)
                    {
                        continue;
                    }

                    for (int kw = 0; kw < G.Kernel; kw++)
                    {
                        int iw = kw - G.Padding;
                        if (iw >= 0 && iw < G.Width)
                        {
                            sum += _x[(((ih * G.Width) + iw) * G.InChannels) + ic] * _w[(((((oc * G.InChannels) + ic) * G.Kernel) + kh) * G.Kernel) + kw];
                        }
                    }
                }
            }

            shift[oc] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackTransposed(int oc0, int oc1)
    {
        // Written in order, read with a stride.
        for (int tap = 0; tap < Taps; tap++)
        {
            for (int oc = oc0; oc < oc1; oc++)
            {
                float* dst = _transposed + (((tap * G.OutChannels) + oc) * CinP);
                float* src = _w + (oc * G.InChannels * Taps) + tap;
                for (int ic = 0; ic < G.InChannels; ic++)
                {
                    dst[ic] = src[ic * Taps];
                }
            }
        }
    }

    // Copies input rows [ihStart, ihStart + rows) of image n into the scratch with zero padding around them.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PadInput(float* image, float* dst, int ihStart, int rows)
    {
        int left = G.Padding * G.InChannels;
        int middle = G.Width * G.InChannels;
        int right = RowStride - left - middle;
        for (int r = 0; r < rows; r++)
        {
            int ih = ihStart + r;
            float* d = dst + ((long)r * RowStride);
            if (ih < 0 || ih >= G.Height)
            {
                new Span<float>(d, RowStride).Clear();
                continue;
            }

            new Span<float>(d, left).Clear();
            new ReadOnlySpan<float>(image + ((long)ih * middle), middle).CopyTo(new Span<float>(d + left, middle));
            new Span<float>(d + left + middle, right).Clear();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardRows(int n, int oh0, int oh1, int thread)
    {
        if (oh1 <= oh0)
        {
            return;
        }

        float* scratch = _pool.Scratch(thread);
        float* tile = scratch;
        float* padded = scratch + TileFloats;
        int ihStart = (oh0 * G.Stride) - G.Padding;
        int rows = ((oh1 - 1 - oh0) * G.Stride) + G.Kernel;
        PadInput(_x + ((long)n * InPixels * G.InChannels), padded, ihStart, rows);
        float* yImage = _y + ((long)n * OutPixels * G.OutChannels);
        for (int oh = oh0; oh < oh1; oh++)
        {
            float* xRow = padded + ((long)(oh - oh0) * G.Stride * RowStride);
            float* yRow = yImage + ((long)oh * OutWidth * G.OutChannels);
            int oc0 = 0;
            while (oc0 < CoutP)
            {
                int vectors = (CoutP - oc0) >= 64 ? 4 : (CoutP - oc0) >= 32 ? 2 : 1;
                ForwardGroup(vectors, xRow, oc0, yRow, tile, thread);
                oc0 += 16 * vectors;
            }

            // Float sums over one row, double across rows.
            FlushStatistics(thread);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardGroup(int vectors, float* xRow, int oc0, float* yRow, float* tile, int thread)
    {
        // Stride 1, kernels up to 3 wide, 16 or 32 channels: the sliding kernels, which load each input value once per row
        // of taps rather than once per tap.
        bool slide = G.Stride == 1 && G.Kernel <= 3 && vectors <= 2;
        int most = slide ? (vectors == 1 ? 14 : 7) : vectors == 4 ? 7 : vectors == 2 ? 14 : 28;
        int blocks = (OutWidth + most - 1) / most;
        int small = OutWidth / blocks;
        int large = blocks - (OutWidth % blocks);
        int ow0 = 0;
        bool direct = !_bias && !HasEpilogue && !_accumulate && oc0 + (16 * vectors) <= G.OutChannels;
        for (int b = 0; b < blocks; b++)
        {
            int count = b < large ? small : small + 1;
            float* x = xRow + ((long)ow0 * G.Stride * G.InChannels);
            float* w = _packed + oc0;
            float* y = yRow + ((long)ow0 * G.OutChannels) + oc0;
            float* dst = direct ? y : tile;
            int stride = direct ? G.OutChannels : 16 * vectors;
            switch (slide ? -vectors : vectors)
            {
                case -1: MicroKernels<G, TS, TV>.ForwardSlide1(count, x, w, dst, stride); break;
                case -2: MicroKernels<G, TS, TV>.ForwardSlide2(count, x, w, dst, stride); break;
                case 4: MicroKernels<G, TS, TV>.Forward4(count, x, w, dst, stride); break;
                case 2: MicroKernels<G, TS, TV>.Forward2(count, x, w, dst, stride); break;
                default: MicroKernels<G, TS, TV>.Forward1(count, x, w, dst, stride); break;
            }

            if (!direct)
            {
                StoreTile(tile, count, vectors, oc0, y);
            }

            if (Statistics is not null)
            {
                AccumulateStatistics(y, count, vectors, oc0, thread);
            }

            ow0 += count;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void StoreTile(float* tile, int count, int vectors, int oc0, float* y)
    {
        int valid = Math.Min(16 * vectors, G.OutChannels - oc0);
        if (valid == 16 * vectors)
        {
            // Whole vectors: add the bias, apply a fused epilogue, store.
            bool fused = HasEpilogue;
            float* residual = EpilogueResidual is null ? null : EpilogueResidual + (y - _y);
            for (int r = 0; r < count; r++)
            {
                float* t = tile + (r * 16 * vectors);
                float* d = y + ((long)r * G.OutChannels);
                for (int v = 0; v < vectors; v++)
                {
                    TV value = TS.Load(t + (16 * v));
                    if (_bias)
                    {
                        value = TS.Add(value, TS.Load(_b + oc0 + (16 * v)));
                    }

                    if (_accumulate)
                    {
                        value = TS.Add(value, TS.Load(d + (16 * v)));
                    }

                    if (fused)
                    {
                        if (EpilogueRelu1)
                        {
                            value = TS.Relu(value);
                        }

                        if (residual is not null)
                        {
                            value = TS.Add(value, TS.Load(residual + ((long)r * G.OutChannels) + (16 * v)));
                        }

                        if (EpilogueRelu2)
                        {
                            value = TS.Relu(value);
                        }
                    }

                    TS.Store(d + (16 * v), value);
                }
            }

            return;
        }

        for (int r = 0; r < count; r++)
        {
            float* t = tile + (r * 16 * vectors);
            float* d = y + ((long)r * G.OutChannels);
            for (int c = 0; c < valid; c++)
            {
                float value = (_bias ? t[c] + _b[oc0 + c] : t[c]) + (_accumulate ? d[c] : 0f);
                if (HasEpilogue)
                {
                    value = EpilogueRelu1 && value < 0f ? 0f : value;
                    value += EpilogueResidual is null ? 0f : EpilogueResidual[(d - _y) + c];
                    value = EpilogueRelu2 && value < 0f ? 0f : value;
                }

                d[c] = value;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AccumulateStatistics(float* y, int count, int vectors, int oc0, int thread)
    {
        float* sums = _statistics + (thread * 2 * CoutP);
        float* squares = sums + CoutP;
        float* shift = Statistics!.Shift;
        int valid = Math.Min(16 * vectors, G.OutChannels - oc0);
        if (valid == 16 * vectors)
        {
            for (int v = 0; v < vectors; v++)
            {
                int c = oc0 + (16 * v);
                TV s = TS.Load(sums + c);
                TV q = TS.Load(squares + c);
                TV m = TS.Load(shift + c);
                for (int r = 0; r < count; r++)
                {
                    TV d = TS.Subtract(TS.Load(y + ((long)r * G.OutChannels) + (16 * v)), m);
                    s = TS.Add(s, d);
                    q = TS.Fma(d, d, q);
                }

                TS.Store(sums + c, s);
                TS.Store(squares + c, q);
            }
        }
        else
        {
            for (int r = 0; r < count; r++)
            {
                for (int c = 0; c < valid; c++)
                {
                    float d = y[((long)r * G.OutChannels) + c] - shift[oc0 + c];
                    sums[oc0 + c] += d;
                    squares[oc0 + c] += d * d;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FlushStatistics(int thread)
    {
        if (Statistics is not null)
        {
            float* sums = _statistics + (thread * 2 * CoutP);
            Statistics.Flush(thread, sums, sums + CoutP);
        }
    }
}
