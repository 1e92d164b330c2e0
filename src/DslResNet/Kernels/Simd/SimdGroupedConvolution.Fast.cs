using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DslResNet.Kernels.Simd;

// The fast path (AVX2 + FMA, as many input as output channels): lanes are eight channels, the value of group-channel j one permute or one broadcast.
internal sealed unsafe partial class SimdGroupedConvolution<G>
{
    // cg is Cig, passed in: the properties are not inlined into these methods, and a call per value cost a quarter of the time.
    // lanes is (l & ~(cg - 1)) per lane l, the first lane of l's group.
    // start is the block's group's first channel (c - c % cg), read only for groups of 8 or more channels.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Spread(float* p, int c, int j, int cg, Vector256<int> lanes, int start)
    {
        if (cg == 1)
        {
            return Avx.LoadVector256(p + c);
        }

        if ((cg & 7) == 0)
        {
            return Vector256.Create(p[start + j]);
        }

        return Avx2.PermuteVar8x32(Avx.LoadVector256(p + c), lanes + Vector256.Create(j));
    }

    private static Vector256<int> GroupLanes(int cg) => Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) & Vector256.Create(~(cg - 1));

    // Row ih of image n (or of dy) into a zero-padded buffer: `before` zero pixels, the row, zero pixels to `length`.
    private static void PadRow(float* src, int pixels, float* dst, int before, int length)
    {
        int c = G.InChannels;
        new Span<float>(dst, before * c).Clear();
        new ReadOnlySpan<float>(src, pixels * c).CopyTo(new Span<float>(dst + (before * c), pixels * c));
        new Span<float>(dst + ((before + pixels) * c), (length - before - pixels) * c).Clear();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FastForwardRow(int n, int oh, float* scratch)
    {
        int channels = G.InChannels;
        int cg = Cig;
        int coP = CoP;
        int ciP = CiP;
        int taps = Taps;
        int kernel = G.Kernel;
        Vector256<int> lanes = GroupLanes(cg);
        _ = coP + ciP + taps + kernel;
        int rowFloats = PaddedWidth * channels;
        int first = -1;
        int last = -1;
        for (int kh = 0; kh < G.Kernel; kh++)
        {
            int ih = (oh * G.Stride) - G.Padding + kh;
            if (ih < 0 || ih >= G.Height)
            {
                continue;
            }

            first = first < 0 ? kh : first;
            last = kh;
            PadRow(_x + ((((long)n * G.Height) + ih) * G.Width * channels), G.Width, scratch + (kh * rowFloats), G.Padding, PaddedWidth);
        }

        float* y = _y + ((((long)n * OutHeight) + oh) * OutWidth * channels);
        int step = G.Stride * channels;
        for (int c = 0; c < channels; c += 8)
        {
            int start = c - (c % cg);
            Vector256<float> bias = _bias ? Avx.LoadVector256(_b + c) : Vector256<float>.Zero;
            int ow = 0;
            for (; ow + 4 <= OutWidth; ow += 4)
            {
                Vector256<float> a0 = bias, a1 = bias, a2 = bias, a3 = bias;
                for (int kh = first; kh <= last && first >= 0; kh++)
                {
                    float* row = scratch + (kh * rowFloats);
                    for (int kw = 0; kw < G.Kernel; kw++)
                    {
                        float* p = row + ((((ow * G.Stride) + kw)) * channels);
                        float* wp = _packed + ((((kh * G.Kernel) + kw) * cg * coP) + c);
                        for (int j = 0; j < cg; j++)
                        {
                            Vector256<float> w = Avx.LoadVector256(wp + (j * coP));
                            a0 = Fma.MultiplyAdd(Spread(p, c, j, cg, lanes, start), w, a0);
                            a1 = Fma.MultiplyAdd(Spread(p + step, c, j, cg, lanes, start), w, a1);
                            a2 = Fma.MultiplyAdd(Spread(p + (2 * step), c, j, cg, lanes, start), w, a2);
                            a3 = Fma.MultiplyAdd(Spread(p + (3 * step), c, j, cg, lanes, start), w, a3);
                        }
                    }
                }

                float* o = y + (ow * channels) + c;
                Avx.Store(o, a0);
                Avx.Store(o + channels, a1);
                Avx.Store(o + (2 * channels), a2);
                Avx.Store(o + (3 * channels), a3);
            }

            for (; ow < OutWidth; ow++)
            {
                Vector256<float> a0 = bias;
                for (int kh = first; kh <= last && first >= 0; kh++)
                {
                    float* row = scratch + (kh * rowFloats);
                    for (int kw = 0; kw < G.Kernel; kw++)
                    {
                        float* p = row + (((ow * G.Stride) + kw) * channels);
                        float* wp = _packed + ((((kh * G.Kernel) + kw) * cg * coP) + c);
                        for (int j = 0; j < cg; j++)
                        {
                            a0 = Fma.MultiplyAdd(Spread(p, c, j, cg, lanes, start), Avx.LoadVector256(wp + (j * coP)), a0);
                        }
                    }
                }

                Avx.Store(y + (ow * channels) + c, a0);
            }
        }
    }

    // dx[n, ih] += sum over the taps that read it; the output-gradient row of each such tap is spread out (zeros between the
    // columns of a strided layer) so that column iw, tap kw reads position iw + Kernel - 1 - kw.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FastDataRow(int n, int ih, float* scratch)
    {
        int channels = G.InChannels;
        int cg = Cig;
        int coP = CoP;
        int ciP = CiP;
        int taps = Taps;
        int kernel = G.Kernel;
        Vector256<int> lanes = GroupLanes(cg);
        _ = coP + ciP + taps + kernel;
        int rowFloats = DilatedWidth * channels;
        Span<bool> valid = stackalloc bool[G.Kernel];
        bool any = false;
        for (int kh = 0; kh < G.Kernel; kh++)
        {
            int t = ih + G.Padding - kh;
            valid[kh] = t >= 0 && t % G.Stride == 0 && t / G.Stride < OutHeight;
            if (!valid[kh])
            {
                continue;
            }

            any = true;
            float* dyRow = _dy + ((((long)n * OutHeight) + (t / G.Stride)) * OutWidth * channels);
            float* d = scratch + (kh * rowFloats);
            if (G.Stride == 1)
            {
                // u = u' + Padding - Kernel + 1 is the output column.
                int before = G.Kernel - 1 - G.Padding;
                int skip = before < 0 ? -before : 0;
                int start = before < 0 ? 0 : before;
                int pixels = Math.Min(OutWidth - skip, DilatedWidth - start);
                new Span<float>(d, rowFloats).Clear();
                if (pixels > 0)
                {
                    new ReadOnlySpan<float>(dyRow + (skip * channels), pixels * channels).CopyTo(new Span<float>(d + (start * channels), pixels * channels));
                }
            }
            else
            {
                new Span<float>(d, rowFloats).Clear();
                for (int up = 0; up < DilatedWidth; up++)
                {
                    int u = up + G.Padding - G.Kernel + 1;
                    if (u >= 0 && u % G.Stride == 0 && u / G.Stride < OutWidth)
                    {
                        new ReadOnlySpan<float>(dyRow + ((u / G.Stride) * channels), channels).CopyTo(new Span<float>(d + (up * channels), channels));
                    }
                }
            }
        }

        if (!any)
        {
            return;
        }

        float* dx = _dx + ((((long)n * G.Height) + ih) * G.Width * channels);
        for (int c = 0; c < channels; c += 8)
        {
            int start = c - (c % cg);
            int iw = 0;
            for (; iw + 4 <= G.Width; iw += 4)
            {
                float* o = dx + (iw * channels) + c;
                Vector256<float> a0 = Avx.LoadVector256(o), a1 = Avx.LoadVector256(o + channels);
                Vector256<float> a2 = Avx.LoadVector256(o + (2 * channels)), a3 = Avx.LoadVector256(o + (3 * channels));
                for (int kh = 0; kh < G.Kernel; kh++)
                {
                    if (!valid[kh])
                    {
                        continue;
                    }

                    float* row = scratch + (kh * rowFloats);
                    for (int kw = 0; kw < G.Kernel; kw++)
                    {
                        float* p = row + ((iw + G.Kernel - 1 - kw) * channels);
                        float* wp = _transposed + ((((kh * G.Kernel) + kw) * cg * ciP) + c);
                        for (int j = 0; j < cg; j++)
                        {
                            Vector256<float> w = Avx.LoadVector256(wp + (j * ciP));
                            a0 = Fma.MultiplyAdd(Spread(p, c, j, cg, lanes, start), w, a0);
                            a1 = Fma.MultiplyAdd(Spread(p + channels, c, j, cg, lanes, start), w, a1);
                            a2 = Fma.MultiplyAdd(Spread(p + (2 * channels), c, j, cg, lanes, start), w, a2);
                            a3 = Fma.MultiplyAdd(Spread(p + (3 * channels), c, j, cg, lanes, start), w, a3);
                        }
                    }
                }

                Avx.Store(o, a0);
                Avx.Store(o + channels, a1);
                Avx.Store(o + (2 * channels), a2);
                Avx.Store(o + (3 * channels), a3);
            }

            for (; iw < G.Width; iw++)
            {
                float* o = dx + (iw * channels) + c;
                Vector256<float> a0 = Avx.LoadVector256(o);
                for (int kh = 0; kh < G.Kernel; kh++)
                {
                    if (!valid[kh])
                    {
                        continue;
                    }

                    float* row = scratch + (kh * rowFloats);
                    for (int kw = 0; kw < G.Kernel; kw++)
                    {
                        float* p = row + ((iw + G.Kernel - 1 - kw) * channels);
                        float* wp = _transposed + ((((kh * G.Kernel) + kw) * cg * ciP) + c);
                        for (int j = 0; j < cg; j++)
                        {
                            a0 = Fma.MultiplyAdd(Spread(p, c, j, cg, lanes, start), Avx.LoadVector256(wp + (j * ciP)), a0);
                        }
                    }
                }

                Avx.Store(o, a0);
            }
        }
    }

    // This thread's partial dw[tap][j][oc] += dy[n, oh, ow, oc] * x[n, ih, iw, (oc's group) * Cg + j] over output row oh.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FastWeightsRow(int n, int oh, float* scratch, float* partial)
    {
        int channels = G.InChannels;
        int cg = Cig;
        int coP = CoP;
        int ciP = CiP;
        int taps = Taps;
        int kernel = G.Kernel;
        Vector256<int> lanes = GroupLanes(cg);
        _ = coP + ciP + taps + kernel;
        float* dyRow = _dy + ((((long)n * OutHeight) + oh) * OutWidth * channels);
        int step = G.Stride * channels;
        for (int kh = 0; kh < G.Kernel; kh++)
        {
            int ih = (oh * G.Stride) - G.Padding + kh;
            if (ih < 0 || ih >= G.Height)
            {
                continue;
            }

            PadRow(_x + ((((long)n * G.Height) + ih) * G.Width * channels), G.Width, scratch, G.Padding, PaddedWidth);
            // A block of 8 channels and 8 output columns at a time, over all its taps and group channels: the pixels of a row
            // are C floats apart, so a whole row's lines fall in a few L1 sets and passes over whole rows (one per tap and
            // group channel) missed L1 every time (a third of the forward pass's speed).
            for (int c = 0; c < channels; c += 8)
            {
                int start = c - (c % cg);
                for (int o0 = 0; o0 < OutWidth; o0 += 8)
                {
                    int o1 = Math.Min(o0 + 8, OutWidth);
                    for (int kw = 0; kw < G.Kernel; kw++)
                    {
                        float* pk = partial + (((kh * G.Kernel) + kw) * cg * coP);
                        for (int j = 0; j < cg; j++)
                        {
                            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                            float* p = scratch + (((o0 * G.Stride) + kw) * channels);
                            float* g = dyRow + (o0 * channels) + c;
                            int ow = o0;
                            for (; ow + 4 <= o1; ow += 4)
                            {
                                a0 = Fma.MultiplyAdd(Avx.LoadVector256(g), Spread(p, c, j, cg, lanes, start), a0);
                                a1 = Fma.MultiplyAdd(Avx.LoadVector256(g + channels), Spread(p + step, c, j, cg, lanes, start), a1);
                                a2 = Fma.MultiplyAdd(Avx.LoadVector256(g + (2 * channels)), Spread(p + (2 * step), c, j, cg, lanes, start), a2);
                                a3 = Fma.MultiplyAdd(Avx.LoadVector256(g + (3 * channels)), Spread(p + (3 * step), c, j, cg, lanes, start), a3);
                                g += 4 * channels;
                                p += 4 * step;
                            }

                            for (; ow < o1; ow++)
                            {
                                a0 = Fma.MultiplyAdd(Avx.LoadVector256(g), Spread(p, c, j, cg, lanes, start), a0);
                                g += channels;
                                p += step;
                            }

                            float* q = pk + (j * coP) + c;
                            Avx.Store(q, Avx.LoadVector256(q) + ((a0 + a1) + (a2 + a3)));
                        }
                    }
                }
            }
        }
    }
}
