using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DslResNet.Kernels.Simd;

/// <summary>The convolution for one geometry and one vector width.</summary>
/// <typeparam name="G">Geometry.</typeparam>
/// <typeparam name="TS">The vector operations.</typeparam>
/// <typeparam name="TV">The vector type.</typeparam>
internal sealed unsafe partial class SimdConvolution<G, TS, TV> : SimdConvolution, IParallelWork, ICountsFlops, IRelocatable, IGradientOverwriter
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
    private const int PhaseReduce = 6;        // weight-gradient reduction, over runs of 16 output channels
    private const int PhaseFirstPixel = 7;    // the statistics' shift, over output channels
    private const int PhasePackTransposed = 8; // transposed weights (stride-2 input gradient), over output channels
    private const int PhasePointwise = 9;     // forward of a 1x1 convolution: runs of the batch's pixels by output-channel ranges
    private const int TileFloats = 16 * 64;

    // Weights (floats) from which a layer at fewer images than threads is split by output channels rather than rows: 1 MB,
    // twice a core's L2 here, so that each thread reads only its share (ResNet-20's 256 KB layer split so was slower).
    private const int LargeWeights = 256 * 1024;

    private readonly SimdPool _pool;
    private readonly int _batch;
    private readonly int _slices;         // weight gradient: runs of images, each with its own partial sums
    private readonly int _weightRuns;     // weight gradient over the whole batch at once (see DirectWeights): runs, or 0
    private readonly bool _bias;
    private readonly float* _w, _b, _dy, _dx, _dw, _db;
    private float* _x, _y;                // the bound tensors, or for one call those given to ForwardAt
    private float* _packed;               // [kh][kw][ic][CoutP] in PackedGroups' layout; made by the first direct forward
    private float* _transposed;           // [kh][kw][oc][CinP]; made by the first scattering input gradient
    private readonly bool _hasPartials;
    private readonly float* _statistics;  // per thread: sums then squares, CoutP each
    private bool _disposed;
    private SimdConvolution? _dataConvolution;          // stride 1, or 1x1 unpadded: the input gradient as a forward pass (see Backward); set by Create
    private bool _flipSource;                           // _w holds the weights of the convolution this is the input gradient of
    private readonly bool _winogradAllowed;             // the geometry suits Winograd and the device allows it
    private readonly bool _winogradWeights;             // the weight gradient runs as F(2x2, 3x3) (see WinogradWeights)
    private readonly bool _largeTiles;                  // inference may use F(4x4, 3x3) tiles
    private float* _winograd;                           // the pass's transformed weights [planes][ic][oc]: _ownTransformed or the pool's
    private float* _firstPatch;                         // the first output pixel's input patch, [ic][kh][kw] (see ComputeShift)
    private float* _ownTransformed;                     // this layer's own, made on first use (not with _sharedTransform)
    private bool _sharedTransform;                      // transformed into the pool's shared block (see ForwardWinograd)
    private int _phase;
    private int _images;
    private int _rowChunks;
    private int _groups;                  // forward with batch statistics: units of whole images (0: a unit per image or row chunk)
    private int _pixelRuns;               // 1x1 forward: runs of the batch's output pixels (see ForwardPointwise)
    private int _channelRuns;             // 1x1 and Winograd forward: output-channel ranges, on packed group boundaries
    private int _imageRuns;               // Winograd forward: runs of whole images, each one pass (0: by images or rows)
    private bool _tileRuns;               // Winograd forward: an image's _rowChunks units are even runs of tiles, not of rows
    private bool _packedOnce;             // _packed holds the weights (the direct forward's)
    private readonly int _packWidth;      // the widest packed group (see PackWidth)
    private bool _transformedOnce;        // _winograd holds them
    private bool _accumulate;             // the output is added into (an input gradient's pass, unless it is the first writer)
    private int _scatterStride;           // a 1x1 strided layer's input gradient: the stride its pixels are added into dx at (0: none)
    private int _scatterHeight;           // and dx's height and width
    private int _scatterWidth;

    public SimdConvolution(SimdPool pool, int batch, bool bias, ConvTensors t, bool winograd, bool largeTiles = true)
    {
        _winogradAllowed = winograd && Winograd<G, TS, TV, WinogradF2>.Applies;
        _largeTiles = largeTiles;
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

        // The packed and transposed weights are made when first used, not here: a network's inference convolutions never
        // run in a process that only trains, its training convolutions never in one that only predicts, a Winograd layer
        // does not pack, and a stride-1 layer computes its input gradient as a forward pass of its own (ResNet-50 at batch
        // 8: 250 MiB of such weights, zeroed and so resident, never read).
        _hasPartials = _dw is not null;
        _packWidth = PackWidth(batch, pool.Threads);

        // A trained layer's weights change every step, and its training forward transforms them again each time: into the
        // pool's shared block (see ForwardWinograd), as the input gradient's do.
        _sharedTransform = _hasPartials;

        // The weight gradient of a layer the Winograd forward takes, by F(2x2, 3x3) transposed (see WinogradWeights), but for
        // images of at most 49 pixels in a batch of few pixels: 16 tiles an image of 7x7, 25% of them padding, and partial
        // sums of 16 planes (ResNet-50's 512x7x7 layers in training at batch 8: 17.1 ms a step as F(2x2, 3x3) with its
        // reduction, 11.3 direct, `profile resnet50-224 train 2 12 abmodels`; ResNet-20's 64x7x7 at batch 128 (6272 pixels)
        // kept F(2x2, 3x3): 4.63 against 4.99 ms direct, `profile resnet20 train 2 80 abmodels`).
        _winogradWeights = _hasPartials && _winogradAllowed && WinogradWeights<G, TS, TV>.Applies && (G.Height * G.Width > 49 || (long)batch * OutPixels > 1568);

        // The weight gradient is summed per slice of the batch (its images in order) and the slices in order, so that
        // threads can take slices as they finish with the same result every time: two slices a thread (a core slowed by
        // other work gets fewer) while the partial sums are small, one where they are large.
        _slices = Math.Max(1, Math.Min(batch, (PartialFloats + CoutP) <= (1 << 20) ? 2 * pool.Threads : pool.Threads));
        if (_hasPartials && DirectWeights(batch, _winogradWeights))
        {
            _weightRuns = DirectWeightRuns(pool.Threads);
            pool.EnsurePartials(DirectPartialFloats);
        }
        else if (_hasPartials)
        {
            pool.EnsurePartials(_slices * (PartialFloats + CoutP));
        }

        _statistics = Alloc(pool.Threads * 2 * CoutP);
        new Span<float>(_statistics, pool.Threads * 2 * CoutP).Clear();
        // Per-thread scratch for what each pass copies: the forward's padded input rows (none where the sliding kernels read
        // the image in place), or a strided 1x1 layer's gathered span (none at stride 1); the weight gradient's padded image
        // (none without padding: the image is read in place) and its panels; the input gradient's padded rows, unless that is
        // a convolution of its own (see Create), which reserves its own.
        long forward = TileFloats + (Pointwise ? (G.Stride == 1 ? 0 : (long)SpanPixels * G.InChannels) : Unpadded ? 0 : PaddedHeight * RowStride);
        long weights = _winogradWeights ? WinogradWeights<G, TS, TV>.ScratchFloats : _weightRuns > 0 ? DirectScratchFloats : WeightPaddedFloats + WeightScratchFloats;
        long data = InputGradientIsConvolution ? 0 : (long)DataRows * PaddedWidth * CinP;
        pool.EnsureScratch(Math.Max(forward, Math.Max(_dw is null ? 0 : weights, _dx is null ? 0 : data)));
    }

    /// <summary>Builds the convolution and, for a stride-1 layer with an input gradient, its data convolution.</summary>
    /// <param name="pool">Threads.</param>
    /// <param name="batch">Images the tensors hold.</param>
    /// <param name="bias">Whether there is a bias.</param>
    /// <param name="t">The tensors.</param>
    /// <param name="winograd">Whether Winograd may be used.</param>
    /// <param name="largeTiles">Whether inference's Winograd uses F(4x4, 3x3) tiles.</param>
    /// <returns>The convolution.</returns>
    /// <remarks>Not in the constructor: the data convolution is a SimdConvolution of the transposed geometry, whose
    /// constructor would then name the transposed geometry's transposed geometry, and so on; the JIT instantiates only what
    /// runs (a data convolution has no input gradient), but the NativeAOT compiler follows every instantiation the code
    /// names and stopped at that unbounded generic recursion (IL3054). The data convolution is built by the constructor only.</remarks>
    public static SimdConvolution<G, TS, TV> Create(SimdPool pool, int batch, bool bias, ConvTensors t, bool winograd, bool largeTiles = true)
    {
        var convolution = new SimdConvolution<G, TS, TV>(pool, batch, bias, t, winograd, largeTiles);
        if (t.Dx != IntPtr.Zero && InputGradientIsConvolution)
        {
            try
            {
                convolution._dataConvolution = CreateDataConvolution(pool, batch, t.Dy, t.W, t.Dx, winograd);
            }
            catch
            {
                convolution.Dispose();
                throw;
            }
        }

        return convolution;
    }

    // dx = conv(dy, w flipped and transposed) with padding K - 1 - P, added into dx: the forward kernels' efficiency for the
    // backward to the input. It reads this convolution's weights, rotated and transposed as it packs them. A separate method,
    // so that the transposed geometry's own code is compiled only when used.
    // A 1x1 layer of stride S > 1 (padding 0): the product of dy's pixels by the transposed weights is the gradient of the
    // input pixels the layer read (every S-th of every S-th row), added into those; the others get nothing. Run as the 1x1
    // forward (spans of dy's pixels, each weight read once a span) with its blocks added into dx at their pixels, rather
    // than row by row of dy, which read all the weights once an output row (ResNet-50's 1024x14x14->2048 layer: 8 MB of
    // them for each row of 7 pixels, 60 GFLOP/s).
    private static SimdConvolution CreateDataConvolution(SimdPool pool, int batch, IntPtr dy, IntPtr w, IntPtr dx, bool winograd)
    {
        var convolution = new SimdConvolution<TransposedGeometry<G>, TS, TV>(pool, batch, false, new ConvTensors(dy, w, IntPtr.Zero, dx, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero), winograd);
        convolution._accumulate = true;
        convolution._flipSource = true;
        convolution._sharedTransform = true;
        if (G.Stride > 1)
        {
            convolution._scatterStride = G.Stride;
            convolution._scatterHeight = G.Height;
            convolution._scatterWidth = G.Width;
        }

        return convolution;
    }

    // The input gradient as a forward pass of the flipped weights (stride 1, or 1x1 unpadded) writes every element of dx:
    // the transposed geometry's output is the input's size. The strided 1x1 pass (added at every S-th pixel) and the
    // stride-2 3x3 data pass do not overwrite.
    public bool OverwriteGradient(GradientTarget target)
    {
        if (target != GradientTarget.Input || _dataConvolution is not SimdConvolution<TransposedGeometry<G>, TS, TV> data || data._scatterStride > 0)
        {
            return false;
        }

        data._accumulate = false;
        return true;
    }

    // Per slice: [kh][kw][ic][CoutP], then CoutP bias sums; the pool's block, shared by its convolutions (see EnsurePartials).
    private float* Partials => _hasPartials ? _pool.Partials : null;

    private static int CinP { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (G.InChannels + 15) & ~15; }

    private static int CoutP { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (G.OutChannels + 15) & ~15; }

    private static int Taps { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Kernel * G.Kernel; }

    private static int PaddedWidth { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Width + (2 * G.Padding); }

    private static int PaddedHeight { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Height + (2 * G.Padding); }

    // 3x3, stride 1, padding 1, and few enough output channels that every group runs on a sliding kernel: the forward reads
    // the input unpadded (see ForwardRows).
    // A 1x1 convolution without padding: its forward is a product of pixels by weights (see ForwardPointwise).
    private static bool Pointwise { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Kernel == 1 && G.Padding == 0; }

    // Whether the input gradient runs as a convolution of its own (see Create and CreateDataConvolution): a forward pass of
    // the flipped weights at stride 1, a 1x1 product added at the strided pixels for a 1x1 layer at stride 2.
    private static bool InputGradientIsConvolution { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (G.Stride == 1 && G.Kernel - 1 - G.Padding >= 0) || (G.Kernel == 1 && G.Padding == 0); }

    private static bool Unpadded { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Stride == 1 && G.Kernel == 3 && G.Padding == 1 && CoutP < 64; }

    private static int RowStride { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => PaddedWidth * G.InChannels; }

    private static int OutHeight { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ((G.Height + (2 * G.Padding) - G.Kernel) / G.Stride) + 1; }

    private static int OutWidth { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ((G.Width + (2 * G.Padding) - G.Kernel) / G.Stride) + 1; }

    private static int InPixels { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Height * G.Width; }

    private static int OutPixels { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => OutHeight * OutWidth; }

    // Output pixels per span of a 1x1 convolution (see ForwardPixels): about 128 KB of input, a multiple of the 64-channel
    // micro-kernel's 6 pixels.
    private static int SpanPixels { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Math.Clamp(32768 / G.InChannels / 6 * 6, 24, 600); }

    // Multiply-adds of one image's forward, counted twice.
    private static long ImageFlops { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => 2L * OutPixels * G.OutChannels * G.InChannels * Taps; }

    private static long WeightsPadded { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (long)Taps * G.InChannels * CoutP; }

    // A slice's partial sums of the weight gradient (the bias's follow them): [tap][ic][CoutP], or Winograd's [plane][ic][oc].
    private long PartialFloats => _winogradWeights ? WinogradWeights<G, TS, TV>.PartialFloats : WeightsPadded;

    // Rows of the padded input gradient: every row a tap can reach, at least the padded input.
    private static int DataRows { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Math.Max(PaddedHeight, ((OutHeight - 1) * G.Stride) + G.Kernel); }

    /// <inheritdoc />
    public void ForwardAt(IntPtr x, IntPtr y, IntPtr residual, int images, bool weightsChanged)
    {
        float* boundX = _x, boundY = _y, boundResidual = EpilogueResidual;
        if ((boundResidual is null) != (residual == IntPtr.Zero) || Statistics is not null)
        {
            throw new InvalidOperationException("ForwardAt: an inference forward with a residual exactly where the bound one has one.");
        }

        _x = (float*)x;
        _y = (float*)y;
        MoveEpilogueResidual((float*)residual);
        try
        {
            Forward(images, weightsChanged);
        }
        finally
        {
            _x = boundX;
            _y = boundY;
            MoveEpilogueResidual(boundResidual);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Forward(int images, bool repack)
    {
        // 3x3 stride-1 layers run as Winograd where it applies: inference as F(4x4, 3x3) where it pays; the training forward
        // (batch statistics added up as the tiles are stored) and the input gradient as F(2x2, 3x3), whose rounding is an
        // order of magnitude smaller: F(4x4, 3x3) in the training forward moved three steps of ResNet-20 away from TorchSharp
        // by more than the parity tests allow (5 of 162 failed), F(2x2, 3x3) passes them all (an earlier attempt, 105dbf2,
        // had recorded F(2x2, 3x3) failing them too; as built here, the statistics added up from the stored tiles, it does not).
        if (_winogradAllowed)
        {
            if (_sharedTransform)
            {
                // The pool's shared block (see SimdPool.EnsureTransformed), held to the end of the pass.
                lock (_pool.TransformedLock)
                {
                    ForwardWinograd(images, repack);
                }
            }
            else
            {
                ForwardWinograd(images, repack);
            }

            return;
        }

        if (repack)
        {
            _packedOnce = false;
        }

        if (!_packedOnce)
        {
            if (_packed is null)
            {
                _packed = Alloc(WeightsPadded);
            }

            _phase = PhasePack;
            _pool.Run(this, G.InChannels, balanced: true);
            _packedOnce = true;
        }

        UsedWinograd = false;
        _images = images;
        StatisticsSink? sink = Statistics;
        StreamedOutput = StatisticsAsStored && StreamOutput;
        UsedKernelRows = !Pointwise && KernelRowPasses && sink is null;
        if (Pointwise)
        {
            ForwardPointwise(images, sink);
            return;
        }

        // Whole images per unit when there are enough; otherwise rows are split so that every thread has work. Batch
        // statistics are added up per unit (see StatisticsSink), so threads take units as they finish in either case;
        // then a unit is a run of images, 8 units a thread at most (their partial sums are kept apart).
        // In inference, a padded layer with 1 MB of weights or more at fewer images than threads (the stride-2 3x3 layers
        // of ResNet-18 and ResNet-50 at batch 1: 1.2 to 9.4 MB) is split by output channels instead, as Winograd is.
        // Rows of an image go out in four runs a thread where an image is 16 MFLOP or more (ResNet-50's stem and 128x56x56
        // stride-2 layer at batch 1), so that a thread the host slows hands runs to the other (`profile resnet50-224 latency
        // 2 200 ab`, 100 calls each way alternated: 3x224x224->64 2.19 -> 1.94 and 2.42 -> 1.95 ms a call, 128x56x56->128
        // stride 2 2.15 -> 1.83 and 2.15 -> 1.80, each run padding its rows and their halo); ResNet-20's small layers were
        // slower so (1x28x28->16 and 32x14x14->64 stride 2 15% a call).
        _rowChunks = images >= _pool.Threads ? 1 : Math.Min(OutHeight, sink is null && ImageFlops >= 16_000_000 ? 4 * _pool.Threads : _pool.Threads);
        _channelRuns = 1;
        int channelGroups = G.OutChannels / _packWidth;
        if (sink is null && !Unpadded && images < _pool.Threads && WeightsPadded >= LargeWeights && channelGroups >= 2)
        {
            _rowChunks = 1;
            _channelRuns = Math.Min(channelGroups, (_pool.Threads + images - 1) / images);
        }

        _groups = sink is not null && _rowChunks == 1 ? Math.Min(images, 8 * _pool.Threads) : 0;
        RunForward(PhaseForward, _groups > 0 ? _groups : images * _rowChunks * _channelRuns, sink);
    }

    // Runs a forward phase over its units; with batch statistics, their per-unit partials made ready and the shift taken
    // first, and the sink marked filled after.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunForward(int phase, int units, StatisticsSink? sink)
    {
        if (sink is not null)
        {
            sink.Prepare(units);
            ComputeShift();
        }

        _phase = phase;
        _pool.Run(this, units, balanced: true);
        if (sink is not null)
        {
            sink.Filled = true;
        }
    }

    // The Winograd forward (see Forward), its transformed weights in _winograd: this layer's own, made once until the weights
    // change, or, for passes whose weights change every step (a trained layer's, an input gradient's), the pool's shared block,
    // transformed again whenever another convolution used it since.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardWinograd(int images, bool repack)
    {
        StatisticsSink? sink = Statistics;
        if (WinogradTile == 0)
        {
            // F(4x4, 3x3) in inference only: a training pass's forward (its output or weight gradient bound, or batch statistics
            // to add up) and an input gradient take F(2x2, 3x3) (see Forward).
            WinogradTile = _dy is not null || _hasPartials || sink is not null || _flipSource || !_largeTiles || !LargeTilesPay(_batch, _pool.Threads) ? 2 : 4;
            _pool.EnsureScratch(WinogradTile == 4 ? Winograd<G, TS, TV, WinogradF4>.ScratchFloats : Winograd<G, TS, TV, WinogradF2>.ScratchFloats);
            if (!_sharedTransform)
            {
                _ownTransformed = Alloc(WinogradWeightFloats);
            }
        }

        if (_sharedTransform)
        {
            _pool.EnsureTransformed(WinogradWeightFloats);
            _winograd = _pool.Transformed;
            if (_pool.TransformedOwner != this)
            {
                _transformedOnce = false;
            }
        }
        else
        {
            _winograd = _ownTransformed;
        }

        if (repack || !_transformedOnce)
        {
            _phase = PhaseTransform;
            _pool.Run(this, G.InChannels, balanced: true);
            _transformedOnce = true;
            if (_sharedTransform)
            {
                _pool.TransformedOwner = this;
            }
        }

        UsedWinograd = true;
        StreamedOutput = false;
        UsedKernelRows = false;

        // Fewer images than threads: split each image by rows of tiles, or by output channels where the transformed
        // weights are large (ResNet-50's last stages at batch 1: 4 and 16 MB), so that each thread reads only its share
        // of them, or where a thread's rows would hold fewer tiles than a register block (ResNet-20's 7x7 stage at batch
        // 1: 2 tiles a thread, products on blocks of 2 tiles; `profile resnet20 latency 2`: 11% faster split by channels).
        // Each thread then transforms the whole input (at 14x14 and 32 channels, 8 tiles a thread, that cost more than
        // the wider blocks gained: 16% slower).
        _images = images;
        int threads = _pool.Threads;
        // In inference, an image of 16 MFLOP or more goes out in four runs of tile rows a thread, as the direct layers' rows
        // do (see Forward): ResNet-50's 64x56x56 layers at batch 1, `profile resnet50-224 latency 2 200 ab`, 2.05 -> 1.73 and
        // 2.07 -> 1.86 ms a call (each run reading the transformed weights, 590 KB, from L3); ResNet-20's 32x14x14 layers
        // were slower so (1.23 of their time). Not where a run would then hold fewer tiles than a register block.
        _rowChunks = images >= threads ? 1 : Math.Min(WinogradTilesHigh, threads);
        int finer = Math.Min(WinogradTilesHigh, 4 * threads);
        if (images < threads && sink is null && ImageFlops >= 16_000_000
            && WinogradTilesHigh * WinogradTilesWide / finer >= Blocks<TS, TV>.ForwardPixels(Blocks<TS, TV>.Vectors(G.OutChannels)))
        {
            _rowChunks = finer;
        }

        // A unit a thread whose rows do not share out evenly: runs of tiles instead, across row ends (ResNet-20's 16x28x28
        // layers at batch 1 on 2 threads: 7 rows of 7 tiles, 28:21 tiles by rows, 25:24 so; `profile resnet20 latency 2
        // 8000 ab`, in the runs where the host ran both threads at full speed (0.25-0.27 ms a call), the layers 0.903 and
        // 0.906 of their time, the call 0.977 and 0.978; the same where it did not, 0.32-0.34 ms a call). Where there are
        // more units than threads, they already balance: ResNet-50's 64x56x56 layers in 8 runs of 24-25 tiles rather than
        // of 1 or 2 rows of 14 were 1.012 and 1.055 of their time.
        _tileRuns = sink is null && _rowChunks > 1 && _rowChunks <= threads && WinogradTilesHigh % _rowChunks != 0;

        _channelRuns = 1;
        int groups = G.OutChannels / Blocks<TS, TV>.WidestGroup;
        bool fewTiles = WinogradTilesHigh * WinogradTilesWide / _rowChunks < Blocks<TS, TV>.ForwardPixels(Blocks<TS, TV>.Vectors(G.OutChannels));
        if (images < threads && (WinogradWeightFloats >= LargeWeights || fewTiles) && groups >= 2)
        {
            _rowChunks = 1;
            _tileRuns = false;
            _channelRuns = Math.Min(groups, (threads + images - 1) / images);
        }

        // Images of fewer tiles than a pass holds, at least as many as threads: runs of whole images, one pass each (see
        // Winograd.Images), as many runs as a multiple of the threads and their images shared out evenly.
        _imageRuns = 0;
        int perPass = WinogradImagesPerPass;
        if (images >= threads && perPass > 1)
        {
            int runs = (images + perPass - 1) / perPass;
            if (sink is null && WinogradTile == 4 && WinogradWeightFloats >= Winograd<G, TS, TV, WinogradF4>.StreamedWeightFloats && groups >= threads)
            {
                // Transformed weights past what the last-level cache holds (ResNet-18's and ResNet-50's 512x7x7 layers as
                // F(4x4, 3x3): 37.7 MB): every thread takes every image of a pass (32 tiles) and its share of the output
                // channels, so that each weight comes from memory once a pass, not once a pass and thread. `profile
                // resnet50-224 infer 2 96 ab` (batch 8), four rounds: the layer 0.73-0.80 of its time (5.4 -> 4.1-4.2 ms a
                // call for its two), the call 0.983-0.992 (two shorter rounds 1.007 and 1.012: the host's noise is 1-2%
                // a call). Two shares a thread (for balance) were 1.09 of this layer's time: each share transforms every
                // image.
                _imageRuns = runs;
                _channelRuns = threads;
            }
            else
            {
                _imageRuns = (runs + threads - 1) / threads * threads;
            }
        }

        // Batch statistics per unit, added up from each pass's stored tiles (see WinogradStatistics).
        RunForward(PhaseWinograd, _imageRuns > 0 ? _imageRuns * _channelRuns : images * _rowChunks * _channelRuns, sink);
    }

    // The statistics' shift: the first output pixel's values (see FirstPixel), its input patch gathered first in the
    // weights' own order ([ic][kh][kw], zeros in the padding), so that each output channel's value is one contiguous dot
    // product, in vectors (it was scalar, tap by tap from the channels-last input: ResNet-50's shifts took 12.8 ms a training
    // step, now 2.4; `profile resnet50-224 train 2 3`, per-layer minimum of 2 alternated rounds).
    private void ComputeShift()
    {
        if (_firstPatch is null)
        {
            _firstPatch = Alloc((long)G.InChannels * Taps);
        }

        for (int ic = 0; ic < G.InChannels; ic++)
        {
            for (int kh = 0; kh < G.Kernel; kh++)
            {
                for (int kw = 0; kw < G.Kernel; kw++)
                {
                    int ih = kh - G.Padding, iw = kw - G.Padding;
                    bool inside = ih >= 0 && ih < G.Height && iw >= 0 && iw < G.Width;
                    _firstPatch[(((ic * G.Kernel) + kh) * G.Kernel) + kw] = inside ? _x[(((ih * G.Width) + iw) * G.InChannels) + ic] : 0f;
                }
            }
        }

        _phase = PhaseFirstPixel;
        _pool.Run(this, G.OutChannels, balanced: true);
    }

    // The batch statistics of a Winograd unit's output: image n's rows [oh0, oh1) by channels [oc0, oc1), read back row by
    // row as the pass left them (in the cache), float sums per row and the unit's double partials across rows, as the
    // direct forward adds them up (flushing only every 1024 pixels, as the epilogue's own statistics pass sums its units,
    // made no measurable difference: `profile resnet20 train 2 20`, 3 alternated rounds).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WinogradStatistics(int n, int oh0, int oh1, int oc0, int oc1, int thread, int unit)
    {
        if (Statistics is null)
        {
            return;
        }

        float* image = _y + ((long)n * OutPixels * G.OutChannels);
        for (int oh = oh0; oh < oh1; oh++)
        {
            float* row = image + ((long)oh * OutWidth * G.OutChannels);
            for (int oc = oc0; oc < oc1;)
            {
                int vectors = Blocks<TS, TV>.Vectors(oc1 - oc);
                AccumulateStatistics(row + oc, OutWidth, vectors, oc, thread);
                oc += 16 * vectors;
            }

            FlushStatistics(thread, unit);
        }
    }

    // A 1x1 convolution without padding is a product of the batch's pixels by the weights, whichever images the pixels are
    // in: a unit is a run of at most a span of pixels, across image boundaries (ResNet-50's last stage has 49 pixels an
    // image, fewer than a span), by a range of output channels. Each span reads every weight once, however the spans are
    // shared out; so inference splits the channels too where the spans alone would not give each thread the same number
    // (7 spans on 2 threads: 14 units of half the channels, not 8 shorter runs that would each read all the weights; batch
    // 1 at 7x7: one span, split 2 ways by channels, each thread reading half the weights). With batch statistics a unit is
    // a run of pixels by all channels (its sums are kept apart, see StatisticsSink), at most 8 a thread.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardPointwise(int images, StatisticsSink? sink)
    {
        int threads = _pool.Threads;
        long pixels = (long)images * OutPixels;
        int spans = (int)Math.Min((pixels + SpanPixels - 1) / SpanPixels, 1 << 20);
        _pixelRuns = spans;
        _channelRuns = 1;
        if (sink is not null)
        {
            _pixelRuns = Math.Clamp((spans + threads - 1) / threads * threads, (int)Math.Min(threads, (pixels + 5) / 6), 8 * threads);
            sink.Prepare(_pixelRuns);
            ComputeShift();
        }
        else if (images < threads && WeightsPadded >= LargeWeights && G.OutChannels / 64 >= threads)
        {
            // Fewer images than threads and 1 MB of weights or more (ResNet-50's last two stages at batch 1): split by
            // output channels only, so that each thread reads its share of the weights rather than all of them for its
            // pixels (`profile resnet50-224 latency 2`, per-layer minimum of 3 alternated runs, twice in either order:
            // the 8 such layers 16.1 -> 15.6 and 16.5 -> 14.9 ms a call, 256x14x14->1024 4.5 -> 4.3 and 4.6 -> 3.9); in four
            // runs a thread, as below.
            _pixelRuns = 1;
            _channelRuns = threads;
        }
        else if (spans > 0 && spans % threads != 0)
        {
            int ways = threads / Gcd(spans, threads);
            int groups = G.OutChannels / 64;
            if (groups >= ways)
            {
                _channelRuns = ways;
            }
            else
            {
                _pixelRuns = (spans + threads - 1) / threads * threads;
            }
        }

        // In inference, at least four units a thread where the channels allow, so that a thread the host slows hands units
        // to the others: a unit reads its span from L2 and its share of the weights once, whichever thread takes it.
        // `profile resnet50-224 latency 2 200 ab` (100 calls each way alternated in one process), at batch 1: the layers
        // with 1 MB of weights or more in 8 channel runs, not 2, 512x7x7->2048 2.52 -> 2.27 ms a call, 2048x7x7->512 1.79
        // -> 1.60, 1024x14x14->2048 stride 2 1.73 -> 1.63, 256x14x14->1024 4.58 -> 4.36; 128x28x28->512 in 8 units of half
        // its channels, not 4 runs of one span, 3.98 -> 3.41 and 4.26 -> 3.53.
        if (sink is null && _pixelRuns * _channelRuns < 4 * threads)
        {
            _channelRuns = Math.Max(_channelRuns, Math.Min(G.OutChannels / 64, ((4 * threads) + _pixelRuns - 1) / _pixelRuns));
        }

        _phase = PhasePointwise;
        _pool.Run(this, _pixelRuns * _channelRuns, balanced: true);
        if (sink is not null)
        {
            sink.Filled = true;
        }
    }

    // F(4x4, 3x3) where a pass has at least 9 tiles (an image's, or the images a pass takes at this batch, see
    // Winograd.Images) or the transformed weights are at most 1 MB: at batch 1, 7x7 and 512 channels (4 tiles) each pass
    // streams all 38 MB of them with 4 tiles to reuse them on, and F(2x2, 3x3) (16 tiles, 17 MB) was the faster (`profile
    // resnet50-224 infer 2`, one image a pass: 16.9 against 19.2 ms a layer); ResNet-20's 64x7x7 layer (590 KB) ran at 262
    // against 191 GFLOP/s-equivalent as F(4x4, 3x3) with one image a pass.
    // With 32 registers and fewer images than threads (an image split, see ForwardWinograd), F(4x4, 3x3) also needs 6 tiles
    // (a register block) a thread where the threads split its tiles, and 36 where they split the channels (weights over
    // 1 MB, streamed once): ResNet-20's 64x7x7 layer at batch 1 on 2 threads (2 tiles a thread) took 0.75 of its time as
    // F(2x2, 3x3) (`profile resnet20 latency 2 8000 abmodels`, call 0.925 and 0.934), ResNet-50's 256x14x14 layers (16
    // tiles, 9.4 MB against 4.2) 0.85 and 0.86 (call 0.984 twice); its 128x28x28 layers (49 tiles) were slower so (1.11,
    // 1.03), as were ResNet-20's 32x14x14 layers by rows (8 tiles a thread; 1.14, 0.97). Whole calls with and without
    // (`abmodels`, 2 rounds): ResNet-20 latency 0.946 and 0.943, ResNet-50 0.988 twice, ResNet-18 0.999 and 0.986.
    // Measured on AVX-512 (Zen 5) only; AVX2's 16 registers keep the rule above.
    private static bool LargeTilesPay(int batch, int threads)
    {
        int tiles = Winograd<G, TS, TV, WinogradF4>.TilesPerImage * Math.Min(Winograd<G, TS, TV, WinogradF4>.ImagesPerPass, Math.Max(1, batch / threads));
        bool large = Winograd<G, TS, TV, WinogradF4>.WeightFloats > LargeWeights;
        if (large && tiles < 9)
        {
            return false;
        }

        if (batch < threads && Blocks<TS, TV>.Wide)
        {
            return large ? tiles >= 36 : tiles / threads >= 6;
        }

        return true;
    }

    private long WinogradWeightFloats { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => WinogradTile == 4 ? Winograd<G, TS, TV, WinogradF4>.WeightFloats : Winograd<G, TS, TV, WinogradF2>.WeightFloats; }

    private int WinogradImagesPerPass { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => WinogradTile == 4 ? Winograd<G, TS, TV, WinogradF4>.ImagesPerPass : Winograd<G, TS, TV, WinogradF2>.ImagesPerPass; }

    private int WinogradTilesHigh { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => WinogradTile == 4 ? Winograd<G, TS, TV, WinogradF4>.TilesHigh : Winograd<G, TS, TV, WinogradF2>.TilesHigh; }

    private int WinogradTilesWide { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => WinogradTile == 4 ? Winograd<G, TS, TV, WinogradF4>.TilesWide : Winograd<G, TS, TV, WinogradF2>.TilesWide; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }

    // Output channels of part <paramref name="part"/> of _channelRuns, on boundaries of packed groups <paramref name="width"/>
    // wide (the last part takes the narrower groups at the end).
    // The widest group the direct forward's weights are packed in: 64 output channels (on AVX-512 and the scalar blocks),
    // 32 where a 64-wide group's weights pass 768 KB and the batch has fewer images than threads, so that the forward is
    // split by output channels (see Forward) and each thread runs every row of its share under one group at a time: the
    // group then stays in L2 (1 MB a core) for all the rows instead of coming from L3 once a row (ResNet-18's and
    // ResNet-50's 512x14x14->512 stride-2 layers at batch 1: 1.18 MB a 64-wide group, 7 rows).
    private static int PackWidth(int batch, int threads) =>
        Blocks<TS, TV>.WidestGroup == 64 && batch < threads && !Pointwise && (long)Taps * G.InChannels * 64 * sizeof(float) > KernelRowPanelBytes ? 32 : Blocks<TS, TV>.WidestGroup;

    // Vectors of the packed group that starts at oc0 (ends at ocEnd at most).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int PackedVectors(int remaining) => Math.Min(Blocks<TS, TV>.Vectors(remaining), _packWidth / 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private (int Start, int End) ChannelRun(int part, int width)
    {
        int groups = G.OutChannels / width;
        return (part * groups / _channelRuns * width, part == _channelRuns - 1 ? CoutP : (part + 1) * groups / _channelRuns * width);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Backward(bool data, bool weights = true)
    {
        _images = _batch;
        if (weights && _dw is not null)
        {
            if (_weightRuns > 0)
            {
                // Over the whole batch at once, a 1x1 layer's straight into the gradient (see DirectWeights); a larger
                // kernel's sums are in the pool's partials, shared as below.
                _phase = PhaseWeights;
                lock (_pool.PartialsLock)
                {
                    _pool.Run(this, _weightRuns, balanced: true);
                }
            }
            else
            {
                // The pool's partial sums are shared with every convolution of every network on the device, some possibly on
                // other threads: held from clearing to reducing.
                lock (_pool.PartialsLock)
                {
                    // Each slice's partial sums are cleared by the thread that fills them, as it starts (a clear of all of them on
                    // the calling thread was up to 38 MB for one ResNet-50 layer, with the other threads waiting).
                    _phase = PhaseWeights;
                    _pool.Run(this, _slices, balanced: true);
                    _phase = PhaseReduce;
                    _pool.Run(this, (G.OutChannels + 15) / 16, balanced: true);
                }
            }
        }

        if (data && _dataConvolution is not null)
        {
            _dataConvolution.Forward(_batch, repack: true);
            UsedWinogradForInputGradient = _dataConvolution.UsedWinograd;
        }
        else if (data && _dx is not null)
        {
            if (_transposed is null)
            {
                _transposed = Alloc((long)Taps * G.OutChannels * CinP);
            }

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
                for (int u = start; _groups > 0 && u < end; u++)
                {
                    for (int n = u * _images / _groups; n < (u + 1) * _images / _groups; n++)
                    {
                        ForwardRows(n, 0, OutHeight, thread, u, 0, CoutP);
                    }
                }

                for (int u = start; _groups == 0 && u < end; u++)
                {
                    int n = u / (_rowChunks * _channelRuns);
                    int chunk = u / _channelRuns % _rowChunks;
                    (int oc0, int oc1) = ChannelRun(u % _channelRuns, _packWidth);
                    ForwardRows(n, chunk * OutHeight / _rowChunks, (chunk + 1) * OutHeight / _rowChunks, thread, u, oc0, oc1);
                }

                break;
            case PhasePointwise:
                for (int u = start; u < end; u++)
                {
                    long pixels = (long)_images * OutPixels;
                    int run = u / _channelRuns;
                    (int oc0, int oc1) = ChannelRun(u % _channelRuns, 64);
                    ForwardPixels(run * pixels / _pixelRuns, (run + 1) * pixels / _pixelRuns, oc0, oc1, thread, u);
                }

                break;
            case PhaseWinograd:
                for (int u = start; _imageRuns > 0 && u < end; u++)
                {
                    int run = u / _channelRuns;
                    (int oc0, int oc1) = ChannelRun(u % _channelRuns, Blocks<TS, TV>.WidestGroup);
                    int n0 = (int)((long)run * _images / _imageRuns), n1 = (int)((long)(run + 1) * _images / _imageRuns);
                    long image = (long)n0 * OutPixels * G.OutChannels;
                    var store = new FusedStore(_bias ? _b : null, HasEpilogue && EpilogueRelu1, HasEpilogue && EpilogueResidual is not null ? EpilogueResidual + image : null, HasEpilogue && EpilogueRelu2, _accumulate);
                    float* x = _x + ((long)n0 * InPixels * G.InChannels);
                    if (WinogradTile == 4)
                    {
                        Winograd<G, TS, TV, WinogradF4>.Images(x, _winograd, _y + image, n1 - n0, _pool.Scratch(thread), store, oc0, oc1);
                    }
                    else
                    {
                        Winograd<G, TS, TV, WinogradF2>.Images(x, _winograd, _y + image, n1 - n0, _pool.Scratch(thread), store, oc0, oc1);
                    }

                    for (int n = n0; n < n1; n++)
                    {
                        WinogradStatistics(n, 0, OutHeight, oc0, oc1, thread, u);
                    }
                }

                for (int u = start; _imageRuns == 0 && u < end; u++)
                {
                    int n = u / (_rowChunks * _channelRuns);
                    int chunk = u / _channelRuns % _rowChunks;
                    int part = u % _channelRuns;
                    (int oc0, int oc1) = ChannelRun(part, Blocks<TS, TV>.WidestGroup);
                    int tiles = WinogradTilesHigh;
                    long image = (long)n * OutPixels * G.OutChannels;
                    var store = new FusedStore(_bias ? _b : null, HasEpilogue && EpilogueRelu1, HasEpilogue && EpilogueResidual is not null ? EpilogueResidual + image : null, HasEpilogue && EpilogueRelu2, _accumulate);
                    float* x = _x + ((long)n * InPixels * G.InChannels);
                    int ty0 = chunk * tiles / _rowChunks, ty1 = (chunk + 1) * tiles / _rowChunks;
                    if (_tileRuns)
                    {
                        int all = tiles * WinogradTilesWide;
                        int t0 = chunk * all / _rowChunks, t1 = (chunk + 1) * all / _rowChunks;
                        if (WinogradTile == 4)
                        {
                            Winograd<G, TS, TV, WinogradF4>.Tiles(x, _winograd, _y + image, t0, t1, _pool.Scratch(thread), store, oc0, oc1);
                        }
                        else
                        {
                            Winograd<G, TS, TV, WinogradF2>.Tiles(x, _winograd, _y + image, t0, t1, _pool.Scratch(thread), store, oc0, oc1);
                        }

                        continue;
                    }

                    if (WinogradTile == 4)
                    {
                        Winograd<G, TS, TV, WinogradF4>.Rows(x, _winograd, _y + image, ty0, ty1, _pool.Scratch(thread), store, oc0, oc1, whole: _channelRuns > 1, ahead: _channelRuns > 1 && Statistics is null && _images < _pool.Threads);
                    }
                    else
                    {
                        Winograd<G, TS, TV, WinogradF2>.Rows(x, _winograd, _y + image, ty0, ty1, _pool.Scratch(thread), store, oc0, oc1, whole: _channelRuns > 1, ahead: _channelRuns > 1 && Statistics is null && _images < _pool.Threads);
                    }

                    WinogradStatistics(n, ty0 * WinogradTile, Math.Min(OutHeight, ty1 * WinogradTile), oc0, oc1, thread, u);
                }

                break;
            case PhasePack:
                Pack(start, end);
                break;
            case PhaseTransform:
                if (WinogradTile == 4)
                {
                    Winograd<G, TS, TV, WinogradF4>.TransformWeights(_w, _flipSource, _winograd, start, end);
                }
                else
                {
                    Winograd<G, TS, TV, WinogradF2>.TransformWeights(_w, _flipSource, _winograd, start, end);
                }

                break;
            case PhaseReduce:
                ReduceWeightGradient(16 * start, Math.Min(16 * end, G.OutChannels));
                break;
            case PhaseFirstPixel:
                FirstPixel(Statistics!.Shift, start, end);
                break;
            case PhasePackTransposed:
                PackTransposed(start, end);
                break;
            case PhaseWeights when _weightRuns > 0:
                for (int run = start; run < end; run++)
                {
                    DirectWeightsRun(run, thread);
                }

                break;
            case PhaseWeights:
                for (int slice = start; slice < end; slice++)
                {
                    new Span<float>(Partials + (slice * (PartialFloats + CoutP)), (int)(PartialFloats + CoutP)).Clear();
                    if (_winogradWeights)
                    {
                        WinogradWeightsSlice(slice * _batch / _slices, (slice + 1) * _batch / _slices, thread, slice);
                        continue;
                    }

                    if (PointwiseWeights)
                    {
                        WeightsPointwiseSlice(slice * _batch / _slices, (slice + 1) * _batch / _slices, thread, slice);
                        continue;
                    }

                    for (int n = slice * _batch / _slices; n < (slice + 1) * _batch / _slices; n++)
                    {
                        WeightsImage(n, thread, slice);
                    }
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

    public long Flops => !Computes ? 0 : 2L * (_phase is PhaseForward or PhaseWinograd or PhasePointwise ? _images : _batch) * OutPixels * G.OutChannels * G.InChannels * Taps;

    // Whether the phase is a convolution (not a weight preparation or reduction).
    private bool Computes => _phase is PhaseForward or PhaseWeights or PhaseData or PhaseWinograd or PhasePointwise;

    // What a phase that is not a convolution does, for the profile.
    private string PreparationName => _phase switch
    {
        PhasePack => "weight packing",
        PhaseTransform => "Winograd weight transform",
        PhaseReduce => "weight-gradient reduction",
        PhaseFirstPixel => "batch statistics' shift",
        PhasePackTransposed => "transposed weight packing",
        _ => "weight preparation",
    };

    public override string ToString() => !Computes
        ? $"conv {G.InChannels}x{G.Height}x{G.Width}->{G.OutChannels} k{G.Kernel}s{G.Stride} {PreparationName}{(_flipSource ? " (input gradient)" : "")}"
        : _scatterStride > 0
        ? $"conv {G.OutChannels}x{_scatterHeight}x{_scatterWidth}->{G.InChannels} k1s{_scatterStride} data (a 1x1 product of the flipped weights, added at the strided pixels)"
        : _flipSource
        ? $"conv {G.OutChannels}x{G.Height}x{G.Width}->{G.InChannels} k{G.Kernel}s1 data (a forward pass of the flipped weights{(_phase == PhaseWinograd ? ", Winograd" : "")})"
        : $"conv {G.InChannels}x{G.Height}x{G.Width}->{G.OutChannels} k{G.Kernel}s{G.Stride} {_phase switch { PhaseForward or PhasePointwise => "forward", PhaseWinograd => "forward (Winograd)", PhaseWeights => _winogradWeights ? "weights (Winograd)" : "weights", PhaseData => "data", _ => "weight preparation" }}";

    public override void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _dataConvolution?.Dispose();
        lock (_pool.TransformedLock)
        {
            if (_pool.TransformedOwner == this)
            {
                _pool.TransformedOwner = null;
            }
        }

        NativeBlocks.Free(_ownTransformed);
        _ownTransformed = null;
        NativeBlocks.Free(_firstPatch);
        _firstPatch = null;
        _winograd = null;
        NativeBlocks.Free(_packed);
        NativeBlocks.Free(_transposed);
        NativeBlocks.Free(_statistics);
    }

    private static float* Alloc(long floats)
    {
        return NativeBlocks.Allocate<float>(floats);
    }
}
