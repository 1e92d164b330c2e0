using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DslResNet.Kernels.Simd;

/// <summary>How a micro-kernel stores its results: a type argument, so that each way is compiled into the kernel.</summary>
internal unsafe interface IVectorStore
{
    /// <summary>Stores one vector at <paramref name="offset"/> floats from <paramref name="y"/>.</summary>
    /// <typeparam name="TS">The vector operations.</typeparam>
    /// <typeparam name="TV">The vector type.</typeparam>
    /// <param name="y">Where offsets count from in the output.</param>
    /// <param name="offset">Offset of the vector.</param>
    /// <param name="channel">Its first channel, counted from the block's first.</param>
    /// <param name="value">The value.</param>
    void Store<TS, TV>(float* y, long offset, int channel, TV value)
        where TS : struct, ISimd<TV>
        where TV : struct;

    /// <summary>Prefetches the cache line of the output at <paramref name="offset"/> floats from <paramref name="y"/>, and
    /// what the store will read with it.</summary>
    /// <param name="y">Where offsets count from in the output.</param>
    /// <param name="offset">Offset of the line.</param>
    void Prefetch(float* y, long offset);

    /// <summary>Prefetches the weights at a distance the store knows from those at <paramref name="w"/>, which a forward
    /// micro-kernel reads now.</summary>
    /// <param name="w">The weights read now.</param>
    void PrefetchWeights(float* w);
}

/// <summary>Stores values as they are.</summary>
internal readonly unsafe struct PlainStore : IVectorStore
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store<TS, TV>(float* y, long offset, int channel, TV value)
        where TS : struct, ISimd<TV>
        where TV : struct => TS.Store(y + offset, value);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(float* y, long offset)
    {
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchWeights(float* w)
    {
    }
}

/// <summary>How a convolution's micro-kernel or Winograd output transform finishes a value before storing it:
/// <c>y = act2(act1(v + b [+ y]) + r)</c>. The default stores the value as it is.</summary>
/// <param name="bias">Bias at the first channel the caller's channel offsets count from, or null.</param>
/// <param name="relu1">ReLU after the bias.</param>
/// <param name="residual">Residual laid out as the output, at the point the caller's offsets count from, or null.</param>
/// <param name="relu2">ReLU after the add.</param>
/// <param name="accumulate">Add into the output instead of overwriting it.</param>
/// <param name="prefetch">Whether a forward micro-kernel prefetches the lines of its block's output (and residual) into L1
/// before its loop over the inputs (see <see cref="Prefetch"/>).</param>
internal readonly unsafe struct FusedStore(float* bias, bool relu1, float* residual, bool relu2, bool accumulate, bool prefetch = false) : IVectorStore
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchWeights(float* w)
    {
    }

    private float* Bias { get; } = bias;

    private bool Relu1 { get; } = relu1;

    private float* Residual { get; } = residual;

    private bool Relu2 { get; } = relu2;

    private bool Accumulate { get; } = accumulate;

    private bool PrefetchLines { get; } = prefetch;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(float* y, long offset)
    {
        if (PrefetchLines && Sse.IsSupported)
        {
            Sse.Prefetch0(y + offset);
            if (Residual is not null && Residual != y)
            {
                Sse.Prefetch0(Residual + offset);
            }
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store<TS, TV>(float* y, long offset, int channel, TV value)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        if (Bias is not null)
        {
            value = TS.Add(value, TS.Load(Bias + channel));
        }

        if (Accumulate)
        {
            value = TS.Add(value, TS.Load(y + offset));
        }

        if (Relu1)
        {
            value = TS.Relu(value);
        }

        if (Residual is not null)
        {
            value = TS.Add(value, TS.Load(Residual + offset));
        }

        if (Relu2)
        {
            value = TS.Relu(value);
        }

        TS.Store(y + offset, value);
    }
}

