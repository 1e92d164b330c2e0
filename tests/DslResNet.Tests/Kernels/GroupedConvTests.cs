using System;
using System.Linq;
using DslResNet.Kernels;
using DslResNet.Runtime;
using DslResNet.Kernels.Simd;
using ILGPU;
using ILGPU.Runtime;
using Xunit;
using Device = DslResNet.Runtime.Device;

using static DslResNet.Tests.Kernels.KernelTestData;

namespace DslResNet.Tests.Kernels;

/// <summary>
/// Grouped convolutions (PyTorch's <c>groups</c>: 2, 4, 32 and depthwise, strides 1 and 2, odd sizes) on both backends, forward
/// and both backward passes, against the double-precision <see cref="Reference"/>. The input gradient is checked on top of a
/// non-zero prior (it is accumulated); the output and parameter gradients are pre-filled with garbage (they are overwritten).
/// </summary>
public sealed class GroupedConvTests : IClassFixture<SimdDeviceFixture>
{
    private const float Garbage = 12345.5f;

    private readonly SimdDeviceFixture _fixture;

    /// <summary>The grouped convolution cases: N, Cin, H, W, Cout, K, stride, padding, groups, bias.</summary>
    public static TheoryData<int, int, int, int, int, int, int, int, int, bool> Cases => new()
    {
        { 2, 4, 7, 5, 6, 3, 1, 1, 2, true },
        { 2, 8, 9, 7, 12, 3, 2, 1, 4, false },
        { 1, 64, 6, 5, 64, 3, 1, 1, 32, false },
        { 2, 128, 5, 7, 128, 3, 2, 1, 32, true },
        { 2, 12, 7, 6, 12, 3, 1, 1, 12, false },
        { 1, 10, 9, 9, 20, 5, 2, 2, 10, true },
        { 3, 32, 5, 5, 64, 1, 2, 0, 4, false },
        { 2, 16, 9, 7, 16, 3, 2, 1, 16, true },
        { 1, 64, 7, 6, 64, 3, 1, 1, 8, false },
        { 2, 32, 9, 9, 32, 5, 2, 2, 2, true },
        { 2, 24, 7, 5, 24, 3, 1, 0, 6, false },
        { 1, 16, 5, 11, 16, 3, 1, 1, 16, false },
        { 2, 32, 5, 6, 32, 3, 1, 1, 2, false },
    };

    /// <summary>Takes the shared devices.</summary>
    /// <param name="fixture">The fixture.</param>
    public GroupedConvTests(SimdDeviceFixture fixture)
    {
        _fixture = fixture;
    }

