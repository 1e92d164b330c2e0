using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DslResNet.Kernels.Simd;

/// <summary>
/// A grouped convolution (<c>G.Groups</c> &gt; 1) on the SIMD backend, tensors in NHWC order. ResNeXt's grouped 3x3 layers have
/// 4 to 32 channels per group, too few to fill the dense kernels' register tiles, so every pass vectorises across all the
/// groups' channels at once: a row of the map is first expanded so that lane <c>c</c> holds the value channel <c>c</c> reads
/// (its own group's channel), then each tap is one vector multiply-add over the row. No Winograd and no fused epilogue or
/// statistics (the epilogue pass does those itself).
/// <para>ResNeXt's and depthwise layers (as many input as output channels, a multiple of 8, and groups of 1, 2 or 4 channels or
/// a multiple of 8) take a faster path with AVX2: no expansion; lanes are eight channels, and the value lane <c>c</c> reads
/// for group-channel <c>j</c> is one permute of the eight channels at that pixel (groups smaller than 8 lanes) or one broadcast
/// (larger groups); four pixels per tile, each a separate accumulator.</para>
/// </summary>
/// <typeparam name="G">The geometry (constants).</typeparam>
internal sealed unsafe class SimdGroupedConvolution<G> : IConvolution, IParallelWork
    where G : struct, IConvGeometry
{
    private const int PassForward = 0;
    private const int PassData = 1;
    private const int PassWeights = 2;

    private static readonly int VL = Vector<float>.Count;

    // G.Groups is a static virtual member with a default: a call to it is not inlined (a profile showed get_Cig as 27% of a
    // run, called from the inner loops). Read once; the class is initialised before any kernel is compiled, so the JIT takes
    // this static readonly value as a constant.
    private static readonly int GroupCount = G.Groups;

    private readonly SimdPool _pool;
    private readonly int _batch;
    private readonly bool _bias;
    private readonly float* _x;
    private readonly float* _w;
    private readonly float* _b;
    private readonly float* _y;
    private readonly float* _dy;
    private readonly float* _dx;
    private readonly float* _dw;
    private readonly float* _db;
    private readonly string[] _names;
    private float* _packed;     // [tap][j < Cig][oc < CoP]: forward and weight-gradient lanes are output channels
    private float* _transposed; // [tap][o < Cog][ic < CiP]: input-gradient lanes are input channels
    private float* _partials;   // per thread [tap][j][oc < CoP]
    private int _pass;

    /// <summary>Binds the convolution.</summary>
    /// <param name="pool">Threads.</param>
    /// <param name="batch">Images the tensors hold.</param>
    /// <param name="bias">Whether there is a bias.</param>
    /// <param name="tensors">The tensors.</param>
    public SimdGroupedConvolution(SimdPool pool, int batch, bool bias, ConvTensors tensors)
    {
        _pool = pool;
        _batch = batch;
        _bias = bias;
        _x = (float*)tensors.X;
        _w = (float*)tensors.W;
        _b = (float*)tensors.B;
        _y = (float*)tensors.Y;
        _dy = (float*)tensors.Dy;
        _dx = (float*)tensors.Dx;
        _dw = (float*)tensors.Dw;
        _db = (float*)tensors.Db;
        string name = $"grouped conv {G.InChannels}x{G.Height}x{G.Width}->{G.OutChannels} k{G.Kernel}s{G.Stride} g{G.Groups}";
        _names = [name + " forward", name + " data", name + " weights"];
        _packed = NativeBlocks.Allocate<float>((long)Taps * Cig * CoP);
        _transposed = NativeBlocks.Allocate<float>((long)Taps * Cog * CiP);
        if (_dw is not null)
        {
            _partials = NativeBlocks.Allocate<float>((long)pool.Threads * Taps * Cig * CoP);
        }

        long forward = ((long)PaddedWidth * Cig * CoP) + ((long)OutWidth * CoP);
        long data = ((long)OutWidth * Cog * CiP) + ((long)G.Width * CiP);
        long weights = ((long)PaddedWidth * Cig * CoP) + ((long)OutWidth * CoP);
        long fast = (long)G.Kernel * (PaddedWidth + DilatedWidth) * G.InChannels;
        pool.EnsureScratch(Math.Max(Math.Max(forward, fast), Math.Max(data, weights)));
    }

    /// <summary>Whether the permute/broadcast path runs (see the class remarks).</summary>
    internal static bool Fast => Avx2.IsSupported && Fma.IsSupported && Cig == Cog && G.InChannels % 8 == 0
        && (8 % Cig == 0 || Cig % 8 == 0);

    // The output-gradient row as the data pass reads it: u' = iw + Kernel - 1 - kw for every input column and tap.
    private static int DilatedWidth => G.Width + G.Kernel - 1;

    private static int Taps => G.Kernel * G.Kernel;

    private static int Cig => G.InChannels / GroupCount;

    private static int Cog => G.OutChannels / GroupCount;

    private static int CoP => (G.OutChannels + VL - 1) / VL * VL;

    private static int CiP => (G.InChannels + VL - 1) / VL * VL;

    private static int PaddedWidth => G.Width + (2 * G.Padding);

    private static int OutHeight => ((G.Height + (2 * G.Padding) - G.Kernel) / G.Stride) + 1;

    private static int OutWidth => ((G.Width + (2 * G.Padding) - G.Kernel) / G.Stride) + 1;

    /// <inheritdoc />
    public void Forward(int images, bool weightsChanged)
    {
        if (weightsChanged)
        {
            PackWeights();
        }

        _pass = PassForward;
        _pool.Run(this, images * OutHeight, balanced: true);
    }

    /// <inheritdoc />
    public void Backward(bool data, bool weights = true)
    {
        if (weights)
        {
            // Every thread's partials are cleared here, so the sum below need not know which threads ran.
            new Span<float>(_partials, _pool.Threads * Taps * Cig * CoP).Clear();
            _pass = PassWeights;
            _pool.Run(this, _batch * OutHeight);
            ReduceWeights();
        }

        if (data && _dx is not null)
        {
            PackWeights();
            _pass = PassData;
            _pool.Run(this, _batch * G.Height, balanced: true);
        }
    }

    /// <inheritdoc />
    public void Run(int start, int end, int thread)
    {
        float* scratch = _pool.Scratch(thread);
        switch (_pass)
        {
            case PassForward:
                for (int unit = start; unit < end; unit++)
                {
                    if (Fast)
                    {
                        FastForwardRow(unit / OutHeight, unit % OutHeight, scratch);
                    }
                    else
                    {
                        ForwardRow(unit / OutHeight, unit % OutHeight, scratch);
                    }
                }

                break;
            case PassData:
                for (int unit = start; unit < end; unit++)
                {
                    if (Fast)
                    {
                        FastDataRow(unit / G.Height, unit % G.Height, scratch);
                    }
                    else
                    {
                        DataRow(unit / G.Height, unit % G.Height, scratch);
                    }
                }

                break;
            default:
                float* partial = _partials + ((long)thread * Taps * Cig * CoP);
                for (int unit = start; unit < end; unit++)
                {
                    if (Fast)
                    {
                        FastWeightsRow(unit / OutHeight, unit % OutHeight, scratch, partial);
                    }
                    else
                    {
                        WeightsRow(unit / OutHeight, unit % OutHeight, scratch, partial);
                    }
                }

                break;
        }
    }

    /// <inheritdoc />
    public override string ToString() => _names[_pass];

    /// <summary>Frees the packed weights and partial sums.</summary>
    public void Dispose()
    {
        NativeBlocks.Free(_packed);
        NativeBlocks.Free(_transposed);
        NativeBlocks.Free(_partials);
        _packed = null;
        _transposed = null;
        _partials = null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Load(float* p) => Unsafe.ReadUnaligned<Vector<float>>(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* p, Vector<float> v) => Unsafe.WriteUnaligned(p, v);

    // OIHW [oc][j][tap] to [tap][j][oc] (lanes: output channels) and [tap][o][ic] (lanes: input channels).
    private void PackWeights()
    {
        for (int oc = 0; oc < G.OutChannels; oc++)
        {
            int group = oc / Cog;
            int o = oc % Cog;
            for (int j = 0; j < Cig; j++)
            {
                int ic = (group * Cig) + j;
                float* src = _w + (((long)oc * Cig) + j) * Taps;
                for (int tap = 0; tap < Taps; tap++)
                {
                    _packed[(((tap * Cig) + j) * CoP) + oc] = src[tap];
                    _transposed[(((tap * Cog) + o) * CiP) + ic] = src[tap];
                }
            }
        }
    }

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

    // Adds the threads' partials in thread order (the same result every time) into dw, OIHW; the bias gradient from dy.
    private void ReduceWeights()
    {
        int threads = _pool.Threads;
        int size = Taps * Cig * CoP;
        for (int oc = 0; oc < G.OutChannels; oc++)
        {
            for (int j = 0; j < Cig; j++)
            {
                for (int tap = 0; tap < Taps; tap++)
                {
                    int at = (((tap * Cig) + j) * CoP) + oc;
                    float sum = 0f;
                    for (int t = 0; t < threads; t++)
                    {
                        sum += _partials[((long)t * size) + at];
                    }

                    _dw[((((long)oc * Cig) + j) * Taps) + tap] = sum;
                }
            }
        }

        if (_bias && _db is not null)
        {
            long pixels = (long)_batch * OutHeight * OutWidth;
            for (int oc = 0; oc < G.OutChannels; oc++)
            {
                _db[oc] = 0f;
            }

            for (long p = 0; p < pixels; p++)
            {
                float* src = _dy + (p * G.OutChannels);
                for (int oc = 0; oc < G.OutChannels; oc++)
                {
                    _db[oc] += src[oc];
                }
            }
        }
    }
}
