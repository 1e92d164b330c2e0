using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using DslResNet.Kernels;
using DslResNet.Runtime;
using ILGPU;
using ILGPU.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Device = DslResNet.Runtime.Device;
using F = TorchSharp.torch.nn.functional;

namespace DslResNet.Benchmarks;

/// <summary>
/// ResNeXt-50's grouped 3x3 (layer1: 128 -> 128 channels in 32 groups of 4, 56 x 56, batch 8) on the SIMD backend, one
/// thread: forward, input gradient and weight gradient, beside a dense 3x3 with the same multiply-adds (16 -> 32 channels
/// at 56 x 56: 128 x 4 = 16 x 32 per tap and pixel) and beside TorchSharp's conv2d with <c>groups: 32</c> (libtorch, one
/// thread). 8 x 56 x 56 x 128 x 4 x 9 = 115.6 M multiply-adds per pass, 0.231 GFLOP: divide by the mean time for GFLOP/s.
/// Run: <c>dotnet run -c Release --project tests/DslResNet.Benchmarks -- --filter '*GroupedConv*' --job short</c>.
/// </summary>
public class GroupedConvBenchmarks
{
    private const int N = 8;
    private const int Size = 56;

    private readonly List<DeviceBuffer<float>> _buffers = [];
    private Device _device = null!;
    private ConvOp _grouped = null!;
    private ConvOp _dense = null!;
    private Tensor _tx = null!, _tw = null!, _tdy = null!;

    /// <summary>Builds both convolutions on a one-thread SIMD device and the TorchSharp tensors.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(1);
        _device = Device.Create(DeviceKind.Cpu, 1);
        Random random = new(1);
        ConvShape grouped = new(N, 128, Size, Size, 128, 3, 1, 1, false, 32);
        _grouped = Build<Grouped>(grouped, random);
        ConvShape dense = new(N, 16, Size, Size, 32, 3, 1, 1, false, 1);
        _dense = Build<Dense>(dense, random);
        _tx = randn(N, 128, Size, Size).requires_grad_(true);
        _tw = randn(128, 4, 3, 3).requires_grad_(true);
        _tdy = randn(N, 128, Size, Size);
    }

    /// <summary>Frees the buffers and the device.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _grouped.Dispose();
        _dense.Dispose();
        foreach (DeviceBuffer<float> b in _buffers)
        {
            b.Dispose();
        }

        _device.Dispose();
    }

    /// <summary>DslResNet, grouped, forward.</summary>
    [Benchmark]
    public void GroupedForward() => _grouped.Forward();

    /// <summary>DslResNet, grouped, input gradient.</summary>
    [Benchmark]
    public void GroupedInputGradient() => _grouped.Backward(data: true, weights: false);

    /// <summary>DslResNet, grouped, weight gradient.</summary>
    [Benchmark]
    public void GroupedWeightGradient() => _grouped.Backward(data: false, weights: true);

    /// <summary>DslResNet, dense 3x3 of the same multiply-adds, forward.</summary>
    [Benchmark]
    public void DenseForward() => _dense.Forward();

    /// <summary>DslResNet, dense, input gradient.</summary>
    [Benchmark]
    public void DenseInputGradient() => _dense.Backward(data: true, weights: false);

    /// <summary>DslResNet, dense, weight gradient.</summary>
    [Benchmark]
    public void DenseWeightGradient() => _dense.Backward(data: false, weights: true);

    /// <summary>TorchSharp conv2d with groups 32, forward.</summary>
    [Benchmark]
    public void TorchSharpGroupedForward()
    {
        using IDisposable scope = NewDisposeScope();
        using (no_grad())
        {
            F.conv2d(_tx, _tw, padding: [1, 1], groups: 32);
        }
    }

    /// <summary>TorchSharp conv2d with groups 32, forward and backward (both gradients: libtorch has no separate entry).</summary>
    [Benchmark]
    public void TorchSharpGroupedForwardBackward()
    {
        using IDisposable scope = NewDisposeScope();
        Tensor y = F.conv2d(_tx, _tw, padding: [1, 1], groups: 32);
        y.backward([_tdy]);
        _tx.grad?.zero_();
        _tw.grad?.zero_();
    }

    private ConvOp Build<G>(ConvShape shape, Random random)
        where G : struct, IConvGeometry
    {
        ArrayView<float> x = Upload(shape.InputElements, random);
        ArrayView<float> w = Upload((long)shape.OutChannels * (shape.InChannels / shape.Groups) * 9, random);
        ArrayView<float> y = Upload(shape.OutputElements, random);
        ArrayView<float> dy = Upload(shape.OutputElements, random);
        ArrayView<float> dx = Upload(shape.InputElements, random);
        ArrayView<float> dw = Upload((long)shape.OutChannels * (shape.InChannels / shape.Groups) * 9, random);
        ConvOp op = ConvOp.Create<G>(_device, shape, x, w, default, y, dy, dx, dw, default);
        op.Forward();
        op.Backward(data: true, weights: true);
        return op;
    }

    private ArrayView<float> Upload(long count, Random random)
    {
        float[] data = new float[count];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)((random.NextDouble() * 2) - 1);
        }

        DeviceBuffer<float> buffer = new(_device, data.Length);
        _buffers.Add(buffer);
        _device.Backend.Write(data, buffer.View);
        return buffer.View;
    }

    private readonly struct Grouped : IConvGeometry
    {
        public static int InChannels => 128;

        public static int Height => Size;

        public static int Width => Size;

        public static int OutChannels => 128;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;

        public static int Groups => 32;
    }

    private readonly struct Dense : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => Size;

        public static int Width => Size;

        public static int OutChannels => 32;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }
}
