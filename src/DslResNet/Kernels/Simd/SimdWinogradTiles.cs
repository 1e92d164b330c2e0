using System.Runtime.CompilerServices;

namespace DslResNet.Kernels.Simd;

/// <summary>A Winograd tile F(m x m, 3x3): its transforms of the weights, of an input patch and of the products (Lavin and
/// Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). A type argument of <see cref="Winograd{G, TS, TV, T}"/>,
/// so that each tile's transforms are compiled into its passes.</summary>
internal unsafe interface IWinogradTile
{
    /// <summary>Outputs per tile side, m: the input patch is m + 2 wide.</summary>
    static abstract int Size { get; }

    /// <summary>U = G g G^T: the 3x3 filter <paramref name="g"/> (row-major) into (m + 2)^2 values, row-major.</summary>
    /// <param name="g">Nine weights.</param>
    /// <param name="u">The transformed weights.</param>
    static abstract void TransformWeights(float* g, float* u);

    /// <summary>U = G g G^T for 16 filters side by side, each value as <see cref="TransformWeights(float*, float*)"/> gives
    /// it: <paramref name="g"/> holds weight k of filter j at g[16 * k + j], <paramref name="u"/> gets plane p's value of
    /// filter j at u[16 * p + j].</summary>
    /// <typeparam name="TS">The vector operations.</typeparam>
    /// <typeparam name="TV">The vector type.</typeparam>
    /// <param name="g">Nine vectors of 16 weights.</param>
    /// <param name="u">(m + 2)^2 vectors.</param>
    static abstract void TransformWeights<TS, TV>(float* g, float* u)
        where TS : struct, ISimd<TV>
        where TV : struct;

    /// <summary>V = B^T d B for 16 channels of one patch d.</summary>
    /// <typeparam name="TS">The vector operations.</typeparam>
    /// <typeparam name="TV">The vector type.</typeparam>
    /// <param name="p">The patch's top-left pixel at the first of the 16 channels.</param>
    /// <param name="row">Floats from one patch row to the next.</param>
    /// <param name="column">Floats from one pixel to the next.</param>
    /// <param name="o">Where plane 0's vector goes.</param>
    /// <param name="plane">Floats from one plane to the next.</param>
    /// <param name="tmp">(m + 2)^2 vectors of scratch.</param>
    static abstract void TransformInput<TS, TV>(float* p, long row, long column, float* o, long plane, float* tmp)
        where TS : struct, ISimd<TV>
        where TV : struct;

    /// <summary>Y = A^T M A for 16 channels of one tile, stored through <paramref name="store"/> where inside the output.</summary>
    /// <typeparam name="TS">The vector operations.</typeparam>
    /// <typeparam name="TV">The vector type.</typeparam>
    /// <param name="s">Plane 0's products at the tile and the first of the 16 channels.</param>
    /// <param name="plane">Floats from one plane to the next.</param>
    /// <param name="tmp">(m + 2)^2 vectors of scratch.</param>
    /// <param name="y">The output.</param>
    /// <param name="at">The tile's top-left output at the first channel, in floats from <paramref name="y"/>.</param>
    /// <param name="row">Floats from one output row to the next.</param>
    /// <param name="column">Floats from one output pixel to the next.</param>
    /// <param name="rows">Rows of the tile inside the output (1 to m).</param>
    /// <param name="columns">Columns of the tile inside the output (1 to m).</param>
    /// <param name="c">The first channel, for the bias.</param>
    /// <param name="store">Bias and fused epilogue.</param>
    static abstract void TransformOutput<TS, TV>(float* s, long plane, float* tmp, float* y, long at, long row, long column, int rows, int columns, int c, in FusedStore store)
        where TS : struct, ISimd<TV>
        where TV : struct;
}

