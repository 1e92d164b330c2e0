using System;
using System.Linq;
using DslResNet.Kernels;
using DslResNet.Kernels.Simd;
using DslResNet.Runtime;
using ILGPU;
using Xunit;
using Device = DslResNet.Runtime.Device;

using static DslResNet.Tests.Kernels.KernelTestData;

namespace DslResNet.Tests.Kernels;

/// <summary>
/// The channel-wise scale <c>y = x * s</c> of squeeze-and-excitation on both backends, forward and both gradients, against the
/// double-precision <see cref="Reference"/>. The output is pre-filled with garbage (it is overwritten); the map's and the
/// scale's gradients start from non-zero priors (they are accumulated). Channel counts cover the SIMD vector loop alone (16),
/// the scalar tail alone (5) and both (19); one pixel is the squeezed 1x1 case.
/// </summary>
public sealed class ChannelScaleTests : IClassFixture<SimdDeviceFixture>
{
    private const float Garbage = 12345.5f;

    private readonly SimdDeviceFixture _fixture;

    /// <summary>Takes the shared devices.</summary>
    /// <param name="fixture">The fixture.</param>
    public ChannelScaleTests(SimdDeviceFixture fixture)
    {
        _fixture = fixture;
    }

    /// <summary>The ILGPU kernels (NCHW) against the reference.</summary>
    [Theory]
    [InlineData(2, 16, 7, 6)]
    [InlineData(3, 5, 4, 5)]
    [InlineData(2, 19, 3, 3)]
    [InlineData(4, 24, 1, 1)]
    public void Ilgpu(int n, int c, int h, int w)
    {
        ChannelScaleShape shape = new(n, c, h * w);
        (float[] x, float[] s, float[] dy, float[] dxPrior, float[] dsPrior) = Data(shape);
        Device device = _fixture.Ilgpu;
        using Buffers buffers = new(device);
        ArrayView<float> y = buffers.Filled((int)shape.Elements, Garbage), dx = buffers.Upload(dxPrior), ds = buffers.Upload(dsPrior);
        using ChannelScaleOp op = new(device, shape, buffers.Upload(x), buffers.Upload(s), y, buffers.Upload(dy), dx, ds);
        op.Forward();
        op.Backward();
        Check($"ILGPU {shape}", shape, x, s, dy, dxPrior, dsPrior, buffers.Read(y), buffers.Read(dx), buffers.Read(ds));
    }

    /// <summary>The SIMD backend (NHWC; one and three threads) against the reference.</summary>
    [Theory]
    [InlineData(2, 16, 7, 6)]
    [InlineData(3, 5, 4, 5)]
    [InlineData(2, 19, 3, 3)]
    [InlineData(4, 24, 1, 1)]
    public void Simd(int n, int c, int h, int w) => CheckSimd(n, c, h, w, guarded: false);

    /// <summary>The cases of <see cref="Simd"/> with every tensor (the map, the scale, the output and the three gradients) at
    /// the end of a mapping whose next page may not be touched (see <see cref="GuardedBlock"/>), the kernel built on its own
    /// from their views: a read or write past one (the vector loop over a pixel's channels, the scalar tail) stops the test
    /// run with a segmentation fault. Same checks as <see cref="Simd"/>.</summary>
    /// <param name="n">Batch.</param>
    /// <param name="c">Channels.</param>
    /// <param name="h">Height.</param>
    /// <param name="w">Width.</param>
    [Theory]
    [InlineData(2, 16, 7, 6)]
    [InlineData(3, 5, 4, 5)]
    [InlineData(2, 19, 3, 3)]
    [InlineData(4, 24, 1, 1)]
    public void SimdTouchesNothingPastItsTensors(int n, int c, int h, int w)
    {
        if (OperatingSystem.IsLinux())
        {
            CheckSimd(n, c, h, w, guarded: true);
        }
    }

