using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.Intrinsics;
using DslResNet.Kernels;
using DslResNet.Kernels.Ilgpu;
using DslResNet.Kernels.Simd;
using DslResNet.Runtime;
using ILGPU;
using ILGPU.Runtime;
using Xunit;
using Device = DslResNet.Runtime.Device;

using static DslResNet.Tests.Kernels.KernelTestData;

namespace DslResNet.Tests.Kernels;

/// <summary>
/// The devices the SIMD kernel tests share: one SIMD device per thread count and vector width, made on first use, and one
/// ILGPU CPU device (the reference path); plus the expected results of each convolution case, computed once.
/// </summary>
public sealed class SimdDeviceFixture : IDisposable
{
    private readonly object _lock = new();
    private readonly Dictionary<(int Threads, SimdWidth Width, bool Winograd), Device> _simd = [];
    private readonly Dictionary<ConvShape, SimdConvCase> _cases = [];
    private Device? _ilgpu;

    /// <summary>The ILGPU CPU accelerator device.</summary>
    public Device Ilgpu
    {
        get
        {
            lock (_lock)
            {
                return _ilgpu ??= Device.Create(DeviceKind.IlgpuCpu);
            }
        }
    }

    /// <summary>The SIMD device with <paramref name="threads"/> threads and vector width <paramref name="width"/>.</summary>
    /// <param name="threads">Threads.</param>
    /// <param name="width">Vector width.</param>
    /// <param name="winograd">Whether 3x3 convolutions may use Winograd's F(2x2, 3x3).</param>
    /// <returns>The device.</returns>
    public Device Simd(int threads, SimdWidth width, bool winograd = true)
    {
        lock (_lock)
        {
            if (!_simd.TryGetValue((threads, width, winograd), out Device? device))
            {
                device = Device.Create(DeviceKind.Cpu, threads, width, winograd, oversubscribe: true);
                _simd[(threads, width, winograd)] = device;
            }

            return device;
        }
    }

    /// <summary>Releases the devices.</summary>
    public void Dispose()
    {
        foreach (Device device in _simd.Values)
        {
            device.Dispose();
        }

        _ilgpu?.Dispose();
    }

    internal SimdConvCase Case(ConvShape shape, Func<ConvShape, SimdConvCase> make)
    {
        lock (_lock)
        {
            if (!_cases.TryGetValue(shape, out SimdConvCase? found))
            {
                found = make(shape);
                _cases[shape] = found;
            }

            return found;
        }
    }
}

/// <summary>A convolution's data (NCHW), its double-precision reference results and the ILGPU kernels' results.</summary>
internal sealed record SimdConvCase(
    float[] X, float[] W, float[] B, float[] Dy, float[] PriorDx,
    double[] RefY, double[] RefDx, double[] RefDw, double[] RefDb,
    float[] IlgpuY, float[] IlgpuDx, float[] IlgpuDw, float[] IlgpuDb);

/// <summary>
/// The SIMD CPU backend (NHWC activations, OIHW weights) through the runtime's ops, against the double-precision
/// <see cref="Reference"/> and against the ILGPU kernels on ILGPU's CPU accelerator (NCHW), at every vector width.
/// Activation gradients are checked on top of a non-zero prior (they are accumulated); parameter gradients and outputs are
/// pre-filled with garbage (they must be overwritten).
/// </summary>
public sealed class SimdKernelTests : IClassFixture<SimdDeviceFixture>
{
    private const double Tolerance = 1e-4;
    private const float Garbage = 12345.5f;

    private readonly SimdDeviceFixture _fixture;

    /// <summary>Takes the shared devices.</summary>
    /// <param name="fixture">The fixture.</param>
    public SimdKernelTests(SimdDeviceFixture fixture)
    {
        _fixture = fixture;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Convolution
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>The convolution geometries, each at every vector width on 2 threads, and three on 1 and 3 threads. The two
    /// that Winograd's F(2x2, 3x3) takes (3x3, stride 1, channels multiples of 16, at least 32 out) run with it (forward and
    /// input gradient) and without it (negative thread counts).</summary>
    /// <returns>N, Cin, H, W, Cout, K, stride, padding, bias, width, threads.</returns>
    public static IEnumerable<object[]> ConvCases()
    {
        int[][] geometries =
        [
            [1, 3, 7, 7, 5, 3, 1, 1, 1],
            [3, 17, 9, 7, 20, 3, 2, 1, 0],
            [2, 16, 11, 13, 33, 7, 2, 3, 1],
            [3, 20, 9, 9, 16, 1, 1, 0, 0],
            [2, 32, 6, 5, 64, 3, 1, 1, 1],
            [4, 64, 7, 7, 64, 3, 1, 1, 0],
            [2, 48, 5, 5, 24, 1, 2, 0, 1],
            [1, 10, 1, 1, 10, 1, 1, 0, 1],
            [2, 16, 6, 7, 20, 3, 1, 1, 1],
            [3, 16, 5, 5, 16, 3, 1, 1, 0],

            // 3x3 at stride 1 read unpadded by the sliding kernels: rows of three blocks (at the left edge, inside, at the
            // right edge), and a single row (the kernel rows above and below it skipped).
            [2, 16, 3, 31, 16, 3, 1, 1, 1],
            [2, 8, 1, 17, 24, 3, 1, 1, 0],

            // 1x1 layers in spans of 30 pixels (1024 input channels): several spans per image, 112 output channels in
            // packed groups of 64, 32 and 16; at stride 2 each span's pixels are gathered.
            [2, 1024, 9, 9, 112, 1, 1, 0, 1],
            [2, 1024, 13, 13, 112, 1, 2, 0, 0],

            // Weight gradients of images larger than the 192 KB the kernels take at a time, with small partials: in blocks
            // of rows (3x3 at stride 1: 25 and 15 rows; at stride 2, 20 output channels read through the padded copy: 13,
            // 13, 13 and 6; 1x1: 12, 12 and 6).
            [2, 16, 40, 40, 32, 3, 1, 1, 1],
            [1, 16, 90, 90, 20, 3, 2, 1, 0],
            [2, 64, 30, 30, 64, 1, 1, 0, 0],

            // Weight gradients from a packed output gradient: 1024 output channels (pixels 4 KB apart), each tap's input
            // channels packed too (64 groups read them; a block's input rows are over 32 KB), 3x3 at stride 2.
            [2, 48, 13, 15, 1024, 3, 2, 1, 1],

            // 1x1 layers with fewer pixels than a span (batch 1 at 3x7): inference splits the output channels between the
            // threads (200 channels: 64 and 144 on 2 threads, 64, 64 and 80 on 3), at stride 1 and 2.
            [1, 1024, 3, 7, 200, 1, 1, 0, 1],
            [1, 1024, 5, 13, 200, 1, 2, 0, 0],

            // One input channel, 3x3 (the nine taps' weight gradient side by side, see WeightsSingleInput): 32 output
            // channels at stride 1, 16 at stride 2 unpadded, and an image in two row blocks (60x60: 47 and 13 rows).
            [2, 1, 9, 11, 32, 3, 1, 1, 1],
            [3, 1, 12, 10, 16, 3, 2, 0, 0],
            [1, 1, 60, 60, 16, 3, 1, 1, 1],
        ];
        List<object[]> data = [];
        foreach (int[] g in geometries)
        {
            foreach (SimdWidth width in new[] { SimdWidth.Vector512, SimdWidth.Vector256, SimdWidth.Scalar })
            {
                data.Add([g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8] == 1, width, 2]);
            }
        }

        data.Add([3, 17, 9, 7, 20, 3, 2, 1, false, SimdWidth.Vector512, 1]);
        data.Add([2, 16, 11, 13, 33, 7, 2, 3, true, SimdWidth.Vector256, 3]);
        data.Add([4, 64, 7, 7, 64, 3, 1, 1, false, SimdWidth.Vector512, 3]);
        data.Add([4, 64, 7, 7, 64, 3, 1, 1, false, SimdWidth.Vector512, -2]);
        data.Add([2, 32, 6, 5, 64, 3, 1, 1, true, SimdWidth.Vector512, -2]);
        data.Add([2, 32, 6, 5, 64, 3, 1, 1, true, SimdWidth.Vector256, -3]);
        data.Add([1, 32, 6, 5, 64, 3, 1, 1, true, SimdWidth.Scalar, 2]);
        data.Add([1, 64, 7, 7, 64, 3, 1, 1, false, SimdWidth.Vector512, 2]);
        // The same on 1 thread: F(4x4, 3x3), 4 tiles; on 2 (above), 2 tiles a thread, so F(2x2, 3x3).
        data.Add([1, 64, 7, 7, 64, 3, 1, 1, true, SimdWidth.Vector512, 1]);

        // Winograd at batch 1 with large transformed weights (256K floats): split by output channels, on AVX2's 16-channel
        // groups (2 and 3 ways) and the wide blocks' 64-channel ones (the scalar width: 2 ways).
        data.Add([1, 128, 5, 4, 128, 3, 1, 1, true, SimdWidth.Vector256, 2]);
        data.Add([1, 128, 5, 4, 128, 3, 1, 1, false, SimdWidth.Vector256, 3]);
        data.Add([1, 128, 5, 4, 128, 3, 1, 1, true, SimdWidth.Scalar, 2]);

        // The same with 9 F(4x4, 3x3) tiles an image (which then takes them; the tiles above are 2, so F(2x2, 3x3)).
        data.Add([1, 128, 12, 10, 128, 3, 1, 1, false, SimdWidth.Vector256, 2]);
        data.Add([1, 128, 12, 10, 128, 3, 1, 1, true, SimdWidth.Scalar, 3]);
        // With 32 registers those 9 tiles take F(2x2, 3x3) at batch 1 on 2 or 3 threads (fewer than 36, with weights over
        // 1 MB), 36 tiles (24x24) F(4x4, 3x3).
        data.Add([1, 128, 12, 10, 128, 3, 1, 1, false, SimdWidth.Vector512, 2]);
        data.Add([1, 128, 24, 24, 128, 3, 1, 1, true, SimdWidth.Vector512, 2]);
        data.Add([1, 128, 24, 24, 128, 3, 1, 1, false, SimdWidth.Scalar, 3]);

        // Inference's F(4x4, 3x3) weights past 16 MB (352 channels: 17.8 MB), images at least as many as threads: passes
        // of whole images (up to 32 tiles, 4 an image here: 2 passes of 4 and 5 images), every thread taking every image of
        // a pass and its share of the output channels (5 packed groups of 64 and one of 32: 2 and 3 shares, the last with
        // the 32 left over; 22 groups of 16 on AVX2). Training takes F(2x2, 3x3) as always.
        data.Add([9, 352, 5, 5, 352, 3, 1, 1, true, SimdWidth.Vector512, 2]);
        data.Add([9, 352, 5, 5, 352, 3, 1, 1, false, SimdWidth.Vector256, 2]);
        data.Add([9, 352, 5, 5, 352, 3, 1, 1, true, SimdWidth.Scalar, 3]);

        // Winograd at batch 1 split by rows of tiles with 16 output channels (one AVX2 group, so no channel split): 3 rows of
        // 4 tiles, 1 and 2 rows on 2 threads, a row each on 3.
        data.Add([1, 16, 11, 13, 16, 3, 1, 1, true, SimdWidth.Vector256, 2]);
        data.Add([1, 16, 11, 13, 16, 3, 1, 1, false, SimdWidth.Vector256, 3]);

        // Rows that do not share out evenly, under 16 MFLOP an image (ResNet-20's 16x28x28 layers: 7 rows of 7 tiles): even
        // runs of tiles across row ends, 25:24 on 2 threads, 16:16:17 on 3, each in passes of at most two rows' tiles that
        // start inside a row (2 and 3 passes of 12-13 and 8-9 tiles, spanning up to 3 rows); and 16x11x13 above on 2 threads,
        // 6:6 tiles of 3 rows of 4.
        data.Add([1, 16, 28, 28, 16, 3, 1, 1, true, SimdWidth.Vector256, 2]);
        data.Add([1, 16, 28, 28, 16, 3, 1, 1, false, SimdWidth.Vector256, 3]);
        data.Add([1, 16, 28, 28, 16, 3, 1, 1, true, SimdWidth.Scalar, 2]);

        // The same at 16 MFLOP an image or more (32x28x28 to 48 channels: 22 MFLOP, 7 rows of F(4x4, 3x3) tiles): a row of
        // tiles a run.
        data.Add([1, 32, 28, 28, 48, 3, 1, 1, true, SimdWidth.Vector256, 2]);
        data.Add([1, 32, 28, 28, 48, 3, 1, 1, false, SimdWidth.Vector256, 3]);
        data.Add([1, 32, 28, 28, 48, 3, 1, 1, true, SimdWidth.Scalar, 2]);

        // F(4x4, 3x3) at batch 1 on a 7x7 image: 4 tiles, fewer than a register block a thread if split by rows, so split
        // by AVX2's 16-channel groups (2 and 3 ways), each thread transforming the whole input.
        data.Add([1, 64, 7, 7, 64, 3, 1, 1, false, SimdWidth.Vector256, 2]);
        data.Add([1, 64, 7, 7, 64, 3, 1, 1, true, SimdWidth.Vector256, 3]);

        // A padded direct layer at batch 1 with 1 MB of weights (stride 2, 128 to 256 channels): split by output channels.
        data.Add([1, 128, 6, 6, 256, 3, 2, 1, true, SimdWidth.Vector256, 2]);
        data.Add([1, 128, 6, 6, 256, 3, 2, 1, false, SimdWidth.Vector256, 3]);
        data.Add([1, 128, 6, 6, 256, 3, 2, 1, true, SimdWidth.Scalar, 2]);
        // The same with 64-wide groups of weights past 768 KB (384 input channels: 864 KB): packed 32 wide, 4 and 3 groups a
        // share; 96 channels leave a last group of 32 (packed 32 anyway); on 1 thread (no split) 64 wide.
        data.Add([1, 384, 6, 6, 128, 3, 2, 1, true, SimdWidth.Vector512, 2]);
        data.Add([1, 384, 6, 6, 128, 3, 2, 1, false, SimdWidth.Scalar, 3]);
        data.Add([1, 384, 5, 5, 96, 3, 2, 1, true, SimdWidth.Scalar, 2]);
        data.Add([1, 384, 5, 5, 96, 3, 2, 1, false, SimdWidth.Vector512, 1]);

        // 1x1: 9 spans over 3 images on 2 threads, runs across image boundaries (112 channels cannot be split: 10 runs);
        // the channel split 3 ways.
        data.Add([3, 1024, 9, 9, 112, 1, 1, 0, true, SimdWidth.Vector512, 2]);
        data.Add([1, 1024, 3, 7, 200, 1, 1, 0, true, SimdWidth.Vector512, 3]);
        data.Add([1, 1024, 5, 13, 200, 1, 2, 0, false, SimdWidth.Vector256, 3]);

        // 1x1 at batch 1 with 1 MB of weights or more (1024 to 320 channels): the output channels split in runs that the
        // threads take as they finish, over all the pixels (5 packed groups of 64, a run each), at stride 1 (3 spans of 30
        // pixels in a unit) and 2; and 1024 to 1040 channels, runs of 128 (8 on 2 threads, 12 on 3, 16 groups of 64), the
        // last taking the 16 channels left over.
        data.Add([1, 1024, 5, 13, 320, 1, 1, 0, true, SimdWidth.Vector256, 2]);
        data.Add([1, 1024, 5, 13, 320, 1, 1, 0, false, SimdWidth.Vector256, 3]);
        data.Add([1, 1024, 5, 13, 320, 1, 1, 0, true, SimdWidth.Vector512, 2]);
        data.Add([1, 1024, 9, 11, 320, 1, 2, 0, false, SimdWidth.Vector256, 2]);
        data.Add([1, 1024, 9, 11, 320, 1, 2, 0, true, SimdWidth.Scalar, 2]);
        // An image of 16 MFLOP or more at batch 1 (a 7x7 stride-2 stem, 19 MFLOP): its rows in four runs a thread (8 of 4
        // output rows on 2 threads, 12 on 3), each padding its rows and their halo.
        data.Add([1, 3, 64, 64, 64, 7, 2, 3, true, SimdWidth.Vector256, 2]);
        data.Add([1, 3, 64, 64, 64, 7, 2, 3, false, SimdWidth.Vector256, 3]);
        data.Add([1, 3, 64, 64, 64, 7, 2, 3, true, SimdWidth.Scalar, 2]);

        data.Add([1, 1024, 3, 5, 1040, 1, 1, 0, true, SimdWidth.Vector256, 2]);
        data.Add([1, 1024, 3, 5, 1040, 1, 1, 0, false, SimdWidth.Vector512, 3]);
        data.Add([1, 1024, 3, 5, 1040, 1, 1, 0, true, SimdWidth.Scalar, 2]);

        // The 1x1 weight gradient as one product of a slice's pixels (see WeightsPointwiseSlice), on 1 thread (2 slices):
        // 4 images of 81 pixels (runs of 279 and 45 pixels on AVX2, across image boundaries) by 4 blocks of input channels,
        // and at stride 2, 6 images of 49 pixels.
        data.Add([8, 1024, 9, 9, 112, 1, 1, 0, true, SimdWidth.Vector256, 1]);
        data.Add([12, 1024, 13, 13, 112, 1, 2, 0, false, SimdWidth.Vector256, 1]);
        data.Add([8, 1024, 9, 9, 112, 1, 1, 0, false, SimdWidth.Scalar, 1]);
        return data;
    }

