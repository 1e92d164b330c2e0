using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DslResNet.Kernels.Simd;

/// <summary>Where a convolution's forward pass adds up its outputs' batch statistics (the fused batch norm that follows it).</summary>
public sealed unsafe class StatisticsSink : IDisposable
{
    /// <summary>Makes a sink for <paramref name="channels"/> channels and <paramref name="threads"/> threads.</summary>
    /// <param name="channels">Channels.</param>
    /// <param name="threads">Pool threads.</param>
    public StatisticsSink(int channels, int threads)
    {
        Channels = channels;
        PaddedChannels = (channels + 15) & ~15;
        Threads = threads;
        Shift = NativeBlocks.Allocate<float>(PaddedChannels);
        Partials = NativeBlocks.Allocate<double>((long)threads * 2 * PaddedChannels);
    }

    /// <summary>Channels.</summary>
    public int Channels { get; }

    /// <summary>Channels rounded up to 16.</summary>
    public int PaddedChannels { get; }

    /// <summary>Threads.</summary>
    public int Threads { get; }

    /// <summary>The value subtracted before summing (one output value of the batch), which keeps the sums of squares accurate.</summary>
    public float* Shift { get; private set; }

    /// <summary>Per thread: sum of (x - shift) then sum of (x - shift)^2, each <see cref="PaddedChannels"/> long.</summary>
    public double* Partials { get; private set; }

    /// <summary>Whether the last forward pass filled the partials.</summary>
    public bool Filled { get; set; }

    /// <summary>Clears the partials before a pass.</summary>
    public void Clear()
    {
        new Span<double>(Partials, Threads * 2 * PaddedChannels).Clear();
        Filled = false;
    }

    /// <summary>Adds a thread's float sums (over a few hundred pixels at most) into its double partials.</summary>
    /// <param name="thread">Thread.</param>
    /// <param name="sum">Sums of (x - shift), padded channels.</param>
    /// <param name="squares">Sums of squares.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Flush(int thread, float* sum, float* squares)
    {
        double* p = Partials + (thread * 2 * PaddedChannels);
        for (int c = 0; c < PaddedChannels; c++)
        {
            p[c] += sum[c];
            p[PaddedChannels + c] += squares[c];
            sum[c] = 0f;
            squares[c] = 0f;
        }
    }

    /// <summary>Mean and biased variance of channel <paramref name="c"/> over <paramref name="count"/> values.</summary>
    /// <param name="c">Channel.</param>
    /// <param name="count">Values per channel.</param>
    /// <returns>Mean and variance.</returns>
    public (double Mean, double Variance) Moments(int c, double count)
    {
        double s = 0;
        double q = 0;
        for (int t = 0; t < Threads; t++)
        {
            s += Partials[(t * 2 * PaddedChannels) + c];
            q += Partials[(t * 2 * PaddedChannels) + PaddedChannels + c];
        }

        double m = s / count;
        return (Shift[c] + m, Math.Max(0, (q / count) - (m * m)));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        NativeBlocks.Free(Shift);
        NativeBlocks.Free(Partials);
        Shift = null;
        Partials = null;
    }
}

/// <summary>A convolution on the SIMD backend, tensors in NHWC order; built through <see cref="Create{G}"/>.</summary>
public abstract unsafe class SimdConvolution : IDisposable
{
    /// <summary>Builds the convolution for geometry <typeparamref name="G"/> at the widest vector width asked for and available.</summary>
    /// <typeparam name="G">The geometry (constants).</typeparam>
    /// <param name="pool">Threads.</param>
    /// <param name="width">Vector width.</param>
    /// <param name="batch">Images the tensors hold.</param>
    /// <param name="bias">Whether there is a bias.</param>
    /// <param name="tensors">The tensors.</param>
    /// <param name="winograd">Whether 3x3 stride-1 passes without batch statistics may use Winograd's F(2x2, 3x3).</param>
    /// <returns>The convolution.</returns>
    public static SimdConvolution Create<G>(SimdPool pool, SimdWidth width, int batch, bool bias, ConvTensors tensors, bool winograd = true)
        where G : struct, IConvGeometry => width switch
        {
            SimdWidth.Vector512 => new SimdConvolution<G, Simd512, System.Runtime.Intrinsics.Vector512<float>>(pool, batch, bias, tensors, winograd),
            SimdWidth.Vector256 => new SimdConvolution<G, Simd256, V256>(pool, batch, bias, tensors, winograd),
            _ => new SimdConvolution<G, SimdScalar, VScalar>(pool, batch, bias, tensors, winograd),
        };

