using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;

using DslResNet.Kernels;

namespace DslResNet.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> over Open MPI's <c>MPI_COMM_WORLD</c>. Every blocking operation is a non-blocking one
/// polled against <see cref="Timeout"/>: a rank that died or hangs makes the others fail with a
/// <see cref="DistributedException"/> in bounded time instead of waiting for ever.
/// </summary>
internal sealed unsafe class MpiCommunicator : ICommunicator
{
    private readonly MpiNative.Handles _h;

    public MpiCommunicator(MpiNative.Handles handles, TimeSpan timeout)
    {
        _h = handles;
        Timeout = timeout;
        Check(MpiNative.CommRank(_h.CommWorld, out int rank), "MPI_Comm_rank");
        Check(MpiNative.CommSize(_h.CommWorld, out int size), "MPI_Comm_size");
        Rank = rank;
        WorldSize = size;
    }

    public int Rank { get; }

    public int WorldSize { get; }

    /// <summary>How long a collective may wait for the other ranks.</summary>
    public TimeSpan Timeout { get; set; }

    public IntPtr CommWorld => _h.CommWorld;

    public void AllReduceSum(Span<double> values, string what)
    {
        fixed (double* p = values)
        {
            Check(MpiNative.Iallreduce(MpiNative.InPlace, p, values.Length, _h.Double, _h.Sum, _h.CommWorld, out IntPtr request), "MPI_Iallreduce");
            Wait(ref request, what);
        }
    }

    public void AllReduceMinMax(Span<long> min, Span<long> max, string what)
    {
        fixed (long* a = min)
        fixed (long* b = max)
        {
            Check(MpiNative.Iallreduce(MpiNative.InPlace, a, min.Length, _h.Int64, _h.Min, _h.CommWorld, out IntPtr r1), "MPI_Iallreduce");
            Wait(ref r1, what);
            Check(MpiNative.Iallreduce(MpiNative.InPlace, b, max.Length, _h.Int64, _h.Max, _h.CommWorld, out IntPtr r2), "MPI_Iallreduce");
            Wait(ref r2, what);
        }
    }

    public void Broadcast(Span<float> values, string what)
    {
        fixed (float* p = values)
        {
            Check(MpiNative.Ibcast(p, values.Length, _h.Float, 0, _h.CommWorld, out IntPtr request), "MPI_Ibcast");
            Wait(ref request, what);
        }
    }

    public IntPtr StartAllReduceSum(IntPtr send, IntPtr receive, int count)
    {
        Check(MpiNative.Iallreduce(send, (void*)receive, count, _h.Float, _h.Sum, _h.CommWorld, out IntPtr request), "MPI_Iallreduce");
        return request;
    }

    public bool IsDone(ref IntPtr request)
    {
        Check(MpiNative.Test(ref request, out int flag, IntPtr.Zero), "MPI_Test");
        return flag != 0;
    }

    public void Barrier(string what)
    {
        Check(MpiNative.Ibarrier(_h.CommWorld, out IntPtr request), "MPI_Ibarrier");
        Wait(ref request, what);
    }

    public void Wait(ref IntPtr request, string what)
    {
        // Spin briefly (most collectives of a step finish in microseconds), then yield, then sleep: the ranks share the
        // cores with each other's compute threads, and a long busy wait would slow the rank being waited for.
        long start = Stopwatch.GetTimestamp();
        for (int spin = 0; ; spin++)
        {
            if (IsDone(ref request))
            {
                return;
            }

            TimeSpan waited = Stopwatch.GetElapsedTime(start);
            if (waited > Timeout)
            {
                throw new DistributedException(string.Create(CultureInfo.InvariantCulture,
                    $"rank {Rank} of {WorldSize}: {what} did not complete within {Timeout.TotalSeconds:0.#} s; another rank has stopped, crashed or hangs (its own output says why). The job cannot go on."));
            }

            if (spin < 64)
            {
                Thread.SpinWait(20);
            }
            else if (waited < TimeSpan.FromMilliseconds(20))
            {
                Thread.Yield();
            }
            else
            {
                Thread.Sleep(1);
            }
        }
    }

    internal static void Check(int code, string call)
    {
        if (code != 0)
        {
            throw new DistributedException(string.Create(CultureInfo.InvariantCulture, $"{call} failed with MPI error {code}."));
        }
    }
}
