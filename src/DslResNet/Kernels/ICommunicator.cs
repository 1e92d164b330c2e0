using System;

namespace DslResNet.Kernels;

/// <summary>The collective operations data-parallel training uses; every rank calls them in the same order.</summary>
internal interface ICommunicator
{
    /// <summary>This process's rank, 0 to <see cref="WorldSize"/> - 1.</summary>
    int Rank { get; }

    /// <summary>The number of processes.</summary>
    int WorldSize { get; }

    /// <summary>Sums <paramref name="values"/> over the ranks, in place; <paramref name="what"/> names it in a timeout's message.</summary>
    void AllReduceSum(Span<double> values, string what);

    /// <summary>Element-wise minimum and maximum over the ranks, in place.</summary>
    void AllReduceMinMax(Span<long> min, Span<long> max, string what);

    /// <summary>Copies rank 0's <paramref name="values"/> to every rank.</summary>
    void Broadcast(Span<float> values, string what);

    /// <summary>
    /// Starts summing pinned floats from <paramref name="send"/> into <paramref name="receive"/> (separate buffers: Open
    /// MPI's non-blocking all-reduce takes a binomial tree, moving the whole buffer log N times, when called in place, and
    /// a ring otherwise); <see cref="IsDone"/> drives and tests it.
    /// </summary>
    IntPtr StartAllReduceSum(IntPtr send, IntPtr receive, int count);

    /// <summary>Whether a started reduction has completed (and, with MPI, makes progress on it).</summary>
    bool IsDone(ref IntPtr request);

    /// <summary>Waits for a started reduction, at most the collective timeout.</summary>
    void Wait(ref IntPtr request, string what);

    /// <summary>Waits until every rank has arrived.</summary>
    void Barrier(string what);
}

/// <summary>The one-process "world": every collective is the identity.</summary>
internal sealed class SingleProcess : ICommunicator
{
    public int Rank => 0;

    public int WorldSize => 1;

    public void AllReduceSum(Span<double> values, string what)
    {
    }

    public void AllReduceMinMax(Span<long> min, Span<long> max, string what)
    {
    }

    public void Broadcast(Span<float> values, string what)
    {
    }

    public unsafe IntPtr StartAllReduceSum(IntPtr send, IntPtr receive, int count)
    {
        new Span<float>((void*)send, count).CopyTo(new Span<float>((void*)receive, count));
        return IntPtr.Zero;
    }

    public bool IsDone(ref IntPtr request) => true;

    public void Wait(ref IntPtr request, string what)
    {
    }

    public void Barrier(string what)
    {
    }
}
