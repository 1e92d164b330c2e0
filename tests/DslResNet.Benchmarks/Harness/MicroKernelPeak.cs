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
            Measure<Pointwise64>();
            Measure<Pointwise256>();
            Measure<Pointwise1024>();
            return 0;
        }

        private static void Measure<G>()
            where G : struct, IConvGeometry
        {
            int cin = G.InChannels;
            int pixels = 600;
            float* x = (float*)NativeMemory.AlignedAlloc((nuint)(pixels * cin * 4), 64);
            float* w = (float*)NativeMemory.AlignedAlloc((nuint)(cin * 64 * 4), 64);
            float* y = (float*)NativeMemory.AlignedAlloc((nuint)(pixels * 64 * 4), 64);
            new Span<float>(x, pixels * cin).Fill(0.5f);
            new Span<float>(w, cin * 64).Fill(0.25f);
            double best = 0;
            for (int run = 0; run < 5; run++)
            {
                long calls = 0;
                Stopwatch watch = Stopwatch.StartNew();
                while (watch.ElapsedMilliseconds < 200)
                {
                    for (int p = 0; p < pixels; p += 6)
                    {
                        MicroKernels<G, Simd512, Vector512<float>>.Forward4(6, x + ((long)p * cin), w, y + (p * 64), 64);
                    }

                    calls += pixels / 6;
                }

                best = Math.Max(best, 2.0 * 6 * 64 * cin * calls / watch.Elapsed.TotalSeconds / 1e9);
            }

            Console.WriteLine($"Forward4, 6 pixels, {cin} input channels, 600-pixel span: {best:F1} GFLOP/s");
            NativeMemory.AlignedFree(x);
            NativeMemory.AlignedFree(w);
            NativeMemory.AlignedFree(y);
        }
    }
}