    /// <summary>The ILGPU kernels (NCHW) against the reference.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Ilgpu(int n, int cin, int h, int w, int cout, int k, int stride, int pad, int groups, bool bias)
    {
        ConvShape shape = new(n, cin, h, w, cout, k, stride, pad, bias, groups);
        (float[] x, float[] wt, float[] b, float[] dy, float[] prior) = Data(shape);
        Device device = _fixture.Ilgpu;
        using Buffers buffers = new(device);
        ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage), dx = buffers.Upload(prior);
        ArrayView<float> dw = buffers.Filled(wt.Length, Garbage), db = buffers.Filled(cout, Garbage);
        using ConvOp op = new(device, shape, buffers.Upload(x), buffers.Upload(wt), bias ? buffers.Upload(b) : default, y, buffers.Upload(dy), dx, dw, db);
        op.Forward();
        op.Backward();
        Check($"ILGPU {shape}", shape, x, wt, b, dy, prior, buffers.Read(y), buffers.Read(dx), buffers.Read(dw), bias ? buffers.Read(db) : null);
    }

    /// <summary>The SIMD backend (NHWC, one and three threads) against the reference.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Simd(int n, int cin, int h, int w, int cout, int k, int stride, int pad, int groups, bool bias) =>
        RunSimdCase(n, cin, h, w, cout, k, stride, pad, groups, bias, guarded: false);

    /// <summary>
    /// The cases of <see cref="Simd"/> with every tensor (input, weights, bias, output and the three gradients) at the end of a
    /// mapping whose next page may not be touched (see <see cref="GuardedBlock"/>), the kernel built on its own from their
    /// addresses: a read or write past one stops the test run with a segmentation fault. Both paths (the permute/broadcast
    /// one and the general one, see <see cref="FastPathCoversResNeXtShapes"/>) on one and three threads; same checks as
    /// <see cref="Simd"/>.
    /// </summary>
    /// <param name="n">Batch.</param>
    /// <param name="cin">Input channels.</param>
    /// <param name="h">Height.</param>
    /// <param name="w">Width.</param>
    /// <param name="cout">Output channels.</param>
    /// <param name="k">Kernel.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="pad">Padding.</param>
    /// <param name="groups">Groups.</param>
    /// <param name="bias">Whether there is a bias.</param>
    [Theory]
    [MemberData(nameof(Cases))]
    public void SimdTouchesNothingPastItsTensors(int n, int cin, int h, int w, int cout, int k, int stride, int pad, int groups, bool bias)
    {
        if (OperatingSystem.IsLinux())
        {
            RunSimdCase(n, cin, h, w, cout, k, stride, pad, groups, bias, guarded: true);
        }
    }

    private void RunSimdCase(int n, int cin, int h, int w, int cout, int k, int stride, int pad, int groups, bool bias, bool guarded)
    {
        ConvShape shape = new(n, cin, h, w, cout, k, stride, pad, bias, groups);
        foreach (int threads in new[] { 1, 3 })
        {
            switch ((cin, cout, k, stride, groups))
            {
            case (4, 6, 3, 1, 2):
                CheckSimd<G4x7x5To6K3S1P1G2>(shape, threads, guarded);
                break;
            case (8, 12, 3, 2, 4):
                CheckSimd<G8x9x7To12K3S2P1G4>(shape, threads, guarded);
                break;
            case (64, 64, 3, 1, 32):
                CheckSimd<G64x6x5To64K3S1P1G32>(shape, threads, guarded);
                break;
            case (128, 128, 3, 2, 32):
                CheckSimd<G128x5x7To128K3S2P1G32>(shape, threads, guarded);
                break;
            case (12, 12, 3, 1, 12):
                CheckSimd<G12x7x6To12K3S1P1G12>(shape, threads, guarded);
                break;
            case (10, 20, 5, 2, 10):
                CheckSimd<G10x9x9To20K5S2P2G10>(shape, threads, guarded);
                break;
            case (32, 64, 1, 2, 4):
                CheckSimd<G32x5x5To64K1S2P0G4>(shape, threads, guarded);
                break;
            case (16, 16, 3, 2, 16):
                CheckSimd<G16x9x7To16K3S2P1G16>(shape, threads, guarded);
                break;
            case (64, 64, 3, 1, 8):
                CheckSimd<G64x7x6To64K3S1P1G8>(shape, threads, guarded);
                break;
            case (32, 32, 5, 2, 2):
                CheckSimd<G32x9x9To32K5S2P2G2>(shape, threads, guarded);
                break;
            case (24, 24, 3, 1, 6):
                CheckSimd<G24x7x5To24K3S1P0G6>(shape, threads, guarded);
                break;
            case (16, 16, 3, 1, 16):
                CheckSimd<G16x5x11To16K3S1P1G16>(shape, threads, guarded);
                break;
            case (32, 32, 3, 1, 2):
                CheckSimd<G32x5x6To32K3S1P1G2>(shape, threads, guarded);
                break;
            default:
                throw new ArgumentException($"No geometry for {shape}.");
            }
        }
    }

    /// <summary>
    /// The SIMD permute/broadcast path takes as many input as output channels (a multiple of 8) in groups of 1, 2, 4 or a
    /// multiple of 8 channels: ResNeXt's and depthwise layers. The cases above cover it in every group size (so a break in it
    /// fails them, not only the general path); the other shapes fall back to the general path.
    /// </summary>
    [Fact]
    public void FastPathCoversResNeXtShapes()
    {
        Assert.True(SimdGroupedConvolution<G64x6x5To64K3S1P1G32>.Fast);
        Assert.True(SimdGroupedConvolution<G32x5x6To32K3S1P1G2>.Fast);
        Assert.True(SimdGroupedConvolution<G128x5x7To128K3S2P1G32>.Fast);
        Assert.True(SimdGroupedConvolution<G16x9x7To16K3S2P1G16>.Fast);
        Assert.True(SimdGroupedConvolution<G64x7x6To64K3S1P1G8>.Fast);
        Assert.True(SimdGroupedConvolution<G32x9x9To32K5S2P2G2>.Fast);
        Assert.True(SimdGroupedConvolution<G24x7x5To24K3S1P0G6>.Fast);
        Assert.True(SimdGroupedConvolution<G16x5x11To16K3S1P1G16>.Fast);
        Assert.False(SimdGroupedConvolution<G4x7x5To6K3S1P1G2>.Fast);
        Assert.False(SimdGroupedConvolution<G12x7x6To12K3S1P1G12>.Fast);
        Assert.False(SimdGroupedConvolution<G32x5x5To64K1S2P0G4>.Fast);
    }

    /// <summary>A geometry whose groups disagree with the shape's is refused, naming both.</summary>
    [Fact]
    public void GeometryMustAgreeOnGroups()
    {
        Device device = _fixture.Simd(1, SimdWidth.Vector256);
        using Buffers buffers = new(device);
        ConvShape shape = new(1, 4, 7, 5, 6, 3, 1, 1, true, 1);
        ArgumentException e = Assert.Throws<ArgumentException>(() => ConvOp.Create<G4x7x5To6K3S1P1G2>(
            device, shape, buffers.Filled(140, 0f), buffers.Filled(6 * 4 * 9, 0f), buffers.Filled(6, 0f), buffers.Filled(210, 0f)));
        Assert.Contains(nameof(G4x7x5To6K3S1P1G2), e.Message, StringComparison.Ordinal);
    }

    /// <summary>Groups that do not divide the channels are refused by the shape, with its numbers.</summary>
    [Fact]
    public void GroupsMustDivideChannels()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new ConvShape(1, 6, 5, 5, 8, 3, 1, 1, false, 4).Validate());
        Assert.Contains("Groups = 4", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new ConvShape(1, 6, 5, 5, 6, 3, 1, 1, false, 0).Validate());
    }

    private static (float[] X, float[] W, float[] B, float[] Dy, float[] Prior) Data(ConvShape s)
    {
        Random random = new(Seed(s.N, s.InChannels, s.Height, s.Width, s.OutChannels, s.Kernel, s.Stride, s.Padding, s.Groups));
        float[] x = RandomFloats(random, (int)s.InputElements);
        float[] wt = RandomFloats(random, (int)s.WeightElements, 0.5);
        float[] b = s.Bias ? RandomFloats(random, s.OutChannels) : [];
        float[] dy = RandomFloats(random, (int)s.OutputElements);
        float[] prior = RandomFloats(random, (int)s.InputElements);
        return (x, wt, b, dy, prior);
    }

    // NCHW results against the reference.
    private static void Check(string what, ConvShape s, float[] x, float[] wt, float[] b, float[] dy, float[] prior, float[] y, float[] dx, float[] dw, float[]? db)
    {
        Assert.Equal(s.OutChannels * (s.InChannels / s.Groups) * s.Kernel * s.Kernel, wt.Length);
        double[] ey = Reference.Conv2dForward(D(x), s.N, s.InChannels, s.Height, s.Width, D(wt), s.OutChannels, s.Kernel, s.Bias ? D(b) : null, s.Stride, s.Padding, s.Groups);
        (double[] edx, double[] edw, double[] edb) = Reference.Conv2dBackward(
            D(x), s.N, s.InChannels, s.Height, s.Width, D(wt), s.OutChannels, s.Kernel, s.Stride, s.Padding, D(dy), s.Groups);
        AssertClose($"y {what}", ey, y);
        double[] expectedDx = D(prior);
        for (int i = 0; i < expectedDx.Length; i++)
        {
            expectedDx[i] += edx[i];
        }

        AssertClose($"dx {what}", expectedDx, dx);
        AssertClose($"dw {what}", edw, dw);
        if (db is not null)
        {
            AssertClose($"db {what}", edb, db);
        }
    }

    private void CheckSimd<G>(ConvShape shape, int threads, bool guarded)
        where G : struct, IConvGeometry
    {
        (float[] x, float[] wt, float[] b, float[] dy, float[] prior) = Data(shape);
        Device device = _fixture.Simd(threads, SimdWidth.Vector256);
        int inPixels = shape.Height * shape.Width, outPixels = shape.OutHeight * shape.OutWidth;
        if (guarded)
        {
            CheckGuarded<G>(device, shape, x, wt, b, dy, prior, threads);
            return;
        }

        using Buffers buffers = new(device);
        ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage);
        ArrayView<float> dx = buffers.Upload(Layout.ToNhwc(prior, shape.N, shape.InChannels, inPixels));
        ArrayView<float> dw = buffers.Filled(wt.Length, Garbage);
        ArrayView<float> db = shape.Bias ? buffers.Filled(shape.OutChannels, Garbage) : default;
        using ConvOp op = ConvOp.Create<G>(
            device, shape, buffers.Upload(Layout.ToNhwc(x, shape.N, shape.InChannels, inPixels)), buffers.Upload(wt), shape.Bias ? buffers.Upload(b) : default,
            y, buffers.Upload(Layout.ToNhwc(dy, shape.N, shape.OutChannels, outPixels)), dx, dw, db);

        // Twice: the second pass must not depend on what the first left in the scratch or the partial sums.
        for (int pass = 0; pass < 2; pass++)
        {
            op.Forward();
            op.Backward(data: true);
            if (pass == 0)
            {
                device.Backend.Write(Layout.ToNhwc(prior, shape.N, shape.InChannels, inPixels), dx);
            }
        }

        Check(
            $"SIMD {shape} {threads} threads", shape, x, wt, b, dy, prior,
            Layout.ToNchw(buffers.Read(y), shape.N, shape.OutChannels, outPixels),
            Layout.ToNchw(buffers.Read(dx), shape.N, shape.InChannels, inPixels),
            buffers.Read(dw), shape.Bias ? buffers.Read(db) : null);
    }

    // The kernel on its own (as SimdBackend builds it), every tensor at the end of a mapping whose next page may not be
    // touched; the same two passes and checks as CheckSimd.
    private static void CheckGuarded<G>(Device device, ConvShape shape, float[] x, float[] wt, float[] b, float[] dy, float[] prior, int threads)
        where G : struct, IConvGeometry
    {
        int inPixels = shape.Height * shape.Width, outPixels = shape.OutHeight * shape.OutWidth;
        float[] priorNhwc = Layout.ToNhwc(prior, shape.N, shape.InChannels, inPixels);
        using GuardedBlock gx = new(Layout.ToNhwc(x, shape.N, shape.InChannels, inPixels)), gw = new(wt), gb = new(shape.Bias ? b : [0f]);
        using GuardedBlock gy = new(Enumerable.Repeat(Garbage, (int)shape.OutputElements).ToArray());
        using GuardedBlock gdy = new(Layout.ToNhwc(dy, shape.N, shape.OutChannels, outPixels)), gdx = new(priorNhwc);
        using GuardedBlock gdw = new(Enumerable.Repeat(Garbage, wt.Length).ToArray()), gdb = new(Enumerable.Repeat(Garbage, shape.OutChannels).ToArray());
        var tensors = new ConvTensors(
            gx.Address, gw.Address, shape.Bias ? gb.Address : IntPtr.Zero, gy.Address,
            gdy.Address, gdx.Address, gdw.Address, shape.Bias ? gdb.Address : IntPtr.Zero);
        using (SimdGroupedConvolution<G> kernel = new(device.Pool!, shape.N, shape.Bias, tensors))
        {
            // Twice, as CheckSimd: the second pass must not depend on what the first left in the scratch or the partial sums.
            for (int pass = 0; pass < 2; pass++)
            {
                kernel.Forward(shape.N, weightsChanged: true);
                kernel.Backward(data: true);
                if (pass == 0)
                {
                    priorNhwc.CopyTo(gdx.Span);
                }
            }
        }

        Check(
            $"SIMD {shape} {threads} threads{(SimdGroupedConvolution<G>.Fast ? ", fast path" : "")}, tensors at page ends", shape, x, wt, b, dy, prior,
            Layout.ToNchw(gy.Read(), shape.N, shape.OutChannels, outPixels),
            Layout.ToNchw(gdx.Read(), shape.N, shape.InChannels, inPixels),
            gdw.Read(), shape.Bias ? gdb.Read() : null);
    }

    private readonly struct G4x7x5To6K3S1P1G2 : IConvGeometry
    {
        public static int InChannels => 4;

        public static int Height => 7;

        public static int Width => 5;

        public static int OutChannels => 6;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;

        public static int Groups => 2;
    }

    private readonly struct G8x9x7To12K3S2P1G4 : IConvGeometry
    {
        public static int InChannels => 8;

        public static int Height => 9;

        public static int Width => 7;

        public static int OutChannels => 12;

        public static int Kernel => 3;

        public static int Stride => 2;

        public static int Padding => 1;

        public static int Groups => 4;
    }

    private readonly struct G64x6x5To64K3S1P1G32 : IConvGeometry
    {
        public static int InChannels => 64;

        public static int Height => 6;

        public static int Width => 5;

        public static int OutChannels => 64;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;

        public static int Groups => 32;
    }

    private readonly struct G128x5x7To128K3S2P1G32 : IConvGeometry
    {
        public static int InChannels => 128;

        public static int Height => 5;

        public static int Width => 7;

        public static int OutChannels => 128;

        public static int Kernel => 3;

        public static int Stride => 2;

        public static int Padding => 1;

        public static int Groups => 32;
    }

    private readonly struct G12x7x6To12K3S1P1G12 : IConvGeometry
    {
        public static int InChannels => 12;

        public static int Height => 7;

        public static int Width => 6;

        public static int OutChannels => 12;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;

        public static int Groups => 12;
    }

    private readonly struct G10x9x9To20K5S2P2G10 : IConvGeometry
    {
        public static int InChannels => 10;

        public static int Height => 9;

        public static int Width => 9;

        public static int OutChannels => 20;

        public static int Kernel => 5;

        public static int Stride => 2;

        public static int Padding => 2;

        public static int Groups => 10;
    }

    private readonly struct G32x5x5To64K1S2P0G4 : IConvGeometry
    {
        public static int InChannels => 32;

        public static int Height => 5;

        public static int Width => 5;

        public static int OutChannels => 64;

        public static int Kernel => 1;

        public static int Stride => 2;

        public static int Padding => 0;

        public static int Groups => 4;
    }

    private readonly struct G16x9x7To16K3S2P1G16 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 9;

        public static int Width => 7;

        public static int OutChannels => 16;

        public static int Kernel => 3;

        public static int Stride => 2;

        public static int Padding => 1;

        public static int Groups => 16;
    }

    private readonly struct G64x7x6To64K3S1P1G8 : IConvGeometry
    {
        public static int InChannels => 64;

        public static int Height => 7;

        public static int Width => 6;

        public static int OutChannels => 64;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;

        public static int Groups => 8;
    }

    private readonly struct G32x9x9To32K5S2P2G2 : IConvGeometry
    {
        public static int InChannels => 32;

        public static int Height => 9;

        public static int Width => 9;

        public static int OutChannels => 32;

        public static int Kernel => 5;

        public static int Stride => 2;

        public static int Padding => 2;

        public static int Groups => 2;
    }

    private readonly struct G24x7x5To24K3S1P0G6 : IConvGeometry
    {
        public static int InChannels => 24;

        public static int Height => 7;

        public static int Width => 5;

        public static int OutChannels => 24;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 0;

        public static int Groups => 6;
    }

    private readonly struct G16x5x11To16K3S1P1G16 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 5;

        public static int Width => 11;

        public static int OutChannels => 16;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;

        public static int Groups => 16;
    }

    private readonly struct G32x5x6To32K3S1P1G2 : IConvGeometry
    {
        public static int InChannels => 32;

        public static int Height => 5;

        public static int Width => 6;

        public static int OutChannels => 32;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;

        public static int Groups => 2;
    }
}
