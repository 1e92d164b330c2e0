using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DslResNet.Kernels.Simd;

/// <summary>
/// Sixteen floats, the channel block of the SIMD backend: the kernels are written once against this interface and the JIT
/// specialises them for each implementation (a struct type argument), so <see cref="V512"/> compiles to single AVX-512
/// instructions, <see cref="V256"/> to pairs of AVX instructions, and <see cref="VScalar"/> to plain loops.
/// </summary>
/// <typeparam name="TSelf">The implementing struct.</typeparam>
public interface IVec16<TSelf>
    where TSelf : struct, IVec16<TSelf>
{
    /// <summary>Whether this width runs in hardware here.</summary>
    static abstract bool IsSupported { get; }

    /// <summary>The name used in reports.</summary>
    static abstract string Name { get; }

    /// <summary>All lanes zero.</summary>
    static abstract TSelf Zero { get; }

    /// <summary>All lanes <paramref name="value"/>.</summary>
    static abstract TSelf Broadcast(float value);

    /// <summary>Sixteen floats from <paramref name="p"/>.</summary>
    static abstract unsafe TSelf Load(float* p);

    /// <summary>Sixteen floats to <paramref name="p"/>.</summary>
    static abstract unsafe void Store(float* p, TSelf value);

    /// <summary><c>a * b + c</c>.</summary>
    static abstract TSelf Fma(TSelf a, TSelf b, TSelf c);

    /// <summary><c>a + b</c>.</summary>
    static abstract TSelf Add(TSelf a, TSelf b);

    /// <summary><c>a - b</c>.</summary>
    static abstract TSelf Subtract(TSelf a, TSelf b);

    /// <summary><c>a * b</c>.</summary>
    static abstract TSelf Multiply(TSelf a, TSelf b);

    /// <summary><c>max(a, 0)</c>, lane by lane.</summary>
    static abstract TSelf Relu(TSelf a);

    /// <summary>1 where <paramref name="y"/> is above zero, else 0, times <paramref name="g"/>: ReLU's backward.</summary>
    static abstract TSelf ReluMask(TSelf y, TSelf g);
}

/// <summary>One <see cref="Vector512{T}"/>.</summary>
public readonly struct V512 : IVec16<V512>
{
    private readonly Vector512<float> _v;

    private V512(Vector512<float> v) => _v = v;

    /// <inheritdoc />
    public static bool IsSupported => Vector512.IsHardwareAccelerated;

    /// <inheritdoc />
    public static string Name => "Vector512";

    /// <inheritdoc />
    public static V512 Zero
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(Vector512<float>.Zero);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Broadcast(float value) => new(Vector512.Create(value));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe V512 Load(float* p) => new(Vector512.Load(p));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store(float* p, V512 value) => value._v.Store(p);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Fma(V512 a, V512 b, V512 c) => new(Vector512.FusedMultiplyAdd(a._v, b._v, c._v));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Add(V512 a, V512 b) => new(a._v + b._v);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Subtract(V512 a, V512 b) => new(a._v - b._v);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Multiply(V512 a, V512 b) => new(a._v * b._v);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Relu(V512 a) => new(Vector512.Max(a._v, Vector512<float>.Zero));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 ReluMask(V512 y, V512 g) => new(Vector512.ConditionalSelect(Vector512.GreaterThan(y._v, Vector512<float>.Zero), g._v, Vector512<float>.Zero));
}

