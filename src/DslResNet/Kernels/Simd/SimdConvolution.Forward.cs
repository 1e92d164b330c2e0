using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DslResNet.Kernels.Simd;

// The forward pass of SimdConvolution<G, TS, TV>: weight packing, padded input rows, the register-tiled inner loops, the
// store with its fused epilogue and the batch statistics.
internal sealed unsafe partial class SimdConvolution<G, TS, TV>
    where G : struct, IConvGeometry
    where TS : struct, ISimd<TV>
    where TV : struct
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Pack(int ic0, int ic1)
    {
        // The layout is PackedGroups'. A data convolution reads the forward weights [ic][oc][kh][kw] rotated. Input channels
        // outside the taps, so that a group's rows of OIHW weights are each read in order; the fields in locals, so that the
        // copies are not reloading them around every value (a ResNet-50 step spent 77 ms packing).
        int inputs = G.InChannels;
        int outputs = G.OutChannels;
        int taps = Taps;
        int rows = taps * inputs;
        float* packed = _packed;
        float* w = _w;
        bool flipped = _flipSource;
        float* block = stackalloc float[256];
        for (int oc0 = 0; oc0 < outputs; oc0 += PackedGroups.Width(oc0, CoutP, _packWidth))
        {
            int width = PackedGroups.Width(oc0, CoutP, _packWidth);
            int oc1 = Math.Min(oc0 + width, outputs);
            float* group = packed + PackedGroups.Start(oc0, rows);
            if (!flipped && taps == 1 && Avx512F.IsSupported)
            {
                // A 1x1 layer's forward: blocks of 16 output by 16 input channels transposed in registers, each row of
                // the block one line read and each packed row one line written, where a value at a time read a line per
                // value (rows 2 KB and more apart share L1's sets). `profile resnet50-224 train 2 16 ab`: ResNet-50's 1x1
                // packings 8.3 -> 3.5 ms a step (512x7x7->2048 2.08 -> 0.68, the FC 1.35 -> 0.43), the call 0.982.
                int ic = ic0;
                for (; ic + 16 <= ic1; ic += 16)
                {
                    int oc = oc0;
                    for (; oc + 16 <= oc1; oc += 16)
                    {
                        Transpose16(w + ((long)oc * inputs) + ic, inputs, group + ((long)ic * width) + (oc - oc0), width);
                    }

                    for (; oc < oc1; oc++)
                    {
                        for (int k = ic; k < ic + 16; k++)
                        {
                            group[((long)k * width) + (oc - oc0)] = w[((long)oc * inputs) + k];
                        }
                    }
                }

                for (; ic < ic1; ic++)
                {
                    for (int oc = oc0; oc < oc1; oc++)
                    {
                        group[((long)ic * width) + (oc - oc0)] = w[((long)oc * inputs) + ic];
                    }
                }

                continue;
            }

            if (!flipped && taps > 1 && Avx512F.IsSupported)
            {
                // A larger kernel's forward: the same blocks over 16 consecutive values of 16 rows of OIHW (input channel and
                // tap together), each transposed value row then stored at its tap's and channel's packed row (ResNet-50's
                // 512x14x14->512 stride 2: 1.24 -> 0.60 ms a step).
                long j1 = (long)ic1 * taps;
                long j = (long)ic0 * taps;
                for (; j + 16 <= j1; j += 16)
                {
                    int oc = oc0;
                    for (; oc + 16 <= oc1; oc += 16)
                    {
                        Transpose16(w + ((long)oc * rows) + j, rows, block, 16);
                        for (int k = 0; k < 16; k++)
                        {
                            long jk = j + k;
                            long row = ((jk % taps) * inputs) + (jk / taps);
                            Vector512.Load(block + (k * 16)).Store(group + (row * width) + (oc - oc0));
                        }
                    }

                    for (; oc < oc1; oc++)
                    {
                        for (long k = j; k < j + 16; k++)
                        {
                            group[((((k % taps) * inputs) + (k / taps)) * width) + (oc - oc0)] = w[((long)oc * rows) + k];
                        }
                    }
                }

                for (; j < j1; j++)
                {
                    long row = ((j % taps) * inputs) + (j / taps);
                    for (int oc = oc0; oc < oc1; oc++)
                    {
                        group[(row * width) + (oc - oc0)] = w[((long)oc * rows) + j];
                    }
                }

                continue;
            }

            if (!flipped && taps == 1 && inputs >= 1024)
            {
                // Without AVX-512: a 1x1 layer's forward with rows of 1024 input channels or more (4 KB apart and more, so that a group's
                // 64 rows read a value at a time share L1's sets): a tile of 32 input channels at a time, each row's 32
                // values read in order and their packed lines, a tile's worth, kept in L1. `profile resnet50-224 train 2
                // 12 ab`, twice: these packings 0.49-0.66 of their time (1024x14x14->2048 2.17 -> 1.08/1.43 ms a step,
                // the FC 1.88 -> 0.92/1.20), the call 0.987 and 0.975; with 512 inputs or fewer the tiles gained nothing
                // or lost (0.96-1.69 in a first trial), and the loop below takes them.
                for (int t0 = ic0; t0 < ic1; t0 += 32)
                {
                    int t1 = Math.Min(ic1, t0 + 32);
                    for (int oc = oc0; oc < oc1; oc++)
                    {
                        float* src = w + ((long)oc * inputs);
                        float* dst = group + ((long)t0 * width) + (oc - oc0);
                        for (int ic = t0; ic < t1; ic++, dst += width)
                        {
                            *dst = src[ic];
                        }
                    }
                }

                continue;
            }

            for (int ic = ic0; ic < ic1; ic++)
            {
                for (int tap = 0; tap < taps; tap++)
                {
                    float* dst = group + ((((long)tap * inputs) + ic) * width) - oc0;
                    if (flipped && taps == 1)
                    {
                        // A 1x1 layer's input gradient: the group's weights are a run of the source row. A copy, not a
                        // value at a time (`profile resnet50-224 train 2 8 ab`: these packings 0.43-0.72 of their time,
                        // about 2 ms a step).
                        new ReadOnlySpan<float>(w + ((long)ic * outputs) + oc0, oc1 - oc0).CopyTo(new Span<float>(dst + oc0, oc1 - oc0));
                    }
                    else if (flipped)
                    {
                        float* src = w + ((long)ic * outputs * taps) + (taps - 1 - tap);
                        for (int oc = oc0; oc < oc1; oc++)
                        {
                            dst[oc] = src[(long)oc * taps];
                        }
                    }
                    else
                    {
                        float* src = w + ((long)ic * taps) + tap;
                        long step = (long)inputs * taps;
                        for (int oc = oc0; oc < oc1; oc++)
                        {
                            dst[oc] = src[oc * step];
                        }
                    }
                }
            }
        }
    }

    // The 16x16 block at src (rows srcStride floats apart) transposed into dst (rows dstStride apart): 32-bit and 64-bit
    // interleaves within 128-bit lanes, then two rounds of lane shuffles.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16(float* src, int srcStride, float* dst, int dstStride)
    {
        Vector512<float> r0 = Vector512.Load(src), r1 = Vector512.Load(src + srcStride), r2 = Vector512.Load(src + (2 * srcStride)), r3 = Vector512.Load(src + (3 * srcStride));
        Vector512<float> r4 = Vector512.Load(src + (4 * srcStride)), r5 = Vector512.Load(src + (5 * srcStride)), r6 = Vector512.Load(src + (6 * srcStride)), r7 = Vector512.Load(src + (7 * srcStride));
        Vector512<float> r8 = Vector512.Load(src + (8 * srcStride)), r9 = Vector512.Load(src + (9 * srcStride)), r10 = Vector512.Load(src + (10 * srcStride)), r11 = Vector512.Load(src + (11 * srcStride));
        Vector512<float> r12 = Vector512.Load(src + (12 * srcStride)), r13 = Vector512.Load(src + (13 * srcStride)), r14 = Vector512.Load(src + (14 * srcStride)), r15 = Vector512.Load(src + (15 * srcStride));

        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1), t2 = Avx512F.UnpackLow(r2, r3), t3 = Avx512F.UnpackHigh(r2, r3);
        Vector512<float> t4 = Avx512F.UnpackLow(r4, r5), t5 = Avx512F.UnpackHigh(r4, r5), t6 = Avx512F.UnpackLow(r6, r7), t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<float> t8 = Avx512F.UnpackLow(r8, r9), t9 = Avx512F.UnpackHigh(r8, r9), t10 = Avx512F.UnpackLow(r10, r11), t11 = Avx512F.UnpackHigh(r10, r11);
        Vector512<float> t12 = Avx512F.UnpackLow(r12, r13), t13 = Avx512F.UnpackHigh(r12, r13), t14 = Avx512F.UnpackLow(r14, r15), t15 = Avx512F.UnpackHigh(r14, r15);

        // Lane L of r(4a + b): column 4L + b, rows 4a to 4a + 3.
        r0 = Pairs(t0, t2, false); r1 = Pairs(t0, t2, true); r2 = Pairs(t1, t3, false); r3 = Pairs(t1, t3, true);
        r4 = Pairs(t4, t6, false); r5 = Pairs(t4, t6, true); r6 = Pairs(t5, t7, false); r7 = Pairs(t5, t7, true);
        r8 = Pairs(t8, t10, false); r9 = Pairs(t8, t10, true); r10 = Pairs(t9, t11, false); r11 = Pairs(t9, t11, true);
        r12 = Pairs(t12, t14, false); r13 = Pairs(t12, t14, true); r14 = Pairs(t13, t15, false); r15 = Pairs(t13, t15, true);

        t0 = Avx512F.Shuffle4x128(r0, r4, 0x88); t1 = Avx512F.Shuffle4x128(r1, r5, 0x88); t2 = Avx512F.Shuffle4x128(r2, r6, 0x88); t3 = Avx512F.Shuffle4x128(r3, r7, 0x88);
        t4 = Avx512F.Shuffle4x128(r0, r4, 0xdd); t5 = Avx512F.Shuffle4x128(r1, r5, 0xdd); t6 = Avx512F.Shuffle4x128(r2, r6, 0xdd); t7 = Avx512F.Shuffle4x128(r3, r7, 0xdd);
        t8 = Avx512F.Shuffle4x128(r8, r12, 0x88); t9 = Avx512F.Shuffle4x128(r9, r13, 0x88); t10 = Avx512F.Shuffle4x128(r10, r14, 0x88); t11 = Avx512F.Shuffle4x128(r11, r15, 0x88);
        t12 = Avx512F.Shuffle4x128(r8, r12, 0xdd); t13 = Avx512F.Shuffle4x128(r9, r13, 0xdd); t14 = Avx512F.Shuffle4x128(r10, r14, 0xdd); t15 = Avx512F.Shuffle4x128(r11, r15, 0xdd);

        Avx512F.Shuffle4x128(t0, t8, 0x88).Store(dst);
        Avx512F.Shuffle4x128(t1, t9, 0x88).Store(dst + dstStride);
        Avx512F.Shuffle4x128(t2, t10, 0x88).Store(dst + (2 * dstStride));
        Avx512F.Shuffle4x128(t3, t11, 0x88).Store(dst + (3 * dstStride));
        Avx512F.Shuffle4x128(t4, t12, 0x88).Store(dst + (4 * dstStride));
        Avx512F.Shuffle4x128(t5, t13, 0x88).Store(dst + (5 * dstStride));
        Avx512F.Shuffle4x128(t6, t14, 0x88).Store(dst + (6 * dstStride));
        Avx512F.Shuffle4x128(t7, t15, 0x88).Store(dst + (7 * dstStride));
        Avx512F.Shuffle4x128(t0, t8, 0xdd).Store(dst + (8 * dstStride));
        Avx512F.Shuffle4x128(t1, t9, 0xdd).Store(dst + (9 * dstStride));
        Avx512F.Shuffle4x128(t2, t10, 0xdd).Store(dst + (10 * dstStride));
        Avx512F.Shuffle4x128(t3, t11, 0xdd).Store(dst + (11 * dstStride));
        Avx512F.Shuffle4x128(t4, t12, 0xdd).Store(dst + (12 * dstStride));
        Avx512F.Shuffle4x128(t5, t13, 0xdd).Store(dst + (13 * dstStride));
        Avx512F.Shuffle4x128(t6, t14, 0xdd).Store(dst + (14 * dstStride));
        Avx512F.Shuffle4x128(t7, t15, 0xdd).Store(dst + (15 * dstStride));
    }

    // The low (or high) 64-bit halves of a's and b's 128-bit lanes side by side.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pairs(Vector512<float> a, Vector512<float> b, bool high)
        => high ? Avx512F.UnpackHigh(a.AsDouble(), b.AsDouble()).AsSingle() : Avx512F.UnpackLow(a.AsDouble(), b.AsDouble()).AsSingle();

    // The output at image 0, pixel (0, 0): the value the statistics are taken around. A value from the batch keeps the sums
    // of squares small however far the mean is from zero, and depends only on this step's input and weights, so repeating a
    // forward pass repeats its result exactly.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FirstPixel(float* shift, int oc0, int oc1)
    {
        // The dot product of each output channel's weights with the gathered patch (see ComputeShift).
        int length = G.InChannels * Taps;
        int vectors = length - (length % System.Numerics.Vector<float>.Count);
        for (int oc = oc0; oc < oc1; oc++)
        {
            float* w = _w + ((long)oc * length);
            System.Numerics.Vector<float> acc = default;
            int i = 0;
            for (; i < vectors; i += System.Numerics.Vector<float>.Count)
            {
                acc += Unsafe.Read<System.Numerics.Vector<float>>(w + i) * Unsafe.Read<System.Numerics.Vector<float>>(_firstPatch + i);
            }

            float sum = System.Numerics.Vector.Sum(acc);
            for (; i < length; i++)
            {
                sum += w[i] * _firstPatch[i];
            }

            shift[oc] = sum + (_bias ? _b[oc] : 0f);
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
    private void ForwardRows(int n, int oh0, int oh1, int thread, int unit, int ocStart, int ocEnd)
    {
        if (oh1 <= oh0)
        {
            return;
        }

        float* scratch = _pool.Scratch(thread);
        float* tile = scratch;
        float* image = _x + ((long)n * InPixels * G.InChannels);
        float* yImage = _y + ((long)n * OutPixels * G.OutChannels);
        if (Unpadded)
        {
            // The sliding kernels read the image where it is, skipping the kernel rows above and below it and the columns
            // left and right of it: no padded copy.
            int rowStride = G.Width * G.InChannels;
            for (int oh = oh0; oh < oh1; oh++)
            {
                float* xRow = image + ((((long)(oh - 1) * G.Width) - 1) * G.InChannels);
                int kh0 = oh == 0 ? 1 : 0;
                int kh1 = oh == G.Height - 1 ? 2 : 3;
                float* yRow = yImage + ((long)oh * OutWidth * G.OutChannels);
                for (int oc0 = 0; oc0 < CoutP; oc0 += 16 * Blocks<TS, TV>.SlideVectors(CoutP - oc0))
                {
                    ForwardGroup<G>(Blocks<TS, TV>.SlideVectors(CoutP - oc0), xRow, rowStride, kh0, kh1, OutWidth, oc0, yRow, tile, thread);
                }

                FlushStatistics(thread, unit);
            }

            return;
        }

        float* padded = scratch + TileFloats;
        int ihStart = (oh0 * G.Stride) - G.Padding;
        int rows = ((oh1 - 1 - oh0) * G.Stride) + G.Kernel;
        PadInput(image, padded, ihStart, rows);

        if (KernelRowPasses && Statistics is null)
        {
            // Each output-channel group a kernel row at a time over all the unit's rows (see KernelRowPasses): the first
            // row's products stored, the next added to them, the last finished (bias, epilogue).
            int g0 = ocStart;
            while (g0 < ocEnd)
            {
                int vectors = PackedVectors(ocEnd - g0);
                long rowWeights = (long)G.Kernel * G.InChannels * 16 * vectors;
                for (int kh = 0; kh < G.Kernel; kh++)
                {
                    int part = kh == 0 ? PartFirst : kh == G.Kernel - 1 ? PartLast : PartMiddle;
                    for (int oh = oh0; oh < oh1; oh++)
                    {
                        float* xRow = padded + ((long)(oh - oh0) * G.Stride * RowStride) + ((long)kh * RowStride);
                        float* yRow = yImage + ((long)oh * OutWidth * G.OutChannels);
                        ForwardGroup<KernelRowGeometry<G>>(vectors, xRow, RowStride, 0, 1, OutWidth, g0, yRow, tile, thread, 0, kh * rowWeights, part);
                    }
                }

                g0 += 16 * vectors;
            }

            return;
        }

        // Output channels split between the threads (large weights at batch 1, see Forward), no statistics: each group's
        // weights under all the unit's rows, rather than all the unit's weights under each row, which streamed them once
        // a row. `profile resnet50-224 latency 2 20`, per-layer minimum of 2 rounds each order: 512x14x14->512 stride 2
        // 2.19 -> 1.82 and 2.19 -> 2.03 ms, 256x28x28->256 1.68 -> 1.51 and 1.51 -> 1.35. (Whole images at batch 8, where
        // the weights stay in L3 from one image to the next: no gain, 12.00 vs 11.93 ms with this order first.)
        if (_channelRuns > 1 && Statistics is null && oh1 - oh0 > 1)
        {
            int g0 = ocStart;
            while (g0 < ocEnd)
            {
                int vectors = PackedVectors(ocEnd - g0);
                for (int oh = oh0; oh < oh1; oh++)
                {
                    float* xRow = padded + ((long)(oh - oh0) * G.Stride * RowStride);
                    float* yRow = yImage + ((long)oh * OutWidth * G.OutChannels);
                    ForwardGroup<G>(vectors, xRow, RowStride, 0, G.Kernel, OutWidth, g0, yRow, tile, thread);
                }

                g0 += 16 * vectors;
            }

            return;
        }

        for (int oh = oh0; oh < oh1; oh++)
        {
            float* xRow = padded + ((long)(oh - oh0) * G.Stride * RowStride);
            float* yRow = yImage + ((long)oh * OutWidth * G.OutChannels);
            int oc0 = ocStart;
            while (oc0 < ocEnd)
            {
                int vectors = PackedVectors(ocEnd - oc0);
                ForwardGroup<G>(vectors, xRow, RowStride, 0, G.Kernel, OutWidth, oc0, yRow, tile, thread);
                oc0 += 16 * vectors;
            }

            // Float sums over one row, double across rows.
            FlushStatistics(thread, unit);
        }
    }

    // Output pixels [p0, p1) of the batch (image n's pixel p is n * OutPixels + p) by output channels [oc0, oc1) of a 1x1
    // convolution, taken in spans whose input stays in L2 while every output-channel group's weights pass over it, so that
    // each weight group is read once per span. At stride 1 a span's input is read where it is (the batch's pixels are one
    // run); at stride 2 its pixels are gathered first (a copy of 1/Cout of the work).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardPixels(long p0, long p1, int oc0, int oc1, int thread, int unit)
    {
        float* scratch = _pool.Scratch(thread);
        float* tile = scratch;
        float* gathered = scratch + TileFloats;
        int span = SpanPixels;
        for (long s0 = p0; s0 < p1; s0 += span)
        {
            int pixels = (int)Math.Min(span, p1 - s0);
            float* x = _x + (s0 * G.InChannels);
            if (G.Stride != 1)
            {
                x = gathered;
                Gather(s0, pixels, gathered);
            }

            float* y = _y + (s0 * G.OutChannels);
            int oc = oc0;
            while (oc < oc1)
            {
                int vectors = Blocks<TS, TV>.Vectors(oc1 - oc);
                // Where a unit takes every pixel of the batch (a layer split by output channels, see ForwardPointwise), its
                // first span reads each group's weights from memory: the next group's come in as this one's run (see
                // ForwardGroup's aheadPanel), the two within L2.
                long panel = (long)G.InChannels * 16 * vectors;
                bool ahead = Statistics is null && _pixelRuns == 1 && s0 == p0 && panel * sizeof(float) <= AheadPanelBytes;
                ForwardGroup<PointwiseGeometry<G>>(vectors, x, 0, 0, 1, pixels, oc, y, tile, thread, ahead ? panel : 0);
                oc += 16 * vectors;
            }

            // Float sums over one span, double across spans.
            FlushStatistics(thread, unit);
        }
    }

    // Output pixel q of the batch as its image, row and column (the start of a run the callers step along: a struct that
    // stepped them made ResNet-20's strided 1x1 passes 20-25% slower).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (long N, int Oh, int Ow) OutputPosition(long q)
    {
        long n = q / OutPixels;
        int rest = (int)(q - (n * OutPixels));
        int oh = rest / OutWidth;
        return (n, oh, rest - (oh * OutWidth));
    }

    // The input pixels that output pixels [q0, q0 + pixels) of a strided 1x1 layer read, side by side: the output position
    // stepped along (one division per span, not three a pixel) and whole vectors copied where the channels are. With a
    // division per pixel and a span copy of 16 channels, ResNet-20's 16x28x28->32 stride-2 layer ran at 15 GFLOP/s
    // (`profile resnet20 infer 1`: 1.7 ms an inference of 59).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Gather(long q0, int pixels, float* gathered)
    {
        int inputs = G.InChannels;
        int outWidth = OutWidth;
        int outHeight = OutHeight;
        (long n, int oh, int ow) = OutputPosition(q0);
        int whole = inputs & ~15;
        float* dst = gathered;
        for (int p = 0; p < pixels; p++)
        {
            float* src = _x + (((((n * G.Height) + ((long)oh * G.Stride)) * G.Width) + ((long)ow * G.Stride)) * inputs);
            int c = 0;
            for (; c < whole; c += 16)
            {
                TS.Store(dst + c, TS.Load(src + c));
            }

            for (; c < inputs; c++)
            {
                dst[c] = src[c];
            }

            dst += inputs;
            if (++ow == outWidth)
            {
                ow = 0;
                if (++oh == outHeight)
                {
                    oh = 0;
                    n++;
                }
            }
        }
    }

    // Whether the forward micro-kernels prefetch their block's output lines (and residual) into L1 before the loop over the
    // inputs: in layers with more output channels than input ones, whose output (and residual) traffic per multiply-add is
    // the largest and, at ResNet-50's batch 8, comes from memory (64x56x56->256: 25.7 MB written over as many of residual a
    // call). `profile resnet50-224 infer 2 48 ab`, twice: the call 0.970 and 0.963 of its time without (64x56x56->256
    // 0.68-0.78 of its time, 128x28x28->512 and 256x14x14->1024 0.84-0.92); prefetching in every layer was 1.013 and 1.047
    // of this (the layers with fewer output channels 1.05-1.15 of their time). ResNet-50 at batch 1 and its training step
    // unchanged (1.003, 1.004; 0.974, 1.056), ResNet-18 at batch 8 within the host's noise (0.986, 1.007).
    private static bool PrefetchOutput { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.OutChannels > G.InChannels; }

    // Whether a training forward adds up its batch statistics as it stores its blocks (see StatisticsStore): in layers with
    // more output channels than input ones, where reading the block back costs most against its multiply-adds, and at
    // least 64 multiply-adds a value (ResNet-20's 1-channel stem, 9: each channel's sums a chain through memory, the layer
    // 2.1 times as slow). `profile ... train 2 ab`, warmed up alike: ResNet-50's 64x56x56->256 0.74-0.82 of its time,
    // 256x14x14->1024 0.89-0.95, 128x28x28->512 0.94-0.96, the stem 0.86-0.90; ResNet-20's strided layers 0.80-0.93;
    // in layers with fewer output channels than input ones, 0.94-1.18 (not taken). ResNet-50's step 0.987-0.997.
    private static bool FusedStatistics { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.OutChannels > G.InChannels && G.InChannels * Taps >= 64; }

    // The largest weight group whose successor the 1x1 forward prefetches as it runs (see ForwardGroup's aheadPanel): two
    // of them and the span's input within L2 (1 MB a core here).
    private const long AheadPanelBytes = 256 * 1024;

    // ForwardGroup's part of the kernel: all of it, or its first, a middle or its last row (see KernelRowPasses).
    private const int PartWhole = 0;
    private const int PartFirst = 1;
    private const int PartMiddle = 2;
    private const int PartLast = 3;

    // Whether a forward without batch statistics runs each output-channel group of a padded layer one kernel row at a time
    // over every output row of its unit: where a group's weights (taps x input channels x its width) outgrow L2, each
    // output row streamed all of them from L3 for a handful of pixels (ResNet-50's 512x14x14 stride-2 layer: 1.2 MB a
    // group for 7 pixels a row); a kernel row's third stays in L2 over the rows. At fewer images than threads the groups
    // are packed 32 wide instead (see PackWidth), and fit. Whole vectors only (every group stored in place).
    // `profile resnet50-224 infer 2 40 ab` (batch 8), three runs: that layer 0.80, 0.86 of its time (and 0.88 at batch 1
    // on 1 thread, 64 wide); groups of 590 KB (256 input channels) a kernel row at a time: 0.95-1.09, not taken.
    private bool KernelRowPasses
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => G.Kernel > 1 && !Unpadded && _scatterStride == 0 && (G.OutChannels & 15) == 0
            && (long)Taps * G.InChannels * _packWidth * sizeof(float) > KernelRowPanelBytes;
    }

    private const long KernelRowPanelBytes = 768 * 1024;

    // Whether this pass's whole-vector blocks add up their batch statistics as they store them (see FusedStatistics): a
    // training forward with nothing else to apply to its values.
    private bool StatisticsAsStored
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => FusedStatistics && Statistics is not null && !(_bias || HasEpilogue || _accumulate);
    }

    // aheadPanel: floats from this group's weights to the next group's (0: none), whose lines the blocks prefetch between
    // them, each once (see AheadSchedule; fewer blocks than vectors prefetch nothing). At batch 1 a layer split by output
    // channels streams each group's weights from memory once, and the first block of each waited for them (measured with
    // every block prefetching a line a step): `profile resnet50-224 latency 2 300 ab` (A B B A in one process),
    // four runs: 512x7x7->2048 0.81-0.88 of its time, 1024x14x14->2048 stride 2 0.86-0.93, 256x14x14->1024 0.86-0.94,
    // 1024x14x14->256 0.92-0.94; the call (median) 0.971-0.985 with the Winograd products' own (see Winograd.Products).
    // Prefetching a group's whole panel at once between blocks had been slower (2048x7x7->512 1.23 of its time: 512 KB
    // evicting the panel in use), as had prefetching within the current panel 8 KB ahead (no change).
    // weightOffset and part: the kernel row a kernel-row pass runs (see KernelRowPasses).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardGroup<GK>(int vectors, float* xRow, int rowStride, int kh0, int kh1, int pixels, int oc0, float* yRow, float* tile, int thread, long aheadPanel = 0, long weightOffset = 0, int part = PartWhole)
        where GK : struct, IConvGeometry
    {
        // A part of the kernel (see KernelRowPasses) adds into what the parts before it stored; the last finishes.
        bool first = part is PartWhole or PartFirst;
        bool last = part is PartWhole or PartLast;
        // Stride 1, kernels 2 or 3 wide, 16 or 32 channels: the sliding kernels, which load each input value once per row
        // of taps rather than once per tap (a 1x1 kernel has one tap a row: the plain kernels take more pixels).
        bool slide = GK.Stride == 1 && GK.Kernel is 2 or 3 && vectors <= 2;
        int most = slide ? Blocks<TS, TV>.SlidePixels(vectors) : Blocks<TS, TV>.ForwardPixels(vectors);
        int blocks = (pixels + most - 1) / most;
        int small = pixels / blocks;
        int large = blocks - (pixels % blocks);
        int ow0 = 0;

        // Whole vectors are finished (bias, epilogue) in the micro-kernel and stored in place; a last group narrower than
        // its vectors goes through the tile.
        bool direct = _scatterStride == 0 && oc0 + (16 * vectors) <= G.OutChannels;
        PlainStore plain = default;

        // Batch statistics added up as the block is stored, where it is stored as it is (see StatisticsStore), rather
        // than read back after it.
        bool fusedStatistics = direct && StatisticsAsStored;
        StatisticsStore statistics = default;
        if (fusedStatistics)
        {
            float* sums = _statistics + (thread * 2 * CoutP) + oc0;
            statistics = new StatisticsStore(sums, sums + CoutP, Statistics!.Shift + oc0, StreamOutput);
        }

        for (int b = 0; b < blocks; b++)
        {
            int count = b < large ? small : small + 1;
            float* x = xRow + ((long)ow0 * GK.Stride * G.InChannels);
            float* w = _packed + PackedGroups.Start(oc0, Taps * G.InChannels) + weightOffset;
            float* y = yRow + ((long)ow0 * G.OutChannels) + oc0;
            if (direct && (_bias || HasEpilogue || _accumulate || part != PartWhole))
            {
                FusedStore store = new(
                    last && _bias ? _b + oc0 : null,
                    last && HasEpilogue && EpilogueRelu1,
                    last && HasEpilogue && EpilogueResidual is not null ? EpilogueResidual + (y - _y) : null,
                    last && HasEpilogue && EpilogueRelu2,
                    _accumulate || !first,
                    PrefetchOutput);
                if (aheadPanel > 0 && blocks >= vectors && AheadSchedule.For(b, blocks, vectors, out nint line, out nint mask, out nint phase))
                {
                    AheadStore<FusedStore> ahead = new(store, (nint)aheadPanel + line, mask, phase);
                    Block<GK, AheadStore<FusedStore>>(vectors, count, x, rowStride, kh0, kh1, Edges(ow0, count, pixels), w, y, G.OutChannels, ahead);
                }
                else
                {
                    Block<GK, FusedStore>(slide ? -vectors : vectors, count, x, rowStride, kh0, kh1, Edges(ow0, count, pixels), w, y, G.OutChannels, store);
                }
            }
            else if (fusedStatistics)
            {
                Block<GK, StatisticsStore>(slide ? -vectors : vectors, count, x, rowStride, kh0, kh1, Edges(ow0, count, pixels), w, y, G.OutChannels, statistics);
            }
            else
            {
                Block<GK, PlainStore>(slide ? -vectors : vectors, count, x, rowStride, kh0, kh1, Edges(ow0, count, pixels), w, direct ? y : tile, direct ? G.OutChannels : 16 * vectors, plain);
            }

            if (_scatterStride > 0)
            {
                ScatterTile(tile, count, vectors, oc0, ((yRow - _y) / G.OutChannels) + ow0);
            }
            else if (!direct)
            {
                StoreTile(tile, count, vectors, oc0, y);
            }

            if (Statistics is not null && !fusedStatistics)
            {
                AccumulateStatistics(y, count, vectors, oc0, thread);
            }

            ow0 += count;
        }

        if (fusedStatistics && StreamOutput)
        {
            // The streamed lines ordered before whatever the pool's hand-over publishes.
            Sse.StoreFence();
        }
    }

    // Whether a training forward that adds up its statistics as it stores (see FusedStatistics) stores its output past the
    // caches: an output of 8 MB or more (a quarter of L3 here) is not in the caches when the batch norm reads it, and stored
    // through them each line is first read from memory (write-allocate) and later written back. With AVX-512 (aligned
    // whole vectors: output channels a multiple of 16, the tensor 64-byte aligned). `profile resnet50-224 train 2 16 ab`:
    // 64x56x56->256 (25.7 MB at batch 8) 0.68 of its time, 128x28x28->512 (12.8 MB) 0.75, 256x56x56->512 stride 2 0.85,
    // the batch norms that read them 1.03-1.15; the call 0.976.
    private bool StreamOutput
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Avx512F.IsSupported && typeof(TV) == typeof(Vector512<float>) && (G.OutChannels & 15) == 0 && ((nint)_y & 63) == 0
            && (long)_images * OutPixels * G.OutChannels * sizeof(float) >= StreamBytes;
    }

    private const long StreamBytes = 8L << 20;

    // Which edge columns of a block lie outside the image: only when the input is read unpadded (see Unpadded).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Edges(int ow0, int count, int pixels) => !Unpadded ? 0 : (ow0 == 0 ? 1 : 0) | (ow0 + count == pixels ? 2 : 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block<GK, TE>(int kernel, int count, float* x, int rowStride, int kh0, int kh1, int edges, float* w, float* dst, int stride, in TE store)
        where GK : struct, IConvGeometry
        where TE : struct, IVectorStore
    {
        switch (kernel)
        {
            case -1:
                switch (edges)
                {
                    case 0: MicroKernels<GK, TS, TV>.ForwardSlide1<TE, Inside>(count, x, rowStride, kh0, kh1, w, dst, stride, store); break;
                    case 1: MicroKernels<GK, TS, TV>.ForwardSlide1<TE, LeftEdge>(count, x, rowStride, kh0, kh1, w, dst, stride, store); break;
                    case 2: MicroKernels<GK, TS, TV>.ForwardSlide1<TE, RightEdge>(count, x, rowStride, kh0, kh1, w, dst, stride, store); break;
                    default: MicroKernels<GK, TS, TV>.ForwardSlide1<TE, BothEdges>(count, x, rowStride, kh0, kh1, w, dst, stride, store); break;
                }

                break;
            case -2:
                switch (edges)
                {
                    case 0: MicroKernels<GK, TS, TV>.ForwardSlide2<TE, Inside>(count, x, rowStride, kh0, kh1, w, dst, stride, store); break;
                    case 1: MicroKernels<GK, TS, TV>.ForwardSlide2<TE, LeftEdge>(count, x, rowStride, kh0, kh1, w, dst, stride, store); break;
                    case 2: MicroKernels<GK, TS, TV>.ForwardSlide2<TE, RightEdge>(count, x, rowStride, kh0, kh1, w, dst, stride, store); break;
                    default: MicroKernels<GK, TS, TV>.ForwardSlide2<TE, BothEdges>(count, x, rowStride, kh0, kh1, w, dst, stride, store); break;
                }

                break;
            case 4: MicroKernels<GK, TS, TV>.Forward4(count, x, w, dst, stride, store); break;
            case 2: MicroKernels<GK, TS, TV>.Forward2(count, x, w, dst, stride, store); break;
            default: MicroKernels<GK, TS, TV>.Forward1(count, x, w, dst, stride, store); break;
        }
    }

    // A strided 1x1 layer's input gradient (see CreateDataConvolution): the block's rows of the tile, dy's pixels from q0 on
    // (this convolution's output pixels), added into dx at the input pixels they are the gradient of.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ScatterTile(float* tile, int count, int vectors, int oc0, long q0)
    {
        int valid = Math.Min(16 * vectors, G.OutChannels - oc0);
        int stride = _scatterStride;
        int outWidth = OutWidth;
        int outHeight = OutHeight;
        (long n, int oh, int ow) = OutputPosition(q0);
        for (int r = 0; r < count; r++, ow++)
        {
            if (ow == outWidth)
            {
                ow = 0;
                if (++oh == outHeight)
                {
                    oh = 0;
                    n++;
                }
            }

            float* d = _y + (((((n * _scatterHeight) + ((long)oh * stride)) * _scatterWidth) + ((long)ow * stride)) * G.OutChannels) + oc0;
            float* t = tile + (r * 16 * vectors);
            int c = 0;
            for (; c + 16 <= valid; c += 16)
            {
                TS.Store(d + c, TS.Add(TS.Load(d + c), TS.Load(t + c)));
            }

            for (; c < valid; c++)
            {
                d[c] += t[c];
            }
        }
    }

    // The last output-channel group when it is narrower than its vectors: the valid channels of the tile, finished as
    // FusedStore finishes whole vectors.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void StoreTile(float* tile, int count, int vectors, int oc0, float* y)
    {
        int valid = Math.Min(16 * vectors, G.OutChannels - oc0);
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
    private void FlushStatistics(int thread, int unit)
    {
        // The thread's float sums into the unit's double partials (the same unit, the same sums, whichever thread ran it).
        if (Statistics is not null)
        {
            float* sums = _statistics + (thread * 2 * CoutP);
            Statistics.Flush(unit, sums, sums + CoutP);
        }
    }
}
