using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DslResNet.Kernels;
using DslResNet.Kernels.Simd;

namespace DslResNet.Kernels.Simd.Probe
{
    /// <summary>A 1x1 geometry with 64 input channels (weights of one group: 16 KB, in L1).</summary>
    internal readonly struct Pointwise64 : IConvGeometry
    {
        public static int InChannels => 64;

        public static int Height => 1;

        public static int Width => 1;

        public static int OutChannels => 64;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    /// <summary>A 1x1 geometry with 256 input channels (weights of one group: 64 KB, in L2).</summary>
    internal readonly struct Pointwise256 : IConvGeometry
    {
        public static int InChannels => 256;

        public static int Height => 1;

        public static int Width => 1;

        public static int OutChannels => 64;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    /// <summary>A 1x1 geometry with 1024 input channels (weights of one group: 256 KB, in L2).</summary>
    internal readonly struct Pointwise1024 : IConvGeometry
    {
        public static int InChannels => 1024;

        public static int Height => 1;

        public static int Width => 1;

        public static int OutChannels => 64;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }


    /// <summary>A 1x1 geometry with 512 input channels (ResNet-50's 512x7x7 Winograd products: 128 KB a 64-channel group).</summary>
    internal readonly struct Pointwise512 : IConvGeometry
    {
        public static int InChannels => 512;

        public static int Height => 1;

        public static int Width => 1;

        public static int OutChannels => 512;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    /// <summary>64 of <see cref="Pointwise512"/>'s input channels at a time: the micro-kernel's depth 64, its pixels (tiles)
    /// still 512 floats apart (the stride counts in input channels).</summary>
    internal readonly struct Chunk64Of512 : IConvGeometry
    {
        public static int InChannels => 64;

        public static int Height => 1;

        public static int Width => 1;

        public static int OutChannels => 512;

        public static int Kernel => 1;

        public static int Stride => 8;

        public static int Padding => 0;
    }

    /// <summary>A 1x1 geometry with 16 input and output channels (a Winograd product of ResNet-20's first stage).</summary>
    internal readonly struct Pointwise16 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 1;

        public static int Width => 1;

        public static int OutChannels => 16;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    /// <summary>ResNet-20's first stage: 16 channels, 28x28, 3x3, stride 1, padding 1.</summary>
    internal readonly struct Slide16 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 28;

        public static int Width => 28;

        public static int OutChannels => 16;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }
}

namespace DslResNet.Benchmarks.Harness
{
    using DslResNet.Kernels.Simd.Probe;

    /// <summary>
    /// The forward micro-kernel's ceiling on one thread: <c>microkernel</c> runs the 64-channel kernel over 6 pixels again
    /// and again with its weights in L1 (64 input channels) or L2 (256, 1024), so that what a convolution loses beyond
    /// it is memory traffic, stores and loops outside the kernel.
    /// </summary>
    internal static unsafe class MicroKernelPeak
    {
        public static int Run()
        {
            Console.WriteLine($"FMA peak, 1 thread: {FmaPeak.Measure(1):F1} GFLOP/s");
            if (!Vector512.IsHardwareAccelerated)
            {
                // The AVX2 blocks (Simd256): one 16-channel vector (two ymm) by 6 pixels.
                Measure<Pointwise64>(avx2: true);
                Measure<Pointwise256>(avx2: true);
                Measure<Pointwise1024>(avx2: true);
                MeasureWeights();
                MeasureStreaming();
                return 0;
            }

            Measure<Pointwise64>();
            Measure<Pointwise256>();
            Measure<Pointwise1024>();
            MeasureSlide();
            MeasureForward1();
            MeasurePanels();
            return 0;
        }

        // The best rate of five runs of 200 ms, each calling round (a round of work that returns its floating-point
        // operations) until the time is up.
        private static double BestGflops(Func<double> round)
        {
            double best = 0;
            for (int run = 0; run < 5; run++)
            {
                double flops = 0;
                Stopwatch watch = Stopwatch.StartNew();
                while (watch.ElapsedMilliseconds < 200)
                {
                    flops += round();
                }

                best = Math.Max(best, flops / watch.Elapsed.TotalSeconds / 1e9);
            }

            return best;
        }

        // The forward block over a 600-pixel span, 6 pixels at a time: AVX-512's Forward4 (64 output channels) or, with
        // avx2, AVX2's Forward1 (16: two ymm); its weights in L1 (64 and 256 input channels) or L2 (1024).
        private static void Measure<G>(bool avx2 = false)
            where G : struct, IConvGeometry
        {
            int cin = G.InChannels;
            int channels = avx2 ? 16 : 64;
            int pixels = 600;
            float* x = (float*)NativeMemory.AlignedAlloc((nuint)(pixels * cin * 4), 64);
            float* w = (float*)NativeMemory.AlignedAlloc((nuint)(cin * channels * 4), 64);
            float* y = (float*)NativeMemory.AlignedAlloc((nuint)(pixels * 64 * 4), 64);
            new Span<float>(x, pixels * cin).Fill(0.5f);
            new Span<float>(w, cin * channels).Fill(0.25f);
            double best = 0;
            for (int run = 0; run < 5; run++)
            {
                long calls = 0;
                Stopwatch watch = Stopwatch.StartNew();
                while (watch.ElapsedMilliseconds < 200)
                {
                    for (int p = 0; p < pixels; p += 6)
                    {
                        if (avx2)
                        {
                            MicroKernels<G, Simd256, V256>.Forward1(6, x + ((long)p * cin), w, y + (p * 64), 64, default(PlainStore));
                        }
                        else
                        {
                            MicroKernels<G, Simd512, Vector512<float>>.Forward4(6, x + ((long)p * cin), w, y + (p * 64), 64, default(PlainStore));
                        }
                    }

                    calls += pixels / 6;
                }

                best = Math.Max(best, 2.0 * 6 * channels * cin * calls / watch.Elapsed.TotalSeconds / 1e9);
            }

            Console.WriteLine($"{(avx2 ? "Forward1 (AVX2), 6 pixels by 16 channels" : "Forward4, 6 pixels")}, {cin} input channels, 600-pixel span: {best:F1} GFLOP/s");
            NativeMemory.AlignedFree(x);
            NativeMemory.AlignedFree(w);
            NativeMemory.AlignedFree(y);
        }

        // The weight-gradient kernel of a 1x1 layer as the layer runs it on AVX2 (see WeightsPointwiseSlice): 6 input by 16
        // output channels, summed over 279 pixels of packed panels (6.7 and 17.9 KB, in L1), then added into the partials.
        private static void MeasureWeights()
        {
            const int Pixels = 279;
            float* a = (float*)NativeMemory.AlignedAlloc((Pixels * 6 * 4) + 64, 64);
            float* b = (float*)NativeMemory.AlignedAlloc(Pixels * 16 * 4, 64);
            float* dw = (float*)NativeMemory.AlignedAlloc(6 * 64 * 4, 64);
            new Span<float>(a, Pixels * 6).Fill(0.5f);
            new Span<float>(b, Pixels * 16).Fill(0.25f);
            new Span<float>(dw, 6 * 64).Clear();
            double best = 0;
            for (int run = 0; run < 5; run++)
            {
                long calls = 0;
                Stopwatch watch = Stopwatch.StartNew();
                while (watch.ElapsedMilliseconds < 200)
                {
                    for (int i = 0; i < 100; i++)
                    {
                        MicroKernels<Pointwise64, Simd256, V256>.BackwardWeights1(6, a, 6, 0, b, 16, dw, 1, Pixels);
                    }

                    calls += 100;
                }

                best = Math.Max(best, 2.0 * 6 * 16 * Pixels * calls / watch.Elapsed.TotalSeconds / 1e9);
            }

            Console.WriteLine($"BackwardWeights1 (AVX2), 6 by 16 channels over {Pixels} packed pixels: {best:F1} GFLOP/s");
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(dw);
        }

        // A Winograd product of ResNet-50's 512x7x7 layers at batch 1, as a thread runs its share: 16 tiles (blocks of 6, 5
        // and 5) by 64-channel groups of 512 input channels, each group's weights (a 128 KB panel) read by the three blocks
        // in turn. Hot: one panel again and again (in L2). Cold: panels from 64 MB of them, each from memory once, as the
        // transformed weights (16.8 MB a layer) come at batch 1. On 2026-12-08 (a slow spell): hot 213-218 GFLOP/s, cold
        // 134-150: the first pass waits on memory (128 KB at the 29-33 GB/s one core reads a plain stream at) and the other
        // two run from L2, one after the other rather than overlapped. The two ways below it were tried to overlap them and
        // did worse (81-119): software prefetches that miss hold L1's miss buffers, which the demand loads then wait for
        // (prefetching the whole next panel during the second and third passes ran at 50); 64 channels at a time leave the
        // hardware prefetcher short streams. See AheadSchedule for what the 1x1 layers now do.
        private static void MeasurePanels()
        {
            const int Ic = 512, Oc = 512, Tiles = 16, PanelFloats = Ic * 64;
            const long WeightFloats = 16L << 20;
            float* v = (float*)NativeMemory.AlignedAlloc((nuint)(Tiles * Ic * 4), 64);
            float* u = NativeBlocks.Allocate<float>(WeightFloats);
            float* m = (float*)NativeMemory.AlignedAlloc((nuint)(8 * 64 * Tiles * 4) + (Tiles * Oc * 4), 64);
            new Span<float>(v, Tiles * Ic).Fill(0.5f);
            for (long i = 0; i < WeightFloats; i += 1 << 20)
            {
                new Span<float>(u + i, 1 << 20).Fill(0.25f);
            }

            long panels = WeightFloats / PanelFloats;
            string[] names =
            [
                "hot (one panel, in L2)",
                "cold (each panel from memory), three passes over it",
                "cold, the next panel prefetched a line a step in every block",
                "cold, 64 input channels at a time under all three blocks (partial sums added in the output)",
            ];
            long next = 0;
            for (int mode = 0; mode < names.Length; mode++)
            {
                double best = BestGflops(() =>
                {
                    for (int k = 0; k < 64; k++)
                    {
                        float* w = mode == 0 ? u : u + (next * PanelFloats);
                        next = (next + 1) % panels;
                        Panel(mode, v, w, m + ((k % 8) * 64));
                    }

                    return 2.0 * Tiles * 64 * Ic * 64;
                });

                Console.WriteLine($"Forward4, 16 tiles by 512 input channels, 128 KB panels, {names[mode]}: {best:F1} GFLOP/s");
            }

            NativeMemory.AlignedFree(v);
            NativeBlocks.Free(u);
            NativeMemory.AlignedFree(m);
        }

        // One panel of MeasurePanels: its 16 tiles in blocks of 6, 5 and 5 under the way <paramref name="mode"/> names.
        private static void Panel(int mode, float* v, float* w, float* d)
        {
            const int Ic = 512, Oc = 512, PanelFloats = Ic * 64;
            ReadOnlySpan<int> counts = [6, 5, 5];
            if (mode == 3)
            {
                var sum = new FusedStore(null, false, null, false, true);
                for (int c = 0; c < Ic; c += 64)
                {
                    int t = 0;
                    foreach (int count in counts)
                    {
                        if (c == 0)
                        {
                            MicroKernels<Chunk64Of512, Simd512, Vector512<float>>.Forward4(count, v + (t * Ic) + c, w + (c * 64), d + (t * Oc), Oc, default(PlainStore));
                        }
                        else
                        {
                            MicroKernels<Chunk64Of512, Simd512, Vector512<float>>.Forward4(count, v + (t * Ic) + c, w + (c * 64), d + (t * Oc), Oc, sum);
                        }

                        t += count;
                    }
                }

                return;
            }

            int t0 = 0, b = 0;
            foreach (int count in counts)
            {
                if (mode == 2)
                {
                    MicroKernels<Pointwise512, Simd512, Vector512<float>>.Forward4(count, v + (t0 * Ic), w, d + (t0 * Oc), Oc, new AheadStore<PlainStore>(default, PanelFloats + (16 * b)));
                }
                else
                {
                    MicroKernels<Pointwise512, Simd512, Vector512<float>>.Forward4(count, v + (t0 * Ic), w, d + (t0 * Oc), Oc, default(PlainStore));
                }

                t0 += count;
                b++;
            }
        }

        // ResNet-50's 64x56x56->256 1x1 layer at batch 8 as the forward runs it (spans of 510 pixels, every 16-channel group
        // over a span), its 25 MB output written where it lies (1 KB a pixel) rather than into L1: plain, with a residual
        // added from a buffer of its own (the fused epilogue of a block's last layer), and with that residual read where
        // the output goes (the add in place, as if the output took its residual's buffer).
        private static void MeasureStreaming()
        {
            const int Cin = 64, Cout = 256, Pixels = 25088, Span = 510;
            float* x = (float*)NativeMemory.AlignedAlloc((nuint)(Pixels * Cin * 4), 64);
            float* w = (float*)NativeMemory.AlignedAlloc((nuint)(Cin * Cout * 4), 64);
            float* y = (float*)NativeMemory.AlignedAlloc((nuint)((long)Pixels * Cout * 4), 64);
            float* r = (float*)NativeMemory.AlignedAlloc((nuint)((long)Pixels * Cout * 4), 64);
            new Span<float>(x, Pixels * Cin).Fill(0.5f);
            new Span<float>(w, Cin * Cout).Fill(0.25f);
            new Span<float>(y, Pixels * Cout).Fill(0.25f);
            new Span<float>(r, Pixels * Cout).Fill(0.25f);
            string[] names = ["in L1", "to memory", "to memory, residual from its own buffer", "to memory, residual added in place"];
            for (int mode = 0; mode < names.Length; mode++)
            {
                double best = 0;
                for (int run = 0; run < 3; run++)
                {
                    long blocks = 0;
                    Stopwatch watch = Stopwatch.StartNew();
                    for (int s0 = 0; s0 < Pixels; s0 += Span)
                    {
                        int span = Math.Min(Span, Pixels - s0);
                        for (int oc = 0; oc < Cout; oc += 16)
                        {
                            for (int p = 0; p + 6 <= span; p += 6)
                            {
                                float* at = mode == 0 ? y + (p * 16) : y + (((long)s0 + p) * Cout) + oc;
                                float* residual = mode == 2 ? r + (at - y) : mode == 3 ? at : null;
                                var store = new FusedStore(null, false, residual, true, false);
                                MicroKernels<Pointwise64, Simd256, V256>.Forward1(6, x + (((long)s0 + p) * Cin), w + (oc * Cin), at, mode == 0 ? 16 : Cout, store);
                                blocks++;
                            }
                        }
                    }

                    best = Math.Max(best, 2.0 * 6 * 16 * Cin * blocks / watch.Elapsed.TotalSeconds / 1e9);
                }

                Console.WriteLine($"Forward1 (AVX2), 64 -> 256 channels over 25088 pixels, output {names[mode]}: {best:F1} GFLOP/s");
            }

            NativeMemory.AlignedFree(x);
            NativeMemory.AlignedFree(w);
            NativeMemory.AlignedFree(y);
            NativeMemory.AlignedFree(r);
        }

        // The 16-channel kernel as a Winograd product: 14 tiles by 16 input channels, 16 output channels.
        private static void MeasureForward1()
        {
            float* x = (float*)NativeMemory.AlignedAlloc(16 * 14 * 16 * 4, 64);
            float* w = (float*)NativeMemory.AlignedAlloc(16 * 16 * 16 * 4, 64);
            float* y = (float*)NativeMemory.AlignedAlloc(16 * 14 * 16 * 4, 64);
            new Span<float>(x, 16 * 14 * 16).Fill(0.5f);
            new Span<float>(w, 16 * 16 * 16).Fill(0.25f);
            double best = 0;
            for (int run = 0; run < 5; run++)
            {
                long calls = 0;
                Stopwatch watch = Stopwatch.StartNew();
                while (watch.ElapsedMilliseconds < 200)
                {
                    for (int i = 0; i < 1000; i++)
                    {
                        int xi = i & 15;
                        MicroKernels<Pointwise16, Simd512, Vector512<float>>.Forward1(14, x + (xi * 14 * 16), w + (xi * 256), y + (xi * 14 * 16), 16, default(PlainStore));
                    }

                    calls += 1000;
                }

                best = Math.Max(best, 2.0 * 14 * 16 * 16 * calls / watch.Elapsed.TotalSeconds / 1e9);
            }

            Console.WriteLine($"Forward1, 14 pixels, 16 to 16 channels, 1x1 (a Winograd product): {best:F1} GFLOP/s");
            best = 0;
            float* xl = (float*)NativeMemory.AlignedAlloc(28 * 256 * 4, 64);
            float* wl = (float*)NativeMemory.AlignedAlloc(256 * 16 * 4, 64);
            new Span<float>(xl, 28 * 256).Fill(0.5f);
            new Span<float>(wl, 256 * 16).Fill(0.25f);
            for (int run = 0; run < 5; run++)
            {
                long calls = 0;
                Stopwatch watch = Stopwatch.StartNew();
                while (watch.ElapsedMilliseconds < 200)
                {
                    for (int i = 0; i < 1000; i++)
                    {
                        MicroKernels<Pointwise256, Simd512, Vector512<float>>.Forward1(28, xl, wl, y, 16, default(PlainStore));
                    }

                    calls += 1000;
                }

                best = Math.Max(best, 2.0 * 28 * 256 * 16 * calls / watch.Elapsed.TotalSeconds / 1e9);
            }

            Console.WriteLine($"Forward1, 28 pixels, 256 to 16 channels: {best:F1} GFLOP/s");
            NativeMemory.AlignedFree(x);
            NativeMemory.AlignedFree(w);
            NativeMemory.AlignedFree(y);
        }

        // The 16-channel sliding kernel over one padded 28-pixel row, two blocks of 14, its weights (9 KB) in L1.
        private static void MeasureSlide()
        {
            const int row = 30 * 16;
            float* x = (float*)NativeMemory.AlignedAlloc(30 * 128 * row * 4, 64);
            float* w = (float*)NativeMemory.AlignedAlloc(9 * 16 * 16 * 4, 64);
            float* y = (float*)NativeMemory.AlignedAlloc(28 * 16 * 4, 64);
            new Span<float>(x, 30 * 128 * row).Fill(0.5f);
            new Span<float>(w, 9 * 16 * 16).Fill(0.25f);
            double best = 0;
            for (int run = 0; run < 5; run++)
            {
                long calls = 0;
                Stopwatch watch = Stopwatch.StartNew();
                while (watch.ElapsedMilliseconds < 200)
                {
                    for (int i = 0; i < 28 * 128; i++)
                    {
                        float* xi = x + ((long)(i + (2 * (i / 28))) * row);
                        MicroKernels<Slide16, Simd512, Vector512<float>>.ForwardSlide1<PlainStore, Inside>(14, xi, row, 0, 3, w, y, 16, default);
                        MicroKernels<Slide16, Simd512, Vector512<float>>.ForwardSlide1<PlainStore, Inside>(14, xi + (14 * 16), row, 0, 3, w, y + (14 * 16), 16, default);
                    }

                    calls += 2 * 28 * 128;
                }

                best = Math.Max(best, 2.0 * 14 * 16 * 16 * 9 * calls / watch.Elapsed.TotalSeconds / 1e9);
            }

            Console.WriteLine($"ForwardSlide1, 14 pixels, 16 to 16 channels, 3x3: {best:F1} GFLOP/s");
            NativeMemory.AlignedFree(x);
            NativeMemory.AlignedFree(w);
            NativeMemory.AlignedFree(y);
        }
    }
}
