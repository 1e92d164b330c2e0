using System;
using System.Linq;

namespace DslResNet.IO;

/// <summary>Element types a safetensors file can hold here (the names are the format's own).</summary>
public enum SafeTensorDType
{
    /// <summary>32-bit IEEE float, little-endian (<c>F32</c>).</summary>
    F32,

    /// <summary>64-bit signed integer, little-endian (<c>I64</c>), as PyTorch's <c>num_batches_tracked</c>.</summary>
    I64,
}

/// <summary>One tensor's element type, shape and values (row-major, as PyTorch stores them).</summary>
public sealed class TensorData
{
    private TensorData(SafeTensorDType dtype, int[] shape, float[]? floats, long[]? int64s)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Any(d => d < 0))
        {
            throw new ArgumentException($"Shape [{string.Join(", ", shape)}] has a negative dimension.", nameof(shape));
        }

        DType = dtype;
        Shape = shape;
        Floats = floats;
        Int64s = int64s;
        long expected = Elements;
        long actual = floats?.LongLength ?? int64s!.LongLength;
        if (expected != actual)
        {
            throw new ArgumentException($"Shape {ShapeText} holds {expected} elements but {actual} values were given.", nameof(shape));
        }
    }

    /// <summary>The element type.</summary>
    public SafeTensorDType DType { get; }

    /// <summary>The dimensions; empty for a scalar.</summary>
    public int[] Shape { get; }

    /// <summary>The values of an <see cref="SafeTensorDType.F32"/> tensor; null otherwise.</summary>
    public float[]? Floats { get; }

    /// <summary>The values of an <see cref="SafeTensorDType.I64"/> tensor; null otherwise.</summary>
    public long[]? Int64s { get; }

    /// <summary>Number of elements (1 for a scalar).</summary>
    public long Elements => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>Bytes one element takes.</summary>
    public int ElementSize => SizeOf(DType);

    /// <summary>The shape as PyTorch prints it, e.g. <c>[16, 3, 3, 3]</c>.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>A float tensor.</summary>
    /// <param name="shape">Dimensions (empty for a scalar).</param>
    /// <param name="data">Values, row-major; kept, not copied.</param>
    public static TensorData Float(int[] shape, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new TensorData(SafeTensorDType.F32, shape, data, null);
    }

    /// <summary>An int64 tensor.</summary>
    /// <param name="shape">Dimensions (empty for a scalar).</param>
    /// <param name="data">Values, row-major; kept, not copied.</param>
    public static TensorData Int64(int[] shape, long[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new TensorData(SafeTensorDType.I64, shape, null, data);
    }

    /// <summary>A scalar int64 tensor (shape <c>[]</c>), as <c>num_batches_tracked</c>.</summary>
    /// <param name="value">The value.</param>
    public static TensorData Int64Scalar(long value) => Int64([], [value]);

    /// <summary>The value of a one-element int64 tensor.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not int64 or has more than one element.</exception>
    public long ScalarInt64 => Int64s is { Length: 1 } v ? v[0] : throw new InvalidOperationException($"Not a one-element I64 tensor (dtype {DType}, shape {ShapeText}).");

    /// <summary>Bytes one element of <paramref name="dtype"/> takes.</summary>
    /// <param name="dtype">The element type.</param>
    public static int SizeOf(SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.F32 => 4,
        SafeTensorDType.I64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Formats a shape as PyTorch prints it, e.g. <c>[16, 3, 3, 3]</c>.</summary>
    /// <param name="shape">The dimensions.</param>
    public static string FormatShape(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
