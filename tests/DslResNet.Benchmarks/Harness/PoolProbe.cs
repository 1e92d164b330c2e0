using System;
using System.Diagnostics;
using System.Globalization;
using DslResNet.Kernels.Simd;
using DslResNet.Runtime;

namespace DslResNet.Benchmarks.Harness;

/// <summary>
/// <c>poolprobe</c>: what one run of the SIMD pool costs with nothing to do (the caller hands out 2 units, the worker
/// notices, both finish, the caller sees it): the fixed price of every parallel operation, which small networks at batch 1
/// pay some 25 times a call. Three rounds of 200,000 runs each way (fixed shares, and taken as the threads finish).
/// </summary>
internal static class PoolProbe
{
    public static int Run()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 2);
        SimdPool pool = device.Pool!;
        var work = new Nothing();
        foreach (bool balanced in new[] { false, true })
        {
            for (int round = 0; round < 3; round++)
            {
                const int Runs = 200_000;
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < Runs; i++)
                {
                    pool.Run(work, 2, balanced);
                }

                double microseconds = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / Runs;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(balanced ? "balanced" : "fixed shares")}: {microseconds:F3} microseconds a run of 2 empty units"));
            }
        }

        return work.Units > 0 ? 0 : 1;
    }

    private sealed class Nothing : IParallelWork
    {
        public long Units;

        public void Run(int start, int end, int thread) => System.Threading.Interlocked.Add(ref Units, end - start);
    }
}