/// <summary>F(2x2, 3x3): 16 products per 4 outputs (2.25 times fewer multiplications than the direct convolution), with
/// transforms of additions only; its rounding differs from the direct convolution's by a few units in the last place.</summary>
internal readonly unsafe struct WinogradF2 : IWinogradTile
{
    /// <inheritdoc />
    public static int Size => 2;

    /// <inheritdoc />
    public static void TransformWeights(float* g, float* u)
    {
        float* t = stackalloc float[12];
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
            float* row = u + (4 * r);
            row[0] = tr[0];
            row[1] = 0.5f * (tr[0] + tr[1] + tr[2]);
            row[2] = 0.5f * (tr[0] - tr[1] + tr[2]);
            row[3] = tr[2];
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformWeights<TS, TV>(float* g, float* u)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        // The scalar transform's operations in its order, 16 filters a vector, so that each value is the same bits.
        TV half = TS.Broadcast(0.5f);
        for (int r = 0; r < 4; r++)
        {
            TV t0, t1, t2;
            if (r == 0 || r == 3)
            {
                int k = r == 0 ? 0 : 6;
                t0 = TS.Load(g + (16 * k));
                t1 = TS.Load(g + (16 * (k + 1)));
                t2 = TS.Load(g + (16 * (k + 2)));
            }
            else
            {
                t0 = Column<TS, TV>(g, 0, r == 2, half);
                t1 = Column<TS, TV>(g, 1, r == 2, half);
                t2 = Column<TS, TV>(g, 2, r == 2, half);
            }

            float* row = u + (16 * 4 * r);
            TS.Store(row, t0);
            TS.Store(row + 16, TS.Multiply(half, TS.Add(TS.Add(t0, t1), t2)));
            TS.Store(row + 32, TS.Multiply(half, TS.Add(TS.Subtract(t0, t1), t2)));
            TS.Store(row + 48, t2);
        }
    }

    // Row 1 (0.5 (g0j + g1j + g2j)) or row 2 (0.5 (g0j - g1j + g2j)) of G g, column j.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Column<TS, TV>(float* g, int j, bool minus, TV half)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        TV a = TS.Load(g + (16 * j));
        TV b = TS.Load(g + (16 * (3 + j)));
        TV c = TS.Load(g + (16 * (6 + j)));
        return TS.Multiply(half, TS.Add(minus ? TS.Subtract(a, b) : TS.Add(a, b), c));
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformInput<TS, TV>(float* p0, long row, long column, float* o, long plane, float* tmp)
        where TS : struct, ISimd<TV>
        where TV : struct =>
        TransformInputEdge<TS, TV>(p0, row, column, o, plane, 15, 15); // every row and column inside: the JIT drops the tests

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformOutput<TS, TV>(float* s, long plane, float* tmp, float* y, long at, long row, long column, int rows, int columns, int c, in FusedStore store)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        // Column by column (a = m0 + m1 + m2, b = m1 - m2 - m3 down each column, then the same across), each value loaded
        // where it is used: 4 sums and 2 column values live (all 16 products at once spilled on AVX2's 16 ymm registers).
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
        store.Store<TS, TV>(y, at, c, y00);
        if (columns > 1)
        {
            store.Store<TS, TV>(y, at + column, c, y01);
        }

        if (rows > 1)
        {
            store.Store<TS, TV>(y, at + row, c, y10);
            if (columns > 1)
            {
                store.Store<TS, TV>(y, at + row + column, c, y11);
            }
        }
    }

    /// <summary><see cref="TransformInput{TS, TV}"/> for a patch at the image's edge, read in the image itself (no padded
    /// copy): the patch's rows and columns outside the image are taken as zero and not read, which gives the same values
    /// as a padded copy's zeros.</summary>
    /// <typeparam name="TS">The vector operations.</typeparam>
    /// <typeparam name="TV">The vector type.</typeparam>
    /// <param name="p0">The patch's top-left pixel at the first of the 16 channels (outside the image where its first row or
    /// column is; never read there).</param>
    /// <param name="row">Floats from one image row to the next.</param>
    /// <param name="column">Floats from one pixel to the next.</param>
    /// <param name="o">Where plane 0's vector goes.</param>
    /// <param name="plane">Floats from one plane to the next.</param>
    /// <param name="rows">Bit k set where the patch's row k lies inside the image.</param>
    /// <param name="columns">Bit k set where the patch's column k lies inside the image.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformInputEdge<TS, TV>(float* p0, long row, long column, float* o, long plane, int rows, int columns)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        float* p1 = p0 + row;
        float* p2 = p1 + row;
        float* p3 = p2 + row;
        long ic = column;
        bool r0 = (rows & 1) != 0, r1 = (rows & 2) != 0, r2 = (rows & 4) != 0, r3 = (rows & 8) != 0;
        bool c0 = (columns & 1) != 0, c1 = (columns & 2) != 0, c2 = (columns & 4) != 0, c3 = (columns & 8) != 0;

        // Rows: t0 = d0 - d2, t1 = d1 + d2, t2 = d2 - d1, t3 = d1 - d3 (each a row of 4 pixels), one at a time and each
        // value loaded where it is used, so that at most 4 vectors are live beside the loads (AVX2 has 8 in its 16 ymm
        // registers; all 16 of the patch at once spilled); a load is a zero where its row or column lies outside.
        Columns<TS, TV>(TS.Subtract(Load<TS, TV>(p0, r0 && c0), Load<TS, TV>(p2, r2 && c0)), TS.Subtract(Load<TS, TV>(p0 + ic, r0 && c1), Load<TS, TV>(p2 + ic, r2 && c1)), TS.Subtract(Load<TS, TV>(p0 + (2 * ic), r0 && c2), Load<TS, TV>(p2 + (2 * ic), r2 && c2)), TS.Subtract(Load<TS, TV>(p0 + (3 * ic), r0 && c3), Load<TS, TV>(p2 + (3 * ic), r2 && c3)), o, plane);
        Columns<TS, TV>(TS.Add(Load<TS, TV>(p1, r1 && c0), Load<TS, TV>(p2, r2 && c0)), TS.Add(Load<TS, TV>(p1 + ic, r1 && c1), Load<TS, TV>(p2 + ic, r2 && c1)), TS.Add(Load<TS, TV>(p1 + (2 * ic), r1 && c2), Load<TS, TV>(p2 + (2 * ic), r2 && c2)), TS.Add(Load<TS, TV>(p1 + (3 * ic), r1 && c3), Load<TS, TV>(p2 + (3 * ic), r2 && c3)), o + (4 * plane), plane);
        Columns<TS, TV>(TS.Subtract(Load<TS, TV>(p2, r2 && c0), Load<TS, TV>(p1, r1 && c0)), TS.Subtract(Load<TS, TV>(p2 + ic, r2 && c1), Load<TS, TV>(p1 + ic, r1 && c1)), TS.Subtract(Load<TS, TV>(p2 + (2 * ic), r2 && c2), Load<TS, TV>(p1 + (2 * ic), r1 && c2)), TS.Subtract(Load<TS, TV>(p2 + (3 * ic), r2 && c3), Load<TS, TV>(p1 + (3 * ic), r1 && c3)), o + (8 * plane), plane);
        Columns<TS, TV>(TS.Subtract(Load<TS, TV>(p1, r1 && c0), Load<TS, TV>(p3, r3 && c0)), TS.Subtract(Load<TS, TV>(p1 + ic, r1 && c1), Load<TS, TV>(p3 + ic, r3 && c1)), TS.Subtract(Load<TS, TV>(p1 + (2 * ic), r1 && c2), Load<TS, TV>(p3 + (2 * ic), r3 && c2)), TS.Subtract(Load<TS, TV>(p1 + (3 * ic), r1 && c3), Load<TS, TV>(p3 + (3 * ic), r3 && c3)), o + (12 * plane), plane);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Load<TS, TV>(float* p, bool inside)
        where TS : struct, ISimd<TV>
        where TV : struct => inside ? TS.Load(p) : TS.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns<TS, TV>(TV t0, TV t1, TV t2, TV t3, float* o, long plane)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        TS.Store(o, TS.Subtract(t0, t2));
        TS.Store(o + plane, TS.Add(t1, t2));
        TS.Store(o + (2 * plane), TS.Subtract(t2, t1));
        TS.Store(o + (3 * plane), TS.Subtract(t1, t3));
    }
}

