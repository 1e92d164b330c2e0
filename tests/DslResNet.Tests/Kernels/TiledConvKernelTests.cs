using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.Kernels;
using DslResNet.Kernels.Ilgpu;
using DslResNet.Runtime;
using DslResNet.Tests.Networks;
using ILGPU;
using ILGPU.Runtime;
using Xunit;
using Device = DslResNet.Runtime.Device;

using static DslResNet.Tests.Kernels.KernelTestData;

namespace DslResNet.Tests.Kernels;

/// <summary>An ILGPU CPU device whose dense convolutions run the tiled kernels (it emulates groups of 256 threads).</summary>
public sealed class TiledCpuDeviceFixture : IDisposable
{
    /// <summary>The device.</summary>
    public Device Device { get; } = Device.CreateIlgpuCpu(IlgpuConvPath.Tiled);

    /// <summary>Releases the device.</summary>
    public void Dispose() => Device.Dispose();
}

/// <summary>
/// The tiled implicit-GEMM convolutions (<see cref="TiledConvKernels"/>), run on ILGPU's CPU accelerator (which emulates
/// the groups, shared memory and barriers) through the runtime's <see cref="ConvOp"/>, against the double-precision
/// <see cref="Reference"/>: forward, input gradient (accumulated onto a prior), weight and bias gradients (overwriting
/// garbage). Shapes are odd on purpose: sizes that are not multiples of the tiles, stride 2 with padding, a 1x1 projection,
/// the 7x7 stem, and one larger than a tile in every GEMM dimension of all three products.
/// </summary>
public sealed class TiledConvKernelTests : IClassFixture<TiledCpuDeviceFixture>
{
    private const double Tolerance = 1e-4;
    private const float Garbage = 12345.5f;

    private readonly Device _device;

    /// <summary>Takes the shared device.</summary>
    /// <param name="fixture">The fixture.</param>
    public TiledConvKernelTests(TiledCpuDeviceFixture fixture)
    {
        _device = fixture.Device;
    }

    /// <summary>The device runs the tiled kernels, in groups of 256.</summary>
    [Fact]
    public void DeviceRunsTheTiledPath()
    {
        IlgpuBackend backend = Assert.IsType<IlgpuBackend>(_device.Backend);
        Assert.Equal(IlgpuConvPath.Tiled, backend.ConvPath);
        Assert.True(_device.Accelerator.MaxNumThreadsPerGroup >= TiledConvKernels.Threads);
        Assert.Contains("tiled convolutions", _device.Description, StringComparison.Ordinal);
    }

    /// <summary>Forward, backward to the input, the weights and the bias, against the double references.</summary>
    [Theory]
    [InlineData(3, 5, 9, 11, 7, 3, 2, 1, true)] // odd sizes, stride 2, padding 1
    [InlineData(3, 6, 9, 9, 10, 1, 2, 0, false)] // 1x1 stride 2 projection
    [InlineData(1, 3, 11, 9, 4, 7, 2, 3, true)] // the 7x7 stride 2 stem
    [InlineData(1, 65, 9, 8, 66, 1, 1, 0, true)] // more than one tile in M, N and K of all three GEMMs
    [InlineData(2, 3, 12, 12, 5, 3, 1, 1, true)] // 3x3 over several M tiles; a long weight-gradient K: several splits
    [InlineData(1, 1, 1, 1, 1, 1, 1, 0, true)]
    public void Conv(int n, int cin, int h, int w, int cout, int k, int stride, int pad, bool bias)
    {
        ConvShape shape = new(n, cin, h, w, cout, k, stride, pad, bias);
        Random random = new(Seed(n, cin, h, w, cout, k, stride, pad));
        float[] x = RandomFloats(random, (int)shape.InputElements);
        float[] wt = RandomFloats(random, (int)shape.WeightElements, 0.5);
        float[] b = bias ? RandomFloats(random, cout) : [];
        float[] dy = RandomFloats(random, (int)shape.OutputElements);
        float[] prior = RandomFloats(random, (int)shape.InputElements);

        using Buffers buffers = new(_device);
        ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage);
        ArrayView<float> dx = buffers.Upload(prior);
        ArrayView<float> dw = buffers.Filled(wt.Length, Garbage);
        ArrayView<float> db = buffers.Filled(cout, Garbage);
        using ConvOp op = new(_device, shape, buffers.Upload(x), buffers.Upload(wt), bias ? buffers.Upload(b) : default, y, buffers.Upload(dy), dx, dw, db);
        op.Forward();
        op.Backward();

