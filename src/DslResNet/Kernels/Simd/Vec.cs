using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DslResNet.Kernels.Simd;

/// <summary>Sixteen floats as two <see cref="Vector256{T}"/>s (the AVX2 width; see <see cref="Simd256"/>).</summary>
internal readonly struct V256
{
    private readonly Vector256<float> _lo;
    private readonly Vector256<float> _hi;

    private V256(Vector256<float> lo, Vector256<float> hi) => (_lo, _hi) = (lo, hi);

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

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort PositiveBits(V256 y) => (ushort)(Vector256.GreaterThan(y._lo, Vector256<float>.Zero).ExtractMostSignificantBits()
        | (Vector256.GreaterThan(y._hi, Vector256<float>.Zero).ExtractMostSignificantBits() << 8));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 SelectBits(ushort bits, V256 g)
    {
        Vector256<uint> lanes = Vector256.Create(1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u);
        return new(
            g._lo & Vector256.Equals(Vector256.Create((uint)bits) & lanes, lanes).AsSingle(),
            g._hi & Vector256.Equals(Vector256.Create((uint)bits >> 8) & lanes, lanes).AsSingle());
    }
}

/// <summary>Sixteen floats handled one by one (see <see cref="SimdScalar"/>): the portable fallback, and the proof that nothing depends on a vector unit.</summary>
internal struct VScalar
{
    private Lanes _l;

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

    /// <inheritdoc />
    public static ushort PositiveBits(VScalar y)
    {
        int bits = 0;
        for (int i = 0; i < 16; i++)
        {
            bits |= y._l[i] > 0f ? 1 << i : 0;
        }

        return (ushort)bits;
    }