/// <summary>Two <see cref="Vector256{T}"/>s.</summary>
public readonly struct V256 : IVec16<V256>
{
    private readonly Vector256<float> _lo;
    private readonly Vector256<float> _hi;

    private V256(Vector256<float> lo, Vector256<float> hi) => (_lo, _hi) = (lo, hi);

    /// <inheritdoc />
    public static bool IsSupported => Vector256.IsHardwareAccelerated;

    /// <inheritdoc />
    public static string Name => "Vector256";

    /// <inheritdoc />
    public static V256 Zero
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(Vector256<float>.Zero, Vector256<float>.Zero);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Broadcast(float value)
    {
        Vector256<float> v = Vector256.Create(value);
        return new(v, v);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe V256 Load(float* p) => new(Vector256.Load(p), Vector256.Load(p + 8));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store(float* p, V256 value)
    {
        value._lo.Store(p);
        value._hi.Store(p + 8);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Fma(V256 a, V256 b, V256 c) => new(Vector256.FusedMultiplyAdd(a._lo, b._lo, c._lo), Vector256.FusedMultiplyAdd(a._hi, b._hi, c._hi));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Add(V256 a, V256 b) => new(a._lo + b._lo, a._hi + b._hi);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Subtract(V256 a, V256 b) => new(a._lo - b._lo, a._hi - b._hi);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Multiply(V256 a, V256 b) => new(a._lo * b._lo, a._hi * b._hi);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Relu(V256 a) => new(Vector256.Max(a._lo, Vector256<float>.Zero), Vector256.Max(a._hi, Vector256<float>.Zero));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 ReluMask(V256 y, V256 g) => new(
        Vector256.ConditionalSelect(Vector256.GreaterThan(y._lo, Vector256<float>.Zero), g._lo, Vector256<float>.Zero),
        Vector256.ConditionalSelect(Vector256.GreaterThan(y._hi, Vector256<float>.Zero), g._hi, Vector256<float>.Zero));
}

/// <summary>Sixteen floats handled one by one: the portable fallback, and the proof that nothing depends on a vector unit.</summary>
public struct VScalar : IVec16<VScalar>
{
    private Lanes _l;

    /// <inheritdoc />
    public static bool IsSupported => true;

    /// <inheritdoc />
    public static string Name => "scalar";

    /// <inheritdoc />
    public static VScalar Zero => default;

    /// <inheritdoc />
    public static VScalar Broadcast(float value)
    {
        VScalar r = default;
        ((Span<float>)r._l).Fill(value);
        return r;
    }

    /// <inheritdoc />
    public static unsafe VScalar Load(float* p)
    {
        VScalar r = default;
        new ReadOnlySpan<float>(p, 16).CopyTo(r._l);
        return r;
    }

    /// <inheritdoc />
    public static unsafe void Store(float* p, VScalar value) => ((ReadOnlySpan<float>)value._l).CopyTo(new Span<float>(p, 16));

    /// <inheritdoc />
    public static VScalar Fma(VScalar a, VScalar b, VScalar c)
    {
        VScalar r = default;
        for (int i = 0; i < 16; i++)
        {
            r._l[i] = MathF.FusedMultiplyAdd(a._l[i], b._l[i], c._l[i]);
        }

        return r;
    }

    /// <inheritdoc />
    public static VScalar Add(VScalar a, VScalar b)
    {
        VScalar r = default;
        for (int i = 0; i < 16; i++)
        {
            r._l[i] = a._l[i] + b._l[i];
        }

        return r;
    }

    /// <inheritdoc />
    public static VScalar Subtract(VScalar a, VScalar b)
    {
        VScalar r = default;
        for (int i = 0; i < 16; i++)
        {
            r._l[i] = a._l[i] - b._l[i];
        }

        return r;
    }

    /// <inheritdoc />
    public static VScalar Multiply(VScalar a, VScalar b)
    {
        VScalar r = default;
        for (int i = 0; i < 16; i++)
        {
            r._l[i] = a._l[i] * b._l[i];
        }

        return r;
    }

    /// <inheritdoc />
    public static VScalar Relu(VScalar a)
    {
        VScalar r = default;
        for (int i = 0; i < 16; i++)
        {
            r._l[i] = a._l[i] > 0f ? a._l[i] : 0f;
        }

        return r;
    }

    /// <inheritdoc />
    public static VScalar ReluMask(VScalar y, VScalar g)
    {
        VScalar r = default;
        for (int i = 0; i < 16; i++)
        {
            r._l[i] = y._l[i] > 0f ? g._l[i] : 0f;
        }

        return r;
    }

    [InlineArray(16)]
    private struct Lanes
    {
        private float _e0;
    }
}

/// <summary>The vector widths the SIMD backend can run with.</summary>
public enum SimdWidth
{
    /// <summary>The widest this machine runs in hardware.</summary>
    Auto = 0,

    /// <summary><see cref="Vector512{T}"/> (AVX-512).</summary>
    Vector512 = 512,

    /// <summary>Pairs of <see cref="Vector256{T}"/> (AVX2).</summary>
    Vector256 = 256,

    /// <summary>Plain scalar code.</summary>
    Scalar = 1,
}
