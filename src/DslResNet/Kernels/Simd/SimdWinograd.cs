using System;
using System.Runtime.CompilerServices;

namespace DslResNet.Kernels.Simd;

/// <summary>
/// Winograd's minimal filtering F(2x2, 3x3) for 3x3 convolutions at stride 1 and padding 1 with channel counts that are
/// multiples of 16 (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). Every 2x2 block of outputs
/// (a tile) is computed from its 4x4 input patch as <c>A^T [(G g G^T) . (B^T d B)] A</c>: 16 multiplications per input and
/// output channel instead of 36, so 2.25 times fewer. The 16 element-wise products, summed over input channels, are 16
/// matrix products (tiles x input channels times input channels x output channels), which run on the forward micro-kernels
/// with tiles as pixels. Tiles are processed a few rows at a time, so that the transformed inputs and products stay in the
/// first-level cache. Rounding differs from the direct convolution's by a few units in the last place.
/// </summary>
/// <typeparam name="G">The convolution's geometry.</typeparam>
/// <typeparam name="TS">The vector operations.</typeparam>
/// <typeparam name="TV">The vector type.</typeparam>
internal static unsafe class Winograd<G, TS, TV>
    where G : struct, IConvGeometry
    where TS : struct, ISimd<TV>
    where TV : struct
{
    /// <summary>Whether the geometry is one this handles, and one where it pays. With 16 output channels on AVX-512 the
    /// products have one vector per tile and load a value per multiply-add, and the direct convolution's sliding kernel is
    /// faster (measured: ResNet-20's 16-channel layers ran at 260 GFLOP/s-equivalent as Winograd, 330 GFLOP/s direct, on 2
    /// threads); on AVX2, whose sliding block is 4 pixels (8 ymm accumulators, each a chain of 3 multiply-adds a step),
    /// Winograd is the faster (149-153 against 133-139 GFLOP/s, `profile resnet20 infer 2 20`, 2 Zen 3 cores).</summary>
    public static bool Applies => G.Kernel == 3 && G.Stride == 1 && G.Padding == 1 && (G.InChannels & 15) == 0 && (G.OutChannels & 15) == 0
        && (G.OutChannels >= 32 || !Blocks<TS, TV>.Wide);

    /// <summary>Rows of tiles (the output is <c>G.Height</c> x <c>G.Width</c>; an odd size leaves half a tile unused).</summary>
    public static int TilesHigh => (G.Height + 1) / 2;

    /// <summary>Tiles per row.</summary>
    public static int TilesWide => (G.Width + 1) / 2;

    /// <summary>Tile rows per pass: at least 14 tiles, so that the products have full register blocks.</summary>
    public static int ChunkRows => Math.Min(TilesHigh, (14 + TilesWide - 1) / TilesWide);

    /// <summary>Transformed weights: [16][in channels][out channels].</summary>
    public static long WeightFloats => 16L * G.InChannels * G.OutChannels;

    /// <summary>Scratch per thread: the padded input rows of a pass, its transformed inputs and its products.</summary>
    public static long ScratchFloats => (PaddedRows * (long)PaddedColumns * G.InChannels) + (16L * ChunkRows * TilesWide * (G.InChannels + G.OutChannels));

    private static int PaddedRows => (2 * ChunkRows) + 2;

    private static int PaddedColumns => (2 * TilesWide) + 2;

    /// <summary>U = G g G^T for input channels [<paramref name="i0"/>, <paramref name="i1"/>) of OIHW weights, into <paramref name="u"/>.</summary>
    /// <param name="w">Weights, OIHW; or, when <paramref name="flipped"/>, the weights of the convolution this one is the
    /// input gradient of ([in][out][kh][kw], read rotated by 180 degrees).</param>
    /// <param name="flipped">Whether <paramref name="w"/> holds the transposed, rotated weights.</param>
    /// <param name="u">Transformed weights, [16][in][out], each plane in <see cref="PackedGroups"/>' layout.</param>
    /// <param name="i0">First input channel.</param>
    /// <param name="i1">End of the input channels.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformWeights(float* w, bool flipped, float* u, int i0, int i1)
    {
        int ic = G.InChannels;
        int oc = G.OutChannels;
        float* g = stackalloc float[9];
        float* t = stackalloc float[12];
        long step = (long)ic * oc;

        // Output channels innermost, so that the 16 planes are each written in order within a group.
        for (int i = i0; i < i1; i++)
        {
            for (int o = 0; o < oc; o++)
            {
                int o0 = PackedGroups.GroupStart(o, oc, Blocks<TS, TV>.WidestGroup);
                long at = PackedGroups.Start(o0, ic) + ((long)i * PackedGroups.Width(o0, oc, Blocks<TS, TV>.WidestGroup)) + (o - o0);
                if (flipped)
                {
                    float* source = w + (((i * oc) + o) * 9);
                    for (int k = 0; k < 9; k++)
                    {
                        g[k] = source[8 - k];
                    }
                }
                else
                {
                    new ReadOnlySpan<float>(w + (((o * ic) + i) * 9), 9).CopyTo(new Span<float>(g, 9));
                }

                for (int j = 0; j < 3; j++)
                {
                    t[j] = g[j];
                    t[3 + j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                    t[6 + j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                    t[9 + j] = g[6 + j];
                }

                for (int r = 0; r < 4; r++)
                {
                    float* tr = t + (3 * r);
                    float* row = u + ((long)(4 * r) * step) + at;
                    row[0] = tr[0];
                    row[step] = 0.5f * (tr[0] + tr[1] + tr[2]);
                    row[2 * step] = 0.5f * (tr[0] - tr[1] + tr[2]);
                    row[3 * step] = tr[2];
                }
            }
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(float* x, float* u, float* y, int ty0, int ty1, float* scratch, in FusedStore store, int oc0, int oc1)
    {
        float* padded = scratch;
        float* v = padded + (PaddedRows * (long)PaddedColumns * G.InChannels);
        float* m = v + (16L * ChunkRows * TilesWide * G.InChannels);
        for (int ty = ty0; ty < ty1; ty += ChunkRows)
        {
            int rows = Math.Min(ChunkRows, ty1 - ty);
            int tiles = rows * TilesWide;
            Pad(x, padded, (2 * ty) - 1, (2 * rows) + 2);
            TransformInput(padded, v, rows, tiles);
            Products(v, u, m, tiles, oc0, oc1);
            TransformOutput(m, y, ty, rows, tiles, store, oc0, oc1);
        }
    }

    // Input rows [ih0, ih0 + count) with a zero column on the left and zeros past the right edge (and above and below).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pad(float* x, float* dst, int ih0, int count)
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

    // V[xi][t][ic] = (B^T d B)[xi] for the 4x4 patch d of every tile t.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformInput(float* padded, float* v, int rows, int tiles)
    {
        int ic = G.InChannels;
        long rowFloats = (long)PaddedColumns * ic;
        long plane = (long)tiles * ic;
        for (int r = 0; r < rows; r++)
        {
            for (int tx = 0; tx < TilesWide; tx++)
            {
                float* patch = padded + (2 * r * rowFloats) + (2 * tx * ic);
                float* dst = v + ((long)((r * TilesWide) + tx) * ic);
                for (int c = 0; c < ic; c += 16)
                {
                    float* p0 = patch + c;
                    float* p1 = p0 + rowFloats;
                    float* p2 = p1 + rowFloats;
                    float* p3 = p2 + rowFloats;
                    float* o = dst + c;

                    // Rows: t0 = d0 - d2, t1 = d1 + d2, t2 = d2 - d1, t3 = d1 - d3 (each a row of 4 pixels), one at a time
                    // and each value loaded where it is used, so that at most 4 vectors are live beside the loads (AVX2 has
                    // 8 in its 16 ymm registers; all 16 of the patch at once spilled).
                    Columns(TS.Subtract(TS.Load(p0), TS.Load(p2)), TS.Subtract(TS.Load(p0 + ic), TS.Load(p2 + ic)), TS.Subtract(TS.Load(p0 + (2 * ic)), TS.Load(p2 + (2 * ic))), TS.Subtract(TS.Load(p0 + (3 * ic)), TS.Load(p2 + (3 * ic))), o, plane);
                    Columns(TS.Add(TS.Load(p1), TS.Load(p2)), TS.Add(TS.Load(p1 + ic), TS.Load(p2 + ic)), TS.Add(TS.Load(p1 + (2 * ic)), TS.Load(p2 + (2 * ic))), TS.Add(TS.Load(p1 + (3 * ic)), TS.Load(p2 + (3 * ic))), o + (4 * plane), plane);
                    Columns(TS.Subtract(TS.Load(p2), TS.Load(p1)), TS.Subtract(TS.Load(p2 + ic), TS.Load(p1 + ic)), TS.Subtract(TS.Load(p2 + (2 * ic)), TS.Load(p1 + (2 * ic))), TS.Subtract(TS.Load(p2 + (3 * ic)), TS.Load(p1 + (3 * ic))), o + (8 * plane), plane);
                    Columns(TS.Subtract(TS.Load(p1), TS.Load(p3)), TS.Subtract(TS.Load(p1 + ic), TS.Load(p3 + ic)), TS.Subtract(TS.Load(p1 + (2 * ic)), TS.Load(p3 + (2 * ic))), TS.Subtract(TS.Load(p1 + (3 * ic)), TS.Load(p3 + (3 * ic))), o + (12 * plane), plane);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns(TV t0, TV t1, TV t2, TV t3, float* o, long plane)
    {
        TS.Store(o, TS.Subtract(t0, t2));
        TS.Store(o + plane, TS.Add(t1, t2));
        TS.Store(o + (2 * plane), TS.Subtract(t2, t1));
        TS.Store(o + (3 * plane), TS.Subtract(t1, t3));
    }

    // M[xi] = V[xi] U[xi] for the 16 positions: tiles x out channels, on the forward micro-kernels.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Products(float* v, float* u, float* m, int tiles, int first, int end)
    {
        int ic = G.InChannels;
        int oc = G.OutChannels;
        PlainStore plain = default;
        for (int xi = 0; xi < 16; xi++)
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
                for (int b = 0; b < blocks; b++)
                {
                    int count = b < large ? small : small + 1;
                    float* a = vx + ((long)t0 * ic);
                    float* w = ux + PackedGroups.Start(oc0, ic);
                    float* d = mx + ((long)t0 * oc) + oc0;
                    switch (vectors)
                    {
                        case 4: MicroKernels<PointwiseGeometry<G>, TS, TV>.Forward4(count, a, w, d, oc, plain); break;
                        case 2: MicroKernels<PointwiseGeometry<G>, TS, TV>.Forward2(count, a, w, d, oc, plain); break;
                        default: MicroKernels<PointwiseGeometry<G>, TS, TV>.Forward1(count, a, w, d, oc, plain); break;
                    }

                    t0 += count;
                }

                oc0 += 16 * vectors;
            }
        }
    }

    // Y = A^T M A for every tile (y0 = m0 + m1 + m2, y1 = m1 - m2 - m3 along each axis), then bias and epilogue.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformOutput(float* m, float* y, int ty, int rows, int tiles, in FusedStore store, int oc0, int oc1)
    {
        int oc = G.OutChannels;
        long plane = (long)tiles * oc;
        for (int r = 0; r < rows; r++)
        {
            int oh = 2 * (ty + r);
            bool secondRow = oh + 1 < G.Height;
            for (int tx = 0; tx < TilesWide; tx++)
            {
                int ow = 2 * tx;
                bool secondColumn = ow + 1 < G.Width;
                float* src = m + ((long)((r * TilesWide) + tx) * oc);
                long pixel = ((long)oh * G.Width) + ow;
                for (int c = oc0; c < oc1; c += 16)
                {
                    // Column by column (a = m0 + m1 + m2, b = m1 - m2 - m3 down each column, then the same across), each
                    // value loaded where it is used: 4 sums and 2 column values live (all 16 products at once spilled on
                    // AVX2's 16 ymm registers).
                    float* s = src + c;
                    TV a = TS.Add(TS.Add(TS.Load(s), TS.Load(s + (4 * plane))), TS.Load(s + (8 * plane)));
                    TV b = TS.Subtract(TS.Subtract(TS.Load(s + (4 * plane)), TS.Load(s + (8 * plane))), TS.Load(s + (12 * plane)));
                    TV y00 = a, y10 = b;
                    s += plane;
                    a = TS.Add(TS.Add(TS.Load(s), TS.Load(s + (4 * plane))), TS.Load(s + (8 * plane)));
                    b = TS.Subtract(TS.Subtract(TS.Load(s + (4 * plane)), TS.Load(s + (8 * plane))), TS.Load(s + (12 * plane)));
                    y00 = TS.Add(y00, a);
                    y10 = TS.Add(y10, b);
                    TV y01 = a, y11 = b;
                    s += plane;
                    a = TS.Add(TS.Add(TS.Load(s), TS.Load(s + (4 * plane))), TS.Load(s + (8 * plane)));
                    b = TS.Subtract(TS.Subtract(TS.Load(s + (4 * plane)), TS.Load(s + (8 * plane))), TS.Load(s + (12 * plane)));
                    y00 = TS.Add(y00, a);
                    y10 = TS.Add(y10, b);
                    y01 = TS.Subtract(y01, a);
                    y11 = TS.Subtract(y11, b);
                    s += plane;
                    a = TS.Add(TS.Add(TS.Load(s), TS.Load(s + (4 * plane))), TS.Load(s + (8 * plane)));
                    b = TS.Subtract(TS.Subtract(TS.Load(s + (4 * plane)), TS.Load(s + (8 * plane))), TS.Load(s + (12 * plane)));
                    y01 = TS.Subtract(y01, a);
                    y11 = TS.Subtract(y11, b);
                    store.Store<TS, TV>(y, (pixel * oc) + c, c, y00);
                    if (secondColumn)
                    {
                        store.Store<TS, TV>(y, ((pixel + 1) * oc) + c, c, y01);
                    }

                    if (secondRow)
                    {
                        store.Store<TS, TV>(y, ((pixel + G.Width) * oc) + c, c, y10);
                        if (secondColumn)
                        {
                            store.Store<TS, TV>(y, ((pixel + G.Width + 1) * oc) + c, c, y11);
                        }
                    }
                }
            }
        }
    }
}
