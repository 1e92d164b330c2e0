using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DslResNet.Kernels.Simd;

// The backward pass of SimdConvolution<G, TS, TV>: the weight gradient per image, its reduction over slices of the batch, and the
// input gradient.
internal sealed unsafe partial class SimdConvolution<G, TS, TV>
    where G : struct, IConvGeometry
    where TS : struct, ISimd<TV>
    where TV : struct
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WeightsImage(int n, int thread, int slice)
    {
        // Without padding the image is read where it is (a copy of it was a pass over every 1x1 layer's input, each image
        // of each step: 3.2 MB an image at ResNet-50's 256x56x56).
        float* scratch = _pool.Scratch(thread);
        float* image = _x + ((long)n * InPixels * G.InChannels);
        float* padded = G.Padding == 0 || WeightsRow16Unpadded ? image : scratch;
        if (G.Padding != 0 && !WeightsRow16Unpadded)
        {
            PadInput(image, padded, -G.Padding, PaddedHeight);
        }

        float* dy = _dy + ((long)n * OutPixels * G.OutChannels);
        float* partial = Partials + (slice * (PartialFloats + CoutP));
        if (WeightsRow16)
        {
            WeightsImageRow16(scratch + WeightPaddedFloats, padded, dy, partial);
        }
        else if (WeightsSingleInput)
        {
            WeightsImageSingleInput(padded, dy, partial);
        }
        else
        {
            WeightsImageBlocks(scratch + WeightPaddedFloats + 16, padded, dy, partial);
        }

        if (_bias)
        {
            AddBiasGradient(dy, partial + PartialFloats);
        }
    }

    // The weight gradient of images [n0, n1) (a slice) by Winograd's F(2x2, 3x3) into the slice's partial sums.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WinogradWeightsSlice(int n0, int n1, int thread, int slice)
    {
        float* partial = Partials + (slice * (PartialFloats + CoutP));
        float* x = _x + ((long)n0 * InPixels * G.InChannels);
        float* dy = _dy + ((long)n0 * OutPixels * G.OutChannels);
        WinogradWeights<G, TS, TV>.Accumulate(x, dy, n1 - n0, _pool.Scratch(thread), partial);
        for (int n = n0; _bias && n < n1; n++)
        {
            AddBiasGradient(_dy + ((long)n * OutPixels * G.OutChannels), partial + PartialFloats);
        }
    }

    // The weight gradient of a 1x1 layer over images [n0, n1) (a slice), as one product of the slice's pixels: dW += X^T dY
    // blocked as a GEMM is, its sums over the pixels (the product's depth) in runs of PointwiseDepth pixels across image
    // boundaries. Per run and block of PointwiseChannels input channels, the input is packed into panels of each kernel's
    // input channels side by side ([block][pixel][WeightPanelRows], from L2 for every output-channel group), and per
    // output-channel group its output gradient into one panel ([pixel][16 * vectors], in L1 under every input block), so
    // that a kernel sums PointwiseDepth pixels into its registers before it adds them into the partials. Row blocks of one
    // image, as the other layers take (see WeightsImageBlocks), gave the kernels 21 pixels at ResNet-50's 7x7 stage (3 rows)
    // and 28 at 14x14, each followed by a pass over its share of the partials (4 MB at 512x7x7->2048, from L3 or memory).
    // Where the batch has few pixels the product is not split by slices at all (see DirectWeights).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WeightsPointwiseSlice(int n0, int n1, int thread, int slice)
    {
        float* scratch = _pool.Scratch(thread);
        float* partial = Partials + (slice * (PartialFloats + CoutP));
        int inputs = G.InChannels;
        int coutP = CoutP;
        int rows = WeightPanelRows;
        int depth = PointwiseDepth;
        int channels = PointwiseChannels;
        long panelFloats = ((long)depth * rows) + 16;
        float* gradientPanel = scratch;
        float* inputPanels = scratch + ((long)depth * Blocks<TS, TV>.WidestGroup) + 16;
        long total = (long)(n1 - n0) * OutPixels;
        long first = (long)n0 * OutPixels;
        for (long k0 = 0; k0 < total; k0 += depth)
        {
            int pixels = (int)Math.Min(depth, total - k0);
            for (int ic0 = 0; ic0 < inputs; ic0 += channels)
            {
                int count = Math.Min(channels, inputs - ic0);
                PackPointwiseInput(first + k0, pixels, ic0, count, inputPanels, panelFloats);
                int oc0 = 0;
                while (oc0 < coutP)
                {
                    int vectors = Blocks<TS, TV>.Vectors(coutP - oc0);
                    PackGradientPanel(_dy + ((first + k0) * G.OutChannels), gradientPanel, pixels, oc0, 16 * vectors);
                    for (int b0 = 0; b0 < count; b0 += rows)
                    {
                        float* a = inputPanels + ((b0 / rows) * panelFloats);
                        float* dw = partial + ((long)(ic0 + b0) * coutP) + oc0;
                        int block = Math.Min(rows, count - b0);
                        switch (vectors)
                        {
                            case 4: MicroKernels<G, TS, TV>.BackwardWeights4(block, a, rows, 0, gradientPanel, 64, dw, 1, pixels); break;
                            case 2: MicroKernels<G, TS, TV>.BackwardWeights2(block, a, rows, 0, gradientPanel, 32, dw, 1, pixels); break;
                            default: MicroKernels<G, TS, TV>.BackwardWeights1(block, a, rows, 0, gradientPanel, 16, dw, 1, pixels); break;
                        }
                    }

                    oc0 += 16 * vectors;
                }
            }
        }

        if (_bias)
        {
            for (int n = n0; n < n1; n++)
            {
                AddBiasGradient(_dy + ((long)n * OutPixels * G.OutChannels), partial + PartialFloats);
            }
        }
    }

    // Whether a layer's weight gradient is summed over the whole batch at once, the threads taking runs of its output
    // channels or of its input channels, rather than per slice of the batch into partial sums added up and transposed
    // afterwards: where the batch has few pixels (ResNet-50's last two stages), so that a slice's sums are short and its
    // partial sums (4 MB at 2048x7x7->512) are written, read back and added for little work. The product is taken
    // transposed (dW^T = dY^T X, per tap: the output gradient's channels broadcast, the input's as vectors), so that its
    // rows are the gradient's: a 1x1 layer's sums go straight into OIHW, a larger kernel's into [tap][out][in], each run's
    // block then interleaved into OIHW by the run's thread. The input channels are a multiple of 16. ResNet-50 in training
    // (`profile resnet50-224 train 2 16 abmodels`): its 7x7 and 14x14 stages' 1x1 weight gradients with their reductions
    // 48.7 -> 31.2 ms a step (1024x14x14->2048 stride 2 8.6 -> 4.1, 512x7x7->2048 8.9 -> 5.8, 2048x7x7->512 6.8 -> 4.0,
    // the classifier's 2.9 -> 0.4), the call 0.967; over 1568 pixels the slices' kernels ran faster than these (28x28:
    // 512x28x28->128 1.2x slower so, 256x56x56->128 1.43x). 3x3 layers (not Winograd's) up to 784 pixels: 512x7x7->512
    // with its reduction 12.9 -> 9.6 ms a step, 512x14x14->512 stride 2 6.8 -> 5.6, the call 0.988; 256x28x28->256 stride 2
    // (1568 pixels, 64 output channels a run) 4.6 -> 5.8, so not there; a run a thread rather than two: 1.03.
    private static bool DirectWeights(int batch, bool winograd)
        => (G.InChannels & 15) == 0 && (long)batch * OutPixels <= (Pointwise ? 1568 : 784)
            && (PointwiseWeights || (!Pointwise && !winograd && G.InChannels >= 64 && G.Kernel <= 7));

    // Runs of the direct weight gradient: of output channels where there are at least as many as input channels (each
    // run packs the whole input, the smaller), else of input channels in whole kernel widths (each packs the whole output
    // gradient).
    private static int DirectWeightRuns(int threads)
        => G.OutChannels >= G.InChannels ? Math.Max(1, Math.Min(2 * threads, G.OutChannels / 16)) : Math.Max(1, Math.Min(2 * threads, G.InChannels / 64));

    // Output-gradient channels broadcast per kernel call in the direct weight gradient, and per packed block.
    private static int DirectRows { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Blocks<TS, TV>.WeightRows(Blocks<TS, TV>.Vectors(G.InChannels)); }

    private static int DirectDepth { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Math.Clamp(6144 / (Blocks<TS, TV>.WidestGroup + DirectRows), 32, 512); }

    private static int DirectChannels { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Math.Max(DirectRows, 81920 / DirectDepth / DirectRows * DirectRows); }

    private static long DirectScratchFloats
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ((long)DirectDepth * Blocks<TS, TV>.WidestGroup) + 16 + ((((long)DirectDepth * DirectRows) + 16) * (DirectChannels / DirectRows));
    }

    // The direct weight gradient's sums of a larger kernel, [tap][out][in], in the pool's partials.
    private static long DirectPartialFloats => Pointwise ? 0 : (long)Taps * G.OutChannels * G.InChannels;

    // One run of the direct weight gradient (see DirectWeights): its block of the sums cleared, then per run of DirectDepth
    // pixels of the batch and block of DirectChannels output channels, the output gradient packed into panels of
    // DirectRows channels side by side (L2), and per tap and kernel width of input channels the input into one panel (L1),
    // each kernel summing the run's pixels before it adds them into the sums. The first run also sums the bias gradient.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DirectWeightsRun(int run, int thread)
    {
        int inputs = G.InChannels;
        int outputs = G.OutChannels;
        int taps = Taps;
        int oc0 = 0, oc1 = outputs, ic0 = 0, ic1 = inputs;
        if (outputs >= inputs)
        {
            int units = outputs / 16;
            oc0 = run * units / _weightRuns * 16;
            oc1 = run == _weightRuns - 1 ? outputs : (run + 1) * units / _weightRuns * 16;
        }
        else
        {
            int units = inputs / 64;
            ic0 = run * units / _weightRuns * 64;
            ic1 = run == _weightRuns - 1 ? inputs : (run + 1) * units / _weightRuns * 64;
        }

        // The sums' rows: OIHW's for a 1x1 layer, [tap][out][in] in the partials for a larger one.
        float* sums = taps == 1 ? _dw : Partials;
        for (int tap = 0; tap < taps; tap++)
        {
            for (int oc = oc0; oc < oc1; oc++)
            {
                new Span<float>(sums + ((((long)tap * outputs) + oc) * inputs) + ic0, ic1 - ic0).Clear();
            }
        }

        float* scratch = _pool.Scratch(thread);
        int rows = DirectRows;
        int depth = DirectDepth;
        int channels = DirectChannels;
        long panelFloats = ((long)depth * rows) + 16;
        float* inputPanel = scratch;
        float* gradientPanels = scratch + ((long)depth * Blocks<TS, TV>.WidestGroup) + 16;
        long total = (long)_batch * OutPixels;
        for (long k0 = 0; k0 < total; k0 += depth)
        {
            int pixels = (int)Math.Min(depth, total - k0);
            for (int c0 = oc0; c0 < oc1; c0 += channels)
            {
                int count = Math.Min(channels, oc1 - c0);
                PackGradientRows(k0, pixels, c0, count, gradientPanels, panelFloats);
                for (int tap = 0; tap < taps; tap++)
                {
                    int i0 = ic0;
                    while (i0 < ic1)
                    {
                        int vectors = Blocks<TS, TV>.Vectors(ic1 - i0);
                        PackInputPanel(k0, pixels, tap, i0, 16 * vectors, inputPanel);
                        for (int b0 = 0; b0 < count; b0 += rows)
                        {
                            float* a = gradientPanels + ((b0 / rows) * panelFloats);
                            float* d = sums + ((((long)tap * outputs) + c0 + b0) * inputs) + i0;
                            int block = Math.Min(rows, count - b0);
                            switch (vectors)
                            {
                                case 4: MicroKernels<TransposedGeometry<G>, TS, TV>.BackwardWeights4(block, a, rows, 0, inputPanel, 64, d, 1, pixels); break;
                                case 2: MicroKernels<TransposedGeometry<G>, TS, TV>.BackwardWeights2(block, a, rows, 0, inputPanel, 32, d, 1, pixels); break;
                                default: MicroKernels<TransposedGeometry<G>, TS, TV>.BackwardWeights1(block, a, rows, 0, inputPanel, 16, d, 1, pixels); break;
                            }
                        }

                        i0 += 16 * vectors;
                    }
                }
            }
        }

        if (taps > 1)
        {
            InterleaveTaps(sums, oc0, oc1, ic0, ic1);
        }

        if (_bias && _db is not null && run == 0)
        {
            new Span<float>(_db, outputs).Clear();
            for (int n = 0; n < _batch; n++)
            {
                AddBiasGradient(_dy + ((long)n * OutPixels * outputs), _db);
            }
        }
    }

    // A run's block of the direct sums, [tap][out][in], into OIHW: 16 input channels of every tap loaded as vectors, then
    // written out in the gradient's order (in, tap).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void InterleaveTaps(float* sums, int oc0, int oc1, int ic0, int ic1)
    {
        int inputs = G.InChannels;
        int outputs = G.OutChannels;
        int taps = Taps;
        float* block = stackalloc float[16 * 49];
        for (int oc = oc0; oc < oc1; oc++)
        {
            float* d = _dw + ((long)oc * inputs * taps);
            for (int i0 = ic0; i0 < ic1; i0 += 16)
            {
                for (int tap = 0; tap < taps; tap++)
                {
                    TS.Store(block + (tap * 16), TS.Load(sums + ((((long)tap * outputs) + oc) * inputs) + i0));
                }

                float* row = d + ((long)i0 * taps);
                for (int c = 0; c < 16; c++)
                {
                    for (int tap = 0; tap < taps; tap++)
                    {
                        row[(c * taps) + tap] = block[(tap * 16) + c];
                    }
                }
            }
        }
    }

    // Output-gradient channels [c0, c0 + count) of output pixels [q0, q0 + pixels) as panels of DirectRows channels, panel
    // b's pixel k at panels + b * panelFloats + k * DirectRows (whole vectors copied where 16 channels follow, as
    // PackPointwiseInput copies).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackGradientRows(long q0, int pixels, int c0, int count, float* panels, long panelFloats)
    {
        int outputs = G.OutChannels;
        int rows = DirectRows;
        for (int k = 0; k < pixels; k++)
        {
            SpreadPixel(_dy + ((q0 + k) * outputs) + c0, panels + ((long)k * rows), c0, count, outputs, rows, panelFloats);
        }
    }

    // Channels [c0, c0 + count) of one pixel (at src; the pixel has `channels`) into consecutive panels, `rows` channels a
    // panel, panelFloats apart: as whole vectors where 16 channels follow (a vector's tail is written over by the next
    // pixel's, or lands in the 16 floats after the panel), the last ones one by one.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SpreadPixel(float* src, float* dst, int c0, int count, int channels, int rows, long panelFloats)
    {
        for (int b0 = 0; b0 < count; b0 += rows)
        {
            if (c0 + b0 + 16 <= channels)
            {
                TS.Store(dst, TS.Load(src + b0));
            }
            else
            {
                int block = Math.Min(rows, count - b0);
                for (int c = 0; c < block; c++)
                {
                    dst[c] = src[b0 + c];
                }
            }

            dst += panelFloats;
        }
    }

    // Input channels [ic0, ic0 + width) that tap `tap` of output pixels [q0, q0 + pixels) reads as one panel, [pixel][width],
    // zeros where it falls in the padding; the input channels are a multiple of 16 (see DirectWeights).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackInputPanel(long q0, int pixels, int tap, int ic0, int width, float* panel)
    {
        int inputs = G.InChannels;
        int outWidth = OutWidth;
        int outHeight = OutHeight;
        int kh = tap / G.Kernel;
        int kw = tap % G.Kernel;
        (long n, int oh, int ow) = OutputPosition(q0);
        for (int k = 0; k < pixels; k++)
        {
            float* dst = panel + ((long)k * width);
            if (G.Stride == 1 && G.Kernel == 1)
            {
                float* src = _x + ((q0 + k) * inputs) + ic0;
                for (int c = 0; c < width; c += 16)
                {
                    TS.Store(dst + c, TS.Load(src + c));
                }

                continue;
            }

            int ih = (oh * G.Stride) - G.Padding + kh;
            int iw = (ow * G.Stride) - G.Padding + kw;
            if ((uint)ih < (uint)G.Height && (uint)iw < (uint)G.Width)
            {
                float* src = _x + ((((n * G.Height) + ih) * G.Width) + iw) * inputs + ic0;
                for (int c = 0; c < width; c += 16)
                {
                    TS.Store(dst + c, TS.Load(src + c));
                }
            }
            else
            {
                for (int c = 0; c < width; c += 16)
                {
                    TS.Store(dst + c, TS.Zero);
                }
            }

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

    // Input channels [ic0, ic0 + count) of output pixels [q0, q0 + pixels) of the batch (at stride 2, the input pixels they
    // read) as panels of WeightPanelRows channels, panel b's pixel k at panels + b * panelFloats + k * WeightPanelRows. A
    // panel's channels are copied as whole vectors where the pixel has 16 channels from there on (the copy's tail is
    // written over by the next pixel's, or lands in the 16 floats after the panel); the last ones one by one.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackPointwiseInput(long q0, int pixels, int ic0, int count, float* panels, long panelFloats)
    {
        int inputs = G.InChannels;
        int rows = WeightPanelRows;
        int outWidth = OutWidth;
        int outHeight = OutHeight;

        // At stride 2 the output position is stepped along, not divided out for every pixel (see Gather).
        (long n, int oh, int ow) = OutputPosition(q0);
        for (int k = 0; k < pixels; k++)
        {
            float* src;
            if (G.Stride == 1)
            {
                src = _x + ((q0 + k) * inputs) + ic0;
            }
            else
            {
                src = _x + ((((n * G.Height) + ((long)oh * G.Stride)) * G.Width) + ((long)ow * G.Stride)) * inputs + ic0;
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

            SpreadPixel(src, panels + ((long)k * rows), ic0, count, inputs, rows, panelFloats);
        }
    }

    // Output-gradient channels [oc0, oc0 + width) of a run of pixels as one panel, [pixel][width], the channels past the
    // last zero.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackGradientPanel(float* dy, float* panel, int pixels, int oc0, int width)
    {
        int valid = Math.Min(width, G.OutChannels - oc0);
        int outputs = G.OutChannels;
        for (int p = 0; p < pixels; p++)
        {
            float* src = dy + ((long)p * outputs) + oc0;
            float* dst = panel + ((long)p * width);
            int c = 0;
            for (; c + 16 <= valid; c += 16)
            {
                TS.Store(dst + c, TS.Load(src + c));
            }

            for (; c < valid; c++)
            {
                dst[c] = src[c];
            }

            for (; c < width; c++)
            {
                dst[c] = 0f;
            }
        }
    }

    // Whether a 1x1 layer's weight gradient runs as one product of each slice's pixels (see WeightsPointwiseSlice) rather than
    // image by image in row blocks (see WeightsImageBlocks): where an image's output is at most 14x14 (row blocks of 2 or 3
    // rows), at stride 2 (whose input the row blocks read a pixel in two), or with 256 input and 128 output channels or
    // more. Its packing passes are not overlapped with the multiply-adds, as the row blocks' reads from L2 are: the whole
    // input of a layer with few output channels, or the output gradient of one with few input channels, streamed from
    // memory between kernels. `profile resnet50-224 train 1 2`, per-layer minimum of 2 alternated rounds: 512x7x7->2048
    // 56.4 -> 28.6 ms a step, 2048x7x7->512 35.3 -> 20.0, 256x14x14->1024 70.3 -> 60.1, 1024x14x14->256 60.2 -> 53.9,
    // 256x56x56->512 stride 2 29.3 -> 21.6, 256x56x56->128 24.1 -> 21.6, 512x28x28->256 22.8 -> 20.6; but 64x56x56->256
    // 45.2 -> 56.9, 128x28x28->512 47.4 -> 52.0, 256x56x56->64 24.3 -> 27.6, which keep the row blocks; so do layers of
    // fewer than 64 input channels (ResNet-20's stride-2 16x28x28->32 and 32x14x14->64: 0.70 -> 1.01 and 0.54 -> 0.74 ms
    // a step, `profile resnet20 train 1 10`).
    private static bool PointwiseWeights
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Pointwise && G.InChannels >= 64
            && (OutPixels <= 196 || G.Stride > 1 || (G.InChannels >= 256 && G.OutChannels >= 128));
    }

    // Pixels a 1x1 weight-gradient kernel sums before adding into the partials (see WeightsPointwiseSlice): as many as
    // keep its output-gradient panel and one input panel within 24 KB of L1.
    private static int PointwiseDepth { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Math.Clamp(6144 / (Blocks<TS, TV>.WidestGroup + WeightPanelRows), 32, 512); }

    // Input channels packed per run: their panels within 320 KB of L2, whole kernels' rows.
    private static int PointwiseChannels
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            int rows = WeightPanelRows;
            int most = Math.Max(rows, 81920 / PointwiseDepth / rows * rows);
            int blocks = (G.InChannels + most - 1) / most;
            return ((((G.InChannels + blocks - 1) / blocks) + rows - 1) / rows) * rows;
        }
    }

    // Floats of scratch the 1x1 weight gradient takes: the output-gradient panel, then the input panels, each with 16
    // floats of room after it.
    private static long PointwiseScratchFloats
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ((long)PointwiseDepth * Blocks<TS, TV>.WidestGroup) + 16
            + (((long)PointwiseDepth * WeightPanelRows) + 16) * ((PointwiseChannels + WeightPanelRows - 1) / WeightPanelRows);
    }

    private static void AddBiasGradient(float* dy, float* db)
    {
        for (int p = 0; p < OutPixels; p++)
        {
            for (int c = 0; c < G.OutChannels; c++)
            {
                db[c] += dy[((long)p * G.OutChannels) + c];
            }
        }
    }

    // The weight gradient a row block at a time (see WeightRowBlock): for each tap and block of input channels, every
    // output-channel group's kernel over the block's pixels. Where the input rows of a block are larger than L1 and there
    // are several groups, the tap's channels of every pixel are first packed side by side ([pixel][WeightPanelRows]), so
    // that each group reads them from L1 in order, rather than a cache line a pixel for a few channels from L2 or L3
    // (ResNet-50's 1024x14x14->2048 stride-2 layer, whose input comes from L3: 23 -> 12 ms a step). The output gradient
    // is read in place (a group's channels are whole cache lines a pixel) unless its channels are not a multiple of 16
    // or are 1024 or more; then it is packed by group (the channels past the last zero): pixels 4 KB apart or more put a
    // group's lines in the same L1 sets (ResNet-50's 512x7x7->2048 layer: 31 ms a step in place, 21 packed). Packed
    // everywhere it cost more than it gained: a pass over memory before the kernels, where in place its first reads
    // overlap their multiply-adds (ResNet-50's 64x56x56->256 layer: 23 -> 29-33 ms).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WeightsImageBlocks(float* scratch, float* padded, float* dy, float* partial)
    {
        int icBlock = WeightPanelRows;
        int block = WeightRowBlock;
        int outWidth = OutWidth;
        int outHeight = OutHeight;
        int rowStride = RowStride;
        int inputs = G.InChannels;
        int coutP = CoutP;
        bool packInput = WeightsPackInput;
        bool packGradient = WeightsPackGradient;
        float* a = scratch;
        float* panels = a + (packInput ? (long)block * outWidth * icBlock : 0) + 16;
        int aStride = packInput ? icBlock : G.Stride * inputs;
        int aRowStride = packInput ? outWidth * icBlock : G.Stride * rowStride;
        for (int oh0 = 0; oh0 < outHeight; oh0 += block)
        {
            int rows = Math.Min(block, outHeight - oh0);
            int pixels = rows * outWidth;
            float* xRows = padded + ((long)oh0 * G.Stride * rowStride);
            float* dyRows = dy + ((long)oh0 * outWidth * G.OutChannels);
            if (packGradient)
            {
                PackGradientPanels(dyRows, panels, pixels);
            }

            for (int tap = 0; tap < Taps; tap++)
            {
                int kh = tap / G.Kernel;
                int kw = tap % G.Kernel;
                float* xTap = xRows + (kh * rowStride) + (kw * inputs);
                float* dwTap = partial + ((long)tap * inputs * coutP);
                if (packInput)
                {
                    // Each packed panel under every group.
                    for (int ic0 = 0; ic0 < inputs; ic0 += icBlock)
                    {
                        PackInputPanel(xTap + ic0, a, rows, icBlock, inputs - ic0);
                        WeightsGroups(a, aStride, aRowStride, Math.Min(icBlock, inputs - ic0), 0, coutP, packGradient ? panels : dyRows, pixels, packGradient, dwTap + ((long)ic0 * coutP), rows);
                    }

                    continue;
                }

                // In place: each group's output gradient (in L1 after its first block) under every input block.
                int oc0 = 0;
                while (oc0 < coutP)
                {
                    int width = 16 * Blocks<TS, TV>.Vectors(coutP - oc0);
                    for (int ic0 = 0; ic0 < inputs; ic0 += icBlock)
                    {
                        WeightsGroups(xTap + ic0, aStride, aRowStride, Math.Min(icBlock, inputs - ic0), oc0, oc0 + width, packGradient ? panels : dyRows, pixels, packGradient, dwTap + ((long)ic0 * coutP), rows);
                    }

                    oc0 += width;
                }
            }
        }
    }

    // The kernels of output-channel groups [oc0, oc1) for one block of input channels.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WeightsGroups(float* input, int aStride, int aRowStride, int count, int oc0, int oc1, float* gradient, int pixels, bool packed, float* dw, int rows)
    {
        while (oc0 < oc1)
        {
            int vectors = Blocks<TS, TV>.Vectors(CoutP - oc0);
            float* b = packed ? gradient + ((long)oc0 * pixels) : gradient + oc0;
            int bStride = packed ? 16 * vectors : G.OutChannels;
            switch (vectors)
            {
                case 4: MicroKernels<G, TS, TV>.BackwardWeights4(count, input, aStride, aRowStride, b, bStride, dw + oc0, rows, OutWidth); break;
                case 2: MicroKernels<G, TS, TV>.BackwardWeights2(count, input, aStride, aRowStride, b, bStride, dw + oc0, rows, OutWidth); break;
                default: MicroKernels<G, TS, TV>.BackwardWeights1(count, input, aStride, aRowStride, b, bStride, dw + oc0, rows, OutWidth); break;
            }

            oc0 += 16 * vectors;
        }
    }

    // The output gradient of a run of pixels as one panel per output-channel group, [group][pixel][16 * vectors], the
    // channels past the last zero.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackGradientPanels(float* dy, float* panels, int pixels)
    {
        int oc0 = 0;
        while (oc0 < CoutP)
        {
            int width = 16 * Blocks<TS, TV>.Vectors(CoutP - oc0);
            PackGradientPanel(dy, panels + ((long)oc0 * pixels), pixels, oc0, width);
            oc0 += width;
        }
    }

    // The input channels [ic0, ic0 + stride) that one tap reads at each output pixel of a row block, pixel k's at a + k *
    // stride. Whole vectors are copied where the channels after the block are there to read (up to 15 floats past the
    // channels wanted are read, and written: the panel has room past its last pixel; the kernels read only the block's
    // channels): in the padded copy, which has room past the padded input, or in an image read where it is when the vector
    // ends within the pixel's channels. The last block of an unpadded layer's pixels copies only its channels: whole vectors
    // read past the last image's last pixel, past the end of the input tensor (found by
    // SimdKernelTests.ConvTouchesNothingPastItsTensors: 64 channels in blocks of 6 read 60 to 67).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackInputPanel(float* x, float* a, int rows, int stride, int left)
    {
        // The geometry in locals: past the JIT's inlining budget, OutWidth stayed a call in the loop.
        int step = G.Stride * G.InChannels;
        int rowStep = G.Stride * RowStride;
        int outWidth = OutWidth;
        int copied = stride <= 8 ? 8 : 16;
        int exact = G.Padding == 0 && copied > left ? Math.Min(stride, left) : 0;
        for (int oh = 0; oh < rows; oh++)
        {
            float* src = x + ((long)oh * rowStep);
            float* dst = a + ((long)oh * outWidth * stride);
            if (exact > 0)
            {
                for (int ow = 0; ow < outWidth; ow++)
                {
                    for (int c = 0; c < exact; c++)
                    {
                        dst[c] = src[c];
                    }

                    src += step;
                    dst += stride;
                }
            }
            else if (stride <= 8)
            {
                for (int ow = 0; ow < outWidth; ow++)
                {
                    Vector256.Store(Vector256.Load(src), dst);
                    src += step;
                    dst += stride;
                }
            }
            else
            {
                for (int ow = 0; ow < outWidth; ow++)
                {
                    TS.Store(dst, TS.Load(src));
                    src += step;
                    dst += stride;
                }
            }
        }
    }

    // Input channels of a weight-gradient block: the most the widest group's kernel takes, so that one input panel serves
    // every group (narrower groups take at least as many).
    private static int WeightPanelRows { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Blocks<TS, TV>.WeightRows(Blocks<TS, TV>.Vectors(CoutP)); }

    // Whether the weight gradient packs each tap's input channels (see WeightsImageBlocks): with several output-channel
    // groups to read them, a block's input rows larger than L1 (32 KB), and pixels read more than a cache line apart (the
    // 3-channel stem, stride 2, reads 6 floats a pixel: its lines are whole already, and packed it ran 15 -> 19 ms).
    private static bool WeightsPackInput
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => CoutP > 16 * Blocks<TS, TV>.Vectors(CoutP)
            && (long)((WeightRowBlock * G.Stride) + G.Kernel - G.Stride) * RowStride > 8192
            && G.Stride * G.InChannels > 16;
    }

    // Whether the weight gradient packs the output gradient by group: where its channels are not whole vectors or its
    // pixels are 4 KB apart or more (see WeightsImageBlocks).
    private static bool WeightsPackGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (G.OutChannels & 15) != 0 || G.OutChannels >= 1024; }

    // Floats of the weight gradient's padded copy of an image at the start of its scratch: none without padding (the image is
    // read where it is).
    private static long WeightPaddedFloats { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Padding == 0 ? 0 : (long)PaddedHeight * RowStride; }

    // Floats of scratch the weight gradient takes past the padded input (see WeightsImageBlocks and WeightsImageRow16).
    private static long WeightScratchFloats
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => PointwiseWeights ? PointwiseScratchFloats : WeightsRow16
            ? ((G.OutChannels & 15) == 0 ? 0 : (long)OutPixels * CoutP)
            : 16 + (WeightsPackInput ? (long)WeightRowBlock * OutWidth * WeightPanelRows : 0) + 16 + (WeightsPackGradient ? (long)WeightRowBlock * OutWidth * CoutP : 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WeightsImageRow16(float* copy, float* padded, float* dy, float* partial)
    {
        if ((G.OutChannels & 15) != 0)
        {
            // Pixels CoutP apart so that whole vectors can be read; the extra channels are zero.
            for (int p = 0; p < OutPixels; p++)
            {
                new ReadOnlySpan<float>(dy + ((long)p * G.OutChannels), G.OutChannels).CopyTo(new Span<float>(copy + ((long)p * CoutP), G.OutChannels));
                new Span<float>(copy + ((long)p * CoutP) + G.OutChannels, CoutP - G.OutChannels).Clear();
            }

            dy = copy;
        }

        // 16 input channels as the vectors, the output gradient broadcast once per kernel row: partials [tap][oc][16].
        int dyStride = (G.OutChannels & 15) == 0 ? G.OutChannels : CoutP;
        if (WeightsRow16Unpadded)
        {
            // The image read where it is: kernel row kh meets the input rows oh + kh - 1 inside the image, of output rows
            // [kh == 0 ? 1 : 0, kh == 2 ? H - 1 : H); the kernels take the columns beside the image as zero.
            for (int kh = 0; kh < 3; kh++)
            {
                int oh0 = kh == 0 ? 1 : 0;
                int oh1 = kh == 2 ? OutHeight - 1 : OutHeight;
                float* xRows = padded + ((long)(oh0 + kh - 1) * G.Width * G.InChannels);
                float* dyRows = dy + ((long)oh0 * OutWidth * dyStride);
                for (int oc0 = 0; oc0 < G.OutChannels; oc0 += 8)
                {
                    MicroKernels<G, TS, TV>.BackwardWeightsRow16Unpadded(Math.Min(8, G.OutChannels - oc0), xRows, dyRows + oc0, partial + ((((long)kh * 3 * G.OutChannels) + oc0) * 16), oh1 - oh0);
                }
            }

            return;
        }

        int block = WeightRowBlock;
        for (int oh0 = 0; oh0 < OutHeight; oh0 += block)
        {
            int rows = Math.Min(block, OutHeight - oh0);
            float* xRows = padded + ((long)oh0 * G.Stride * RowStride);
            float* dyRows = dy + ((long)oh0 * OutWidth * dyStride);
            for (int kh = 0; kh < 3; kh++)
            {
                for (int oc0 = 0; oc0 < G.OutChannels; oc0 += 8)
                {
                    MicroKernels<G, TS, TV>.BackwardWeightsRow16(Math.Min(8, G.OutChannels - oc0), xRows + (kh * RowStride), dyRows + oc0, partial + ((((long)kh * 3 * G.OutChannels) + oc0) * 16), rows);
                }
            }
        }
    }

    // One input channel, 3x3 (ResNet-20's stem on 1x28x28): the blocks' kernels take the input channels of one tap at a
    // time, so each of the 9 taps was a kernel of one accumulator, one chain of dependent multiply-adds over the row block's
    // pixels (0.46 ms of a ResNet-20 training step at batch 128, 64 GFLOP/s). Here the 9 taps' accumulators run side by
    // side over the same pixels, each output gradient vector loaded once for 9 multiply-adds; every tap's sum is still
    // taken over the row block's pixels in order from zero and then added into the partials, as the blocks' kernels do, so
    // the partials are the same bit for bit.
    private static bool WeightsSingleInput
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => G.InChannels == 1 && G.Kernel == 3 && (G.OutChannels & 15) == 0 && !WeightsPackGradient;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightsImageSingleInput(float* padded, float* dy, float* partial)
    {
        int block = WeightRowBlock;
        int outWidth = OutWidth;
        int outHeight = OutHeight;
        int rowStride = RowStride;
        int stride = G.Stride;
        int outputs = G.OutChannels;
        int coutP = CoutP;
        for (int oh0 = 0; oh0 < outHeight; oh0 += block)
        {
            int rows = Math.Min(block, outHeight - oh0);
            for (int oc = 0; oc < outputs; oc += 16)
            {
                TV a0 = TS.Zero, a1 = TS.Zero, a2 = TS.Zero, a3 = TS.Zero, a4 = TS.Zero, a5 = TS.Zero, a6 = TS.Zero, a7 = TS.Zero, a8 = TS.Zero;
                float* g = dy + ((long)oh0 * outWidth * outputs) + oc;
                for (int r = 0; r < rows; r++)
                {
                    float* x0 = padded + ((long)(oh0 + r) * stride * rowStride);
                    float* x1 = x0 + rowStride;
                    float* x2 = x1 + rowStride;
                    for (int k = 0; k < outWidth; k++)
                    {
                        TV d = TS.Load(g);
                        a0 = TS.Fma(d, TS.Broadcast(x0[0]), a0);
                        a1 = TS.Fma(d, TS.Broadcast(x0[1]), a1);
                        a2 = TS.Fma(d, TS.Broadcast(x0[2]), a2);
                        a3 = TS.Fma(d, TS.Broadcast(x1[0]), a3);
                        a4 = TS.Fma(d, TS.Broadcast(x1[1]), a4);
                        a5 = TS.Fma(d, TS.Broadcast(x1[2]), a5);
                        a6 = TS.Fma(d, TS.Broadcast(x2[0]), a6);
                        a7 = TS.Fma(d, TS.Broadcast(x2[1]), a7);
                        a8 = TS.Fma(d, TS.Broadcast(x2[2]), a8);
                        g += outputs;
                        x0 += stride;
                        x1 += stride;
                        x2 += stride;
                    }
                }

                // Partials [tap][0][CoutP].
                float* dw = partial + oc;
                TS.Store(dw, TS.Add(TS.Load(dw), a0));
                TS.Store(dw + coutP, TS.Add(TS.Load(dw + coutP), a1));
                TS.Store(dw + (2 * coutP), TS.Add(TS.Load(dw + (2 * coutP)), a2));
                TS.Store(dw + (3 * coutP), TS.Add(TS.Load(dw + (3 * coutP)), a3));
                TS.Store(dw + (4 * coutP), TS.Add(TS.Load(dw + (4 * coutP)), a4));
                TS.Store(dw + (5 * coutP), TS.Add(TS.Load(dw + (5 * coutP)), a5));
                TS.Store(dw + (6 * coutP), TS.Add(TS.Load(dw + (6 * coutP)), a6));
                TS.Store(dw + (7 * coutP), TS.Add(TS.Load(dw + (7 * coutP)), a7));
                TS.Store(dw + (8 * coutP), TS.Add(TS.Load(dw + (8 * coutP)), a8));
            }
        }
    }

    // Output rows of an image the weight gradient takes at a time. Each (tap, output-channel group, input-channel block)
    // streams its rows' inputs and output gradients, a cache line of each a pixel for 12 multiply-adds; over a whole image
    // larger than L2 (ResNet-50's 56x56 stage: 1.6 to 4 MB an image) those lines came from L3 for every block. Rows whose
    // input and output gradient fit in 192 KB are read from L2 instead, at the cost of adding every block's sums into the
    // partials once per row block: so only where the partials are at most 4 MB (every ResNet-50 layer but the 3x3 ones of
    // its last stage and the stride-2 1x1 into it, 9 and 8 MB, for 400 KB to 1.2 MB an image). `profile resnet50-224 train
    // 2`, two alternated runs each: with at most 256 KB of partials the 56x56 layers ran 1.4 to 2.4 times as fast; raising
    // that to 4 MB took the 14x14 and 28x28 ones from 77/70 to 64/43 ms (256x14x14->1024), 74/63 to 58/45 (128x28x28 3x3),
    // 59/51 to 54/35 (1024x14x14->256).
    private static int WeightRowBlock
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            long rowFloats = ((long)OutWidth * CoutP) + ((long)G.Stride * RowStride);
            long image = (rowFloats * OutHeight) + ((long)(G.Kernel - G.Stride) * RowStride);
            const long Budget = 48 * 1024, LargestPartials = 1024 * 1024;
            int rows = image <= Budget || WeightsPadded > LargestPartials ? OutHeight : (int)Math.Clamp(Budget / rowFloats, 1, OutHeight);

            // The output-gradient panels of a block at most 512 KB (a thread's scratch).
            const long PanelFloats = 128 * 1024;
            return WeightsRow16 ? rows : (int)Math.Clamp(PanelFloats / ((long)OutWidth * CoutP), 1, rows);
        }
    }

    // 16 input channels, stride 1, 3x3: the weight gradient with input pixels as vectors (see BackwardWeightsRow16); its 24
    // accumulators need the wide register file.
    private static bool WeightsRow16 { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.InChannels == 16 && G.Stride == 1 && G.Kernel == 3 && Blocks<TS, TV>.Wide; }

    // Whether WeightsRow16 reads the image where it is rather than a padded copy of it (padding 1, at least 2 rows and
    // columns): the copy was a pass over the image per layer and image (ResNet-20's 16x28x28 layers: 1.3% of a training
    // step's CPU time in its memmove, perf). `profile resnet20 train 2 80 ab`, twice: those layers' weight gradients 0.868
    // and 0.898 of their time (6.4 -> 5.5-5.8 ms a step), the call 0.984 and 0.986.
    private static bool WeightsRow16Unpadded { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => WeightsRow16 && G.Padding == 1 && G.Height >= 2 && G.Width >= 2; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReduceWeightGradient(int oc0, int oc1)
    {
        // The slices' partial sums, added in slice order (the same result every time), into OIHW: 16 output channels at a
        // time, a vector of each slice's partials ([tap][ic][CoutP] holds them side by side) added and the 16 sums stored
        // down the gradient's rows. One channel at a time, with the partials' address and the fields reloaded for every
        // value, this took 189 ms of a 2.2 s ResNet-50 step (13 ms for 2.4M weights on 2 slices).
        if (_winogradWeights)
        {
            ReduceWinogradWeightGradient(oc0, oc1);
            return;
        }

        long stride = PartialFloats + CoutP;
        int slices = _slices;
        float* partials = Partials;
        float* dw = _dw;
        int inputs = G.InChannels;
        int taps = Taps;
        int coutP = CoutP;
        long row = (long)inputs * taps;
        float* sums = stackalloc float[16];
        for (int b0 = oc0; b0 < oc1;)
        {
            int b1 = WeightsRow16 ? b0 + 1 : Math.Min(oc1, (b0 & ~15) + 16);
            bool whole = !WeightsRow16 && b1 - b0 == 16;
            for (int tap = 0; tap < taps; tap++)
            {
                for (int ic = 0; ic < inputs; ic++)
                {
                    float* d = dw + ((long)b0 * row) + ((long)ic * taps) + tap;
                    if (whole)
                    {
                        float* p = partials + ((((long)tap * inputs) + ic) * coutP) + b0;
                        // The partials are read down a column (CoutP floats apart): the line Ahead input channels on
                        // is asked for now (see Ahead).
                        if (taps > 1 && System.Runtime.Intrinsics.X86.Sse.IsSupported && ic + Ahead < inputs)
                        {
                            for (int t = 0; t < slices; t++)
                            {
                                System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + (Ahead * coutP) + (t * stride));
                            }
                        }

                        TV sum = TS.Load(p);
                        for (int t = 1; t < slices; t++)
                        {
                            sum = TS.Add(sum, TS.Load(p + (t * stride)));
                        }

                        TS.Store(sums, sum);
                        for (int k = 0; k < 16; k++)
                        {
                            d[k * row] = sums[k];
                        }

                        continue;
                    }

                    for (int oc = b0; oc < b1; oc++)
                    {
                        float* p = WeightsRow16 ? partials + (((tap * G.OutChannels) + oc) * 16) + ic : partials + ((((long)tap * inputs) + ic) * coutP) + oc;
                        float sum = p[0];
                        for (int t = 1; t < slices; t++)
                        {
                            sum += p[t * stride];
                        }

                        d[(oc - b0) * row] = sum;
                    }
                }
            }

            b0 = b1;
        }

        ReduceBiasGradient(oc0, oc1, stride);
    }

    // How many input channels ahead the reductions of layers with more than one tap prefetch their partials. `profile
    // resnet50-224 train 2 8 ab`, twice: 512x14x14->512 stride 2 0.84 and 0.77 of its time, 256x28x28->256 stride 2 0.42
    // and 0.41, the Winograd layers' 0.85-0.96; all the reductions 2-3 ms a step less (of ~600: the call's median within
    // the host's noise, 1.013 and 0.993). Not for 1x1 layers, which it did not change (0.95-1.02).
    private const int Ahead = 8;

    // The bias's partial sums (after each slice's weights), added in slice order.
    private void ReduceBiasGradient(int oc0, int oc1, long stride)
    {
        if (!_bias || _db is null)
        {
            return;
        }

        for (int oc = oc0; oc < oc1; oc++)
        {
            float* p = Partials + PartialFloats + oc;
            float sum = p[0];
            for (int t = 1; t < _slices; t++)
            {
                sum += p[t * stride];
            }

            _db[oc] = sum;
        }
    }

    // The slices' Winograd sums dU, added in slice order, into OIHW as G^T dU G (see WinogradWeights.Inverse): 16 output
    // channels at a time, each input channel's 16 planes added up as vectors, the 9 results stored down the gradient's rows.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReduceWinogradWeightGradient(int oc0, int oc1)
    {
        long stride = PartialFloats + CoutP;
        int slices = _slices;
        float* partials = Partials;
        float* dw = _dw;
        int inputs = G.InChannels;
        int outputs = G.OutChannels;
        long row = (long)inputs * 9;
        float* u = stackalloc float[16 * 16];
        float* w = stackalloc float[9 * 16];
        for (int b0 = oc0; b0 < oc1; b0 += 16)
        {
            for (int ic = 0; ic < inputs; ic++)
            {
                // Each input channel reads 16 planes of each slice, far apart: the next but one's lines are asked for now.
                if (System.Runtime.Intrinsics.X86.Sse.IsSupported && ic + 2 < inputs)
                {
                    for (int xi = 0; xi < 16; xi++)
                    {
                        float* q = partials + ((((long)xi * inputs) + ic + 2) * outputs) + b0;
                        for (int t = 0; t < slices; t++)
                        {
                            System.Runtime.Intrinsics.X86.Sse.Prefetch0(q + (t * stride));
                        }
                    }
                }

                for (int xi = 0; xi < 16; xi++)
                {
                    float* p = partials + ((((long)xi * inputs) + ic) * outputs) + b0;
                    TV sum = TS.Load(p);
                    for (int t = 1; t < slices; t++)
                    {
                        sum = TS.Add(sum, TS.Load(p + (t * stride)));
                    }

                    TS.Store(u + (16 * xi), sum);
                }

                WinogradWeights<G, TS, TV>.Inverse(u, w);
                float* d = dw + ((long)b0 * row) + ((long)ic * 9);
                for (int j = 0; j < 16; j++)
                {
                    for (int k = 0; k < 9; k++)
                    {
                        d[(j * row) + k] = w[(16 * k) + j];
                    }
                }
            }
        }

        ReduceBiasGradient(oc0, oc1, stride);
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
                    int vectors = Blocks<TS, TV>.Vectors(CinP - ic0);
                    int most = Blocks<TS, TV>.DataPixels(vectors);
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
