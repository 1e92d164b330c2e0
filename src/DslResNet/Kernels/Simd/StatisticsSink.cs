using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DslResNet.Kernels.Simd;

/// <summary>Where a convolution's forward pass adds up its outputs' batch statistics (the fused batch norm that follows it).</summary>
public sealed unsafe class StatisticsSink : IDisposable
{
    /// <summary>Makes a sink for <paramref name="channels"/> channels and <paramref name="threads"/> threads.</summary>
    /// <param name="channels">Channels.</param>
    /// <param name="threads">Pool threads.</param>
    internal StatisticsSink(int channels, int threads)
    {
        Channels = channels;
        PaddedChannels = (channels + 15) & ~15;
        Threads = threads;
        Shift = NativeBlocks.Allocate<float>(PaddedChannels);
        Partials = NativeBlocks.Allocate<double>((long)threads * 2 * PaddedChannels);
    }

    /// <summary>Channels.</summary>
    public int Channels { get; }

    /// <summary>Channels rounded up to 16.</summary>
    public int PaddedChannels { get; }

    /// <summary>Threads.</summary>
    public int Threads { get; }

    /// <summary>The value subtracted before summing (one output value of the batch), which keeps the sums of squares accurate.</summary>
    internal float* Shift { get; private set; }

    /// <summary>Per thread: sum of (x - shift) then sum of (x - shift)^2, each <see cref="PaddedChannels"/> long.</summary>
    internal double* Partials { get; private set; }

    /// <summary>Whether the last forward pass filled the partials.</summary>
    public bool Filled { get; internal set; }

    /// <summary>Clears the partials before a pass.</summary>
    internal void Clear()
    {
        new Span<double>(Partials, Threads * 2 * PaddedChannels).Clear();
        Filled = false;
    }

    /// <summary>Adds a thread's float sums (over a few hundred pixels at most) into its double partials.</summary>
    /// <param name="thread">Thread.</param>
    /// <param name="sum">Sums of (x - shift), padded channels.</param>
    /// <param name="squares">Sums of squares.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Flush(int thread, float* sum, float* squares)
    {
        double* p = Partials + (thread * 2 * PaddedChannels);
        for (int c = 0; c < PaddedChannels; c++)
        {
            p[c] += sum[c];
            p[PaddedChannels + c] += squares[c];
            sum[c] = 0f;
            squares[c] = 0f;
        }
    }

    /// <summary>Mean and biased variance of channel <paramref name="c"/> over <paramref name="count"/> values.</summary>
    /// <param name="c">Channel.</param>
    /// <param name="count">Values per channel.</param>
    /// <returns>Mean and variance.</returns>
    public (double Mean, double Variance) Moments(int c, double count)
    {
        double s = 0;
        double q = 0;
        for (int t = 0; t < Threads; t++)
        {
            s += Partials[(t * 2 * PaddedChannels) + c];
            q += Partials[(t * 2 * PaddedChannels) + PaddedChannels + c];
        }

        double m = s / count;
        return (Shift[c] + m, Math.Max(0, (q / count) - (m * m)));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        NativeBlocks.Free(Shift);
        NativeBlocks.Free(Partials);
        Shift = null;
        Partials = null;
    }
}
