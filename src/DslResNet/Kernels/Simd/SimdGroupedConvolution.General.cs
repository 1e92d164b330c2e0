using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DslResNet.Kernels.Simd;

// The general path: each input row expanded so that every lane holds its own group's channel, then one vector multiply-add per tap.
internal sealed unsafe partial class SimdGroupedConvolution<G>
{
    // Input row ih of image n, zero-padded, as [iwp][j][oc]: lane oc holds channel (oc's group) * Cig + j.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ExpandInputRow(int n, int ih, float* e)
    {
        int perPixel = Cig * CoP;
        new Span<float>(e, G.Padding * perPixel).Clear();
        new Span<float>(e + ((G.Padding + G.Width) * perPixel), G.Padding * perPixel).Clear();
        float* row = _x + ((((long)n * G.Height) + ih) * G.Width * G.InChannels);
        for (int iw = 0; iw < G.Width; iw++)
        {
            float* src = row + (iw * G.InChannels);
            float* dst = e + ((G.Padding + iw) * perPixel);
            for (int j = 0; j < Cig; j++)
            {
                float* d = dst + (j * CoP);
                for (int group = 0; group < GroupCount; group++)
                {
                    float v = src[(group * Cig) + j];
                    float* dg = d + (group * Cog);
                    for (int o = 0; o < Cog; o++)
                    {
                        dg[o] = v;
                    }
                }

                // The lanes past the last channel meet zero weights, but must not hold a NaN from earlier use of the scratch.
                for (int oc = G.OutChannels; oc < CoP; oc++)
                {
                    d[oc] = 0f;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardRow(int n, int oh, float* scratch)
    {
        float* e = scratch;
        float* acc = scratch + ((long)PaddedWidth * Cig * CoP);
        for (int ow = 0; ow < OutWidth; ow++)
        {
            float* a = acc + (ow * CoP);
            for (int oc = 0; oc < CoP; oc++)
            {
                a[oc] = _bias && oc < G.OutChannels ? _b[oc] : 0f;
            }
        }

        for (int kh = 0; kh < G.Kernel; kh++)
        {
            int ih = (oh * G.Stride) - G.Padding + kh;
            if (ih < 0 || ih >= G.Height)
            {
                continue;
            }

            ExpandInputRow(n, ih, e);
            for (int ow = 0; ow < OutWidth; ow++)
            {
                float* a = acc + (ow * CoP);
                for (int c = 0; c < CoP; c += VL)
                {
                    Vector<float> sum = Load(a + c);
                    for (int kw = 0; kw < G.Kernel; kw++)
                    {
                        float* xp = e + ((((ow * G.Stride) + kw) * Cig * CoP) + c);
                        float* wp = _packed + ((((kh * G.Kernel) + kw) * Cig * CoP) + c);
                        for (int j = 0; j < Cig; j++)
                        {
                            sum += Load(xp + (j * CoP)) * Load(wp + (j * CoP));
                        }
                    }

                    Store(a + c, sum);
                }
            }
        }

        float* y = _y + ((((long)n * OutHeight) + oh) * OutWidth * G.OutChannels);
        for (int ow = 0; ow < OutWidth; ow++)
        {
            new ReadOnlySpan<float>(acc + (ow * CoP), G.OutChannels).CopyTo(new Span<float>(y + (ow * G.OutChannels), G.OutChannels));
        }
    }

    // dx[n, ih, ., .] += the taps that read it, gathered: lanes are input channels; output-gradient row oh is expanded as
    // [ow][o < Cog][ic]: lane ic holds channel (ic's group) * Cog + o.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DataRow(int n, int ih, float* scratch)
    {
        float* d = scratch;
        float* acc = scratch + ((long)OutWidth * Cog * CiP);
        new Span<float>(acc, G.Width * CiP).Clear();
        for (int kh = 0; kh < G.Kernel; kh++)
        {
            int t = ih + G.Padding - kh;
            if (t < 0 || t % G.Stride != 0 || t / G.Stride >= OutHeight)
            {
                continue;
            }

            float* dyRow = _dy + ((((long)n * OutHeight) + (t / G.Stride)) * OutWidth * G.OutChannels);
            for (int ow = 0; ow < OutWidth; ow++)
            {
                float* src = dyRow + (ow * G.OutChannels);
                for (int o = 0; o < Cog; o++)
                {
                    float* dst = d + (((ow * Cog) + o) * CiP);
                    for (int group = 0; group < GroupCount; group++)
                    {
                        float v = src[(group * Cog) + o];
                        float* dg = dst + (group * Cig);
                        for (int i = 0; i < Cig; i++)
                        {
                            dg[i] = v;
                        }
                    }

                    for (int ic = G.InChannels; ic < CiP; ic++)
                    {
                        dst[ic] = 0f;
                    }
                }
            }

            for (int iw = 0; iw < G.Width; iw++)
            {
                float* a = acc + (iw * CiP);
                for (int kw = 0; kw < G.Kernel; kw++)
                {
                    int u = iw + G.Padding - kw;
                    if (u < 0 || u % G.Stride != 0 || u / G.Stride >= OutWidth)
                    {
                        continue;
                    }

                    float* dp = d + ((u / G.Stride) * Cog * CiP);
                    float* wp = _transposed + (((kh * G.Kernel) + kw) * Cog * CiP);
                    for (int c = 0; c < CiP; c += VL)
                    {
                        Vector<float> sum = Load(a + c);
                        for (int o = 0; o < Cog; o++)
                        {
                            sum += Load(dp + (o * CiP) + c) * Load(wp + (o * CiP) + c);
                        }

                        Store(a + c, sum);
                    }
                }
            }
        }

        float* dx = _dx + ((((long)n * G.Height) + ih) * G.Width * G.InChannels);
        for (int iw = 0; iw < G.Width; iw++)
        {
            float* a = acc + (iw * CiP);
            float* dst = dx + (iw * G.InChannels);
            for (int ic = 0; ic < G.InChannels; ic++)
            {
                dst[ic] += a[ic];
            }
        }
    }

    // This thread's partial dw[tap][j][oc] += dy[n, oh, ow, oc] * x[n, ih, iw, (oc's group) * Cig + j] over output row oh.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WeightsRow(int n, int oh, float* scratch, float* partial)
    {
        float* e = scratch;
        float* g = scratch + ((long)PaddedWidth * Cig * CoP);
        float* dyRow = _dy + ((((long)n * OutHeight) + oh) * OutWidth * G.OutChannels);
        for (int ow = 0; ow < OutWidth; ow++)
        {
            float* dst = g + (ow * CoP);
            new ReadOnlySpan<float>(dyRow + (ow * G.OutChannels), G.OutChannels).CopyTo(new Span<float>(dst, G.OutChannels));
            for (int oc = G.OutChannels; oc < CoP; oc++)
            {
                dst[oc] = 0f;
            }
        }

        for (int kh = 0; kh < G.Kernel; kh++)
        {
            int ih = (oh * G.Stride) - G.Padding + kh;
            if (ih < 0 || ih >= G.Height)
            {
                continue;
            }

            ExpandInputRow(n, ih, e);
            for (int kw = 0; kw < G.Kernel; kw++)
            {
                float* p = partial + (((kh * G.Kernel) + kw) * Cig * CoP);
                for (int j = 0; j < Cig; j++)
                {
                    float* pj = p + (j * CoP);
                    for (int c = 0; c < CoP; c += VL)
                    {
                        Vector<float> sum = Load(pj + c);
                        for (int ow = 0; ow < OutWidth; ow++)
                        {
                            sum += Load(g + (ow * CoP) + c) * Load(e + ((((ow * G.Stride) + kw) * Cig) + j) * CoP + c);
                        }

                        Store(pj + c, sum);
                    }
                }
            }
        }
    }

    // The fast path. Channels C = InChannels = OutChannels, groups of Cg = Cig = Cog channels; lanes are channels c .. c + 7.

    // The eight lanes' values of group-channel j at a pixel whose channels start at p, for the block of channels starting at c:
    // lane l reads channel ((c + l) / Cg) * Cg + j.
}
