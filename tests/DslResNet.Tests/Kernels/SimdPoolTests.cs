using System;
using System.Threading;
using DslResNet.Kernels.Simd;
using Xunit;

namespace DslResNet.Tests.Kernels;

/// <summary>The SIMD backend's thread pool: fixed shares and balanced runs cover every unit exactly once.</summary>
public sealed class SimdPoolTests
{
    /// <summary>Every unit runs once, on a thread index in range, for unit counts below, at and above the thread count.</summary>
    /// <param name="threads">Threads.</param>
    /// <param name="units">Units.</param>
    /// <param name="balanced">Balanced run.</param>
    [Theory]
    [InlineData(2, 1, false)]
    [InlineData(2, 1, true)]
    [InlineData(2, 2, true)]
    [InlineData(2, 7, false)]
    [InlineData(2, 7, true)]
    [InlineData(2, 128, true)]
    [InlineData(3, 100_352, true)]
    [InlineData(3, 5, true)]
    [InlineData(4, 1000, true)]
    [InlineData(4, 1000, false)]
    public void EveryUnitRunsOnce(int threads, int units, bool balanced)
    {
        using SimdPool pool = new(threads);
        Counting work = new(units, threads, slowThread: -1);
        for (int repeat = 0; repeat < 3; repeat++)
        {
            Array.Clear(work.Counts);
            pool.Run(work, units, balanced);
            Assert.All(work.Counts, c => Assert.Equal(1, c));
            Assert.False(work.BadThread, "a unit ran with a thread index out of range");
        }
    }

    /// <summary>A balanced run moves units away from a slow thread (here: one that sleeps on each of its chunks), and a fixed
    /// share does not: each thread runs exactly its own contiguous share.</summary>
    [Fact]
    public void BalancedRunsTakeWorkFromASlowThread()
    {
        const int threads = 2, units = 64;
        using SimdPool pool = new(threads);
        Counting balanced = new(units, threads, slowThread: 1);
        pool.Run(balanced, units, balanced: true);
        Assert.All(balanced.Counts, c => Assert.Equal(1, c));
        Assert.True(balanced.RanBy[0] > units / 2, $"thread 0 ran {balanced.RanBy[0]} of {units} units while thread 1 slept on each of its chunks");

        Counting fixedShares = new(units, threads, slowThread: 1);
        pool.Run(fixedShares, units, balanced: false);
        Assert.Equal(units / 2, fixedShares.RanBy[0]);
        Assert.Equal(units / 2, fixedShares.RanBy[1]);
    }

    private sealed class Counting(int units, int threads, int slowThread) : IParallelWork
    {
        public int[] Counts { get; } = new int[units];

        public int[] RanBy { get; } = new int[threads];

        public bool BadThread { get; private set; }

        public void Run(int start, int end, int thread)
        {
            if (thread < 0 || thread >= threads)
            {
                BadThread = true;
                return;
            }

            if (thread == slowThread)
            {
                Thread.Sleep(20);
            }

            for (int u = start; u < end; u++)
            {
                Interlocked.Increment(ref Counts[u]);
                Interlocked.Increment(ref RanBy[thread]);
            }
        }
    }
}