    /// <summary>Whether the last forward pass ran as Winograd's F(2x2, 3x3).</summary>
    public bool UsedWinograd { get; protected set; }

    /// <summary>Whether the last backward pass computed the input gradient with Winograd's F(2x2, 3x3).</summary>
    public bool UsedWinogradForInputGradient { get; protected set; }

    /// <summary>Statistics the forward pass adds up for the batch norm that follows (null: none).</summary>
    public StatisticsSink? Statistics { get; set; }

    /// <summary>Whether the forward pass applies <c>y = act2(act1(conv + b) + r)</c> as it stores (see <see cref="FuseEpilogue"/>).</summary>
    public bool HasEpilogue { get; private set; }

    /// <summary>ReLU after the bias.</summary>
    protected bool EpilogueRelu1 { get; private set; }

    /// <summary>Residual added after it (NHWC, shaped as the output), or null.</summary>
    protected float* EpilogueResidual { get; private set; }

    /// <summary>ReLU after the add.</summary>
    protected bool EpilogueRelu2 { get; private set; }

    /// <summary>Makes the forward pass (inference) finish each output with ReLUs and a residual add as it stores it, instead of a
    /// separate pass over the output.</summary>
    /// <param name="relu1">ReLU after the bias.</param>
    /// <param name="residual">Residual, or zero.</param>
    /// <param name="relu2">ReLU after the add.</param>
    public void FuseEpilogue(bool relu1, IntPtr residual, bool relu2)
    {
        HasEpilogue = true;
        EpilogueRelu1 = relu1;
        EpilogueResidual = (float*)residual;
        EpilogueRelu2 = relu2;
    }

    /// <summary>Forward: <c>y = conv(x, w) + b</c> for the first <paramref name="images"/> images, statistics into <see cref="Statistics"/>.</summary>
    /// <param name="images">Images.</param>
    /// <param name="repack">Whether the weights changed since the last call (training always passes true).</param>
    public abstract void Forward(int images, bool repack);

    /// <summary>Weight and bias gradients (overwritten), then, when <paramref name="data"/>, the input gradient (accumulated).</summary>
    /// <param name="data">Whether to compute the input gradient.</param>
    public abstract void Backward(bool data);

    /// <summary>Releases the packed weights and partials.</summary>
    public abstract void Dispose();
}

/// <summary>Raw pointers to a convolution's tensors (null where absent).</summary>
/// <param name="X">Input, NHWC.</param>
/// <param name="W">Weights, OIHW (PyTorch's order).</param>
/// <param name="B">Bias.</param>
/// <param name="Y">Output, NHWC.</param>
/// <param name="Dy">Output gradient.</param>
/// <param name="Dx">Input gradient (accumulated into).</param>
/// <param name="Dw">Weight gradient, OIHW (overwritten).</param>
/// <param name="Db">Bias gradient (overwritten).</param>
public readonly unsafe record struct ConvTensors(IntPtr X, IntPtr W, IntPtr B, IntPtr Y, IntPtr Dy, IntPtr Dx, IntPtr Dw, IntPtr Db);

