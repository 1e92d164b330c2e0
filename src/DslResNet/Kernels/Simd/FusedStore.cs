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
/// <paramref name="ahead"/> floats past the weights it reads at each step: the next output-channel group's, where a
/// layer's weights stream from memory once (see SimdConvolution.ForwardGroup). A type of its own, so that the kernels of
/// every other store have no prefetch in their loop.</summary>
/// <typeparam name="TE">The store.</typeparam>
/// <param name="inner">The store.</param>
/// <param name="ahead">Floats from the weights read to those prefetched.</param>
internal readonly unsafe struct AheadStore<TE>(TE inner, nint ahead) : IVectorStore
    where TE : struct, IVectorStore
{
    private TE Inner { get; } = inner;

    private nint Ahead { get; } = ahead;

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
        if (Sse.IsSupported)
        {
            Sse.Prefetch1(w + Ahead);
        }
    }
}