    /// <summary>
    /// Forward, backward to the input (accumulated), weights and bias (overwritten), against the reference in double and
    /// the ILGPU kernels.
    /// </summary>
    /// <param name="n">Batch.</param>
    /// <param name="cin">Input channels.</param>
    /// <param name="h">Height.</param>
    /// <param name="w">Width.</param>
    /// <param name="cout">Output channels.</param>
    /// <param name="k">Kernel.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="pad">Padding.</param>
    /// <param name="bias">Whether there is a bias.</param>
    /// <param name="width">Vector width.</param>
    /// <param name="threads">Threads; negative: that many, with Winograd's F(2x2, 3x3) turned off.</param>
    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv(int n, int cin, int h, int w, int cout, int k, int stride, int pad, bool bias, SimdWidth width, int threads) =>
        RunConvCase(n, cin, h, w, cout, k, stride, pad, bias, width, threads, guarded: false);

    /// <summary>
    /// The cases of <see cref="Conv"/> with every tensor at the end of a mapping whose next page may not be touched (see
    /// <see cref="GuardedBlock"/>), so that a read or write past one stops the test run with a segmentation fault: layers
    /// read in place (1x1, the sliding 3x3 kernels; the weight gradient of unpadded layers packs a tap's channels in whole
    /// vectors) must stop at the last pixel's channels. Same checks as <see cref="Conv"/>.
    /// </summary>
    /// <param name="n">Batch.</param>
    /// <param name="cin">Input channels.</param>
    /// <param name="h">Height.</param>
    /// <param name="w">Width.</param>
    /// <param name="cout">Output channels.</param>
    /// <param name="k">Kernel.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="pad">Padding.</param>
    /// <param name="bias">Whether there is a bias.</param>
    /// <param name="width">Vector width.</param>
    /// <param name="threads">Threads; negative: that many, with Winograd's F(2x2, 3x3) turned off.</param>
    [Theory]
    [MemberData(nameof(ConvCases))]
    public void ConvTouchesNothingPastItsTensors(int n, int cin, int h, int w, int cout, int k, int stride, int pad, bool bias, SimdWidth width, int threads)
    {
        if (OperatingSystem.IsLinux())
        {
            RunConvCase(n, cin, h, w, cout, k, stride, pad, bias, width, threads, guarded: true);
        }
    }

    private void RunConvCase(int n, int cin, int h, int w, int cout, int k, int stride, int pad, bool bias, SimdWidth width, int threads, bool guarded)
    {
        if (!Available(width))
        {
            return;
        }

        ConvShape shape = new(n, cin, h, w, cout, k, stride, pad, bias);
        switch ((cin, h, w, cout, k, stride, pad))
        {
            case (3, 7, 7, 5, 3, 1, 1):
                CheckConv<G3x7x7To5K3S1P1>(shape, width, threads, guarded);
                break;
            case (17, 9, 7, 20, 3, 2, 1):
                CheckConv<G17x9x7To20K3S2P1>(shape, width, threads, guarded);
                break;
            case (16, 11, 13, 33, 7, 2, 3):
                CheckConv<G16x11x13To33K7S2P3>(shape, width, threads, guarded);
                break;
            case (20, 9, 9, 16, 1, 1, 0):
                CheckConv<G20x9x9To16K1S1P0>(shape, width, threads, guarded);
                break;
            case (32, 6, 5, 64, 3, 1, 1):
                CheckConv<G32x6x5To64K3S1P1>(shape, width, threads, guarded);
                break;
            case (64, 7, 7, 64, 3, 1, 1):
                CheckConv<G64x7x7To64K3S1P1>(shape, width, threads, guarded);
                break;
            case (48, 5, 5, 24, 1, 2, 0):
                CheckConv<G48x5x5To24K1S2P0>(shape, width, threads, guarded);
                break;
            case (48, 13, 15, 1024, 3, 2, 1):
                CheckConv<G48x13x15To1024K3S2P1>(shape, width, threads, guarded);
                break;
            case (1024, 9, 9, 112, 1, 1, 0):
                CheckConv<G1024x9x9To112K1S1P0>(shape, width, threads, guarded);
                break;
            case (1024, 13, 13, 112, 1, 2, 0):
                CheckConv<G1024x13x13To112K1S2P0>(shape, width, threads, guarded);
                break;
            case (128, 6, 6, 256, 3, 2, 1):
                CheckConv<G128x6x6To256K3S2P1>(shape, width, threads, guarded);
                break;
            case (384, 6, 6, 128, 3, 2, 1):
                CheckConv<G384x6x6To128K3S2P1>(shape, width, threads, guarded);
                break;
            case (384, 5, 5, 96, 3, 2, 1):
                CheckConv<G384x5x5To96K3S2P1>(shape, width, threads, guarded);
                break;
            case (1, 9, 11, 32, 3, 1, 1):
                CheckConv<G1x9x11To32K3S1P1>(shape, width, threads, guarded);
                break;
            case (1, 12, 10, 16, 3, 2, 0):
                CheckConv<G1x12x10To16K3S2P0>(shape, width, threads, guarded);
                break;
            case (1, 60, 60, 16, 3, 1, 1):
                CheckConv<G1x60x60To16K3S1P1>(shape, width, threads, guarded);
                break;
            case (128, 5, 4, 128, 3, 1, 1):
                CheckConv<G128x5x4To128K3S1P1>(shape, width, threads, guarded);
                break;
            case (128, 12, 10, 128, 3, 1, 1):
                CheckConv<G128x12x10To128K3S1P1>(shape, width, threads, guarded);
                break;
            case (128, 24, 24, 128, 3, 1, 1):
                CheckConv<G128x24x24To128K3S1P1>(shape, width, threads, guarded);
                break;
            case (352, 5, 5, 352, 3, 1, 1):
                CheckConv<G352x5x5To352K3S1P1>(shape, width, threads, guarded);
                break;
            case (1024, 3, 7, 200, 1, 1, 0):
                CheckConv<G1024x3x7To200K1S1P0>(shape, width, threads, guarded);
                break;
            case (1024, 5, 13, 200, 1, 2, 0):
                CheckConv<G1024x5x13To200K1S2P0>(shape, width, threads, guarded);
                break;
            case (1024, 5, 13, 320, 1, 1, 0):
                CheckConv<G1024x5x13To320K1S1P0>(shape, width, threads, guarded);
                break;
            case (1024, 9, 11, 320, 1, 2, 0):
                CheckConv<G1024x9x11To320K1S2P0>(shape, width, threads, guarded);
                break;
            case (16, 28, 28, 16, 3, 1, 1):
                CheckConv<G16x28x28To16K3S1P1>(shape, width, threads, guarded);
                break;
            case (32, 28, 28, 48, 3, 1, 1):
                CheckConv<G32x28x28To48K3S1P1>(shape, width, threads, guarded);
                break;
            case (3, 64, 64, 64, 7, 2, 3):
                CheckConv<G3x64x64To64K7S2P3>(shape, width, threads, guarded);
                break;
            case (1024, 3, 5, 1040, 1, 1, 0):
                CheckConv<G1024x3x5To1040K1S1P0>(shape, width, threads, guarded);
                break;
            case (10, 1, 1, 10, 1, 1, 0):
                CheckConv<G10x1x1To10K1S1P0>(shape, width, threads, guarded);
                break;
            case (16, 6, 7, 20, 3, 1, 1):
                CheckConv<G16x6x7To20K3S1P1>(shape, width, threads, guarded);
                break;
            case (16, 5, 5, 16, 3, 1, 1):
                CheckConv<G16x5x5To16K3S1P1>(shape, width, threads, guarded);
                break;
            case (16, 3, 31, 16, 3, 1, 1):
                CheckConv<G16x3x31To16K3S1P1>(shape, width, threads, guarded);
                break;
            case (8, 1, 17, 24, 3, 1, 1):
                CheckConv<G8x1x17To24K3S1P1>(shape, width, threads, guarded);
                break;
            case (16, 40, 40, 32, 3, 1, 1):
                CheckConv<G16x40x40To32K3S1P1>(shape, width, threads, guarded);
                break;
            case (16, 90, 90, 20, 3, 2, 1):
                CheckConv<G16x90x90To20K3S2P1>(shape, width, threads, guarded);
                break;
            case (64, 30, 30, 64, 1, 1, 0):
                CheckConv<G64x30x30To64K1S1P0>(shape, width, threads, guarded);
                break;
            case (16, 11, 13, 16, 3, 1, 1):
                CheckConv<G16x11x13To16K3S1P1>(shape, width, threads, guarded);
                break;
            default:
                throw new ArgumentException($"No geometry struct for {shape}.");
        }
    }

