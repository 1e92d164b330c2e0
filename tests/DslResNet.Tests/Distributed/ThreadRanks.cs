using System;
using System.Threading;
using DslResNet.Distributed;
using DslResNet.Kernels;

namespace DslResNet.Tests.Distributed;

/// <summary>
/// Ranks as threads of one process, for testing data-parallel training without MPI: every collective copies each
/// rank's values into a shared slot, meets at a barrier, and sums the slots in rank order (so every rank gets the same
/// bits, as MPI's reductions give).
/// </summary>
internal sealed class ThreadRanks
{
    private readonly Barrier _barrier;
    private readonly double[][] _slots;

    public ThreadRanks(int size)
    {
        Size = size;
        _barrier = new Barrier(size);
        _slots = new double[size][];
    }

    public int Size { get; }

    public ICommunicator For(int rank) => new RankOf(this, rank);

    private void Sum(int rank, Span<double> values, Func<double, double, double> combine)
    {
        _slots[rank] = values.ToArray();
        _barrier.SignalAndWait(TimeSpan.FromSeconds(30));
        for (int i = 0; i < values.Length; i++)
        {
            double v = _slots[0][i];
            for (int r = 1; r < Size; r++)
            {
                v = combine(v, _slots[r][i]);
            }

            values[i] = v;
        }

        _barrier.SignalAndWait(TimeSpan.FromSeconds(30));
    }

    private sealed class RankOf(ThreadRanks world, int rank) : ICommunicator
    {
        public int Rank => rank;

        public int WorldSize => world.Size;

        public void AllReduceSum(Span<double> values, string what) => world.Sum(rank, values, (a, b) => a + b);

        public void AllReduceMinMax(Span<long> min, Span<long> max, string what)
        {
            double[] a = Array.ConvertAll(min.ToArray(), x => (double)x);
            double[] b = Array.ConvertAll(max.ToArray(), x => (double)x);
            world.Sum(rank, a, Math.Min);
            world.Sum(rank, b, Math.Max);
            for (int i = 0; i < a.Length; i++)
            {
                min[i] = (long)a[i];
                max[i] = (long)b[i];
            }
        }

        public void Broadcast(Span<float> values, string what)
        {
            double[] v = Array.ConvertAll(values.ToArray(), x => rank == 0 ? x : 0.0);
            world.Sum(rank, v, (a, b) => a + b);
            for (int i = 0; i < v.Length; i++)
            {
                values[i] = (float)v[i];
            }
        }

        public unsafe IntPtr StartAllReduceSum(IntPtr send, IntPtr receive, int count)
        {
            // In float, rank order: what MPI's sum of two ranks gives bit for bit.
            float[] mine = new Span<float>((void*)send, count).ToArray();
            var span = new Span<float>((void*)receive, count);
            double[] all = new double[count];
            world._slots[rank] = Array.ConvertAll(mine, x => (double)x);
            world._barrier.SignalAndWait(TimeSpan.FromSeconds(30));
            for (int i = 0; i < count; i++)
            {
                float v = (float)world._slots[0][i];
                for (int r = 1; r < world.Size; r++)
                {
                    v += (float)world._slots[r][i];
                }

                span[i] = v;
            }

            world._barrier.SignalAndWait(TimeSpan.FromSeconds(30));
            return 1;
        }

        public bool IsDone(ref IntPtr request) => true;

        public void Wait(ref IntPtr request, string what)
        {
        }

        public void Barrier(string what) => world._barrier.SignalAndWait(TimeSpan.FromSeconds(30));
    }
}
