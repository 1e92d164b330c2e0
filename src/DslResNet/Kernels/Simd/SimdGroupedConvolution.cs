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
internal sealed unsafe partial class SimdGroupedConvolution<G> : IConvolution, IParallelWork
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
    internal static bool Fast
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Avx2.IsSupported && Fma.IsSupported && Cig == Cog && G.InChannels % 8 == 0
            && (8 % Cig == 0 || Cig % 8 == 0);
    }

    // The output-gradient row as the data pass reads it: u' = iw + Kernel - 1 - kw for every input column and tap.
    private static int DilatedWidth { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Width + G.Kernel - 1; }

    private static int Taps { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Kernel * G.Kernel; }

    private static int Cig { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.InChannels / GroupCount; }

    private static int Cog { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.OutChannels / GroupCount; }

    private static int CoP { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (G.OutChannels + VL - 1) / VL * VL; }

    private static int CiP { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (G.InChannels + VL - 1) / VL * VL; }

    private static int PaddedWidth { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Width + (2 * G.Padding); }

    private static int OutHeight { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ((G.Height + (2 * G.Padding) - G.Kernel) / G.Stride) + 1; }

    private static int OutWidth { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ((G.Width + (2 * G.Padding) - G.Kernel) / G.Stride) + 1; }

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