    /// <summary>Backward with <c>data: false</c> leaves the input's gradient alone (and still computes the weights' gradient).</summary>
    /// <param name="width">Vector width.</param>
    [Theory]
    [InlineData(SimdWidth.Vector512)]
    [InlineData(SimdWidth.Vector256)]
    [InlineData(SimdWidth.Scalar)]
    public void ConvBackwardWithoutDataLeavesInputGradient(SimdWidth width)
    {
        if (!Available(width))
        {
            return;
        }

        ConvShape shape = new(3, 17, 9, 7, 20, 3, 2, 1, false);
        SimdConvCase c = ConvCase(shape);
        Device device = _fixture.Simd(2, width);
        float[] priorNhwc = Layout.ToNhwc(c.PriorDx, shape.N, shape.InChannels, shape.Height * shape.Width);
        using Buffers buffers = new(device);
        ArrayView<float> dx = buffers.Upload(priorNhwc), dw = buffers.Filled(c.W.Length, Garbage);
        ConvOp op = ConvOp.Create<G17x9x7To20K3S2P1>(
            device, shape, buffers.Upload(Layout.ToNhwc(c.X, shape.N, shape.InChannels, shape.Height * shape.Width)), buffers.Upload(c.W), default,
            buffers.Filled((int)shape.OutputElements, Garbage), buffers.Upload(Layout.ToNhwc(c.Dy, shape.N, shape.OutChannels, shape.OutHeight * shape.OutWidth)),
            dx, dw, default);
        op.Forward();
        op.Backward(data: false);
        Assert.Equal(priorNhwc, buffers.Read(dx));
        AssertClose($"dw {width}", c.RefDw, buffers.Read(dw));
    }

    /// <summary>Forward on the first images of a batch computes those images and leaves the others' outputs alone.</summary>
    /// <param name="width">Vector width.</param>
    /// <param name="threads">Threads.</param>
    /// <param name="images">Images to run.</param>
    [Theory]
    [InlineData(SimdWidth.Vector512, 2, 1)]
    [InlineData(SimdWidth.Vector512, 2, 2)]
    [InlineData(SimdWidth.Vector512, 3, 2)]
    [InlineData(SimdWidth.Vector256, 2, 1)]
    [InlineData(SimdWidth.Vector256, 3, 2)]
    [InlineData(SimdWidth.Scalar, 2, 1)]
    [InlineData(SimdWidth.Scalar, 1, 2)]
    public void ConvForwardOnPartOfTheBatch(SimdWidth width, int threads, int images)
    {
        if (!Available(width))
        {
            return;
        }

        ConvShape shape = new(3, 17, 9, 7, 20, 3, 2, 1, false);
        SimdConvCase c = ConvCase(shape);
        Device device = _fixture.Simd(threads, width);
        int outPixels = shape.OutHeight * shape.OutWidth;
        using Buffers buffers = new(device);
        ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage);
        ConvOp op = ConvOp.Create<G17x9x7To20K3S2P1>(
            device, shape, buffers.Upload(Layout.ToNhwc(c.X, shape.N, shape.InChannels, shape.Height * shape.Width)), buffers.Upload(c.W), default, y);
        op.Forward(images);