    private void CheckSimd(int n, int c, int h, int w, bool guarded)
    {
        ChannelScaleShape shape = new(n, c, h * w);
        (float[] x, float[] s, float[] dy, float[] dxPrior, float[] dsPrior) = Data(shape);
        foreach (int threads in new[] { 1, 3 })
        {
            Device device = _fixture.Simd(threads, SimdWidth.Vector256);
            if (guarded)
            {
                // The kernel on its own (as SimdBackend builds it), each tensor at the end of a mapping whose next page may
                // not be touched.
                using GuardedBlock gx = new(Layout.ToNhwc(x, n, c, shape.Spatial)), gs = new(s), gy = new(Enumerable.Repeat(Garbage, (int)shape.Elements).ToArray());
                using GuardedBlock gdy = new(Layout.ToNhwc(dy, n, c, shape.Spatial)), gdx = new(Layout.ToNhwc(dxPrior, n, c, shape.Spatial)), gds = new(dsPrior);
                using (SimdChannelScale kernel = new(device.Pool!, shape, new ChannelScaleBinding(gx.View(), gs.View(), gy.View(), gdy.View(), gdx.View(), gds.View())))
                {
                    kernel.Forward(n);
                    kernel.Backward();
                }

                Check(
                    $"SIMD {shape} {threads} threads, tensors at page ends", shape, x, s, dy, dxPrior, dsPrior,
                    Layout.ToNchw(gy.Read(), n, c, shape.Spatial), Layout.ToNchw(gdx.Read(), n, c, shape.Spatial), gds.Read());
                continue;
            }

            using Buffers buffers = new(device);
            ArrayView<float> y = buffers.Filled((int)shape.Elements, Garbage);
            ArrayView<float> dx = buffers.Upload(Layout.ToNhwc(dxPrior, n, c, shape.Spatial)), ds = buffers.Upload(dsPrior);
            using ChannelScaleOp op = new(
                device, shape, buffers.Upload(Layout.ToNhwc(x, n, c, shape.Spatial)), buffers.Upload(s), y,
                buffers.Upload(Layout.ToNhwc(dy, n, c, shape.Spatial)), dx, ds);
            op.Forward();
            op.Backward();
            Check(
                $"SIMD {shape} {threads} threads", shape, x, s, dy, dxPrior, dsPrior,
                Layout.ToNchw(buffers.Read(y), n, c, shape.Spatial), Layout.ToNchw(buffers.Read(dx), n, c, shape.Spatial), buffers.Read(ds));
        }
    }

    /// <summary>A short scale tensor is refused by name, before any kernel runs.</summary>
    [Fact]
    public void ShortScaleIsRefused()
    {
        Device device = _fixture.Simd(1, SimdWidth.Vector256);
        using Buffers buffers = new(device);
        ChannelScaleShape shape = new(2, 8, 4);
        ArgumentException e = Assert.Throws<ArgumentException>(() => new ChannelScaleOp(
            device, shape, buffers.Filled(64, 0f), buffers.Filled(15, 0f), buffers.Filled(64, 0f)));
        Assert.Equal("ChannelScale: tensor 's' has 15 elements; 16 are needed. (Parameter 's')", e.Message);
        Assert.Throws<ArgumentException>(() => new ChannelScaleShape(1, 0, 4).Validate());
    }

    private static (float[] X, float[] S, float[] Dy, float[] DxPrior, float[] DsPrior) Data(ChannelScaleShape shape)
    {
        Random random = new(Seed("scale", shape.N, shape.Channels, shape.Spatial));
        float[] x = RandomFloats(random, (int)shape.Elements);

        // A sigmoid's output lies in (0, 1).
        float[] s = RandomFloats(random, (int)shape.ScaleElements, 0.5);
        for (int i = 0; i < s.Length; i++)
        {
            s[i] += 0.5f;
        }

        float[] dy = RandomFloats(random, (int)shape.Elements);
        float[] dxPrior = RandomFloats(random, (int)shape.Elements);
        float[] dsPrior = RandomFloats(random, (int)shape.ScaleElements);
        return (x, s, dy, dxPrior, dsPrior);
    }

    // NCHW results against the reference, the gradients on top of their priors.
    private static void Check(
        string what, ChannelScaleShape shape, float[] x, float[] s, float[] dy, float[] dxPrior, float[] dsPrior, float[] y, float[] dx, float[] ds)
    {
        double[] ey = Reference.ChannelScaleForward(D(x), D(s), shape.N, shape.Channels, shape.Spatial);
        (double[] edx, double[] eds) = Reference.ChannelScaleBackward(D(x), D(s), shape.N, shape.Channels, shape.Spatial, D(dy));
        AssertClose($"y {what}", ey, y);
        AssertClose($"dx {what}", Add(D(dxPrior), edx), dx);
        AssertClose($"ds {what}", Add(D(dsPrior), eds), ds);
    }
}
