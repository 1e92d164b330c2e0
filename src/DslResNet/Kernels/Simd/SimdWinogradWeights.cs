using System;
using System.Runtime.CompilerServices;

namespace DslResNet.Kernels.Simd;

/// <summary>
/// The weight gradient of a 3x3 convolution at stride 1 and padding 1 by Winograd's F(2x2, 3x3), transposed: the forward
/// computes each 2x2 output tile as <c>Y = A^T [U . V] A</c> with <c>U = G g G^T</c> and <c>V = B^T d B</c> (d the tile's 4x4
/// input patch), so the gradient of the filter g is <c>G^T dU G</c> with <c>dU = sum over tiles of (A dY A^T) . V</c>. The
/// 16 sums dU (one per plane) over the batch's tiles are, for each plane, a product of the tiles' transformed inputs
/// (tiles x in channels) by their transformed output gradients (tiles x out channels), reduced over the tiles: the
/// weight-gradient micro-kernels with tiles as pixels, 16 multiply-adds a tile where the direct gradient takes 36 (4 pixels
/// by 9 taps). The reduction over slices applies <c>G^T . G</c> (see <see cref="Inverse"/>).
/// </summary>
/// <typeparam name="G">The convolution's geometry.</typeparam>
/// <typeparam name="TS">The vector operations.</typeparam>
/// <typeparam name="TV">The vector type.</typeparam>
internal static unsafe class WinogradWeights<G, TS, TV>
    where G : struct, IConvGeometry
    where TS : struct, ISimd<TV>
    where TV : struct
{
    private const int Planes = 16;

    // Tiles a pass takes at least: the micro-kernels reduce over a pass's tiles, then add their sums into the partials.
    private const int MinTiles = 48;

    /// <summary>Whether the geometry is one this handles (that of the Winograd forward).</summary>
    public static bool Applies { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Winograd<G, TS, TV, WinogradF2>.Applies; }

    /// <summary>The partial sums of one slice: [plane][in channel][out channel].</summary>
    public static long PartialFloats { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (long)Planes * G.InChannels * G.OutChannels; }

    /// <summary>Scratch per thread: a pass's padded input rows, its transformed inputs and output gradients, a tile's
    /// transform.</summary>
    public static long ScratchFloats { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ((long)PaddedRows * PaddedColumns * G.InChannels) + ((long)Planes * PassTiles * (G.InChannels + G.OutChannels)) + (16L * Planes); }

    private static int TilesHigh { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (G.Height + 1) / 2; }

    private static int TilesWide { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (G.Width + 1) / 2; }

    private static int TilesPerImage { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => TilesHigh * TilesWide; }

    // Tile rows of an image a pass takes; where that is the whole image, whole images (as many as MinTiles needs).
    private static int ChunkRows { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Math.Min(TilesHigh, (MinTiles + TilesWide - 1) / TilesWide); }

    private static int ImagesPerPass { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ChunkRows < TilesHigh ? 1 : (MinTiles + TilesPerImage - 1) / TilesPerImage; }

    private static int PassTiles { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Math.Max(ChunkRows * TilesWide, ImagesPerPass * TilesPerImage); }

    private static int PaddedRows { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (2 * ChunkRows) + 2; }

    private static int PaddedColumns { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (2 * TilesWide) + 2; }

    /// <summary>Adds the dU of <paramref name="images"/> images into <paramref name="du"/>.</summary>
    /// <param name="x">The first image's input, NHWC.</param>
    /// <param name="dy">The first image's output gradient, NHWC.</param>
    /// <param name="images">Images.</param>
    /// <param name="scratch">The thread's scratch (<see cref="ScratchFloats"/>).</param>
    /// <param name="du">The slice's partial sums (<see cref="PartialFloats"/>).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate(float* x, float* dy, int images, float* scratch, float* du)
    {
        float* padded = scratch;
        float* v = padded + ((long)PaddedRows * PaddedColumns * G.InChannels);
        float* m = v + ((long)Planes * PassTiles * G.InChannels);
        float* tmp = m + ((long)Planes * PassTiles * G.OutChannels);
        long inImage = (long)G.Height * G.Width * G.InChannels;
        long outImage = (long)G.Height * G.Width * G.OutChannels;
        int perPass = ImagesPerPass;
        if (perPass > 1)
        {
            for (int i0 = 0; i0 < images; i0 += perPass)
            {
                int count = Math.Min(perPass, images - i0);
                int tiles = count * TilesPerImage;
                for (int i = 0; i < count; i++)
                {
                    Input(x + ((i0 + i) * inImage), padded, 0, TilesHigh, v, TilesPerImage, tiles, i * TilesPerImage, tmp);
                    TransformGradient(dy + ((i0 + i) * outImage), m, 0, TilesHigh, tiles, i * TilesPerImage);
                }

                Products(v, m, du, tiles);
            }

            return;
        }

        for (int n = 0; n < images; n++)
        {
            for (int ty = 0; ty < TilesHigh; ty += ChunkRows)
            {
                int rows = Math.Min(ChunkRows, TilesHigh - ty);
                int tiles = rows * TilesWide;
                Input(x + (n * inImage), padded, ty, rows, v, tiles, tiles, 0, tmp);
                TransformGradient(dy + (n * outImage), m, ty, rows, tiles, 0);
                Products(v, m, du, tiles);
            }
        }
    }

    // V of a pass's input tiles: read in the image itself where its rows are at most 4 tiles wide (a padded copy of a 7x7
    // image is twice its size), from a padded copy of the rows otherwise. Here the input is last touched a whole forward
    // ago, and the copy streams it in order where the in-place transform reads four rows at once, tile by tile: `profile
    // resnet20 train 2 80 ab` and `profile resnet50-224 train 2 12 ab`, twice each, read in place: 64x7x7 0.88 of its
    // time, 32x14x14 1.06-1.12, 64x56x56 1.05-1.10.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Input(float* x, float* padded, int ty, int rows, float* v, int count, int planeTiles, int first, float* tmp)
    {
        if (TilesWide <= 4)
        {
            Winograd<G, TS, TV, WinogradF2>.Input(x, padded, ty, rows, v, 0, count, planeTiles, first, tmp);
        }
        else
        {
            Winograd<G, TS, TV, WinogradF2>.Pad(x, padded, (2 * ty) - 1, (2 * rows) + 2);
            Winograd<G, TS, TV, WinogradF2>.TransformInput(padded, v, 0, count, planeTiles, first, tmp);
        }
    }

    // M[xi][t][oc] = (A dY A^T)[xi] for the 2x2 output gradient dY of every tile of rows [ty, ty + rows) (zero past the
    // image's edge), the pass's tiles counted from first. A^T = [1 1 1 0; 0 1 -1 -1].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformGradient(float* dy, float* m, int ty, int rows, int tiles, int first)
    {
        int oc = G.OutChannels;
        int height = G.Height;
        int width = G.Width;
        int wide = TilesWide;
        long plane = (long)tiles * oc;
        long row = (long)width * oc;
        TV zero = TS.Zero;
        for (int r = 0; r < rows; r++)
        {
            int oh = 2 * (ty + r);
            bool below = oh + 1 < height;
            for (int tx = 0; tx < wide; tx++)
            {
                int ow = 2 * tx;
                bool right = ow + 1 < width;
                float* p = dy + ((((long)oh * width) + ow) * oc);
                float* o = m + ((long)(first + (r * wide) + tx) * oc);
                for (int c = 0; c < oc; c += 16)
                {
                    TV y00 = TS.Load(p + c);
                    TV y01 = right ? TS.Load(p + oc + c) : zero;
                    TV y10 = below ? TS.Load(p + row + c) : zero;
                    TV y11 = below && right ? TS.Load(p + row + oc + c) : zero;

                    // Rows of A dY: (y0), (y0 + y1), (y0 - y1), (-y1), each a pair (column 0, column 1).
                    Row(o + c, plane, 0, y00, y01);
                    Row(o + c, plane, 1, TS.Add(y00, y10), TS.Add(y01, y11));
                    Row(o + c, plane, 2, TS.Subtract(y00, y10), TS.Subtract(y01, y11));
                    Row(o + c, plane, 3, TS.Subtract(zero, y10), TS.Subtract(zero, y11));
                }
            }
        }
    }

    // Row i of (A dY) A^T from the pair (c0, c1): c0, c0 + c1, c0 - c1, -c1 into planes 4i to 4i + 3.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(float* o, long plane, int i, TV c0, TV c1)
    {
        float* at = o + (4 * i * plane);
        TS.Store(at, c0);
        TS.Store(at + plane, TS.Add(c0, c1));
        TS.Store(at + (2 * plane), TS.Subtract(c0, c1));
        TS.Store(at + (3 * plane), TS.Subtract(TS.Zero, c1));
    }

    // dU[xi] += V[xi]^T M[xi] for every plane: each output-channel group's transformed gradients (in L1 after the first
    // block) under every block of input channels, reduced over the pass's tiles by the weight-gradient micro-kernels.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Products(float* v, float* m, float* du, int tiles)
    {
        int ic = G.InChannels;
        int oc = G.OutChannels;
        for (int xi = 0; xi < Planes; xi++)
        {
            float* vx = v + ((long)xi * tiles * ic);
            float* mx = m + ((long)xi * tiles * oc);
            float* ux = du + ((long)xi * ic * oc);
            int oc0 = 0;
            while (oc0 < oc)
            {
                int vectors = Blocks<TS, TV>.Vectors(oc - oc0);
                int block = Blocks<TS, TV>.WeightRows(vectors);
                for (int ic0 = 0; ic0 < ic; ic0 += block)
                {
                    int count = Math.Min(block, ic - ic0);
                    float* a = vx + ic0;
                    float* b = mx + oc0;
                    float* dw = ux + ((long)ic0 * oc) + oc0;
                    switch (vectors)
                    {
                        case 4: MicroKernels<G, TS, TV>.BackwardWeights4(count, a, ic, 0, b, oc, dw, 1, tiles); break;
                        case 2: MicroKernels<G, TS, TV>.BackwardWeights2(count, a, ic, 0, b, oc, dw, 1, tiles); break;
                        default: MicroKernels<G, TS, TV>.BackwardWeights1(count, a, ic, 0, b, oc, dw, 1, tiles); break;
                    }
                }

                oc0 += 16 * vectors;
            }
        }
    }

    /// <summary>
    /// The 3x3 gradient <c>G^T dU G</c> of 16 output channels: <paramref name="u"/> holds plane p's sums at u[16 * p], the
    /// nine results go to w[16 * k] (k = 3 kh + kw). G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1].
    /// </summary>
    /// <param name="u">16 vectors.</param>
    /// <param name="w">9 vectors.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Inverse(float* u, float* w)
    {
        TV half = TS.Broadcast(0.5f);
        float* t = stackalloc float[12 * 16];
        for (int j = 0; j < 4; j++)
        {
            TV u0 = TS.Load(u + (16 * j)), u1 = TS.Load(u + (16 * (4 + j))), u2 = TS.Load(u + (16 * (8 + j))), u3 = TS.Load(u + (16 * (12 + j)));
            TV s = TS.Multiply(half, TS.Add(u1, u2));
            TS.Store(t + (16 * j), TS.Add(u0, s));
            TS.Store(t + (16 * (4 + j)), TS.Multiply(half, TS.Subtract(u1, u2)));
            TS.Store(t + (16 * (8 + j)), TS.Add(s, u3));
        }

        for (int a = 0; a < 3; a++)
        {
            float* ta = t + (16 * 4 * a);
            TV t0 = TS.Load(ta), t1 = TS.Load(ta + 16), t2 = TS.Load(ta + 32), t3 = TS.Load(ta + 48);
            TV s = TS.Multiply(half, TS.Add(t1, t2));
            TS.Store(w + (16 * ((3 * a) + 0)), TS.Add(t0, s));
            TS.Store(w + (16 * ((3 * a) + 1)), TS.Multiply(half, TS.Subtract(t1, t2)));
            TS.Store(w + (16 * ((3 * a) + 2)), TS.Add(s, t3));
        }
    }
}