        float[] actual = buffers.Read(y);
        int perImage = shape.OutChannels * outPixels;
        float[] computed = Layout.ToNchw(actual[..(images * perImage)], images, shape.OutChannels, outPixels);
        AssertClose($"y of {images} images, {width}, {threads} threads", c.RefY[..(images * perImage)], computed);
        Assert.All(actual[(images * perImage)..], v => Assert.Equal(Garbage, v));
    }

    /// <summary>The cases of <see cref="ConvWithFusedEpilogue"/> (and of its guarded run).</summary>
    public static TheoryData<SimdWidth, int, int, bool> ConvWithFusedEpilogueCases => new()
    {
        { SimdWidth.Vector512, 2, 3, true },
        { SimdWidth.Vector512, 2, 1, true },
        { SimdWidth.Vector512, 3, 1, true },
        { SimdWidth.Vector512, 2, 3, false },
        { SimdWidth.Vector512, 2, 1, false },
        { SimdWidth.Vector256, 2, 2, true },
        { SimdWidth.Scalar, 1, 3, true },
    };

    /// <summary>
    /// An inference convolution (16 to 32 channels, 5x7, with bias) with ReLU, residual add and ReLU fused into its store, as a
    /// network's inference ops are built: with Winograd's F(2x2, 3x3) (odd width: half tiles) and without, on whole and
    /// partial batches, with a batch-1 image split between threads by rows of tiles, against the reference composed in double.
    /// </summary>
    /// <param name="width">Vector width.</param>
    /// <param name="threads">Threads.</param>
    /// <param name="images">Images to run (of 3).</param>
    /// <param name="winograd">Whether Winograd may be used.</param>
    [Theory]
    [MemberData(nameof(ConvWithFusedEpilogueCases))]
    public void ConvWithFusedEpilogue(SimdWidth width, int threads, int images, bool winograd) =>
        CheckConvWithFusedEpilogue(width, threads, images, winograd, guarded: false);

    /// <summary>The cases of <see cref="ConvWithFusedEpilogue"/> with every tensor (input, weights, bias, the residual the store
    /// adds and the output) at the end of a mapping whose next page may not be touched, the convolution built on its own from
    /// their addresses and its epilogue fused as <see cref="SimdBackend.FuseEpilogue"/> fuses it: a read or write past one
    /// stops the test run with a segmentation fault. Same checks as <see cref="ConvWithFusedEpilogue"/>.</summary>
    /// <param name="width">Vector width.</param>
    /// <param name="threads">Threads.</param>
    /// <param name="images">Images to run (of 3).</param>
    /// <param name="winograd">Whether Winograd may be used.</param>
    [Theory]
    [MemberData(nameof(ConvWithFusedEpilogueCases))]
    public void ConvWithFusedEpilogueTouchesNothingPastItsTensors(SimdWidth width, int threads, int images, bool winograd)
    {
        if (OperatingSystem.IsLinux())
        {
            CheckConvWithFusedEpilogue(width, threads, images, winograd, guarded: true);
        }
    }

    /// <summary>
    /// Trained layers' Winograd forwards transform their weights into one block the pool shares (see
    /// SimdPool.EnsureTransformed): a layer called again without new weights (repack false) after another layer used the
    /// block transforms its own again, rather than reading the other layer's.
    /// </summary>
    /// <param name="width">Vector width.</param>
    /// <param name="threads">Threads.</param>
    [Theory]
    [InlineData(SimdWidth.Vector512, 2)]
    [InlineData(SimdWidth.Vector256, 2)]
    [InlineData(SimdWidth.Scalar, 1)]
    public void TrainedLayersShareTheirTransformedWeights(SimdWidth width, int threads)
    {
        if (!Available(width))
        {
            return;
        }

        const int n = 2, cin = 16, cout = 32, pixels = 5 * 7;
        ConvShape shape = new(n, cin, 5, 7, cout, 3, 1, 1, false);
        Random random = new(Seed(threads, 2, 13));
        float[] x = RandomFloats(random, (int)shape.InputElements);
        float[] wa = RandomFloats(random, (int)shape.WeightElements, 0.5), wb = RandomFloats(random, (int)shape.WeightElements, 0.5);
        Device device = _fixture.Simd(threads, width);
        using GuardedBlock gx = new(Layout.ToNhwc(x, n, cin, pixels)), gwa = new(wa), gwb = new(wb);
        using GuardedBlock gya = new(new float[shape.OutputElements]), gyb = new(new float[shape.OutputElements]);
        using GuardedBlock gdwa = new(new float[shape.WeightElements]), gdwb = new(new float[shape.WeightElements]);
        using SimdConvolution a = SimdConvolution.Create<G16x5x7To32K3S1P1>(device.Pool!, width, n, false, new ConvTensors(gx.Address, gwa.Address, IntPtr.Zero, gya.Address, IntPtr.Zero, IntPtr.Zero, gdwa.Address, IntPtr.Zero), true);
        using SimdConvolution b = SimdConvolution.Create<G16x5x7To32K3S1P1>(device.Pool!, width, n, false, new ConvTensors(gx.Address, gwb.Address, IntPtr.Zero, gyb.Address, IntPtr.Zero, IntPtr.Zero, gdwb.Address, IntPtr.Zero), true);
        a.Forward(n, repack: true);
        float[] first = gya.Read();
        b.Forward(n, repack: true);
        a.Forward(n, repack: false);
        Assert.True(a.UsedWinograd && b.UsedWinograd);
        Assert.Equal(2, a.WinogradTile);
        string what = $"{width}, {threads} threads";
        AssertClose($"layer A after layer B used the shared block, {what}", Reference.Conv2dForward(D(x), n, cin, 5, 7, D(wa), cout, 3, null, 1, 1), Layout.ToNchw(gya.Read(), n, cout, pixels));
        AssertClose($"layer B, {what}", Reference.Conv2dForward(D(x), n, cin, 5, 7, D(wb), cout, 3, null, 1, 1), Layout.ToNchw(gyb.Read(), n, cout, pixels));
        Assert.Equal(first, gya.Read());
    }

    /// <summary>
    /// An inference convolution whose 64-wide weight groups outgrow L2 (384 input channels, 3x3: 864 KB a group), with bias,
    /// ReLU, residual add and ReLU fused into its store: at as many images as threads it runs each group a kernel row at a
    /// time (the first row stored, the next added, the last finished with the bias and epilogue; AVX2's 16-wide groups
    /// fit and run whole), on whole and partial batches, against the reference composed in double.
    /// </summary>
    /// <param name="width">Vector width.</param>
    /// <param name="threads">Threads.</param>
    /// <param name="images">Images to run (of 3).</param>
    [Theory]
    [InlineData(SimdWidth.Vector512, 2, 3)]
    [InlineData(SimdWidth.Vector512, 2, 1)]
    [InlineData(SimdWidth.Vector512, 1, 2)]
    [InlineData(SimdWidth.Vector256, 2, 3)]
    [InlineData(SimdWidth.Scalar, 3, 3)]
    public void ConvByKernelRowsWithFusedEpilogue(SimdWidth width, int threads, int images)
    {
        if (!Available(width))
        {
            return;
        }

        const int n = 3, cin = 384, cout = 96, size = 5, outPixels = 3 * 3;
        ConvShape shape = new(n, cin, size, size, cout, 3, 2, 1, true);
        Random random = new(Seed(threads, images, 13));
        float[] x = RandomFloats(random, (int)shape.InputElements);
        float[] wt = RandomFloats(random, (int)shape.WeightElements, 0.1);
        float[] b = RandomFloats(random, cout);
        float[] r = RandomFloats(random, (int)shape.OutputElements);
        double[] conv = Reference.Conv2dForward(D(x), n, cin, size, size, D(wt), cout, 3, D(b), 2, 1);
        double[] expected = new double[images * cout * outPixels];
        for (int i = 0; i < expected.Length; i++)
        {
            expected[i] = Math.Max(0, Math.Max(0, conv[i]) + r[i]);
        }

        Device device = _fixture.Simd(threads, width);
        using Buffers buffers = new(device);
        ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage);
        ConvOp op = ConvOp.Create<G384x5x5To96K3S2P1>(device, shape, buffers.Upload(Layout.ToNhwc(x, n, cin, size * size)), buffers.Upload(wt), buffers.Upload(b), y);
        EpilogueShape e = new(n, cout, outPixels, false, false, Activation.ReLU, true, Activation.ReLU, 1e-5f, 0.1f);
        EpilogueOp epilogue = new(device, e, y, default, default, buffers.Upload(Layout.ToNhwc(r, n, cout, outPixels)), y);
        op.FuseEpilogue(epilogue);
        Assert.True(epilogue.FusedIntoConvolution);
        op.Forward(images);
        epilogue.Forward(images);
        Assert.Equal(width != SimdWidth.Vector256, ((SimdConvolution)op.Kernel).UsedKernelRows);
        float[] actual = buffers.Read(y);

        int perImage = cout * outPixels;
        AssertClose($"kernel rows, fused epilogue, {images} images, {width}, {threads} threads", expected, Layout.ToNchw(actual[..(images * perImage)], images, cout, outPixels));
        Assert.All(actual[(images * perImage)..], v => Assert.Equal(Garbage, v));
    }

    private void CheckConvWithFusedEpilogue(SimdWidth width, int threads, int images, bool winograd, bool guarded)
    {
        if (!Available(width))
        {
            return;
        }

        const int n = 3, cin = 16, cout = 32, pixels = 5 * 7;
        ConvShape shape = new(n, cin, 5, 7, cout, 3, 1, 1, true);
        Random random = new(Seed(threads, images, 11));
        float[] x = RandomFloats(random, (int)shape.InputElements);
        float[] wt = RandomFloats(random, (int)shape.WeightElements, 0.5);
        float[] b = RandomFloats(random, cout);
        float[] r = RandomFloats(random, (int)shape.OutputElements);
        double[] conv = Reference.Conv2dForward(D(x), n, cin, 5, 7, D(wt), cout, 3, D(b), 1, 1);
        double[] expected = new double[images * cout * pixels];
        for (int i = 0; i < expected.Length; i++)
        {
            expected[i] = Math.Max(0, Math.Max(0, conv[i]) + r[i]);
        }

        Device device = _fixture.Simd(threads, width, winograd);
        float[] actual;
        if (guarded)
        {
            // The convolution on its own, its ReLU, add and ReLU fused into the store; each tensor at the end of a mapping
            // whose next page may not be touched (see GuardedBlock).
            using GuardedBlock gx = new(Layout.ToNhwc(x, n, cin, pixels)), gw = new(wt), gb = new(b);
            using GuardedBlock gr = new(Layout.ToNhwc(r, n, cout, pixels)), gy = new(Enumerable.Repeat(Garbage, (int)shape.OutputElements).ToArray());
            var tensors = new ConvTensors(gx.Address, gw.Address, gb.Address, gy.Address, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero);
            using (SimdConvolution kernel = SimdConvolution.Create<G16x5x7To32K3S1P1>(device.Pool!, width, n, true, tensors, winograd))
            {
                kernel.FuseEpilogue(relu1: true, gr.Address, relu2: true);
                kernel.Forward(images, repack: true);
                Assert.Equal(winograd, kernel.UsedWinograd);
            }

            actual = gy.Read();
        }
        else
        {
            using Buffers buffers = new(device);
            ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage);
            ConvOp op = ConvOp.Create<G16x5x7To32K3S1P1>(device, shape, buffers.Upload(Layout.ToNhwc(x, n, cin, pixels)), buffers.Upload(wt), buffers.Upload(b), y);
            EpilogueShape e = new(n, cout, pixels, false, false, Activation.ReLU, true, Activation.ReLU, 1e-5f, 0.1f);
            EpilogueOp epilogue = new(device, e, y, default, default, buffers.Upload(Layout.ToNhwc(r, n, cout, pixels)), y);
            op.FuseEpilogue(epilogue);
            Assert.True(epilogue.FusedIntoConvolution);
            op.Forward(images);
            epilogue.Forward(images);
            Assert.Equal(winograd, ((SimdConvolution)op.Kernel).UsedWinograd);
            actual = buffers.Read(y);
        }

        int perImage = cout * pixels;
        AssertClose($"fused epilogue, {images} images, {width}, {threads} threads, Winograd {winograd}{(guarded ? ", tensors at page ends" : "")}", expected, Layout.ToNchw(actual[..(images * perImage)], images, cout, pixels));
        Assert.All(actual[(images * perImage)..], v => Assert.Equal(Garbage, v));
    }

    private void CheckConv<G>(ConvShape shape, SimdWidth width, int threads, bool guarded)
        where G : struct, IConvGeometry
    {
        SimdConvCase c = ConvCase(shape);
        Device device = _fixture.Simd(Math.Abs(threads), width, winograd: threads > 0);
        Assert.Equal(width, device.Width);
        int inPixels = shape.Height * shape.Width, outPixels = shape.OutHeight * shape.OutWidth;
        bool winograd = threads > 0 && shape.Kernel == 3 && shape.Stride == 1 && shape.Padding == 1 && shape.InChannels % 16 == 0 && shape.OutChannels % 16 == 0;
        float[] x = Layout.ToNhwc(c.X, shape.N, shape.InChannels, inPixels), dy = Layout.ToNhwc(c.Dy, shape.N, shape.OutChannels, outPixels);
        float[] priorDx = Layout.ToNhwc(c.PriorDx, shape.N, shape.InChannels, inPixels);
        float[] actualY, actualDx, actualDw, actualDb, inferenceY;
        bool usedWinograd, usedWinogradForInputGradient, inferenceWinograd;
        int winogradTile, inferenceTile;
        if (guarded)
        {
            // The kernel on its own, every tensor at the end of a mapping whose next page may not be touched.
            using GuardedBlock gx = new(x), gw = new(c.W), gb = new(shape.Bias ? c.B : [0f]), gy = new(Enumerable.Repeat(Garbage, (int)shape.OutputElements).ToArray());
            using GuardedBlock gdy = new(dy), gdx = new(priorDx), gdw = new(Enumerable.Repeat(Garbage, c.W.Length).ToArray()), gdb = new(Enumerable.Repeat(Garbage, shape.OutChannels).ToArray());
            var tensors = new ConvTensors(gx.Address, gw.Address, shape.Bias ? gb.Address : IntPtr.Zero, gy.Address, gdy.Address, gdx.Address, gdw.Address, shape.Bias ? gdb.Address : IntPtr.Zero);
            using SimdConvolution kernel = SimdConvolution.Create<G>(device.Pool!, width, shape.N, shape.Bias, tensors, winograd: threads > 0);
            kernel.Forward(shape.N, repack: true);
            (usedWinograd, winogradTile) = (kernel.UsedWinograd, kernel.WinogradTile);
            kernel.Backward(data: true);
            usedWinogradForInputGradient = kernel.UsedWinogradForInputGradient;
            (actualY, actualDx, actualDw, actualDb) = (gy.Read(), gdx.Read(), gdw.Read(), gdb.Read());

            // The same layer in an inference pass (no gradients bound).
            using GuardedBlock gyi = new(Enumerable.Repeat(Garbage, (int)shape.OutputElements).ToArray());
            using SimdConvolution inference = SimdConvolution.Create<G>(device.Pool!, width, shape.N, shape.Bias, new ConvTensors(gx.Address, gw.Address, shape.Bias ? gb.Address : IntPtr.Zero, gyi.Address, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero), winograd: threads > 0);
            inference.Forward(shape.N, repack: true);
            (inferenceWinograd, inferenceTile, inferenceY) = (inference.UsedWinograd, inference.WinogradTile, gyi.Read());
        }
        else
        {
            using Buffers buffers = new(device);
            ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage);
            ArrayView<float> dx = buffers.Upload(priorDx);
            ArrayView<float> dw = buffers.Filled(c.W.Length, Garbage);
            ArrayView<float> db = shape.Bias ? buffers.Filled(shape.OutChannels, Garbage) : default;
            ConvOp op = ConvOp.Create<G>(
                device, shape, buffers.Upload(x), buffers.Upload(c.W), shape.Bias ? buffers.Upload(c.B) : default,
                y, buffers.Upload(dy), dx, dw, db);
            op.Forward();
            var kernel = (SimdConvolution)op.Kernel;
            (usedWinograd, winogradTile) = (kernel.UsedWinograd, kernel.WinogradTile);
            op.Backward(data: true);
            usedWinogradForInputGradient = ((SimdConvolution)op.Kernel).UsedWinogradForInputGradient;
            (actualY, actualDx, actualDw, actualDb) = (buffers.Read(y), buffers.Read(dx), buffers.Read(dw), shape.Bias ? buffers.Read(db) : []);

            // The same layer in an inference pass (no gradients bound).
            ArrayView<float> yi = buffers.Filled((int)shape.OutputElements, Garbage);
            ConvOp inference = ConvOp.Create<G>(device, shape, buffers.Upload(x), buffers.Upload(c.W), shape.Bias ? buffers.Upload(c.B) : default, yi);
            inference.Forward();
            var inferenceKernel = (SimdConvolution)inference.Kernel;
            (inferenceWinograd, inferenceTile, inferenceY) = (inferenceKernel.UsedWinograd, inferenceKernel.WinogradTile, buffers.Read(yi));
        }

        // 16 output channels: direct on AVX-512 (and the scalar blocks, sized as AVX-512's), Winograd on AVX2.
        int fewest = width == SimdWidth.Vector256 ? 16 : 32;
        Assert.Equal(winograd && shape.OutChannels >= fewest, usedWinograd);
        Assert.Equal(usedWinograd, inferenceWinograd);
        // Training takes F(2x2, 3x3) tiles; inference F(4x4, 3x3) unless a pass has fewer than 9 of them and their
        // transformed weights pass 1 MB. A pass takes whole images where an image's tiles fit one (at least 14 tiles, 32
        // where the weights pass 16 MB), as many as a thread's share of the batch. With 32 registers (AVX-512, scalar) and
        // fewer images than threads, F(4x4, 3x3) also needs 36 tiles where the weights pass 1 MB and 6 tiles a thread where
        // they do not.
        int tilesHigh = (shape.Height + 3) / 4, tilesWide = (shape.Width + 3) / 4;
        int tilesPerImage = tilesHigh * tilesWide;
        bool largeWeights = 36L * shape.InChannels * shape.OutChannels > 256 * 1024;
        int leastPassTiles = 36L * shape.InChannels * shape.OutChannels >= 4L << 20 ? 32 : 14;
        int imagesPerPass = Math.Min(tilesHigh, (14 + tilesWide - 1) / tilesWide) < tilesHigh ? 1 : (leastPassTiles + tilesPerImage - 1) / tilesPerImage;
        int passTiles = tilesPerImage * Math.Min(imagesPerPass, Math.Max(1, shape.N / Math.Abs(threads)));
        bool imageSplit = shape.N < Math.Abs(threads) && width != SimdWidth.Vector256;
        int tile = largeWeights && passTiles < 9 ? 2
            : !imageSplit ? 4
            : largeWeights ? (tilesPerImage >= 36 ? 4 : 2)
            : (tilesPerImage / Math.Abs(threads) >= 6 ? 4 : 2);
        Assert.Equal(usedWinograd ? 2 : 0, winogradTile);
        Assert.Equal(usedWinograd ? tile : 0, inferenceTile);
        Assert.Equal(winograd && shape.InChannels >= fewest, usedWinogradForInputGradient);

        string what = $"{shape} {width} {Math.Abs(threads)} threads{(threads > 0 ? "" : ", Winograd off")}{(guarded ? ", tensors at page ends" : "")}";
        actualY = Layout.ToNchw(actualY, shape.N, shape.OutChannels, outPixels);
        actualDx = Layout.ToNchw(actualDx, shape.N, shape.InChannels, inPixels);
        inferenceY = Layout.ToNchw(inferenceY, shape.N, shape.OutChannels, outPixels);
        // F(4x4, 3x3)'s rounding: its transforms' coefficients (up to 5 on the input, 8 on the output) add errors of about
        // 1e-5 of the output's scale, up to 1.8e-4 by this measure at 128 input channels, growing with the channels added
        // up (4.6e-4 at 352, the same with the threads' shares of the channels as without); F(2x2, 3x3) and the direct
        // convolution stay within 1e-4.
        double largeTileTolerance = 3e-4 * Math.Max(1.0, shape.InChannels / 128.0);
        double yTolerance = winogradTile == 4 ? largeTileTolerance : Tolerance;
        AssertClose($"y {what} vs reference", c.RefY, actualY, yTolerance);
        AssertClose($"y {what}, inference pass, vs reference", c.RefY, inferenceY, inferenceTile == 4 ? largeTileTolerance : Tolerance);
        AssertClose($"dx {what} vs reference", c.RefDx, actualDx);
        AssertClose($"dw {what} vs reference", c.RefDw, actualDw);
        AssertClose($"y {what} vs ILGPU", D(c.IlgpuY), actualY, yTolerance);
        AssertClose($"dx {what} vs ILGPU", D(c.IlgpuDx), actualDx);
        AssertClose($"dw {what} vs ILGPU", D(c.IlgpuDw), actualDw);
        if (shape.Bias)
        {
            AssertClose($"db {what} vs reference", c.RefDb, actualDb);
            AssertClose($"db {what} vs ILGPU", D(c.IlgpuDb), actualDb);
        }
    }

    // The data of a convolution case (NCHW), the reference's results and the ILGPU kernels' results, computed once per shape.
    private SimdConvCase ConvCase(ConvShape shape) => _fixture.Case(shape, s =>
    {
        Random random = new(Seed(s.N, s.InChannels, s.Height, s.Width, s.OutChannels, s.Kernel, s.Stride, s.Padding));
        float[] x = RandomFloats(random, (int)s.InputElements);
        float[] wt = RandomFloats(random, (int)s.WeightElements, 0.5);
        float[] b = s.Bias ? RandomFloats(random, s.OutChannels) : [];
        float[] dy = RandomFloats(random, (int)s.OutputElements);
        float[] prior = RandomFloats(random, (int)s.InputElements);

        double[] refY = Reference.Conv2dForward(D(x), s.N, s.InChannels, s.Height, s.Width, D(wt), s.OutChannels, s.Kernel, s.Bias ? D(b) : null, s.Stride, s.Padding);
        (double[] edx, double[] edw, double[] edb) = Reference.Conv2dBackward(
            D(x), s.N, s.InChannels, s.Height, s.Width, D(wt), s.OutChannels, s.Kernel, s.Stride, s.Padding, D(dy));

        Device ilgpu = _fixture.Ilgpu;
        using Buffers buffers = new(ilgpu);
        ArrayView<float> y = buffers.Filled((int)s.OutputElements, Garbage), dx = buffers.Upload(prior);
        ArrayView<float> dw = buffers.Filled(wt.Length, Garbage), db = buffers.Filled(s.OutChannels, Garbage);
        ConvOp op = new(ilgpu, s, buffers.Upload(x), buffers.Upload(wt), s.Bias ? buffers.Upload(b) : default, y, buffers.Upload(dy), dx, dw, db);
        op.Forward();
        op.Backward();
        return new SimdConvCase(
            x, wt, b, dy, prior, refY, Add(D(prior), edx), edw, edb, buffers.Read(y), buffers.Read(dx), buffers.Read(dw), buffers.Read(db));
    });

    // ------------------------------------------------------------------------------------------------------------
    // The fused epilogue y = act2(act1(bn(x)) + r)
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Training-mode batch norm, ReLU, residual add, ReLU: y and the running statistics, then dx and dr (accumulated),
    /// dgamma and dbeta (overwritten), against the reference composed in double. 16 channels take the vector path, 20 the scalar one;
    /// 64 channels over 147 pixels split the backward's sums into 4 runs of channels (one unit of pixels, two threads);
    /// 288 channels take the element-wise passes in two blocks (256 and 32, see SimdEpilogue's BlockChannels).
    /// </summary>
    /// <param name="width">Vector width.</param>
    /// <param name="channels">Channels.</param>
    [Theory]
    [InlineData(SimdWidth.Vector512, 16)]
    [InlineData(SimdWidth.Vector512, 20)]
    [InlineData(SimdWidth.Vector256, 16)]
    [InlineData(SimdWidth.Vector256, 20)]
    [InlineData(SimdWidth.Scalar, 16)]
    [InlineData(SimdWidth.Scalar, 20)]
    [InlineData(SimdWidth.Vector512, 64)]
    [InlineData(SimdWidth.Vector256, 64)]
    [InlineData(SimdWidth.Scalar, 64)]
    [InlineData(SimdWidth.Vector512, 288)]
    [InlineData(SimdWidth.Vector256, 288)]
    public void EpilogueTraining(SimdWidth width, int channels) => CheckTraining(width, channels, Activation.ReLU, Activation.ReLU);

    /// <summary>The cases of <see cref="EpilogueTraining"/> with every tensor at the end of a mapping whose next page may not be
    /// touched: a read or write past one stops the test run with a segmentation fault.</summary>
    /// <param name="width">Vector width.</param>
    /// <param name="channels">Channels.</param>
    [Theory]
    [InlineData(SimdWidth.Vector512, 16)]
    [InlineData(SimdWidth.Vector512, 20)]
    [InlineData(SimdWidth.Vector256, 16)]
    [InlineData(SimdWidth.Vector256, 20)]
    [InlineData(SimdWidth.Scalar, 16)]
    [InlineData(SimdWidth.Scalar, 20)]
    [InlineData(SimdWidth.Vector256, 64)]
    public void EpilogueTrainingTouchesNothingPastItsTensors(SimdWidth width, int channels)
    {
        if (OperatingSystem.IsLinux())
        {
            CheckTraining(width, channels, Activation.ReLU, Activation.ReLU, guarded: true);
        }
    }

    /// <summary>The cases of <see cref="EpilogueTrainingInputActivations"/> (and of its guarded run).</summary>
    public static TheoryData<SimdWidth, Activation, Activation> EpilogueTrainingInputActivationsCases => new()
    {
        { SimdWidth.Vector256, Activation.GELU, Activation.SiLU },
        { SimdWidth.Vector256, Activation.SiLU, Activation.GELU },
        { SimdWidth.Scalar, Activation.None, Activation.GELU },
        { SimdWidth.Scalar, Activation.Tanh, Activation.SiLU },
        { SimdWidth.Vector512, Activation.ReLU, Activation.GELU },
    };

    /// <summary>
    /// The same with activations whose backward needs their input (GELU, SiLU; the scalar path recomputes it from x, the
    /// statistics and the residual), and with tanh before one of them.
    /// </summary>
    /// <param name="width">Vector width.</param>
    /// <param name="act1">Activation after batch norm.</param>
    /// <param name="act2">Activation after the add.</param>
    [Theory]
    [MemberData(nameof(EpilogueTrainingInputActivationsCases))]
    public void EpilogueTrainingInputActivations(SimdWidth width, Activation act1, Activation act2)
    {
        CheckTraining(width, 16, act1, act2);
        CheckTraining(width, 20, act1, act2);
    }

    /// <summary>The cases of <see cref="EpilogueTrainingInputActivations"/> with every tensor at the end of a mapping whose
    /// next page may not be touched: a read or write past one (the activations' backward reading the input, the statistics
    /// and the residual) stops the test run with a segmentation fault.</summary>
    /// <param name="width">Vector width.</param>
    /// <param name="act1">Activation after batch norm.</param>
    /// <param name="act2">Activation after the add.</param>
    [Theory]
    [MemberData(nameof(EpilogueTrainingInputActivationsCases))]
    public void EpilogueTrainingInputActivationsTouchNothingPastTheirTensors(SimdWidth width, Activation act1, Activation act2)
    {
        if (OperatingSystem.IsLinux())
        {
            CheckTraining(width, 16, act1, act2, guarded: true);
            CheckTraining(width, 20, act1, act2, guarded: true);
        }
    }

    private void CheckTraining(SimdWidth width, int channels, Activation act1, Activation act2, bool guarded = false)
    {
        if (!Available(width))
        {
            return;
        }

        const int n = 3, spatial = 49;
        const float eps = 1e-5f, momentum = 0.1f;
        Random random = new(Seed(channels, spatial));
        EpilogueShape shape = new(n, channels, spatial, true, true, act1, true, act2, eps, momentum);
        string what = $"epilogue {act1}+add+{act2} {width} {n}x{channels}x{spatial}";
        int count = n * channels * spatial;
        float[] x = RandomFloats(random, count, 2.0);
        float[] r = RandomFloats(random, count);
        float[] dy = RandomFloats(random, count);
        float[] priorDx = RandomFloats(random, count);
        float[] priorDr = RandomFloats(random, count);
        float[] bn = BatchNormParameters(random, channels);
        (double[] gamma, double[] beta, double[] runningMean, double[] runningVar) = Split(bn, channels);

        Device device = _fixture.Simd(2, width);
        float[] actualY, actualDx, actualDr, gradients, bnAfter;
        if (guarded)
        {
            // Each tensor at the end of a mapping whose next page may not be touched (see GuardedBlock).
            using GuardedBlock gInput = new(Layout.ToNhwc(x, n, channels, spatial)), gbn = new(bn), gr = new(Layout.ToNhwc(r, n, channels, spatial));
            using GuardedBlock gy = new(Enumerable.Repeat(Garbage, count).ToArray()), gdy = new(Layout.ToNhwc(dy, n, channels, spatial));
            using GuardedBlock gdx = new(Layout.ToNhwc(priorDx, n, channels, spatial)), gdr = new(Layout.ToNhwc(priorDr, n, channels, spatial));
            using GuardedBlock gdbn = new(Enumerable.Repeat(Garbage, 2 * channels).ToArray());
            using (SimdEpilogue epilogue = SimdEpilogue.Create(device.Pool!, width, shape, new EpilogueTensors(gInput.Address, gbn.Address, gr.Address, gy.Address, gdy.Address, gdx.Address, gdr.Address, gdbn.Address)))
            {
                epilogue.Forward(n);
                epilogue.Backward();
            }

            (actualY, actualDx, actualDr, gradients, bnAfter) = (gy.Read(), gdx.Read(), gdr.Read(), gdbn.Read(), gbn.Read());
        }
        else
        {
            using Buffers buffers = new(device);
            ArrayView<float> bnView = buffers.Upload(bn);
            ArrayView<float> y = buffers.Filled(count, Garbage);
            ArrayView<float> dx = buffers.Upload(Layout.ToNhwc(priorDx, n, channels, spatial));
            ArrayView<float> dr = buffers.Upload(Layout.ToNhwc(priorDr, n, channels, spatial));
            ArrayView<float> dbn = buffers.Filled(2 * channels, Garbage);
            EpilogueOp op = new(
                device, shape, buffers.Upload(Layout.ToNhwc(x, n, channels, spatial)), bnView, buffers.Filled(4 * channels, Garbage),
                buffers.Upload(Layout.ToNhwc(r, n, channels, spatial)), y, buffers.Upload(Layout.ToNhwc(dy, n, channels, spatial)), dx, dr, dbn);
            op.Forward();
            op.Backward();
            (actualY, actualDx, actualDr, gradients, bnAfter) = (buffers.Read(y), buffers.Read(dx), buffers.Read(dr), buffers.Read(dbn), buffers.Read(bnView));
        }

        // The reference, composed: z = bn(x), a = act1(z), s = a + r, y = act2(s), and back.
        (double[] z, double[] batchMean, double[] batchVar) = Reference.BatchNorm2dTrainForward(D(x), n, channels, spatial, 1, gamma, beta, eps);
        double[] s = Add(IlgpuKernelTests.ActivationForward(z, act1), D(r));
        double[] expectedY = IlgpuKernelTests.ActivationForward(s, act2);
        double[] gs = IlgpuKernelTests.ActivationBackward(s, D(dy), act2);
        double[] gz = IlgpuKernelTests.ActivationBackward(z, gs, act1);
        (double[] gx, double[] dgamma, double[] dbeta) = Reference.BatchNorm2dTrainBackward(D(x), n, channels, spatial, 1, gamma, eps, gz);
        Reference.BatchNorm2dUpdateRunningStats(runningMean, runningVar, batchMean, batchVar, n * spatial, momentum);

        AssertClose($"{what}: y", expectedY, Layout.ToNchw(actualY, n, channels, spatial));
        AssertClose($"{what}: dx", Add(D(priorDx), gx), Layout.ToNchw(actualDx, n, channels, spatial));
        AssertClose($"{what}: dr", Add(D(priorDr), gs), Layout.ToNchw(actualDr, n, channels, spatial));
        AssertClose($"{what}: dgamma", dgamma, gradients[..channels]);
        AssertClose($"{what}: dbeta", dbeta, gradients[channels..]);
        AssertClose($"{what}: gamma and beta unchanged", gamma.Concat(beta).ToArray(), bnAfter[..(2 * channels)], 0);
        AssertClose($"{what}: running mean", runningMean, bnAfter[(2 * channels)..(3 * channels)]);
        AssertClose($"{what}: running variance", runningVar, bnAfter[(3 * channels)..]);
    }

    /// <summary>
    /// The same epilogue after a convolution whose forward pass adds up the batch statistics (a fused sink) gives the
    /// output and running statistics of the unfused epilogue, which computes its statistics itself.
    /// </summary>
    /// <param name="width">Vector width.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="threads">Threads.</param>
    /// <param name="kernel">The convolution's kernel: 3 (padded) or 1 (the 1x1 forward's runs of pixels).</param>
    /// <param name="inChannels">The convolution's input channels: 8, or 16 for the layers Winograd's F(2x2, 3x3) takes in
    /// training (16 output channels on AVX2 and in scalar code, 32 on AVX-512), the statistics then added up from its tiles.</param>
    /// <param name="n">Images: 3, or 1 (a Winograd layer's image split by rows of tiles), or 4 of 5x5 (runs of two whole
    /// images a pass).</param>
    /// <param name="bias">Whether the convolution has a bias; without one, a layer with more output channels than input
    /// ones and at least 64 multiply-adds a value adds its statistics up as it stores its blocks (StatisticsStore).</param>
    /// <param name="size">Image height and width (0: 5 for 4 images, else 7); 32 with 16 images of 128 channels gives an
    /// 8 MB output, which AVX-512 stores past the caches (non-temporal stores).</param>
    [Theory]
    [InlineData(SimdWidth.Vector512, 16, 2)]
    [InlineData(SimdWidth.Vector512, 20, 2)]
    [InlineData(SimdWidth.Vector256, 16, 2)]
    [InlineData(SimdWidth.Vector256, 20, 3)]
    [InlineData(SimdWidth.Scalar, 16, 1)]
    [InlineData(SimdWidth.Scalar, 20, 2)]
    [InlineData(SimdWidth.Vector512, 20, 2, 1)]
    [InlineData(SimdWidth.Vector256, 16, 3, 1)]
    [InlineData(SimdWidth.Vector256, 16, 2, 3, 16)]
    [InlineData(SimdWidth.Vector256, 16, 2, 3, 16, 1)]
    [InlineData(SimdWidth.Vector256, 16, 3, 3, 16, 4)]
    [InlineData(SimdWidth.Vector512, 32, 2, 3, 16)]
    [InlineData(SimdWidth.Vector512, 32, 3, 3, 16, 1)]
    [InlineData(SimdWidth.Scalar, 32, 2, 3, 16)]
    [InlineData(SimdWidth.Vector512, 16, 2, 3, 8, 3, false)]
    [InlineData(SimdWidth.Vector256, 20, 3, 3, 8, 3, false)]
    [InlineData(SimdWidth.Scalar, 16, 2, 3, 8, 1, false)]
    [InlineData(SimdWidth.Vector512, 128, 2, 1, 64, 3, false)]
    [InlineData(SimdWidth.Vector256, 128, 3, 1, 64, 1, false)]
    [InlineData(SimdWidth.Vector512, 128, 2, 1, 64, 16, false, 32)]
    [InlineData(SimdWidth.Vector256, 128, 2, 1, 64, 16, false, 32)]
    public void EpilogueWithFusedStatistics(SimdWidth width, int channels, int threads, int kernel = 3, int inChannels = 8, int n = 3, bool bias = true, int size = 0)
    {
        if (!Available(width))
        {
            return;
        }

        size = size > 0 ? size : n == 4 ? 5 : 7;
        int spatial = size * size;
        Random random = new(Seed(channels, threads, 7 + kernel + inChannels + n));
        ConvShape convShape = new(n, inChannels, size, size, channels, kernel, 1, kernel / 2, bias);
        EpilogueShape shape = new(n, channels, spatial, true, true, Activation.ReLU, true, Activation.ReLU, 1e-5f, 0.1f);
        int count = n * channels * spatial;
        float[] bn = BatchNormParameters(random, channels);

        Device device = _fixture.Simd(threads, width);
        using Buffers buffers = new(device);
        ArrayView<float> x = buffers.Upload(RandomFloats(random, (int)convShape.InputElements));
        ArrayView<float> w = buffers.Upload(RandomFloats(random, (int)convShape.WeightElements, 0.5));
        ArrayView<float> b = bias ? buffers.Upload(RandomFloats(random, channels)) : default;
        ArrayView<float> convY = buffers.Filled(count, Garbage);
        ArrayView<float> r = buffers.Upload(RandomFloats(random, count));
        ArrayView<float> bnFused = buffers.Upload(bn), bnUnfused = buffers.Upload(bn);
        ArrayView<float> yFused = buffers.Filled(count, Garbage), yUnfused = buffers.Filled(count, Garbage);
        ConvOp conv = (inChannels, channels, kernel, size) switch
        {
            (16, 16, 3, 5) => ConvOp.Create<G16x5x5To16K3S1P1>(device, convShape, x, w, b, convY),
            (16, 16, 3, _) => ConvOp.Create<G16x7x7To16K3S1P1>(device, convShape, x, w, b, convY),
            (16, 32, 3, _) => ConvOp.Create<G16x7x7To32K3S1P1>(device, convShape, x, w, b, convY),
            (8, 16, 3, _) => ConvOp.Create<G8x7x7To16K3S1P1>(device, convShape, x, w, b, convY),
            (8, 20, 3, _) => ConvOp.Create<G8x7x7To20K3S1P1>(device, convShape, x, w, b, convY),
            (8, 16, 1, _) => ConvOp.Create<G8x7x7To16K1S1P0>(device, convShape, x, w, b, convY),
            (64, 128, 1, 32) => ConvOp.Create<G64x32x32To128K1S1P0>(device, convShape, x, w, b, convY),
            (64, 128, 1, _) => ConvOp.Create<G64x7x7To128K1S1P0>(device, convShape, x, w, b, convY),
            _ => ConvOp.Create<G8x7x7To20K1S1P0>(device, convShape, x, w, b, convY),
        };
        EpilogueOp fused = new(device, shape, convY, bnFused, buffers.Filled(4 * channels, Garbage), r, yFused);
        EpilogueOp unfused = new(device, shape, convY, bnUnfused, buffers.Filled(4 * channels, Garbage), r, yUnfused);
        Assert.NotNull((fused.Kernel as SimdEpilogue)?.Sink);
        conv.FuseStatistics(fused);

        conv.Forward();
        Assert.Equal(inChannels == 16, ((SimdConvolution)conv.Kernel).UsedWinograd);
        Assert.True(((SimdEpilogue)fused.Kernel).Sink!.Filled, "the convolution's forward pass did not fill the epilogue's statistics sink");

        // The sums are taken around the first output pixel's values (image 0, pixel (0, 0): the first channels of y).
        float[] shift;
        unsafe
        {
            shift = new ReadOnlySpan<float>(((SimdEpilogue)fused.Kernel).Sink!.Shift, channels).ToArray();
        }

        AssertClose($"statistics' shift {width} {inChannels}->{channels} {kernel}x{kernel}", D(buffers.Read(convY)[..channels]), shift);

        // The convolution's output itself, against the reference (the unfused epilogue below reads the same tensor). An
        // output of 8 MB or more is stored past the caches on AVX-512 (SimdConvolution.StreamOutput).
        Assert.Equal(width == SimdWidth.Vector512 && count * sizeof(float) >= (8 << 20), ((SimdConvolution)conv.Kernel).StreamedOutput);
        double[] expectedY = Reference.Conv2dForward(
            D(Layout.ToNchw(buffers.Read(x), n, inChannels, spatial)), n, inChannels, size, size, D(buffers.Read(w)), channels, kernel, bias ? D(buffers.Read(b)) : null, 1, kernel / 2);
        AssertClose($"convolution output {width} {inChannels}->{channels} {kernel}x{kernel} {n} images", expectedY, Layout.ToNchw(buffers.Read(convY), n, channels, spatial));
        fused.Forward();
        Assert.False(((SimdEpilogue)fused.Kernel).Sink!.Filled);
        unfused.Forward();

        string what = $"fused statistics {width} {inChannels}->{channels} channels {kernel}x{kernel} {n} images {threads} threads";
        AssertClose($"{what}: y", D(buffers.Read(yUnfused)), buffers.Read(yFused));
        float[] expectedBn = buffers.Read(bnUnfused), actualBn = buffers.Read(bnFused);
        AssertClose($"{what}: running mean", D(expectedBn[(2 * channels)..(3 * channels)]), actualBn[(2 * channels)..(3 * channels)]);
        AssertClose($"{what}: running variance", D(expectedBn[(3 * channels)..]), actualBn[(3 * channels)..]);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>The pooling cases: kind, N, channels, H, W, kernel, stride, padding, threads.</summary>
    public static TheoryData<PoolKind, int, int, int, int, int, int, int, int> PoolCases => new()
    {
        { PoolKind.Max, 1, 19, 9, 7, 3, 2, 1, 2 },
        { PoolKind.Max, 3, 64, 8, 8, 3, 2, 1, 1 },
        { PoolKind.Max, 2, 5, 7, 9, 2, 2, 0, 2 },
        { PoolKind.Max, 1, 19, 9, 9, 7, 2, 3, 2 },
        { PoolKind.Average, 1, 19, 9, 7, 3, 2, 1, 2 },
        { PoolKind.Average, 3, 24, 7, 7, 3, 1, 1, 1 },
        { PoolKind.GlobalAverage, 3, 19, 7, 9, 0, 1, 0, 2 },
        { PoolKind.GlobalAverage, 1, 2048, 7, 7, 0, 1, 0, 2 },
    };

    /// <summary>
    /// Pooling on the SIMD backend (NHWC): forward vectorised over channels with a scalar tail (19 channels), split by
    /// output row (batch 1 on 2 threads), against the double-precision reference; backward on a non-zero prior.
    /// </summary>
    [Theory]
    [MemberData(nameof(PoolCases))]
    public void Pool(PoolKind kind, int n, int channels, int h, int w, int k, int stride, int pad, int threads) => CheckPool(kind, n, channels, h, w, k, stride, pad, threads, guarded: false);

    /// <summary>The cases of <see cref="Pool"/> with every tensor at the end of a mapping whose next page may not be touched:
    /// a read or write past one stops the test run with a segmentation fault.</summary>
    [Theory]
    [MemberData(nameof(PoolCases))]
    public void PoolTouchesNothingPastItsTensors(PoolKind kind, int n, int channels, int h, int w, int k, int stride, int pad, int threads)
    {
        if (OperatingSystem.IsLinux())
        {
            CheckPool(kind, n, channels, h, w, k, stride, pad, threads, guarded: true);
        }
    }

    private void CheckPool(PoolKind kind, int n, int channels, int h, int w, int k, int stride, int pad, int threads, bool guarded)
    {
        Random random = new(Seed(kind, n, channels, h, w, k, stride, pad, threads));
        PoolShape shape = new(n, channels, h, w, k, stride, pad, kind);
        float[] x = RandomFloats(random, n * channels * h * w);
        (float[] y, float[] dx, float[] dy, float[] prior) = RunPool(shape, x, random, threads, guarded);
        (double[] expectedY, double[] expectedDx) = kind switch
        {
            PoolKind.Max => (Reference.MaxPool2dForward(D(x), n, channels, h, w, k, stride, pad), Reference.MaxPool2dBackward(D(x), n, channels, h, w, k, stride, pad, D(dy))),
            PoolKind.Average => (Reference.AvgPool2dForward(D(x), n, channels, h, w, k, stride, pad), Reference.AvgPool2dBackward(n, channels, h, w, k, stride, pad, D(dy))),
            _ => (Reference.GlobalAvgPoolForward(D(x), n, channels, h, w), Reference.GlobalAvgPoolBackward(n, channels, h, w, D(dy))),
        };
        AssertClose($"{shape} on {threads} threads: y", expectedY, y);
        AssertClose($"{shape} on {threads} threads: dx", Add(D(prior), expectedDx), dx);
    }

    /// <summary>Max pooling forward propagates NaN: an output is NaN exactly where its window holds one, in the vector lanes and the tail.</summary>
    [Fact]
    public void MaxPoolPropagatesNaN()
    {
        Random random = new(11);
        PoolShape shape = new(2, 19, 9, 9, 3, 2, 1, PoolKind.Max);
        float[] x = RandomFloats(random, 2 * 19 * 81);
        foreach (int at in new[] { 5, 81 * 3 + 40, 81 * 17 + 80, (81 * 19) + (81 * 18) + 10 })
        {
            x[at] = float.NaN; // NCHW indices: channels 0, 3, 17 (the tail) and image 1's channel 18
        }

        (float[] y, _, _, _) = RunPool(shape, x, random, 2);
        double[] marked = Reference.MaxPool2dForward(D(x).Select(v => double.IsNaN(v) ? double.PositiveInfinity : v).ToArray(), 2, 19, 9, 9, 3, 2, 1);
        int nans = 0;
        for (int i = 0; i < y.Length; i++)
        {
            if (double.IsPositiveInfinity(marked[i]))
            {
                nans++;
                Assert.True(float.IsNaN(y[i]), $"output {i}: its window holds a NaN, the output is {y[i]}");
            }
            else
            {
                Assert.Equal(marked[i], y[i], 1e-6);
            }
        }

        Assert.True(nans >= 4, $"only {nans} outputs saw a NaN");
    }

    /// <summary>The Winograd weight transform 16 filters at a time gives each filter's values to the bit as the transform of
    /// one filter does, for both tiles and every vector width this machine runs (filters of mixed magnitudes, so that
    /// a reordered addition would show in the last place).</summary>
    [Fact]
    public unsafe void WinogradWeightTransformOf16FiltersMatchesOneFilterAtATime()
    {
        Random random = new(19);
        float[] g = new float[9 * 16];
        for (int i = 0; i < g.Length; i++)
        {
            g[i] = (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 4)));
        }

        Check<WinogradF2>(g);
        Check<WinogradF4>(g);

        static void Check<T>(float[] g)
            where T : IWinogradTile
        {
            int planes = (T.Size + 2) * (T.Size + 2);
            float[] expected = new float[planes * 16];
            float[] one = new float[9], u = new float[planes];
            fixed (float* o = one, pu = u)
            {
                for (int j = 0; j < 16; j++)
                {
                    for (int k = 0; k < 9; k++)
                    {
                        one[k] = g[(16 * k) + j];
                    }

                    T.TransformWeights(o, pu);
                    for (int p = 0; p < planes; p++)
                    {
                        expected[(16 * p) + j] = u[p];
                    }
                }
            }

            Compare<T, SimdScalar, VScalar>(g, expected, planes, "scalar");
            Compare<T, Simd256, V256>(g, expected, planes, "AVX2");
            if (Vector512.IsHardwareAccelerated)
            {
                Compare<T, Simd512, Vector512<float>>(g, expected, planes, "AVX-512");
            }
        }

        static void Compare<T, TS, TV>(float[] g, float[] expected, int planes, string width)
            where T : IWinogradTile
            where TS : struct, ISimd<TV>
            where TV : struct
        {
            float[] actual = new float[planes * 16];
            fixed (float* pg = g, pa = actual)
            {
                T.TransformWeights<TS, TV>(pg, pa);
            }

            for (int i = 0; i < actual.Length; i++)
            {
                Assert.True(
                    BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                    $"F({T.Size}x{T.Size}, 3x3), {width}: plane {i / 16}, filter {i % 16}: {actual[i]:R}, one filter at a time {expected[i]:R}");
            }
        }
    }

    /// <summary>Max pooling backward with ties (inputs 0, 1 or 2): each output's gradient goes to the first maximum of its
    /// window in row-major order, in the vector lanes and the tail (19 channels), on overlapping windows.</summary>
    [Fact]
    public void MaxPoolBackwardSendsTiesToTheFirstMaximum()
    {
        Random random = new(12);
        PoolShape shape = new(2, 19, 9, 9, 3, 2, 1, PoolKind.Max);
        float[] x = Enumerable.Range(0, 2 * 19 * 81).Select(_ => (float)random.Next(3)).ToArray();
        (float[] y, float[] dx, float[] dy, float[] prior) = RunPool(shape, x, random, 2);
        AssertClose($"{shape} with ties: y", Reference.MaxPool2dForward(D(x), 2, 19, 9, 9, 3, 2, 1), y);
        AssertClose($"{shape} with ties: dx", Add(D(prior), Reference.MaxPool2dBackward(D(x), 2, 19, 9, 9, 3, 2, 1, D(dy))), dx);
    }

    // Runs a pooling forward and backward on the SIMD device; y and dx come back NCHW.
    private (float[] Y, float[] Dx, float[] Dy, float[] Prior) RunPool(PoolShape shape, float[] x, Random random, int threads, bool guarded = false)
    {
        (int n, int c, int inPixels, int outPixels) = (shape.N, shape.Channels, shape.Height * shape.Width, shape.OutHeight * shape.OutWidth);
        float[] dy = RandomFloats(random, (int)shape.OutputElements);
        float[] prior = RandomFloats(random, x.Length);
        Device device = _fixture.Simd(threads, SimdWidth.Auto);
        if (guarded)
        {
            // Each tensor at the end of a mapping whose next page may not be touched (see GuardedBlock).
            using GuardedBlock gx = new(Layout.ToNhwc(x, n, c, inPixels));
            using GuardedBlock gy = new(Enumerable.Repeat(Garbage, (int)shape.OutputElements).ToArray());
            using GuardedBlock gdy = new(Layout.ToNhwc(dy, n, c, outPixels));
            using GuardedBlock gdx = new(Layout.ToNhwc(prior, n, c, inPixels));
            SimdPooling pooling = new(device.Pool!, shape, gx.Address, gy.Address, gdy.Address, gdx.Address);
            pooling.Forward(n);
            float[] guardedY = Layout.ToNchw(gy.Read(), n, c, outPixels);
            pooling.Backward();
            return (guardedY, Layout.ToNchw(gdx.Read(), n, c, inPixels), dy, prior);
        }

        using Buffers buffers = new(device);
        ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage), dx = buffers.Upload(Layout.ToNhwc(prior, n, c, inPixels));
        PoolOp op = new(device, shape, buffers.Upload(Layout.ToNhwc(x, n, c, inPixels)), y, buffers.Upload(Layout.ToNhwc(dy, n, c, outPixels)), dx);
        op.Forward();
        float[] forward = Layout.ToNchw(buffers.Read(y), n, c, outPixels);
        op.Backward();
        return (forward, Layout.ToNchw(buffers.Read(dx), n, c, inPixels), dy, prior);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Shortcut, copy (flatten) and dropout
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>The option-A shortcut on the SIMD backend (NHWC; the cases of <see cref="IlgpuKernelTests.Shortcut"/>, batch
    /// split over 2 threads): subsampling, the copied channels between zero ones, forward (overwritten) and backward (on a
    /// non-zero prior), against the reference.</summary>
    /// <param name="n">Batch.</param>
    /// <param name="cin">Input channels.</param>
    /// <param name="h">Height.</param>
    /// <param name="w">Width.</param>
    /// <param name="cout">Output channels.</param>
    /// <param name="stride">Stride.</param>
    [Theory]
    [MemberData(nameof(IlgpuKernelTests.ShortcutCases), MemberType = typeof(IlgpuKernelTests))]
    public void Shortcut(int n, int cin, int h, int w, int cout, int stride) => CheckShortcut(n, cin, h, w, cout, stride, guarded: false);

    /// <summary>The cases of <see cref="Shortcut"/> with every tensor at the end of a mapping whose next page may not be
    /// touched, the kernel built on its own from their addresses: a read or write past one stops the test run with a
    /// segmentation fault. Same checks as <see cref="Shortcut"/>.</summary>
    /// <param name="n">Batch.</param>
    /// <param name="cin">Input channels.</param>
    /// <param name="h">Height.</param>
    /// <param name="w">Width.</param>
    /// <param name="cout">Output channels.</param>
    /// <param name="stride">Stride.</param>
    [Theory]
    [MemberData(nameof(IlgpuKernelTests.ShortcutCases), MemberType = typeof(IlgpuKernelTests))]
    public void ShortcutTouchesNothingPastItsTensors(int n, int cin, int h, int w, int cout, int stride)
    {
        if (OperatingSystem.IsLinux())
        {
            CheckShortcut(n, cin, h, w, cout, stride, guarded: true);
        }
    }

    private void CheckShortcut(int n, int cin, int h, int w, int cout, int stride, bool guarded)
    {
        Random random = new(Seed(n, cin, h, w, cout, stride));
        ShortcutShape shape = new(n, cin, h, w, cout, stride);
        int inPixels = h * w, outPixels = shape.OutHeight * shape.OutWidth;
        float[] x = RandomFloats(random, (int)shape.InputElements);
        float[] dy = RandomFloats(random, (int)shape.OutputElements);
        float[] prior = RandomFloats(random, x.Length);
        Device device = _fixture.Simd(2, SimdWidth.Auto);
        float[] y, dx;
        if (guarded)
        {
            // Each tensor at the end of a mapping whose next page may not be touched (see GuardedBlock).
            using GuardedBlock gx = new(Layout.ToNhwc(x, n, cin, inPixels)), gy = new(Enumerable.Repeat(Garbage, (int)shape.OutputElements).ToArray());
            using GuardedBlock gdy = new(Layout.ToNhwc(dy, n, cout, outPixels)), gdx = new(Layout.ToNhwc(prior, n, cin, inPixels));
            using (SimdShortcut shortcut = new(device.Pool!, shape, gx.Address, gy.Address, gdy.Address, gdx.Address))
            {
                shortcut.Forward(n);
                shortcut.Backward();
            }

            (y, dx) = (gy.Read(), gdx.Read());
        }
        else
        {
            using Buffers buffers = new(device);
            ArrayView<float> yView = buffers.Filled((int)shape.OutputElements, Garbage), dxView = buffers.Upload(Layout.ToNhwc(prior, n, cin, inPixels));
            using ShortcutOp op = new(device, shape, buffers.Upload(Layout.ToNhwc(x, n, cin, inPixels)), yView, buffers.Upload(Layout.ToNhwc(dy, n, cout, outPixels)), dxView);
            op.Forward();
            op.Backward();
            (y, dx) = (buffers.Read(yView), buffers.Read(dxView));
        }

        string what = $"SIMD {shape}{(guarded ? ", tensors at page ends" : "")}";
        AssertClose($"{what}: y", Reference.ZeroPadShortcutForward(D(x), n, cin, h, w, cout, stride), Layout.ToNchw(y, n, cout, outPixels), 0);
        AssertClose($"{what}: dx", Add(D(prior), Reference.ZeroPadShortcutBackward(n, cin, h, w, cout, stride, D(dy))), Layout.ToNchw(dx, n, cin, inPixels));
    }

    /// <summary>The cases of <see cref="Copy"/> (and of its guarded run).</summary>
    public static TheoryData<int, int, int, bool> CopyCases => new()
    {
        { 3, 19, 63, true },
        { 3, 19, 63, false },
        { 4, 64, 1, true },
        { 1, 0, 10007, false },
    };

    /// <summary>Copies on the SIMD backend (batch split over 2 threads): flatten reorders each image's NHWC values
    /// channel-major (as PyTorch's flatten of NCHW; a 1x1 map is a plain copy), a copy keeps them; forward overwrites,
    /// backward adds into a non-zero prior.</summary>
    /// <param name="n">Images.</param>
    /// <param name="channels">Channels per image (0: one flat image of <paramref name="spatial"/> values).</param>
    /// <param name="spatial">Pixels per channel.</param>
    /// <param name="flatten">Whether the output is flat.</param>
    [Theory]
    [MemberData(nameof(CopyCases))]
    public void Copy(int n, int channels, int spatial, bool flatten) => CheckCopy(n, channels, spatial, flatten, guarded: false);

    /// <summary>The cases of <see cref="Copy"/> with every tensor at the end of a mapping whose next page may not be touched,
    /// the kernel built on its own from their addresses: a read or write past one stops the test run with a segmentation
    /// fault. Same checks as <see cref="Copy"/>.</summary>
    /// <param name="n">Images.</param>
    /// <param name="channels">Channels per image (0: one flat image of <paramref name="spatial"/> values).</param>
    /// <param name="spatial">Pixels per channel.</param>
    /// <param name="flatten">Whether the output is flat.</param>
    [Theory]
    [MemberData(nameof(CopyCases))]
    public void CopyTouchesNothingPastItsTensors(int n, int channels, int spatial, bool flatten)
    {
        if (OperatingSystem.IsLinux())
        {
            CheckCopy(n, channels, spatial, flatten, guarded: true);
        }
    }

    private void CheckCopy(int n, int channels, int spatial, bool flatten, bool guarded)
    {
        // x, dy and the results in NCHW (a flat image: one channel); the tensors as the SIMD backend keeps them.
        (int images, int c) = channels == 0 ? (1, 1) : (n, channels);
        int count = images * c * spatial;
        Random random = new(Seed("copy", n, channels, spatial, flatten));
        float[] x = RandomFloats(random, count), dy = RandomFloats(random, count), prior = RandomFloats(random, count);
        bool flat = flatten && c > 1 && spatial > 1;
        float[] xs = Layout.ToNhwc(x, images, c, spatial), dys = flat ? dy : Layout.ToNhwc(dy, images, c, spatial), priors = Layout.ToNhwc(prior, images, c, spatial);
        Device device = _fixture.Simd(2, SimdWidth.Auto);
        float[] y, dx;
        if (guarded)
        {
            // The kernel as SimdBackend.CreateCopy builds it, each tensor at the end of a mapping whose next page may not be touched.
            (int batch, int ch, int hw) = new CopyShape(count, channels, spatial, flatten).Images("Copy");
            using GuardedBlock gx = new(xs), gy = new(Enumerable.Repeat(Garbage, count).ToArray()), gdy = new(dys), gdx = new(priors);
            using (SimdCopy copy = new(device.Pool!, batch, ch, hw, flatten, 0f, 0, gx.Address, gy.Address, gdy.Address, gdx.Address))
            {
                copy.Forward(batch, dropout: false, step: 0);
                copy.Backward(dropout: false, step: 0);
            }

            (y, dx) = (gy.Read(), gdx.Read());
        }
        else
        {
            using Buffers buffers = new(device);
            ArrayView<float> yView = buffers.Filled(count, Garbage), dxView = buffers.Upload(priors);
            using CopyOp op = new(device, count, buffers.Upload(xs), yView, buffers.Upload(dys), dxView, channels, spatial, flatten);
            op.Forward();
            op.Backward();
            (y, dx) = (buffers.Read(yView), buffers.Read(dxView));
        }

        string what = $"SIMD copy {n}x{channels}x{spatial}{(flatten ? " flatten" : "")}{(guarded ? ", tensors at page ends" : "")}";
        AssertClose($"{what}: y", D(x), flat ? y : Layout.ToNchw(y, images, c, spatial), 0);
        AssertClose($"{what}: dx", Add(D(prior), D(dy)), Layout.ToNchw(dx, images, c, spatial), 0);
    }

    /// <summary>The cases of <see cref="Dropout"/> (and of its guarded run).</summary>
    public static TheoryData<int, int, int> DropoutCases => new()
    {
        { 3, 19, 63 },
        { 2, 8, 1 },
        { 1, 0, 10007 },
    };

    /// <summary>Dropout (rate 0.5) on the SIMD backend (NHWC, batch split over 2 threads): each value's mask is that of
    /// <see cref="DropoutMask.Uniform"/> at its channel-major index, as the reference kernels draw it; forward overwrites,
    /// backward (the same step's mask) adds into a non-zero prior; against the reference.</summary>
    /// <param name="n">Images.</param>
    /// <param name="channels">Channels per image (0: one flat image of <paramref name="spatial"/> values).</param>
    /// <param name="spatial">Pixels per channel.</param>
    [Theory]
    [MemberData(nameof(DropoutCases))]
    public void Dropout(int n, int channels, int spatial) => CheckDropout(n, channels, spatial, guarded: false);

    /// <summary>The cases of <see cref="Dropout"/> with every tensor at the end of a mapping whose next page may not be
    /// touched, the kernel built on its own from their addresses: a read or write past one stops the test run with a
    /// segmentation fault. Same checks as <see cref="Dropout"/>.</summary>
    /// <param name="n">Images.</param>
    /// <param name="channels">Channels per image (0: one flat image of <paramref name="spatial"/> values).</param>
    /// <param name="spatial">Pixels per channel.</param>
    [Theory]
    [MemberData(nameof(DropoutCases))]
    public void DropoutTouchesNothingPastItsTensors(int n, int channels, int spatial)
    {
        if (OperatingSystem.IsLinux())
        {
            CheckDropout(n, channels, spatial, guarded: true);
        }
    }

    private void CheckDropout(int n, int channels, int spatial, bool guarded)
    {
        const float rate = 0.5f;
        const int seed = 987654, step = 3;
        (int images, int c) = channels == 0 ? (1, 1) : (n, channels);
        int count = images * c * spatial;
        Random random = new(Seed("dropout", n, channels, spatial));
        float[] x = RandomFloats(random, count), dy = RandomFloats(random, count), prior = RandomFloats(random, count);
        float[] xs = Layout.ToNhwc(x, images, c, spatial), dys = Layout.ToNhwc(dy, images, c, spatial), priors = Layout.ToNhwc(prior, images, c, spatial);
        Device device = _fixture.Simd(2, SimdWidth.Auto);
        float[] y, dx;
        if (guarded)
        {
            // The kernel as SimdBackend.CreateDropout builds it, each tensor at the end of a mapping whose next page may not be touched.
            (int batch, int ch, int hw) = new DropoutShape(count, rate, seed, channels, spatial).Images("Dropout");
            using GuardedBlock gx = new(xs), gy = new(Enumerable.Repeat(Garbage, count).ToArray()), gdy = new(dys), gdx = new(priors);
            using (SimdCopy dropout = new(device.Pool!, batch, ch, hw, false, rate, seed, gx.Address, gy.Address, gdy.Address, gdx.Address))
            {
                dropout.Forward(batch, dropout: true, step: step);
                dropout.Backward(dropout: true, step: step);
            }

            (y, dx) = (gy.Read(), gdx.Read());
        }
        else
        {
            using Buffers buffers = new(device);
            ArrayView<float> yView = buffers.Filled(count, Garbage), dxView = buffers.Upload(priors);
            using DropoutOp op = new(device, count, rate, seed, buffers.Upload(xs), yView, buffers.Upload(dys), dxView, channels, spatial);
            op.Forward(step);
            op.Backward(step);
            (y, dx) = (buffers.Read(yView), buffers.Read(dxView));
        }

        bool[] keep = Enumerable.Range(0, count).Select(i => DropoutMask.Uniform(seed, step, i) >= rate).ToArray();
        string what = $"SIMD dropout {n}x{channels}x{spatial}{(guarded ? ", tensors at page ends" : "")}";
        AssertClose($"{what}: y", Reference.DropoutForward(D(x), keep, rate), Layout.ToNchw(y, images, c, spatial), 0);
        AssertClose($"{what}: dx", Add(D(prior), Reference.DropoutBackward(D(dy), keep, rate)), Layout.ToNchw(dx, images, c, spatial), 0);
    }

    private static bool Available(SimdWidth width) => width != SimdWidth.Vector512 || Vector512.IsHardwareAccelerated;






    // ------------------------------------------------------------------------------------------------------------
    // Geometries (compile-time constants for the SIMD convolutions)
    // ------------------------------------------------------------------------------------------------------------

    private readonly struct G3x7x7To5K3S1P1 : IConvGeometry
    {
        public static int InChannels => 3;

        public static int Height => 7;

        public static int Width => 7;

        public static int OutChannels => 5;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G17x9x7To20K3S2P1 : IConvGeometry
    {
        public static int InChannels => 17;

        public static int Height => 9;

        public static int Width => 7;

        public static int OutChannels => 20;

        public static int Kernel => 3;

        public static int Stride => 2;

        public static int Padding => 1;
    }

    private readonly struct G16x11x13To33K7S2P3 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 11;

        public static int Width => 13;

        public static int OutChannels => 33;

        public static int Kernel => 7;

        public static int Stride => 2;

        public static int Padding => 3;
    }

    private readonly struct G20x9x9To16K1S1P0 : IConvGeometry
    {
        public static int InChannels => 20;

        public static int Height => 9;

        public static int Width => 9;

        public static int OutChannels => 16;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    private readonly struct G32x6x5To64K3S1P1 : IConvGeometry
    {
        public static int InChannels => 32;

        public static int Height => 6;

        public static int Width => 5;

        public static int OutChannels => 64;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G64x7x7To64K3S1P1 : IConvGeometry
    {
        public static int InChannels => 64;

        public static int Height => 7;

        public static int Width => 7;

        public static int OutChannels => 64;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G48x13x15To1024K3S2P1 : IConvGeometry
    {
        public static int InChannels => 48;

        public static int Height => 13;

        public static int Width => 15;

        public static int OutChannels => 1024;

        public static int Kernel => 3;

        public static int Stride => 2;

        public static int Padding => 1;
    }

    private readonly struct G48x5x5To24K1S2P0 : IConvGeometry
    {
        public static int InChannels => 48;

        public static int Height => 5;

        public static int Width => 5;

        public static int OutChannels => 24;

        public static int Kernel => 1;

        public static int Stride => 2;

        public static int Padding => 0;
    }

    private readonly struct G1024x9x9To112K1S1P0 : IConvGeometry
    {
        public static int InChannels => 1024;

        public static int Height => 9;

        public static int Width => 9;

        public static int OutChannels => 112;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    private readonly struct G1024x13x13To112K1S2P0 : IConvGeometry
    {
        public static int InChannels => 1024;

        public static int Height => 13;

        public static int Width => 13;

        public static int OutChannels => 112;

        public static int Kernel => 1;

        public static int Stride => 2;

        public static int Padding => 0;
    }

    private readonly struct G10x1x1To10K1S1P0 : IConvGeometry
    {
        public static int InChannels => 10;

        public static int Height => 1;

        public static int Width => 1;

        public static int OutChannels => 10;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    private readonly struct G16x5x7To32K3S1P1 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 5;

        public static int Width => 7;

        public static int OutChannels => 32;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G16x6x7To20K3S1P1 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 6;

        public static int Width => 7;

        public static int OutChannels => 20;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G16x3x31To16K3S1P1 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 3;

        public static int Width => 31;

        public static int OutChannels => 16;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G16x40x40To32K3S1P1 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 40;

        public static int Width => 40;

        public static int OutChannels => 32;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G16x90x90To20K3S2P1 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 90;

        public static int Width => 90;

        public static int OutChannels => 20;

        public static int Kernel => 3;

        public static int Stride => 2;

        public static int Padding => 1;
    }

    private readonly struct G64x30x30To64K1S1P0 : IConvGeometry
    {
        public static int InChannels => 64;

        public static int Height => 30;

        public static int Width => 30;

        public static int OutChannels => 64;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    private readonly struct G16x11x13To16K3S1P1 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 11;

        public static int Width => 13;

        public static int OutChannels => 16;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G8x1x17To24K3S1P1 : IConvGeometry
    {
        public static int InChannels => 8;

        public static int Height => 1;

        public static int Width => 17;

        public static int OutChannels => 24;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G16x5x5To16K3S1P1 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 5;

        public static int Width => 5;

        public static int OutChannels => 16;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G16x7x7To16K3S1P1 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 7;

        public static int Width => 7;

        public static int OutChannels => 16;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G16x7x7To32K3S1P1 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 7;

        public static int Width => 7;

        public static int OutChannels => 32;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G8x7x7To16K3S1P1 : IConvGeometry
    {
        public static int InChannels => 8;

        public static int Height => 7;

        public static int Width => 7;

        public static int OutChannels => 16;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G8x7x7To20K3S1P1 : IConvGeometry
    {
        public static int InChannels => 8;

        public static int Height => 7;

        public static int Width => 7;

        public static int OutChannels => 20;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G1024x3x7To200K1S1P0 : IConvGeometry
    {
        public static int InChannels => 1024;

        public static int Height => 3;

        public static int Width => 7;

        public static int OutChannels => 200;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    private readonly struct G16x28x28To16K3S1P1 : IConvGeometry
    {
        public static int InChannels => 16;

        public static int Height => 28;

        public static int Width => 28;

        public static int OutChannels => 16;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G32x28x28To48K3S1P1 : IConvGeometry
    {
        public static int InChannels => 32;

        public static int Height => 28;

        public static int Width => 28;

        public static int OutChannels => 48;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G3x64x64To64K7S2P3 : IConvGeometry
    {
        public static int InChannels => 3;

        public static int Height => 64;

        public static int Width => 64;

        public static int OutChannels => 64;

        public static int Kernel => 7;

        public static int Stride => 2;

        public static int Padding => 3;
    }

    private readonly struct G1024x3x5To1040K1S1P0 : IConvGeometry
    {
        public static int InChannels => 1024;

        public static int Height => 3;

        public static int Width => 5;

        public static int OutChannels => 1040;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    private readonly struct G1024x5x13To320K1S1P0 : IConvGeometry
    {
        public static int InChannels => 1024;

        public static int Height => 5;

        public static int Width => 13;

        public static int OutChannels => 320;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    private readonly struct G1024x9x11To320K1S2P0 : IConvGeometry
    {
        public static int InChannels => 1024;

        public static int Height => 9;

        public static int Width => 11;

        public static int OutChannels => 320;

        public static int Kernel => 1;

        public static int Stride => 2;

        public static int Padding => 0;
    }

    private readonly struct G1024x5x13To200K1S2P0 : IConvGeometry
    {
        public static int InChannels => 1024;

        public static int Height => 5;

        public static int Width => 13;

        public static int OutChannels => 200;

        public static int Kernel => 1;

        public static int Stride => 2;

        public static int Padding => 0;
    }

    private readonly struct G8x7x7To16K1S1P0 : IConvGeometry
    {
        public static int InChannels => 8;

        public static int Height => 7;

        public static int Width => 7;

        public static int OutChannels => 16;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    private readonly struct G8x7x7To20K1S1P0 : IConvGeometry
    {
        public static int InChannels => 8;

        public static int Height => 7;

        public static int Width => 7;

        public static int OutChannels => 20;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    private readonly struct G128x5x4To128K3S1P1 : IConvGeometry
    {
        public static int InChannels => 128;

        public static int Height => 5;

        public static int Width => 4;

        public static int OutChannels => 128;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G128x12x10To128K3S1P1 : IConvGeometry
    {
        public static int InChannels => 128;

        public static int Height => 12;

        public static int Width => 10;

        public static int OutChannels => 128;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G128x24x24To128K3S1P1 : IConvGeometry
    {
        public static int InChannels => 128;

        public static int Height => 24;

        public static int Width => 24;

        public static int OutChannels => 128;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G352x5x5To352K3S1P1 : IConvGeometry
    {
        public static int InChannels => 352;

        public static int Height => 5;

        public static int Width => 5;

        public static int OutChannels => 352;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G128x6x6To256K3S2P1 : IConvGeometry
    {
        public static int InChannels => 128;

        public static int Height => 6;

        public static int Width => 6;

        public static int OutChannels => 256;

        public static int Kernel => 3;

        public static int Stride => 2;

        public static int Padding => 1;
    }

    private readonly struct G384x6x6To128K3S2P1 : IConvGeometry
    {
        public static int InChannels => 384;

        public static int Height => 6;

        public static int Width => 6;

        public static int OutChannels => 128;

        public static int Kernel => 3;

        public static int Stride => 2;

        public static int Padding => 1;
    }

    private readonly struct G384x5x5To96K3S2P1 : IConvGeometry
    {
        public static int InChannels => 384;

        public static int Height => 5;

        public static int Width => 5;

        public static int OutChannels => 96;

        public static int Kernel => 3;

        public static int Stride => 2;

        public static int Padding => 1;
    }

    private readonly struct G1x9x11To32K3S1P1 : IConvGeometry
    {
        public static int InChannels => 1;

        public static int Height => 9;

        public static int Width => 11;

        public static int OutChannels => 32;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G1x12x10To16K3S2P0 : IConvGeometry
    {
        public static int InChannels => 1;

        public static int Height => 12;

        public static int Width => 10;

        public static int OutChannels => 16;

        public static int Kernel => 3;

        public static int Stride => 2;

        public static int Padding => 0;
    }

    private readonly struct G1x60x60To16K3S1P1 : IConvGeometry
    {
        public static int InChannels => 1;

        public static int Height => 60;

        public static int Width => 60;

        public static int OutChannels => 16;

        public static int Kernel => 3;

        public static int Stride => 1;

        public static int Padding => 1;
    }

    private readonly struct G64x32x32To128K1S1P0 : IConvGeometry
    {
        public static int InChannels => 64;

        public static int Height => 32;

        public static int Width => 32;

        public static int OutChannels => 128;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }

    private readonly struct G64x7x7To128K1S1P0 : IConvGeometry
    {
        public static int InChannels => 64;

        public static int Height => 7;

        public static int Width => 7;

        public static int OutChannels => 128;

        public static int Kernel => 1;

        public static int Stride => 1;

        public static int Padding => 0;
    }
}