/// <summary>F(4x4, 3x3) on the points 0, 1, -1, 2, -2 and infinity: 36 products per 16 outputs, 4 times fewer
/// multiplications than the direct convolution (1.78 times fewer than F(2x2, 3x3)), for transforms with small integer
/// coefficients (4, 5 and 8; the weights' 1/6, 1/12 and 1/24). Its rounding error is larger than F(2x2, 3x3)'s, by about
/// an order of magnitude: used for inference, not for the training's gradients (see SimdConvolution.Forward).</summary>
internal readonly unsafe struct WinogradF4 : IWinogradTile
{
    /// <inheritdoc />
    public static int Size => 4;

    /// <inheritdoc />
    public static void TransformWeights(float* g, float* u)
    {
        // G g G^T in double, each row of G applied down the filter's columns and then across.
        double* t = stackalloc double[18];
        for (int j = 0; j < 3; j++)
        {
            Filter(g[j], g[3 + j], g[6 + j], t + j, 3);
        }

        double* row = stackalloc double[6];
        for (int r = 0; r < 6; r++)
        {
            Filter(t[3 * r], t[(3 * r) + 1], t[(3 * r) + 2], row, 1);
            for (int k = 0; k < 6; k++)
            {
                u[(6 * r) + k] = (float)row[k];
            }
        }
    }

    /// <inheritdoc />
    public static void TransformWeights<TS, TV>(float* g, float* u)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        // Filter by filter, in double (inference transforms its weights once).
        float* one = stackalloc float[9];
        float* planes = stackalloc float[36];
        for (int j = 0; j < 16; j++)
        {
            for (int k = 0; k < 9; k++)
            {
                one[k] = g[(16 * k) + j];
            }

            TransformWeights(one, planes);
            for (int p = 0; p < 36; p++)
            {
                u[(16 * p) + j] = planes[p];
            }
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformInput<TS, TV>(float* p, long row, long column, float* o, long plane, float* tmp)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        // Down each of the 6 columns into tmp (row-major 6x6 vectors), then across each row into the planes.
        for (int j = 0; j < 6; j++)
        {
            Input<TS, TV>(p + (j * column), row, tmp + (16 * j), 6 * 16);
        }

        for (int i = 0; i < 6; i++)
        {
            Input<TS, TV>(tmp + (6 * 16 * i), 16, o + (6 * i * plane), plane);
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformOutput<TS, TV>(float* s, long plane, float* tmp, float* y, long at, long row, long column, int rows, int columns, int c, in FusedStore store)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        // Down each of the 6 columns (4 rows of tmp), then across each of the tile's rows inside the output.
        for (int j = 0; j < 6; j++)
        {
            float* m = s + (j * plane);
            long step = 6 * plane;
            TV m1 = TS.Load(m + step), m2 = TS.Load(m + (2 * step)), m3 = TS.Load(m + (3 * step)), m4 = TS.Load(m + (4 * step));
            TV s12 = TS.Add(m1, m2), d12 = TS.Subtract(m1, m2), s34 = TS.Add(m3, m4), d34 = TS.Subtract(m3, m4);
            float* t = tmp + (16 * j);
            TS.Store(t, TS.Add(TS.Add(TS.Load(m), s12), s34));
            TS.Store(t + (6 * 16), TS.Fma(TS.Broadcast(2f), d34, d12));
            TS.Store(t + (12 * 16), TS.Fma(TS.Broadcast(4f), s34, s12));
            TS.Store(t + (18 * 16), TS.Add(TS.Fma(TS.Broadcast(8f), d34, d12), TS.Load(m + (5 * step))));
        }

        for (int r = 0; r < rows; r++)
        {
            float* t = tmp + (6 * 16 * r);
            TV m1 = TS.Load(t + 16), m2 = TS.Load(t + 32), m3 = TS.Load(t + 48), m4 = TS.Load(t + 64);
            TV s12 = TS.Add(m1, m2), d12 = TS.Subtract(m1, m2), s34 = TS.Add(m3, m4), d34 = TS.Subtract(m3, m4);
            long a = at + (r * row);
            store.Store<TS, TV>(y, a, c, TS.Add(TS.Add(TS.Load(t), s12), s34));
            if (columns > 1)
            {
                store.Store<TS, TV>(y, a + column, c, TS.Fma(TS.Broadcast(2f), d34, d12));
            }

            if (columns > 2)
            {
                store.Store<TS, TV>(y, a + (2 * column), c, TS.Fma(TS.Broadcast(4f), s34, s12));
            }

            if (columns > 3)
            {
                store.Store<TS, TV>(y, a + (3 * column), c, TS.Add(TS.Fma(TS.Broadcast(8f), d34, d12), TS.Load(t + 80)));
            }
        }
    }

    // B^T d for the 6 values d0..d5 at p, p + step, ...: t0 = 4 d0 - 5 d2 + d4, t1 = (d3 + d4) - 4 (d1 + d2),
    // t2 = (d4 - d3) + 4 (d1 - d2), t3 = (d4 - d2) + 2 (d3 - d1), t4 = (d4 - d2) - 2 (d3 - d1), t5 = 4 d1 - 5 d3 + d5.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Input<TS, TV>(float* p, long step, float* o, long ostep)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        TV four = TS.Broadcast(4f), five = TS.Broadcast(-5f);
        TV d4 = TS.Load(p + (4 * step));
        TS.Store(o, TS.Fma(four, TS.Load(p), TS.Fma(five, TS.Load(p + (2 * step)), d4)));
        TV d1 = TS.Load(p + step), d2 = TS.Load(p + (2 * step)), d3 = TS.Load(p + (3 * step));
        TS.Store(o + ostep, TS.Fma(TS.Broadcast(-4f), TS.Add(d1, d2), TS.Add(d3, d4)));
        TS.Store(o + (2 * ostep), TS.Fma(four, TS.Subtract(d1, d2), TS.Subtract(d4, d3)));
        TV d31 = TS.Subtract(d3, d1), d42 = TS.Subtract(d4, d2);
        TS.Store(o + (3 * ostep), TS.Fma(TS.Broadcast(2f), d31, d42));
        TS.Store(o + (4 * ostep), TS.Fma(TS.Broadcast(-2f), d31, d42));
        TS.Store(o + (5 * ostep), TS.Fma(four, d1, TS.Fma(five, d3, TS.Load(p + (5 * step)))));
    }

    // G applied to (g0, g1, g2): g0 / 4, -(g0 + g1 + g2) / 6, -(g0 - g1 + g2) / 6, g0 / 24 + g1 / 12 + g2 / 6,
    // g0 / 24 - g1 / 12 + g2 / 6, g2; into o, o + step, ...
    private static void Filter(double g0, double g1, double g2, double* o, int step)
    {
        o[0] = g0 / 4;
        o[step] = -(g0 + g1 + g2) / 6;
        o[2 * step] = -(g0 - g1 + g2) / 6;
        o[3 * step] = (g0 / 24) + (g1 / 12) + (g2 / 6);
        o[4 * step] = (g0 / 24) - (g1 / 12) + (g2 / 6);
        o[5 * step] = g2;
    }
}
