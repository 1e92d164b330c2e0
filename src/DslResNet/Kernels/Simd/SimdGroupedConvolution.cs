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
/// </summary>
/// <typeparam name="G">The geometry (constants).</typeparam>
internal sealed unsafe class SimdGroupedConvolution<G> : IConvolution, IParallelWork
    where G : struct, IConvGeometry
{
    private const int PassForward = 0;
    private const int PassData = 1;
    private const int PassWeights = 2;

    // Vector<float>.Count is a JIT-time constant (a static readonly copy of it would not be in AggressiveOptimization code).
    private static int VL => Vector<float>.Count;

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
    private int* _permute;      // [j][8]: lane l reads channel (l / Cog) * Cog + j of the 8 at its chunk (the direct forward path)

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
        if (Direct)
        {
            _permute = NativeBlocks.Allocate<int>(8L * Cig);
            for (int j = 0; j < Cig; j++)
            {
                for (int l = 0; l < 8; l++)
                {
                    _permute[(j * 8) + l] = Cog < 8 ? ((l / Cog) * Cog) + j : 0;
                }
            }
        }

        _transposed = NativeBlocks.Allocate<float>((long)Taps * Cog * CiP);
        if (_dw is not null)
        {
            _partials = NativeBlocks.Allocate<float>((long)pool.Threads * Taps * Cig * CoP);
        }

        long forward = ((long)PaddedWidth * Cig * CoP) + ((long)OutWidth * CoP);
        long data = ((long)OutWidth * Cog * CiP) + ((long)G.Width * CiP);
        long weights = ((long)PaddedWidth * Cig * CoP) + ((long)OutWidth * CoP);
        pool.EnsureScratch(Math.Max(forward, Math.Max(data, weights)));
    }

    private static int Taps => G.Kernel * G.Kernel;

    // The forward pass without expansion (AVX2 and FMA, groups as wide in as out, whole 8-lane chunks within or across groups):
    // a chunk's inputs are its own 8 channels permuted (fewer than 8 per group) or one broadcast channel (8 or more).
    private static bool Direct => Avx2.IsSupported && Fma.IsSupported && Cig == Cog && G.OutChannels % 8 == 0 && (8 % Cog == 0 || Cog % 8 == 0);

    private static int Cig => G.InChannels / G.Groups;

    private static int Cog => G.OutChannels / G.Groups;

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
                    if (Direct)
                    {
                        ForwardRowDirect(unit / OutHeight, unit % OutHeight, scratch);
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
                    DataRow(unit / G.Height, unit % G.Height, scratch);
                }

                break;
            default:
                float* partial = _partials + ((long)thread * Taps * Cig * CoP);
                for (int unit = start; unit < end; unit++)
                {
                    WeightsRow(unit / OutHeight, unit % OutHeight, scratch, partial);
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
        NativeBlocks.Free(_permute);
        _permute = null;
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
        // Locals: the JIT keeps them in registers (the geometry's Groups is a default interface member, which it may not fold).
        int groups = G.Groups, cig = Cig, cog = Cog, coP = CoP, ciP = CiP;
        int perPixel = cig * coP;
        new Span<float>(e, G.Padding * perPixel).Clear();
        new Span<float>(e + ((G.Padding + G.Width) * perPixel), G.Padding * perPixel).Clear();
        float* row = _x + ((((long)n * G.Height) + ih) * G.Width * G.InChannels);
        for (int iw = 0; iw < G.Width; iw++)
        {
            float* src = row + (iw * G.InChannels);
            float* dst = e + ((G.Padding + iw) * perPixel);
            for (int j = 0; j < cig; j++)
            {
                float* d = dst + (j * coP);
                for (int group = 0; group < groups; group++)
                {
                    float v = src[(group * cig) + j];
                    float* dg = d + (group * cog);
                    for (int o = 0; o < cog; o++)
                    {
                        dg[o] = v;
                    }
                }

                // The lanes past the last channel meet zero weights, but must not hold a NaN from earlier use of the scratch.
                for (int oc = G.OutChannels; oc < coP; oc++)
                {
                    d[oc] = 0f;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardRow(int n, int oh, float* scratch)
    {
        // Locals: the JIT keeps them in registers (the geometry's Groups is a default interface member, which it may not fold).
        int groups = G.Groups, cig = Cig, cog = Cog, coP = CoP, ciP = CiP;
        float* e = scratch;
        float* acc = scratch + ((long)PaddedWidth * cig * coP);
        for (int ow = 0; ow < OutWidth; ow++)
        {
            float* a = acc + (ow * coP);
            for (int oc = 0; oc < coP; oc++)
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
                float* a = acc + (ow * coP);
                for (int c = 0; c < coP; c += VL)
                {
                    Vector<float> sum = Load(a + c);
                    for (int kw = 0; kw < G.Kernel; kw++)
                    {
                        float* xp = e + ((((ow * G.Stride) + kw) * cig * coP) + c);
                        float* wp = _packed + ((((kh * G.Kernel) + kw) * cig * coP) + c);
                        for (int j = 0; j < cig; j++)
                        {
                            sum += Load(xp + (j * coP)) * Load(wp + (j * coP));
                        }
                    }

                    Store(a + c, sum);
                }
            }
        }

        float* y = _y + ((((long)n * OutHeight) + oh) * OutWidth * G.OutChannels);
        for (int ow = 0; ow < OutWidth; ow++)
        {
            new ReadOnlySpan<float>(acc + (ow * coP), G.OutChannels).CopyTo(new Span<float>(y + (ow * G.OutChannels), G.OutChannels));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardRowDirect(int n, int oh, float* acc)
    {
        int cog = Cog, coP = CoP;
        float* packed = _packed;
        int* permute = _permute;
        for (int ow = 0; ow < OutWidth; ow++)
        {
            float* a = acc + (ow * coP);
            for (int oc = 0; oc < coP; oc++)
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

            float* row = _x + ((((long)n * G.Height) + ih) * G.Width * G.InChannels);
            for (int ow = 0; ow < OutWidth; ow++)
            {
                float* a = acc + (ow * coP);
                for (int kw = 0; kw < G.Kernel; kw++)
                {
                    int iw = (ow * G.Stride) - G.Padding + kw;
                    if (iw < 0 || iw >= G.Width)
                    {
                        continue;
                    }

                    float* xp = row + (iw * G.InChannels);
                    float* wp = packed + (((kh * G.Kernel) + kw) * cog * coP);
                    for (int c = 0; c < G.OutChannels; c += 8)
                    {
                        Vector256<float> sum = Avx.LoadVector256(a + c);
                        if (cog < 8)
                        {
                            Vector256<float> xv = Avx.LoadVector256(xp + c);
                            for (int j = 0; j < cog; j++)
                            {
                                sum = Fma.MultiplyAdd(Avx2.PermuteVar8x32(xv, Avx.LoadVector256(permute + (j * 8))), Avx.LoadVector256(wp + (j * coP) + c), sum);
                            }
                        }
                        else
                        {
                            float* xg = xp + (c / cog * cog);
                            for (int j = 0; j < cog; j++)
                            {
                                sum = Fma.MultiplyAdd(Vector256.Create(xg[j]), Avx.LoadVector256(wp + (j * coP) + c), sum);
                            }
                        }

                        Avx.Store(a + c, sum);
                    }
                }
            }
        }

        float* y = _y + ((((long)n * OutHeight) + oh) * OutWidth * G.OutChannels);
        for (int ow = 0; ow < OutWidth; ow++)
        {
            new ReadOnlySpan<float>(acc + (ow * coP), G.OutChannels).CopyTo(new Span<float>(y + (ow * G.OutChannels), G.OutChannels));
        }
    }

    // dx[n, ih, ., .] += the taps that read it, gathered: lanes are input channels; output-gradient row oh is expanded as
    // [ow][o < Cog][ic]: lane ic holds channel (ic's group) * Cog + o.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DataRow(int n, int ih, float* scratch)
    {
        // Locals: the JIT keeps them in registers (the geometry's Groups is a default interface member, which it may not fold).
        int groups = G.Groups, cig = Cig, cog = Cog, coP = CoP, ciP = CiP;
        float* d = scratch;
        float* acc = scratch + ((long)OutWidth * cog * ciP);
        new Span<float>(acc, G.Width * ciP).Clear();
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
                for (int o = 0; o < cog; o++)
                {
                    float* dst = d + (((ow * cog) + o) * ciP);
                    for (int group = 0; group < groups; group++)
                    {
                        float v = src[(group * cog) + o];
                        float* dg = dst + (group * cig);
                        for (int i = 0; i < cig; i++)
                        {
                            dg[i] = v;
                        }
                    }

                    for (int ic = G.InChannels; ic < ciP; ic++)
                    {
                        dst[ic] = 0f;
                    }
                }
            }

            for (int iw = 0; iw < G.Width; iw++)
            {
                float* a = acc + (iw * ciP);
                for (int kw = 0; kw < G.Kernel; kw++)
                {
                    int u = iw + G.Padding - kw;
                    if (u < 0 || u % G.Stride != 0 || u / G.Stride >= OutWidth)
                    {
                        continue;
                    }

                    float* dp = d + ((u / G.Stride) * cog * ciP);
                    float* wp = _transposed + (((kh * G.Kernel) + kw) * cog * ciP);
                    for (int c = 0; c < ciP; c += VL)
                    {
                        Vector<float> sum = Load(a + c);
                        for (int o = 0; o < cog; o++)
                        {
                            sum += Load(dp + (o * ciP) + c) * Load(wp + (o * ciP) + c);
                        }

                        Store(a + c, sum);
                    }
                }
            }
        }

        float* dx = _dx + ((((long)n * G.Height) + ih) * G.Width * G.InChannels);
        for (int iw = 0; iw < G.Width; iw++)
        {
            float* a = acc + (iw * ciP);
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
        // Locals: the JIT keeps them in registers (the geometry's Groups is a default interface member, which it may not fold).
        int groups = G.Groups, cig = Cig, cog = Cog, coP = CoP, ciP = CiP;
        float* e = scratch;
        float* g = scratch + ((long)PaddedWidth * cig * coP);
        float* dyRow = _dy + ((((long)n * OutHeight) + oh) * OutWidth * G.OutChannels);
        for (int ow = 0; ow < OutWidth; ow++)
        {
            float* dst = g + (ow * coP);
            new ReadOnlySpan<float>(dyRow + (ow * G.OutChannels), G.OutChannels).CopyTo(new Span<float>(dst, G.OutChannels));
            for (int oc = G.OutChannels; oc < coP; oc++)
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
                float* p = partial + (((kh * G.Kernel) + kw) * cig * coP);
                for (int j = 0; j < cig; j++)
                {
                    float* pj = p + (j * coP);
                    for (int c = 0; c < coP; c += VL)
                    {
                        Vector<float> sum = Load(pj + c);
                        for (int ow = 0; ow < OutWidth; ow++)
                        {
                            sum += Load(g + (ow * coP) + c) * Load(e + ((((ow * G.Stride) + kw) * cig) + j) * coP + c);
                        }

                        Store(pj + c, sum);
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