/// <summary>The convolution for one geometry and one vector width.</summary>
/// <typeparam name="G">Geometry.</typeparam>
/// <typeparam name="TS">The vector operations.</typeparam>
/// <typeparam name="TV">The vector type.</typeparam>
internal sealed unsafe class SimdConvolution<G, TS, TV> : SimdConvolution, IParallelWork, ICountsFlops
    where G : struct, IConvGeometry
    where TS : struct, ISimd<TV>
    where TV : struct
{
    private const int PhaseForward = 0;
    private const int PhaseWeights = 1;
    private const int PhaseData = 2;
    private const int PhaseWinograd = 3;
    private const int PhasePack = 4;          // weight preparation, split over input channels
    private const int PhaseTransform = 5;     // Winograd weight transform, over input channels
    private const int PhaseReduce = 6;        // weight-gradient reduction, over output channels
    private const int PhaseFirstPixel = 7;    // the statistics' shift, over output channels
    private const int PhasePackTransposed = 8; // transposed weights (stride-2 input gradient), over output channels
    private const int TileFloats = 16 * 64;

    private readonly SimdPool _pool;
    private readonly int _batch;
    private readonly bool _bias;
    private readonly float* _x, _w, _b, _y, _dy, _dx, _dw, _db;
    private readonly float* _packed;      // [kh][kw][ic][CoutP]
    private readonly float* _transposed;  // [kh][kw][oc][CinP]
    private readonly float* _partials;    // per thread: [kh][kw][ic][CoutP], then CoutP bias sums
    private readonly float* _statistics;  // per thread: sums then squares, CoutP each
    private bool _disposed;
    private readonly SimdConvolution? _dataConvolution; // stride 1: the input gradient as a forward pass (see Backward)
    private bool _flipSource;                           // _w holds the weights of the convolution this is the input gradient of
    private readonly bool _winogradAllowed;             // the geometry suits F(2x2, 3x3) and the device allows it
    private float* _winograd;                           // its transformed weights [16][ic][oc], made on first use
    private int _phase;
    private int _images;
    private int _rowChunks;
    private bool _packedOnce;
    private bool _accumulate;

    public SimdConvolution(SimdPool pool, int batch, bool bias, ConvTensors t, bool winograd)
    {
        _winogradAllowed = winograd && Winograd<G, TS, TV>.Applies;
        _pool = pool;
        _batch = batch;
        _bias = bias;
        _x = (float*)t.X;
        _w = (float*)t.W;
        _b = (float*)t.B;
        _y = (float*)t.Y;
        _dy = (float*)t.Dy;
        _dx = (float*)t.Dx;
        _dw = (float*)t.Dw;
        _db = (float*)t.Db;
        _packed = Alloc(WeightsPadded);
        _transposed = _dx is null ? null : Alloc((long)Taps * G.OutChannels * CinP);
        _partials = _dw is null ? null : Alloc(pool.Threads * (WeightsPadded + CoutP));
        _statistics = Alloc(pool.Threads * 2 * CoutP);
        new Span<float>(_statistics, pool.Threads * 2 * CoutP).Clear();
        long forward = (PaddedHeight * RowStride) + TileFloats;
        long weights = (PaddedHeight * RowStride) + ((G.OutChannels & 15) == 0 ? 0 : (long)OutHeight * OutWidth * CoutP);
        long data = (long)DataRows * PaddedWidth * CinP;
        pool.EnsureScratch(Math.Max(forward, Math.Max(_dw is null ? 0 : weights, _dx is null ? 0 : data)));
        if (_dx is not null && G.Stride == 1 && G.Kernel - 1 - G.Padding >= 0)
        {
            _dataConvolution = CreateDataConvolution(pool, batch, t.Dy, t.W, t.Dx, winograd);
        }
    }

    // dx = conv(dy, w flipped and transposed) with padding K - 1 - P, added into dx: the forward kernels' efficiency for the
    // backward to the input. It reads this convolution's weights, rotated and transposed as it packs them. A separate method,
    // so that the transposed geometry's own code is compiled only when used.
    private static SimdConvolution CreateDataConvolution(SimdPool pool, int batch, IntPtr dy, IntPtr w, IntPtr dx, bool winograd)
    {
        var convolution = new SimdConvolution<TransposedGeometry<G>, TS, TV>(pool, batch, false, new ConvTensors(dy, w, IntPtr.Zero, dx, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero), winograd);
        convolution._accumulate = true;
        convolution._flipSource = true;
        return convolution;
    }

    private static int CinP => (G.InChannels + 15) & ~15;

    private static int CoutP => (G.OutChannels + 15) & ~15;

    private static int Taps => G.Kernel * G.Kernel;

    private static int PaddedWidth => G.Width + (2 * G.Padding);

    private static int PaddedHeight => G.Height + (2 * G.Padding);

    private static int RowStride => PaddedWidth * G.InChannels;

    private static int OutHeight => ((G.Height + (2 * G.Padding) - G.Kernel) / G.Stride) + 1;

    private static int OutWidth => ((G.Width + (2 * G.Padding) - G.Kernel) / G.Stride) + 1;

    private static int InPixels => G.Height * G.Width;

    private static int OutPixels => OutHeight * OutWidth;

    private static long WeightsPadded => (long)Taps * G.InChannels * CoutP;

    // Rows of the padded input gradient: every row a tap can reach, at least the padded input.
    private static int DataRows => Math.Max(PaddedHeight, ((OutHeight - 1) * G.Stride) + G.Kernel);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Forward(int images, bool repack)
    {
        // Inference and the input gradient (no batch statistics to add up) run as Winograd's F(2x2, 3x3) where it applies.
        // Not the training forward pass: tried, its rounding (through training-mode batch norm and ReLU masks) moved three
        // AdamW steps of ResNet-20 away from TorchSharp by more than the parity tests allow (errors up to 3e-4 against a
        // tolerance of 2.4e-5), while the direct convolution stays within it.
        bool winograd = _winogradAllowed && Statistics is null;
        if (winograd && _winograd is null)
        {
            _winograd = Alloc(Winograd<G, TS, TV>.WeightFloats);
            _pool.EnsureScratch(Winograd<G, TS, TV>.ScratchFloats);
        }

        if (repack || !_packedOnce)
        {
            _phase = winograd ? PhaseTransform : PhasePack;
            _pool.Run(this, G.InChannels, balanced: true);
            _packedOnce = true;
        }

        UsedWinograd = winograd;

        if (winograd)
        {
            _images = images;
            _phase = PhaseWinograd;
            _rowChunks = images >= _pool.Threads ? 1 : Math.Min(Winograd<G, TS, TV>.TilesHigh, _pool.Threads);
            _pool.Run(this, images * _rowChunks, balanced: Statistics is null);
            return;
        }

        StatisticsSink? sink = Statistics;
        if (sink is not null)
        {
            sink.Clear();
            _phase = PhaseFirstPixel;
            _pool.Run(this, G.OutChannels, balanced: true);
        }

        _images = images;
        _phase = PhaseForward;

        // Whole images per unit when there are enough; otherwise rows are split so that every thread has work.
        _rowChunks = images >= _pool.Threads ? 1 : Math.Min(OutHeight, _pool.Threads);
        _pool.Run(this, images * _rowChunks, balanced: Statistics is null);
        if (sink is not null)
        {
            sink.Filled = true;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Backward(bool data)
    {
        _images = _batch;
        if (_dw is not null)
        {
            new Span<float>(_partials, (int)(_pool.Threads * (WeightsPadded + CoutP))).Clear();
            _phase = PhaseWeights;
            _pool.Run(this, _batch);
            _phase = PhaseReduce;
            _pool.Run(this, G.OutChannels, balanced: true);
        }

        if (data && _dataConvolution is not null)
        {
            _dataConvolution.Forward(_batch, repack: true);
            UsedWinogradForInputGradient = _dataConvolution.UsedWinograd;
        }
        else if (data && _dx is not null)
        {
            _phase = PhasePackTransposed;
            _pool.Run(this, G.OutChannels, balanced: true);
            _phase = PhaseData;
            _pool.Run(this, _batch, balanced: true);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(int start, int end, int thread)
    {
        switch (_phase)
        {
            case PhaseForward:
                for (int u = start; u < end; u++)
                {
                    int n = u / _rowChunks;
                    int chunk = u % _rowChunks;
                    ForwardRows(n, chunk * OutHeight / _rowChunks, (chunk + 1) * OutHeight / _rowChunks, thread);
                }

                break;
            case PhaseWinograd:
                for (int u = start; u < end; u++)
                {
                    int n = u / _rowChunks;
                    int chunk = u % _rowChunks;
                    int tiles = Winograd<G, TS, TV>.TilesHigh;
                    long image = (long)n * OutPixels * G.OutChannels;
                    var store = new WinogradStore(_bias ? _b : null, HasEpilogue && EpilogueRelu1, HasEpilogue && EpilogueResidual is not null ? EpilogueResidual + image : null, HasEpilogue && EpilogueRelu2, _accumulate);
                    Winograd<G, TS, TV>.Rows(_x + ((long)n * InPixels * G.InChannels), _winograd, _y + image, chunk * tiles / _rowChunks, (chunk + 1) * tiles / _rowChunks, _pool.Scratch(thread), store);
                }

                break;
            case PhasePack:
                Pack(start, end);
                break;
            case PhaseTransform:
                Winograd<G, TS, TV>.TransformWeights(_w, _flipSource, _winograd, start, end);
                break;
            case PhaseReduce:
                ReduceWeightGradient(start, end);
                break;
            case PhaseFirstPixel:
                FirstPixel(Statistics!.Shift, start, end);
                break;
            case PhasePackTransposed:
                PackTransposed(start, end);
                break;
            case PhaseWeights:
                for (int n = start; n < end; n++)
                {
                    WeightsImage(n, thread);
                }

                break;
            default:
                for (int n = start; n < end; n++)
                {
                    DataImage(n, thread);
                }

                break;
        }
    }

    public long Flops => _phase > PhaseWinograd ? 0 : 2L * (_phase is PhaseForward or PhaseWinograd ? _images : _batch) * OutPixels * G.OutChannels * G.InChannels * Taps;

    public override string ToString() => _phase > PhaseWinograd
        ? $"conv {G.InChannels}x{G.Height}x{G.Width}->{G.OutChannels} k{G.Kernel}s{G.Stride} weight preparation{(_accumulate ? " (input gradient)" : "")}"
        : _accumulate
        ? $"conv {G.OutChannels}x{G.Height}x{G.Width}->{G.InChannels} k{G.Kernel}s1 data (a forward pass of the flipped weights{(_phase == PhaseWinograd ? ", Winograd" : "")})"
        : $"conv {G.InChannels}x{G.Height}x{G.Width}->{G.OutChannels} k{G.Kernel}s{G.Stride} {_phase switch { PhaseForward => "forward", PhaseWinograd => "forward (Winograd)", PhaseWeights => "weights", PhaseData => "data", _ => "weight preparation" }}";

    public override void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _dataConvolution?.Dispose();
        NativeBlocks.Free(_winograd);
        NativeBlocks.Free(_packed);
        NativeBlocks.Free(_transposed);
        NativeBlocks.Free(_partials);
        NativeBlocks.Free(_statistics);
    }

    private static float* Alloc(long floats)
    {
        return NativeBlocks.Allocate<float>(floats);
    }

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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WeightsImage(int n, int thread)
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

        float* partial = _partials + (thread * (WeightsPadded + CoutP));
        if (WeightsRow16)
        {
            // 16 input channels as the vectors, the output gradient broadcast once per kernel row: partials [tap][oc][16].
            for (int kh = 0; kh < 3; kh++)
            {
                for (int oc0 = 0; oc0 < G.OutChannels; oc0 += 8)
                {
                    MicroKernels<G, TS, TV>.BackwardWeightsRow16(Math.Min(8, G.OutChannels - oc0), padded + (kh * RowStride), dy + oc0, partial + ((((long)kh * 3 * G.OutChannels) + oc0) * 16));
                }
            }
        }

        for (int tap = 0; tap < (WeightsRow16 ? 0 : Taps); tap++)
        {
            int kh = tap / G.Kernel;
            int kw = tap % G.Kernel;
            float* xTap = padded + (kh * RowStride) + (kw * G.InChannels);
            int oc0 = 0;
            while (oc0 < CoutP)
            {
                int vectors = (CoutP - oc0) >= 64 ? 4 : (CoutP - oc0) >= 32 ? 2 : 1;
                int most = vectors == 1 ? 16 : vectors == 2 ? 12 : 6;
                for (int ic0 = 0; ic0 < G.InChannels; ic0 += most)
                {
                    int count = Math.Min(most, G.InChannels - ic0);
                    float* dw = partial + ((((long)tap * G.InChannels) + ic0) * CoutP) + oc0;
                    switch (vectors)
                    {
                        case 4: MicroKernels<G, TS, TV>.BackwardWeights4(count, xTap + ic0, dy + oc0, dw); break;
                        case 2: MicroKernels<G, TS, TV>.BackwardWeights2(count, xTap + ic0, dy + oc0, dw); break;
                        default: MicroKernels<G, TS, TV>.BackwardWeights1(count, xTap + ic0, dy + oc0, dw); break;
                    }
                }

                oc0 += 16 * vectors;
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

    // 16 input channels, stride 1, 3x3: the weight gradient with input pixels as vectors (see BackwardWeightsRow16).
    private static bool WeightsRow16 => G.InChannels == 16 && G.Stride == 1 && G.Kernel == 3;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReduceWeightGradient(int oc0, int oc1)
    {
        // The threads' partial sums, added in thread order (the same result every time), into OIHW.
        long stride = WeightsPadded + CoutP;
        int threads = _pool.Threads;
        for (int oc = oc0; oc < oc1; oc++)
        {
            for (int ic = 0; ic < G.InChannels; ic++)
            {
                float* dst = _dw + (((oc * G.InChannels) + ic) * Taps);
                for (int tap = 0; tap < Taps; tap++)
                {
                    float* p = WeightsRow16 ? _partials + (((tap * G.OutChannels) + oc) * 16) + ic : _partials + (((tap * G.InChannels) + ic) * CoutP) + oc;
                    float sum = p[0];
                    for (int t = 1; t < threads; t++)
                    {
                        sum += p[t * stride];
                    }

                    dst[tap] = sum;
                }
            }

            if (_bias && _db is not null)
            {
                float* p = _partials + WeightsPadded + oc;
                float sum = p[0];
                for (int t = 1; t < threads; t++)
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
                    int vectors = (CinP - ic0) >= 64 ? 4 : (CinP - ic0) >= 32 ? 2 : 1;
                    int most = vectors == 4 ? 6 : 14;
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

/// <summary>The geometry of the backward-to-input pass of a stride-1 convolution seen as a forward convolution: from the output
/// gradient (out channels, output size) to the input gradient, same kernel, padding K - 1 - P.</summary>
/// <typeparam name="G">The convolution's geometry.</typeparam>
internal readonly struct TransposedGeometry<G> : IConvGeometry
    where G : struct, IConvGeometry
{
    public static int InChannels => G.OutChannels;

    public static int Height => ((G.Height + (2 * G.Padding) - G.Kernel) / G.Stride) + 1;

    public static int Width => ((G.Width + (2 * G.Padding) - G.Kernel) / G.Stride) + 1;

    public static int OutChannels => G.InChannels;

    public static int Kernel => G.Kernel;

    public static int Stride => 1;

    public static int Padding => G.Kernel - 1 - G.Padding;
}