/// <summary>Stores values as they are and adds each into the batch statistics of its channels: the sum of
/// <c>value - shift</c> and of its square, kept per thread in L1. A micro-kernel stores its block a pixel at a time in
/// order, so each channel's sums take the pixels in the order that reading the block back took them, and come out the
/// same; the block is not read back.</summary>
/// <param name="sums">Sums at the block's first channel.</param>
/// <param name="squares">Sums of squares at the block's first channel.</param>
/// <param name="shift">The value each channel's sums are taken around, at the block's first channel.</param>
/// <param name="stream">Whether the values are stored past the caches (non-temporal stores: 512-bit vectors, 64-byte aligned).</param>
internal readonly unsafe struct StatisticsStore(float* sums, float* squares, float* shift, bool stream = false) : IVectorStore
{
    private bool Stream { get; } = stream;

    private float* Sums { get; } = sums;

    private float* Squares { get; } = squares;

    private float* Shift { get; } = shift;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store<TS, TV>(float* y, long offset, int channel, TV value)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        if (Stream && typeof(TV) == typeof(Vector512<float>))
        {
            // Aligned (the caller's promise); the caller fences after its block (see SimdConvolution.StreamOutput).
            Avx512F.StoreAlignedNonTemporal(y + offset, Unsafe.As<TV, Vector512<float>>(ref value));
        }
        else
        {
            TS.Store(y + offset, value);
        }

        TV d = TS.Subtract(value, TS.Load(Shift + channel));
        TS.Store(Sums + channel, TS.Add(TS.Load(Sums + channel), d));
        TS.Store(Squares + channel, TS.Fma(d, d, TS.Load(Squares + channel)));
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(float* y, long offset)
    {
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchWeights(float* w)
    {
    }
}

/// <summary>Stores as <typeparamref name="TE"/> does, and has a forward micro-kernel prefetch (into L2) the line of weights
/// <paramref name="ahead"/> floats past the weights it reads at a step: the next output-channel group's, where a layer's
/// weights stream from memory once (see SimdConvolution.ForwardGroup). Only at the steps whose weights' address has
/// <paramref name="phase"/> under <paramref name="mask"/> (mask 0: every step), so that the blocks over a group can
/// prefetch each line of the next group's once between them (see <see cref="AheadSchedule"/>). A type of its own, so
/// that the kernels of every other store have no prefetch in their loop.</summary>
/// <typeparam name="TE">The store.</typeparam>
/// <param name="inner">The store.</param>
/// <param name="ahead">Floats from the weights read to those prefetched.</param>
/// <param name="mask">Bits of the weights' address that choose the steps that prefetch.</param>
/// <param name="phase">Their value at those steps.</param>
internal readonly unsafe struct AheadStore<TE>(TE inner, nint ahead, nint mask = 0, nint phase = 0) : IVectorStore
    where TE : struct, IVectorStore
{
    private TE Inner { get; } = inner;

    private nint Ahead { get; } = ahead;

    private nint Mask { get; } = mask;

    private nint Phase { get; } = phase;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store<TS, TV>(float* y, long offset, int channel, TV value)
        where TS : struct, ISimd<TV>
        where TV : struct => Inner.Store<TS, TV>(y, offset, channel, value);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(float* y, long offset) => Inner.Prefetch(y, offset);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchWeights(float* w)
    {
        if (Sse.IsSupported && ((nint)w & Mask) == Phase)
        {
            Sse.Prefetch1(w + Ahead);
        }
    }
}

/// <summary>
/// Which lines of the next output-channel group's weights each block over a group prefetches as it runs (see
/// <see cref="AheadStore{TE}"/>; the batch-1 1x1 forward and the Winograd products): each line once. A step of a block
/// reads one row of the group's weights, a line a vector; block b takes line b mod vectors of a row, at one step in k, k
/// the largest power of two up to 8 with k x vectors blocks at most, so that the first k x vectors blocks cover the next
/// group between them and the others prefetch nothing.
/// Every block prefetching a line a step (line b mod vectors of every row) fetched each line blocks / vectors times (5
/// times in ResNet-50's 256x14x14->1024 layer at batch 1: 21 blocks of 6 pixels, 4 vectors). On the slower spell of
/// 2026-12-07/08 (a core-to-core round trip of 475 ns, software prefetches that miss holding L1's miss buffers),
/// `profile resnet50-224 latency 2 300 ab`, three runs each: the call 0.980, 0.978 and 0.987 of its time with this,
/// 0.979-0.980 with no prefetch at all, 0.987-0.993 with each line once but a line a step in the first `vectors` blocks;
/// 512x7x7->2048 0.87-0.98 of its time, 256x14x14->1024 0.92-1.00. On the faster spell before, the prefetch (a line a
/// step in every block) had taken these layers to 0.81-0.94 of their time without it; this keeps each line fetched
/// before its group runs.
/// </summary>
internal static class AheadSchedule
{
    private const int MostSpacing = 8;

    /// <summary>The prefetch of block <paramref name="block"/> of <paramref name="blocks"/> over a group of
    /// <paramref name="vectors"/> vectors. Its steps are those whose row is <c>block / vectors</c> modulo k, counted from
    /// wherever the address bits start (the blocks still take distinct steps between them).</summary>
    /// <param name="block">The block.</param>
    /// <param name="blocks">Blocks over the group, at least <paramref name="vectors"/>.</param>
    /// <param name="vectors">Vectors of 16 output channels in the group (a row of its weights is that many lines).</param>
    /// <param name="line">Floats from a step's row to the line of it the block prefetches (in the next group).</param>
    /// <param name="mask">See <see cref="AheadStore{TE}"/>.</param>
    /// <param name="phase">See <see cref="AheadStore{TE}"/>.</param>
    /// <returns>Whether the block prefetches at all.</returns>
    public static bool For(int block, int blocks, int vectors, out nint line, out nint mask, out nint phase)
    {
        int k = 1;
        while (2 * k * vectors <= blocks && k < MostSpacing)
        {
            k *= 2;
        }

        line = mask = phase = 0;
        if (block >= k * vectors)
        {
            return false;
        }

        nint step = 64 * vectors; // bytes of weights a step reads: a power of two, as k is
        mask = (k - 1) * step;
        phase = (block / vectors) * step;
        line = 16 * (block % vectors);
        return true;
    }
}