        double[] expected = Reference.Conv2dForward(D(x), n, cin, h, w, D(wt), cout, k, bias ? D(b) : null, stride, pad);
        (double[] edx, double[] edw, double[] edb) = Reference.Conv2dBackward(D(x), n, cin, h, w, D(wt), cout, k, stride, pad, D(dy));
        AssertClose($"y {shape}", expected, buffers.Read(y));
        AssertClose($"dx {shape}", Add(D(prior), edx), buffers.Read(dx));
        float[] firstDw = buffers.Read(dw);
        AssertClose($"dw {shape}", edw, firstDw);
        float[] dbActual = buffers.Read(db);
        if (bias)
        {
            AssertClose($"db {shape}", edb, dbActual);
        }
        else
        {
            Assert.All(dbActual, v => Assert.Equal(Garbage, v));
        }

        // Deterministic: the weight gradient again (over the last pass's values) is the same to the bit.
        op.Backward(data: false);
        Assert.Equal(firstDw, buffers.Read(dw));
    }

    /// <summary>The split of the weight gradient over K: the long-K test shape really splits, and splits cover K exactly once.</summary>
    [Fact]
    public void WeightGradientSplitsCoverTheOutputPixels()
    {
        ConvShape longK = new(2, 3, 12, 12, 5, 3, 1, 1, true);
        (int splits, int chunk) = IlgpuBackend.WeightSplits(longK, 16);
        Assert.True(splits > 1, $"{splits} splits");
        Assert.Equal(0, chunk % TiledConvKernels.TileK);
        int pixels = longK.N * longK.OutHeight * longK.OutWidth;
        Assert.True((splits - 1) * chunk < pixels && splits * chunk >= pixels, $"{splits} x {chunk} for {pixels}");

        // Many tiles already fill the device: one split.
        Assert.Equal(1, IlgpuBackend.WeightSplits(new ConvShape(2, 256, 8, 8, 256, 3, 1, 1, false), 16).Splits);
    }

    /// <summary>A small ResNet trained one step on the tiled path gives the direct path's output and gradients.</summary>
    [Fact]
    public void NetworkGradientsMatchTheDirectPath()
    {
        (float[] Output, Dictionary<string, float[]> Gradients, float[] Input) Run(Device device)
        {
            using var net = new TinyResNet(device, 2, new NetworkOptions(Seed: 3));
            Random random = new(11);
            float[] images = NetworkData.Normal(random, 2 * NetworkData.ImageElements(net));
            float[] g = NetworkData.Normal(random, 2 * NetworkData.Classes(net));
            net.Train();
            net.ComputeInputGradient = true;
            net.Forward(images);
            float[] output = net.Output();
            net.Backward(g);
            return (output, NetworkData.Trainable(net).ToDictionary(p => p.Name, p => net.GetGradient(p.Name), StringComparer.Ordinal), net.InputGradient());
        }

        using Device direct = Device.CreateIlgpuCpu(IlgpuConvPath.Direct);
        Assert.Equal(IlgpuConvPath.Direct, Assert.IsType<IlgpuBackend>(direct.Backend).ConvPath);
        (float[] output, Dictionary<string, float[]> gradients, float[] input) = Run(direct);
        (float[] tiledOutput, Dictionary<string, float[]> tiledGradients, float[] tiledInput) = Run(_device);

        AssertClose("output", D(output), tiledOutput);
        AssertClose("input gradient", D(input), tiledInput);
        Assert.Equal(gradients.Keys.Order(StringComparer.Ordinal), tiledGradients.Keys.Order(StringComparer.Ordinal));
        foreach ((string name, float[] expected) in gradients)
        {
            AssertClose($"gradient of {name}", D(expected), tiledGradients[name]);
        }
    }

    /// <summary>A bad value of the environment variable is refused with the variable named.</summary>
    [Fact]
    public void UnknownConvPathNamesTheSetting()
    {
        Assert.Equal(IlgpuConvPath.Tiled, Device.ParseConvPath(" Tiled ", Device.ConvVariable));
        Assert.Equal(IlgpuConvPath.Direct, Device.ParseConvPath("direct", Device.ConvVariable));
        ArgumentException error = Assert.Throws<ArgumentException>(() => Device.ParseConvPath("fast", Device.ConvVariable));
        Assert.Contains(Device.ConvVariable, error.Message, StringComparison.Ordinal);
        Assert.Contains("fast", error.Message, StringComparison.Ordinal);
    }

    private static void AssertClose(string what, double[] expected, float[] actual) => KernelTestData.AssertClose(what, expected, actual, Tolerance);
}