    /// <inheritdoc />
    public static VScalar SelectBits(ushort bits, VScalar g)
    {
        VScalar r = default;
        for (int i = 0; i < 16; i++)
        {
            r._l[i] = (bits & (1 << i)) != 0 ? g._l[i] : 0f;
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

/// <summary>
/// Operations on a 16-float vector type <typeparamref name="TV"/>: the kernels are generic over this (a struct the JIT
/// specialises) and over the vector type itself, so that on AVX-512 the accumulators are plain <see cref="Vector512{T}"/>
/// locals, which the JIT keeps in registers and updates with <c>vfmadd231ps</c> on an embedded broadcast.
/// </summary>
/// <typeparam name="TV">The vector type.</typeparam>
internal interface ISimd<TV>
    where TV : struct
{
    /// <summary>The name used in reports.</summary>
    static abstract string Name { get; }

    /// <summary>How many vectors the register file holds: the micro-kernels' blocks are sized to it (see
    /// <see cref="Blocks{TS, TV}"/>).</summary>
    static abstract int Registers { get; }

    /// <summary>All lanes zero.</summary>
    static abstract TV Zero { get; }

    /// <summary>All lanes <paramref name="value"/>.</summary>
    static abstract TV Broadcast(float value);

    /// <summary>Sixteen floats from <paramref name="p"/>.</summary>
    static abstract unsafe TV Load(float* p);

    /// <summary>Sixteen floats to <paramref name="p"/>.</summary>
    static abstract unsafe void Store(float* p, TV value);

    /// <summary><c>a * b + c</c>.</summary>
    static abstract TV Fma(TV a, TV b, TV c);

    /// <summary><c>a + b</c>.</summary>
    static abstract TV Add(TV a, TV b);

    /// <summary><c>a - b</c>.</summary>
    static abstract TV Subtract(TV a, TV b);

    /// <summary><c>a * b</c>.</summary>
    static abstract TV Multiply(TV a, TV b);

    /// <summary><c>max(a, 0)</c>.</summary>
    static abstract TV Relu(TV a);

    /// <summary><paramref name="g"/> where <paramref name="y"/> is above zero, else 0.</summary>
    static abstract TV ReluMask(TV y, TV g);

    /// <summary>Bit k set where lane k of <paramref name="y"/> is above zero: what <see cref="ReluMask"/> would test, kept in
    /// 2 bytes rather than the vector's 64.</summary>
    static abstract ushort PositiveBits(TV y);

    /// <summary><paramref name="g"/> where bit k of <paramref name="bits"/> is set, else 0: <c>ReluMask(y, g)</c> for the
    /// <c>y</c> whose <see cref="PositiveBits"/> these are.</summary>
    static abstract TV SelectBits(ushort bits, TV g);
}

/// <summary>AVX-512 on raw <see cref="Vector512{T}"/>.</summary>
internal readonly struct Simd512 : ISimd<Vector512<float>>
{
    /// <inheritdoc />
    public static string Name => "Vector512";

    /// <inheritdoc />
    public static int Registers => 32;

    /// <inheritdoc />
    public static Vector512<float> Zero
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512<float>.Zero;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<float> Load(float* p) => Vector512.Load(p);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store(float* p, Vector512<float> value) => value.Store(p);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Relu(Vector512<float> a) => Vector512.Max(a, Vector512<float>.Zero);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ReluMask(Vector512<float> y, Vector512<float> g) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(y, Vector512<float>.Zero), g, Vector512<float>.Zero);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort PositiveBits(Vector512<float> y) => (ushort)Vector512.GreaterThan(y, Vector512<float>.Zero).ExtractMostSignificantBits();

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SelectBits(ushort bits, Vector512<float> g)
    {
        Vector512<uint> lanes = Vector512.Create(1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u, 256u, 512u, 1024u, 2048u, 4096u, 8192u, 16384u, 32768u);
        return Vector512.ConditionalSelect(Vector512.Equals(Vector512.Create((uint)bits) & lanes, lanes).AsSingle(), g, Vector512<float>.Zero);
    }
}

/// <summary>AVX2: a pair of <see cref="Vector256{T}"/> per 16 floats.</summary>
internal readonly struct Simd256 : ISimd<V256>
{
    /// <inheritdoc />
    public static string Name => V256.Name;

    /// <inheritdoc />
    public static int Registers => 8; // 16 ymm registers, two a vector

    /// <inheritdoc />
    public static V256 Zero => V256.Zero;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Broadcast(float value) => V256.Broadcast(value);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe V256 Load(float* p) => V256.Load(p);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store(float* p, V256 value) => V256.Store(p, value);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Fma(V256 a, V256 b, V256 c) => V256.Fma(a, b, c);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Add(V256 a, V256 b) => V256.Add(a, b);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Subtract(V256 a, V256 b) => V256.Subtract(a, b);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Multiply(V256 a, V256 b) => V256.Multiply(a, b);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Relu(V256 a) => V256.Relu(a);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 ReluMask(V256 y, V256 g) => V256.ReluMask(y, g);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort PositiveBits(V256 y) => V256.PositiveBits(y);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 SelectBits(ushort bits, V256 g) => V256.SelectBits(bits, g);
}

/// <summary>The portable fallback: sixteen floats one by one.</summary>
internal readonly struct SimdScalar : ISimd<VScalar>
{
    /// <inheritdoc />
    public static string Name => VScalar.Name;

    /// <inheritdoc />
    public static int Registers => 32; // none really (arrays); blocked as AVX-512, so that its tests cover those blocks

    /// <inheritdoc />
    public static VScalar Zero => VScalar.Zero;

    /// <inheritdoc />
    public static VScalar Broadcast(float value) => VScalar.Broadcast(value);

    /// <inheritdoc />
    public static unsafe VScalar Load(float* p) => VScalar.Load(p);

    /// <inheritdoc />
    public static unsafe void Store(float* p, VScalar value) => VScalar.Store(p, value);

    /// <inheritdoc />
    public static VScalar Fma(VScalar a, VScalar b, VScalar c) => VScalar.Fma(a, b, c);

    /// <inheritdoc />
    public static VScalar Add(VScalar a, VScalar b) => VScalar.Add(a, b);

    /// <inheritdoc />
    public static VScalar Subtract(VScalar a, VScalar b) => VScalar.Subtract(a, b);

    /// <inheritdoc />
    public static VScalar Multiply(VScalar a, VScalar b) => VScalar.Multiply(a, b);

    /// <inheritdoc />
    public static VScalar Relu(VScalar a) => VScalar.Relu(a);

    /// <inheritdoc />
    public static VScalar ReluMask(VScalar y, VScalar g) => VScalar.ReluMask(y, g);

    /// <inheritdoc />
    public static ushort PositiveBits(VScalar y) => VScalar.PositiveBits(y);

    /// <inheritdoc />
    public static VScalar SelectBits(ushort bits, VScalar g) => VScalar.SelectBits(bits, g);
}
