using System;
using System.Buffers.Binary;
using System.Linq;

namespace DslResNet.IO.Pth;

/// <summary>Element types of a PyTorch storage that <see cref="PthReader"/> reads (PyTorch's own names).</summary>
public enum PthDType
{
    /// <summary><c>torch.float32</c> (<c>FloatStorage</c>).</summary>
    Float32,

    /// <summary><c>torch.float64</c> (<c>DoubleStorage</c>).</summary>
    Float64,

    /// <summary><c>torch.float16</c> (<c>HalfStorage</c>).</summary>
    Float16,

    /// <summary><c>torch.bfloat16</c> (<c>BFloat16Storage</c>).</summary>
    BFloat16,

    /// <summary><c>torch.int64</c> (<c>LongStorage</c>), as <c>num_batches_tracked</c>.</summary>
    Int64,

    /// <summary><c>torch.int32</c> (<c>IntStorage</c>).</summary>
    Int32,
}

/// <summary>
/// One tensor of a <c>.pth</c> state_dict: its dtype, shape and elements, row-major and contiguous (a view or a
/// strided tensor in the file is gathered into its own bytes), little-endian as PyTorch stores them.
/// </summary>
public sealed class PthTensor
{
    /// <summary>Creates a tensor.</summary>
    /// <param name="dtype">The element type.</param>
    /// <param name="shape">The dimensions (empty for a scalar).</param>
    /// <param name="data">The elements, row-major, little-endian; kept, not copied.</param>
    /// <exception cref="ArgumentException">A dimension is negative or the data's length does not match the shape.</exception>
    public PthTensor(PthDType dtype, int[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (shape.Any(d => d < 0))
        {
            throw new ArgumentException($"Shape {TensorData.FormatShape(shape)} has a negative dimension.", nameof(shape));
        }

        long elements = shape.Aggregate(1L, (a, d) => checked(a * d));
        if (checked(elements * SizeOf(dtype)) != data.LongLength)
        {
            throw new ArgumentException($"Shape {TensorData.FormatShape(shape)} of {dtype} needs {elements * SizeOf(dtype)} bytes but {data.LongLength} were given.", nameof(data));
        }

        DType = dtype;
        Shape = shape;
        Data = data;
    }

    /// <summary>The element type.</summary>
    public PthDType DType { get; }

    /// <summary>The dimensions; empty for a scalar.</summary>
    public int[] Shape { get; }

    /// <summary>The elements, row-major, little-endian.</summary>
    public byte[] Data { get; }

    /// <summary>Number of elements (1 for a scalar).</summary>
    public long Elements => Data.LongLength / SizeOf(DType);

    /// <summary>Bytes one element of <paramref name="dtype"/> takes.</summary>
    /// <param name="dtype">The element type.</param>
    public static int SizeOf(PthDType dtype) => dtype switch
    {
        PthDType.Float32 or PthDType.Int32 => 4,
        PthDType.Float64 or PthDType.Int64 => 8,
        PthDType.Float16 or PthDType.BFloat16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>The tensor of a <see cref="TensorData"/> (F32 as <see cref="PthDType.Float32"/>, I64 as <see cref="PthDType.Int64"/>).</summary>
    /// <param name="tensor">The tensor.</param>
    public static PthTensor From(TensorData tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        int[] shape = (int[])tensor.Shape.Clone();
        if (tensor.DType == SafeTensorDType.F32)
        {
            float[] values = tensor.Floats!;
            byte[] bytes = new byte[values.LongLength * 4];
            for (long i = 0; i < values.LongLength; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(i * 4)), values[i]);
            }

            return new PthTensor(PthDType.Float32, shape, bytes);
        }

        long[] longs = tensor.Int64s!;
        byte[] data = new byte[longs.LongLength * 8];
        for (long i = 0; i < longs.LongLength; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan((int)(i * 8)), longs[i]);
        }

        return new PthTensor(PthDType.Int64, shape, data);
    }

    /// <summary>
    /// The tensor as a checkpoint holds it: floating types as F32 (float16 and bfloat16 widened exactly, float64
    /// rounded to nearest as PyTorch's <c>.float()</c> does), integer types as I64.
    /// </summary>
    public TensorData ToTensorData()
    {
        int[] shape = (int[])Shape.Clone();
        int n = checked((int)Elements);
        ReadOnlySpan<byte> d = Data;
        switch (DType)
        {
            case PthDType.Int64:
            case PthDType.Int32:
                long[] longs = new long[n];
                for (int i = 0; i < n; i++)
                {
                    longs[i] = DType == PthDType.Int64 ? BinaryPrimitives.ReadInt64LittleEndian(d[(i * 8)..]) : BinaryPrimitives.ReadInt32LittleEndian(d[(i * 4)..]);
                }

                return TensorData.Int64(shape, longs);
            default:
                float[] floats = new float[n];
                for (int i = 0; i < n; i++)
                {
                    floats[i] = DType switch
                    {
                        PthDType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(d[(i * 4)..]),
                        PthDType.Float64 => (float)BinaryPrimitives.ReadDoubleLittleEndian(d[(i * 8)..]),
                        PthDType.Float16 => (float)BinaryPrimitives.ReadHalfLittleEndian(d[(i * 2)..]),
                        _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(d[(i * 2)..]) << 16),
                    };
                }

                return TensorData.Float(shape, floats);
        }
    }
}
