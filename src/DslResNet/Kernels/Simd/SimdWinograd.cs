using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DslResNet.Kernels.Simd;

/// <summary>
/// Winograd's minimal filtering F(m x m, 3x3) for 3x3 convolutions at stride 1 and padding 1 with channel counts that are
/// multiples of 16 (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), with the tile
/// <typeparamref name="T"/> (<see cref="WinogradF2"/> or <see cref="WinogradF4"/>). Every m x m block of outputs (a tile) is
/// computed from its (m + 2) x (m + 2) input patch as <c>A^T [(G g G^T) . (B^T d B)] A</c>. The (m + 2)^2 element-wise
/// products, summed over input channels, are as many matrix products (tiles x input channels times input channels x output
/// channels), which run on the forward micro-kernels with tiles as pixels. Tiles are processed a few rows at a time, so that
/// the transformed inputs and products stay in the cache.
/// </summary>
/// <typeparam name="G">The convolution's geometry.</typeparam>
/// <typeparam name="TS">The vector operations.</typeparam>
/// <typeparam name="TV">The vector type.</typeparam>
/// <typeparam name="T">The tile.</typeparam>
internal static unsafe class Winograd<G, TS, TV, T>
    where G : struct, IConvGeometry
    where TS : struct, ISimd<TV>
    where TV : struct
    where T : struct, IWinogradTile
{
    /// <summary>Whether the geometry is one this handles, and one where it pays. With 16 output channels on AVX-512 the
    /// products have one vector per tile and load a value per multiply-add, and the direct convolution's sliding kernel is
    /// faster (measured: ResNet-20's 16-channel layers ran at 260 GFLOP/s-equivalent as Winograd, 330 GFLOP/s direct, on 2
    /// threads); on AVX2, whose sliding block is 4 pixels (8 ymm accumulators, each a chain of 3 multiply-adds a step),
    /// Winograd is the faster (149-153 against 133-139 GFLOP/s, `profile resnet20 infer 2 20`, 2 Zen 3 cores).</summary>
    public static bool Applies
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => G.Kernel == 3 && G.Stride == 1 && G.Padding == 1 && (G.InChannels & 15) == 0 && (G.OutChannels & 15) == 0
            && (G.OutChannels >= 32 || !Blocks<TS, TV>.Wide);
    }

    /// <summary>Rows of tiles (the output is <c>G.Height</c> x <c>G.Width</c>; a size that is not a multiple of m leaves
    /// part of the last tiles unused).</summary>
    public static int TilesHigh { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (G.Height + T.Size - 1) / T.Size; }

    /// <summary>Tiles per row.</summary>
    public static int TilesWide { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (G.Width + T.Size - 1) / T.Size; }

    /// <summary>Tile rows per pass: at least 14 tiles, so that the products have full register blocks.</summary>
    public static int ChunkRows { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Math.Min(TilesHigh, (14 + TilesWide - 1) / TilesWide); }

    /// <summary>Tiles per image.</summary>
    public static int TilesPerImage { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => TilesHigh * TilesWide; }

    /// <summary>Images one pass takes (see <see cref="Images"/>): where a pass holds a whole image, enough of them for
    /// <see cref="PassTilesAtLeast"/> tiles; otherwise 1.</summary>
    public static int ImagesPerPass { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ChunkRows < TilesHigh ? 1 : (PassTilesAtLeast + TilesPerImage - 1) / TilesPerImage; }

    /// <summary>Transformed weights larger than the last-level cache holds beside the rest (16 MB): streamed from memory
    /// on every pass.</summary>
    public const long StreamedWeightFloats = 4L << 20;

    // Tiles a pass of whole images takes at least: 14, a register block's worth, or 32 where the weights are streamed
    // (ResNet-18's and ResNet-50's 512x7x7 layers as F(4x4, 3x3): 37.7 MB), so that each weight fetched serves 32 tiles.
    private static int PassTilesAtLeast { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => T.Size == 4 && WeightFloats >= StreamedWeightFloats ? 32 : 14; }

    /// <summary>Transformed-weight planes and products per tile: (m + 2)^2.</summary>
    public static int Planes { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (T.Size + 2) * (T.Size + 2); }

    /// <summary>Transformed weights: [planes][in channels][out channels].</summary>
    public static long WeightFloats { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (long)Planes * G.InChannels * G.OutChannels; }

    /// <summary>Scratch per thread: the padded input rows of a pass, its transformed inputs and its products, and a tile's
    /// transform.</summary>
    public static long ScratchFloats { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (PaddedRows * (long)PaddedColumns * G.InChannels) + ((long)Planes * PassTiles * (G.InChannels + G.OutChannels)) + (16L * Planes); }

    /// <summary>Whether <see cref="Rows"/> may take a whole image in one pass (a thread's share of the output channels at
    /// batch 1, see its <c>whole</c>): where the transformed weights are 1 MB or more, as large as L2.</summary>
    public static bool WholeImagePasses { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => WeightFloats >= 256 * 1024; }

    // Most tile rows a pass takes.
    private static int PassRows { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => WholeImagePasses ? TilesHigh : ChunkRows; }

    // Most tiles a pass takes.
    private static int PassTiles { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Math.Max(PassRows * TilesWide, ImagesPerPass * TilesPerImage); }

    // A pass's input rows: those of PassRows tile rows, one more where its tiles start inside a row (see Tiles).
    private static int PaddedRows { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (T.Size * Math.Min(PassRows + 1, TilesHigh)) + 2; }

    private static int PaddedColumns { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (T.Size * TilesWide) + 2; }

    /// <summary>U = G g G^T for input channels [<paramref name="i0"/>, <paramref name="i1"/>) of OIHW weights, into <paramref name="u"/>.</summary>
    /// <param name="w">Weights, OIHW; or, when <paramref name="flipped"/>, the weights of the convolution this one is the
    /// input gradient of ([in][out][kh][kw], read rotated by 180 degrees).</param>
    /// <param name="flipped">Whether <paramref name="w"/> holds the transposed, rotated weights.</param>
    /// <param name="u">Transformed weights, [planes][in][out], each plane in <see cref="PackedGroups"/>' layout.</param>
    /// <param name="i0">First input channel.</param>
    /// <param name="i1">End of the input channels.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformWeights(float* w, bool flipped, float* u, int i0, int i1)
    {
        int ic = G.InChannels;
        int oc = G.OutChannels;
        int planes = Planes;
        float* g = stackalloc float[9 * 16];
        float* run = stackalloc float[36 * 16];
        new Span<float>(g, 9 * 16).Clear();
        long step = (long)ic * oc;

        // Runs of 16 output channels (within a packed group, so side by side in every plane): their filters gathered side
        // by side, transformed 16 at a time (filter by filter, 27 ns a filter: 7 ms a transform of ResNet-50's 512x512x3x3
        // weights, every training step), then each plane's 16 values stored as one line: stored value by value, the planes
        // (ic * oc floats apart, a multiple of 4 KB at ResNet-50's sizes) were 16 streams into the same cache sets.
        for (int i = i0; i < i1; i++)
        {
            for (int o0 = 0; o0 < oc; o0 += 16)
            {
                int count = Math.Min(16, oc - o0);
                for (int j = 0; j < count; j++)
                {
                    int o = o0 + j;
                    if (flipped)
                    {
                        float* source = w + (((i * oc) + o) * 9);
                        for (int k = 0; k < 9; k++)
                        {
                            g[(16 * k) + j] = source[8 - k];
                        }
                    }
                    else
                    {
                        float* source = w + (((o * ic) + i) * 9);
                        for (int k = 0; k < 9; k++)
                        {
                            g[(16 * k) + j] = source[k];
                        }
                    }
                }

                T.TransformWeights<TS, TV>(g, run);

                int g0 = PackedGroups.GroupStart(o0, oc, Blocks<TS, TV>.WidestGroup);
                long at = PackedGroups.Start(g0, ic) + ((long)i * PackedGroups.Width(g0, oc, Blocks<TS, TV>.WidestGroup)) + (o0 - g0);
                float* line = u + at;
                if (count == 16 && Vector512.IsHardwareAccelerated && ((nint)line & 63) == 0 && (step & 15) == 0)
                {
                    // Whole cache lines, stored past the caches: each plane's line is written once and read by the next
                    // pass, and as ordinary stores every line was first read from memory (ResNet-50's 512x512 weights:
                    // 16.8 MB transformed for each of the forward and the input gradient every training step). `profile
                    // resnet50-224 train 2 16 ab`: the transforms 0.20-0.49 of their time (13.9 -> 6.5 ms a step), the
                    // passes reading them 0.97-1.04; plain vector stores instead of the copy gained nothing (0.88-1.06).
                    for (int xi = 0; xi < planes; xi++)
                    {
                        Vector512.StoreAlignedNonTemporal(Vector512.Load(run + (xi * 16)), line + (xi * step));
                    }
                }
                else
                {
                    for (int xi = 0; xi < planes; xi++)
                    {
                        new ReadOnlySpan<float>(run + (xi * 16), count).CopyTo(new Span<float>(line + (xi * step), count));
                    }
                }
            }
        }

        // Non-temporal stores are weakly ordered: drained before another thread reads the planes.
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            System.Runtime.Intrinsics.X86.Sse.StoreFence();
        }
    }

    /// <summary>Computes output tile rows [<paramref name="ty0"/>, <paramref name="ty1"/>) of one image.</summary>
    /// <param name="x">The image's input, NHWC.</param>
    /// <param name="u">Transformed weights.</param>
    /// <param name="y">The image's output.</param>
    /// <param name="ty0">First tile row.</param>
    /// <param name="ty1">End of the tile rows.</param>
    /// <param name="scratch">The thread's scratch (<see cref="ScratchFloats"/>).</param>
    /// <param name="store">Bias and fused epilogue.</param>
    /// <param name="oc0">First output channel (the start of a packed group).</param>
    /// <param name="oc1">End of the output channels (a group's end).</param>
    /// <param name="whole">All the rows in one pass (only where <see cref="WholeImagePasses"/>): a thread's share of the
    /// output channels at batch 1 then reads its share of the weights from L3 once, not once every <see cref="ChunkRows"/>
    /// rows (ResNet-50's 256x14x14 layers, 4.2 MB of them as F(2x2, 3x3): 4 passes of 2 rows of 7 tiles each; `profile
    /// resnet50-224 latency 2 300 ab`, the layers 0.883 and 0.959 of their time, the call 0.986 and 0.983).</param>
    /// <param name="ahead">Whether the products prefetch the next weight panel as they run (weights streamed once a pass).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(float* x, float* u, float* y, int ty0, int ty1, float* scratch, in FusedStore store, int oc0, int oc1, bool whole = false, bool ahead = false)
    {
        float* padded = scratch;
        Layout(scratch, out float* v, out float* m, out float* tmp);
        int step = whole && WholeImagePasses ? ty1 - ty0 : ChunkRows;
        for (int ty = ty0; ty < ty1; ty += step)
        {
            int rows = Math.Min(step, ty1 - ty);
            int tiles = rows * TilesWide;
            Input(x, padded, ty, rows, v, 0, tiles, tiles, 0, tmp);
            Products(v, u, m, tiles, oc0, oc1, ahead);
            TransformOutput(m, y, ty, 0, tiles, tiles, 0, 0, store, oc0, oc1, tmp);
        }
    }

    /// <summary>Computes tiles [<paramref name="t0"/>, <paramref name="t1"/>) of one image, counted along its tile rows: a share
    /// of an image that need not end on a row (ResNet-20's 28x28 layers at batch 1 have 7 rows of 7 tiles, which rows share
    /// 4:3 between two threads and tiles 25:24), in passes of at most <see cref="ChunkRows"/> rows' tiles, as even as they
    /// go, each reading the input rows its tiles span (one more than <see cref="ChunkRows"/> at most).</summary>
    /// <param name="x">The image's input, NHWC.</param>
    /// <param name="u">Transformed weights.</param>
    /// <param name="y">The image's output.</param>
    /// <param name="t0">First tile.</param>
    /// <param name="t1">End of the tiles.</param>
    /// <param name="scratch">The thread's scratch (<see cref="ScratchFloats"/>).</param>
    /// <param name="store">Bias and fused epilogue.</param>
    /// <param name="oc0">First output channel (the start of a packed group).</param>
    /// <param name="oc1">End of the output channels (a group's end).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tiles(float* x, float* u, float* y, int t0, int t1, float* scratch, in FusedStore store, int oc0, int oc1)
    {
        float* padded = scratch;
        Layout(scratch, out float* v, out float* m, out float* tmp);
        int wide = TilesWide;
        int total = t1 - t0;
        int passes = (total + (ChunkRows * wide) - 1) / (ChunkRows * wide);
        for (int p = 0; p < passes; p++)
        {
            int a = t0 + (p * total / passes), b = t0 + ((p + 1) * total / passes);
            int row = a / wide;
            int rows = ((b - 1) / wide) - row + 1;
            int skip = a - (row * wide);
            Input(x, padded, row, rows, v, skip, b - a, b - a, 0, tmp);
            Products(v, u, m, b - a, oc0, oc1);
            TransformOutput(m, y, row, skip, b - a, b - a, 0, 0, store, oc0, oc1, tmp);
        }
    }

    /// <summary>Computes <paramref name="count"/> (at most <see cref="ImagesPerPass"/>) whole images in one pass, their
    /// tiles side by side in the products: small images (ResNet-20's and ResNet-50's 7x7 stages: 4 tiles an image) would
    /// otherwise give the micro-kernels blocks of 4 tiles, each weight loaded for 4 multiply-adds, and stream all the
    /// transformed weights once per image.</summary>
    /// <param name="x">The first image's input, NHWC; the others follow it.</param>
    /// <param name="u">Transformed weights.</param>
    /// <param name="y">The first image's output; the others follow it (as the fused residual's images do).</param>
    /// <param name="count">Images.</param>
    /// <param name="scratch">The thread's scratch (<see cref="ScratchFloats"/>).</param>
    /// <param name="store">Bias and fused epilogue, its residual at the first image.</param>
    /// <param name="oc0">First output channel (the start of a packed group).</param>
    /// <param name="oc1">End of the output channels (a group's end).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Images(float* x, float* u, float* y, int count, float* scratch, in FusedStore store, int oc0, int oc1)
    {
        float* padded = scratch;
        Layout(scratch, out float* v, out float* m, out float* tmp);
        int tiles = count * TilesPerImage;
        long inImage = (long)G.Height * G.Width * G.InChannels;
        long outImage = (long)G.Height * G.Width * G.OutChannels;
        for (int i = 0; i < count; i++)
        {
            Input(x + (i * inImage), padded, 0, TilesHigh, v, 0, TilesPerImage, tiles, i * TilesPerImage, tmp);
        }

        Products(v, u, m, tiles, oc0, oc1);
        for (int i = 0; i < count; i++)
        {
            TransformOutput(m, y, 0, 0, TilesPerImage, tiles, i * TilesPerImage, i * outImage, store, oc0, oc1, tmp);
        }
    }

    // The thread's scratch: the padded input rows of a pass (at its start), then its transformed inputs, its products and
    // a tile's transform.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Layout(float* scratch, out float* v, out float* m, out float* tmp)
    {
        v = scratch + (PaddedRows * (long)PaddedColumns * G.InChannels);
        m = v + ((long)Planes * PassTiles * G.InChannels);
        tmp = m + ((long)Planes * PassTiles * G.OutChannels);
    }

    /// <summary>V for tiles [skip, skip + count) of tile rows [ty, ty + rows) of an image (see TransformInput): as F(2x2, 3x3),
    /// read in the image itself, the patches at its edge with zeros for what lies outside (see
    /// <see cref="WinogradF2.TransformInputEdge"/>); as F(4x4, 3x3), from a padded copy of the rows.</summary>
    /// <param name="x">The image, NHWC.</param>
    /// <param name="padded">Scratch for the padded copy (F(4x4, 3x3)).</param>
    /// <param name="ty">The first tile row.</param>
    /// <param name="rows">Tile rows.</param>
    /// <param name="v">Transformed inputs.</param>
    /// <param name="skip">Tiles skipped from the first row's first.</param>
    /// <param name="count">Tiles.</param>
    /// <param name="planeTiles">Tiles a plane of <paramref name="v"/> holds.</param>
    /// <param name="first">The plane slot of the first tile.</param>
    /// <param name="tmp">A tile's transform scratch.</param>
    // F(2x2, 3x3) read in place: the padded copy of every pass's rows was 1-2% of a ResNet-20 training step in perf
    // (SpanHelpers.Memmove under the Winograd passes); the values are the same bits (zeros added or subtracted alike).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Input(float* x, float* padded, int ty, int rows, float* v, int skip, int count, int planeTiles, int first, float* tmp)
    {
        if (typeof(T) == typeof(WinogradF2))
        {
            TransformInputInPlace(x, ty, v, skip, count, planeTiles, first);
        }
        else
        {
            Pad(x, padded, (T.Size * ty) - 1, (T.Size * rows) + 2);
            TransformInput(padded, v, skip, count, planeTiles, first, tmp);
        }
    }

    // F(2x2, 3x3)'s V for tiles [skip, skip + count) counted from tile row ty's first, read in the image (see Input).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformInputInPlace(float* x, int ty, float* v, int skip, int count, int planeTiles, int first)
    {
        int ic = G.InChannels;
        int height = G.Height;
        int width = G.Width;
        int wide = (width + 1) / 2;
        long rowFloats = (long)width * ic;
        long plane = (long)planeTiles * ic;
        int r = skip / wide, tx = skip - (r * wide);
        for (int t = 0; t < count; t++)
        {
            int ih = (2 * (ty + r)) - 1, iw = (2 * tx) - 1;
            int rowsInside = Inside(ih, height), columnsInside = Inside(iw, width);
            float* patch = x + ((((long)ih * width) + iw) * ic);
            float* dst = v + ((long)(first + t) * ic);
            if ((rowsInside & columnsInside) == 15)
            {
                for (int c = 0; c < ic; c += 16)
                {
                    WinogradF2.TransformInput<TS, TV>(patch + c, rowFloats, ic, dst + c, plane, null);
                }
            }
            else
            {
                for (int c = 0; c < ic; c += 16)
                {
                    WinogradF2.TransformInputEdge<TS, TV>(patch + c, rowFloats, ic, dst + c, plane, rowsInside, columnsInside);
                }
            }

            if (++tx == wide)
            {
                tx = 0;
                r++;
            }
        }
    }

    // Bit k set where i0 + k (k < 4) lies in [0, n).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Inside(int i0, int n)
    {
        int bits = 0;
        for (int k = 0; k < 4; k++)
        {
            bits |= (uint)(i0 + k) < (uint)n ? 1 << k : 0;
        }

        return bits;
    }

    // Input rows [ih0, ih0 + count) with a zero column on the left and zeros past the right edge (and above and below).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Pad(float* x, float* dst, int ih0, int count)
    {
        int rowFloats = PaddedColumns * G.InChannels;
        int middle = G.Width * G.InChannels;
        for (int r = 0; r < count; r++)
        {
            int ih = ih0 + r;
            float* d = dst + ((long)r * rowFloats);
            if (ih < 0 || ih >= G.Height)
            {
                new Span<float>(d, rowFloats).Clear();
                continue;
            }

            new Span<float>(d, G.InChannels).Clear();
            new ReadOnlySpan<float>(x + ((long)ih * middle), middle).CopyTo(new Span<float>(d + G.InChannels, middle));
            new Span<float>(d + G.InChannels + middle, rowFloats - G.InChannels - middle).Clear();
        }
    }

    // V[xi][t][ic] = (B^T d B)[xi] for tiles [skip, skip + count) of the padded rows (counted along the rows from the first
    // row's first tile), at t = first, first + 1, ... of planes of planeTiles tiles.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransformInput(float* padded, float* v, int skip, int count, int planeTiles, int first, float* tmp)
    {
        // The geometry's values read once, before the transform is inlined: past the JIT's inlining budget, the property
        // getters in the loops were left as calls (seen in perf: TilesWide and G.Width as quick-jitted functions).
        int ic = G.InChannels;
        int size = T.Size;
        int wide = TilesWide;
        long rowFloats = (long)PaddedColumns * ic;
        long plane = (long)planeTiles * ic;
        int r = skip / wide, tx = skip - (r * wide);
        for (int t = 0; t < count; t++)
        {
            float* patch = padded + (size * r * rowFloats) + (size * tx * ic);
            float* dst = v + ((long)(first + t) * ic);
            for (int c = 0; c < ic; c += 16)
            {
                T.TransformInput<TS, TV>(patch + c, rowFloats, ic, dst + c, plane, tmp);
            }

            if (++tx == wide)
            {
                tx = 0;
                r++;
            }
        }
    }

    // M[xi] = V[xi] U[xi] for every plane: tiles x out channels, on the forward micro-kernels.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Products(float* v, float* u, float* m, int tiles, int first, int end, bool ahead = false)
    {
        int ic = G.InChannels;
        int oc = G.OutChannels;
        int planes = Planes;
        PlainStore plain = default;
        for (int xi = 0; xi < planes; xi++)
        {
            float* vx = v + ((long)xi * tiles * ic);
            float* ux = u + ((long)xi * ic * oc);
            float* mx = m + ((long)xi * tiles * oc);
            int oc0 = first;
            while (oc0 < end)
            {
                int vectors = Blocks<TS, TV>.Vectors(end - oc0);
                int most = Blocks<TS, TV>.ForwardPixels(vectors);
                int blocks = (tiles + most - 1) / most;
                int small = tiles / blocks;
                int large = blocks - (tiles % blocks);
                int t0 = 0;
                // With ahead, the next group's weights (or the next plane's first) prefetched as the blocks run, each line once
                // (see AheadSchedule), where there are as many blocks as vectors (see SimdConvolution.ForwardGroup's
                // aheadPanel): at batch 1, split by output channels, the transformed weights stream from memory once a pass.
                // ResNet-50's 256x14x14 layers (64 KB groups), with every block prefetching a line a step, 0.82-0.91 of their
                // time in four runs; each line once, spread, 0.88-0.96 of that again (`profile resnet50-224 latency 2 300 ab`,
                // three runs on the slow spell of 2026-12-08, the call 0.987-0.994). Its 512x7x7 layers (3 blocks: with two
                // lines a step, 1.05-1.08 of their time, their 16.8 MB of weights the bound) do not.
                nint delta = oc0 + (16 * vectors) < end ? (nint)16 * vectors * ic : xi + 1 < planes ? ((nint)ic * oc) + ((nint)(first - oc0) * ic) : 0;
                for (int b = 0; b < blocks; b++)
                {
                    int count = b < large ? small : small + 1;
                    float* a = vx + ((long)t0 * ic);
                    float* w = ux + PackedGroups.Start(oc0, ic);
                    float* d = mx + ((long)t0 * oc) + oc0;
                    if (ahead && delta != 0 && blocks >= vectors && AheadSchedule.For(b, blocks, vectors, out nint line, out nint mask, out nint phase))
                    {
                        Product(vectors, count, a, w, d, oc, new AheadStore<PlainStore>(plain, delta + line, mask, phase));
                    }
                    else
                    {
                        Product(vectors, count, a, w, d, oc, plain);
                    }

                    t0 += count;
                }

                oc0 += 16 * vectors;
            }
        }
    }

    // One block of a plane's product on the forward micro-kernel of its group's width.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Product<TE>(int vectors, int count, float* a, float* w, float* d, int oc, in TE store)
        where TE : struct, IVectorStore
    {
        switch (vectors)
        {
            case 4: MicroKernels<PointwiseGeometry<G>, TS, TV>.Forward4(count, a, w, d, oc, store); break;
            case 2: MicroKernels<PointwiseGeometry<G>, TS, TV>.Forward2(count, a, w, d, oc, store); break;
            default: MicroKernels<PointwiseGeometry<G>, TS, TV>.Forward1(count, a, w, d, oc, store); break;
        }
    }

    // Y = A^T M A for tiles [skip, skip + count) counted along the tile rows from row ty's first tile, then bias and
    // epilogue, where the tile lies inside the output; the products at t = first, first + 1, ... of planes of planeTiles
    // tiles, the outputs from image floats past y.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformOutput(float* m, float* y, int ty, int skip, int count, int planeTiles, int first, long image, in FusedStore store, int oc0, int oc1, float* tmp)
    {
        // The geometry's values read once (see TransformInput).
        int oc = G.OutChannels;
        int size = T.Size;
        int wide = TilesWide;
        int height = G.Height;
        int width = G.Width;
        long plane = (long)planeTiles * oc;
        long row = (long)width * oc;
        int r = skip / wide, tx = skip - (r * wide);
        for (int t = 0; t < count; t++)
        {
            int oh = size * (ty + r);
            int inside = Math.Min(size, height - oh);
            int ow = size * tx;
            int across = Math.Min(size, width - ow);
            float* src = m + ((long)(first + t) * oc);
            long at = image + ((((long)oh * width) + ow) * oc);
            for (int c = oc0; c < oc1; c += 16)
            {
                T.TransformOutput<TS, TV>(src + c, plane, tmp, y, at + c, row, oc, inside, across, c, store);
            }

            if (++tx == wide)
            {
                tx = 0;
                r++;
            }
        }
    }
}
