using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.Kernels;
using DslResNet.Kernels.Ilgpu;
using DslResNet.Runtime;
using ILGPU;
using ILGPU.Runtime;
using Xunit;
using Device = DslResNet.Runtime.Device;

using static DslResNet.Tests.Kernels.KernelTestData;

namespace DslResNet.Tests.Kernels;

/// <summary>One ILGPU CPU device shared by the tests of a class.</summary>
public sealed class CpuDeviceFixture : IDisposable
{
    /// <summary>The device.</summary>
    public Device Device { get; } = Device.Create(DeviceKind.IlgpuCpu);

    /// <summary>Releases the device.</summary>
    public void Dispose() => Device.Dispose();
}

/// <summary>
/// The float ILGPU kernels, launched through the runtime's ops on the CPU accelerator, against the double-precision
/// <see cref="Reference"/> (itself checked against finite differences), forward and backward, on awkward shapes.
/// Activation gradients are checked on top of a non-zero prior (they are accumulated); parameter gradients and
/// overwritten outputs are pre-filled with garbage (they must be overwritten).
/// </summary>
public sealed class IlgpuKernelTests : IClassFixture<CpuDeviceFixture>
{
    private const double Tolerance = 1e-4;
    private const float Garbage = 12345.5f;

    private readonly Device _device;

    /// <summary>Takes the shared device.</summary>
    /// <param name="fixture">The fixture.</param>
    public IlgpuKernelTests(CpuDeviceFixture fixture)
    {
        _device = fixture.Device;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Convolution and dense
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>Convolution forward, backward to the input (accumulated), weights and bias (overwritten).</summary>
    [Theory]
    [InlineData(1, 3, 7, 7, 5, 3, 1, 1, true)]
    [InlineData(3, 5, 9, 7, 3, 3, 2, 1, false)]
    [InlineData(1, 3, 9, 9, 4, 7, 2, 3, true)]
    [InlineData(3, 3, 7, 9, 5, 1, 1, 0, true)]
    [InlineData(3, 5, 7, 7, 2, 1, 2, 0, false)]
    [InlineData(1, 5, 9, 9, 3, 7, 1, 3, false)]
    [InlineData(3, 3, 9, 7, 5, 3, 2, 0, true)]
    [InlineData(3, 3, 7, 7, 5, 7, 1, 0, true)]
    [InlineData(3, 5, 9, 7, 3, 7, 2, 3, true)]
    [InlineData(1, 3, 7, 9, 5, 3, 1, 0, false)]
    [InlineData(3, 3, 9, 9, 3, 3, 2, 3, true)]
    [InlineData(1, 1, 1, 1, 1, 1, 1, 0, true)]
    [InlineData(2, 3, 9, 10, 4, 1, 1, 3, false)]
    [InlineData(2, 3, 12, 17, 4, 3, 1, 1, true)]
    public void Conv(int n, int cin, int h, int w, int cout, int k, int stride, int pad, bool bias)
    {
        ConvShape shape = new(n, cin, h, w, cout, k, stride, pad, bias);
        CheckConv(shape, new Random(Seed(n, cin, h, w, cout, k, stride, pad)));
    }

    /// <summary>A dense layer: the 1x1 convolution on a 1x1 map, against <see cref="Reference.LinearForward"/>.</summary>
    [Theory]
    [InlineData(1, 10, 3, true)]
    [InlineData(3, 7, 5, false)]
    [InlineData(3, 64, 10, true)]
    public void Dense(int n, int inFeatures, int outFeatures, bool bias)
    {
        Random random = new(Seed(n, inFeatures, outFeatures, bias));
        ConvShape shape = new(n, inFeatures, 1, 1, outFeatures, 1, 1, 0, bias);
        float[] x = RandomFloats(random, n * inFeatures);
        float[] wt = RandomFloats(random, outFeatures * inFeatures);
        float[] b = bias ? RandomFloats(random, outFeatures) : [];
        float[] dy = RandomFloats(random, n * outFeatures);
        float[] prior = RandomFloats(random, n * inFeatures);

        using Buffers buffers = new(_device);
        ArrayView<float> y = buffers.Filled(n * outFeatures, Garbage), dx = buffers.Upload(prior);
        ArrayView<float> dw = buffers.Filled(wt.Length, Garbage), db = bias ? buffers.Filled(outFeatures, Garbage) : default;
        ConvOp op = new(_device, shape, buffers.Upload(x), buffers.Upload(wt), bias ? buffers.Upload(b) : default, y, buffers.Upload(dy), dx, dw, db);
        op.Forward();
        op.Backward();

        double[] expected = Reference.LinearForward(D(x), n, inFeatures, D(wt), outFeatures, bias ? D(b) : null);
        (double[] edx, double[] edw, double[] edb) = Reference.LinearBackward(D(x), n, inFeatures, D(wt), outFeatures, D(dy));
        AssertClose("y", expected, buffers.Read(y));
        AssertClose("dx", Add(D(prior), edx), buffers.Read(dx));
        AssertClose("dw", edw, buffers.Read(dw));
        if (bias)
        {
            AssertClose("db", edb, buffers.Read(db));
        }
    }

    /// <summary>Backward with <c>data: false</c> leaves the input's gradient alone.</summary>
    [Fact]
    public void ConvBackwardWithoutDataLeavesInputGradient()
    {
        Random random = new(5);
        ConvShape shape = new(3, 3, 7, 7, 5, 3, 2, 1, true);
        float[] prior = RandomFloats(random, (int)shape.InputElements);
        using Buffers buffers = new(_device);
        ArrayView<float> dx = buffers.Upload(prior);
        ConvOp op = new(
            _device, shape, buffers.Upload(RandomFloats(random, (int)shape.InputElements)), buffers.Upload(RandomFloats(random, (int)shape.WeightElements)),
            buffers.Upload(RandomFloats(random, 5)), buffers.Filled((int)shape.OutputElements, 0f), buffers.Upload(RandomFloats(random, (int)shape.OutputElements)),
            dx, buffers.Filled((int)shape.WeightElements, 0f), buffers.Filled(5, 0f));
        op.Backward(data: false);
        Assert.Equal(prior, buffers.Read(dx));
    }

    private void CheckConv(ConvShape shape, Random random)
    {
        float[] x = RandomFloats(random, (int)shape.InputElements);
        float[] wt = RandomFloats(random, (int)shape.WeightElements, 0.5);
        float[] b = shape.Bias ? RandomFloats(random, shape.OutChannels) : [];
        float[] dy = RandomFloats(random, (int)shape.OutputElements);
        float[] prior = RandomFloats(random, (int)shape.InputElements);

        using Buffers buffers = new(_device);
        ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage);
        ArrayView<float> dx = buffers.Upload(prior);
        ArrayView<float> dw = buffers.Filled(wt.Length, Garbage);
        ArrayView<float> db = buffers.Filled(shape.OutChannels, Garbage);
        ConvOp op = new(_device, shape, buffers.Upload(x), buffers.Upload(wt), shape.Bias ? buffers.Upload(b) : default, y, buffers.Upload(dy), dx, dw, db);
        op.Forward();
        op.Backward();

        double[] expected = Reference.Conv2dForward(
            D(x), shape.N, shape.InChannels, shape.Height, shape.Width, D(wt), shape.OutChannels, shape.Kernel, shape.Bias ? D(b) : null, shape.Stride, shape.Padding);
        (double[] edx, double[] edw, double[] edb) = Reference.Conv2dBackward(
            D(x), shape.N, shape.InChannels, shape.Height, shape.Width, D(wt), shape.OutChannels, shape.Kernel, shape.Stride, shape.Padding, D(dy));
        AssertClose($"y {shape}", expected, buffers.Read(y));
        AssertClose($"dx {shape}", Add(D(prior), edx), buffers.Read(dx));
        AssertClose($"dw {shape}", edw, buffers.Read(dw));
        float[] dbActual = buffers.Read(db);
        if (shape.Bias)
        {
            AssertClose($"db {shape}", edb, dbActual);
        }
        else
        {
            Assert.All(dbActual, v => Assert.Equal(Garbage, v));
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Folding batch norm into a convolution
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>A convolution with folded weights and bias equals the convolution followed by eval-mode batch norm.</summary>
    [Theory]
    [InlineData(3, 3, 7, 9, 5, 3, 1, 1, true)]
    [InlineData(3, 3, 7, 9, 5, 3, 1, 1, false)]
    [InlineData(1, 5, 9, 7, 3, 7, 2, 3, false)]
    [InlineData(3, 5, 9, 9, 3, 1, 2, 0, true)]
    [InlineData(3, 7, 1, 1, 4, 1, 1, 0, true)]
    public void FoldedConvolutionEqualsConvolutionThenEvalBatchNorm(int n, int cin, int h, int w, int cout, int k, int stride, int pad, bool bias)
    {
        const float eps = 1e-5f;
        Random random = new(Seed(n, cin, h, w, cout, k, stride, pad, bias));
        ConvShape shape = new(n, cin, h, w, cout, k, stride, pad, bias);
        float[] x = RandomFloats(random, (int)shape.InputElements);
        float[] wt = RandomFloats(random, (int)shape.WeightElements, 0.5);
        float[] b = bias ? RandomFloats(random, cout) : [];
        float[] bn = BatchNormParameters(random, cout);

        using Buffers buffers = new(_device);
        ArrayView<float> wf = buffers.Filled(wt.Length, Garbage), bf = buffers.Filled(cout, Garbage);
        new FoldOp(_device, shape, buffers.Upload(wt), bias ? buffers.Upload(b) : default, buffers.Upload(bn), eps, wf, bf).Run();
        ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage);
        ConvShape folded = new(n, cin, h, w, cout, k, stride, pad, true);
        new ConvOp(_device, folded, buffers.Upload(x), wf, bf, y).Forward();

        (double[] gamma, double[] beta, double[] mean, double[] variance) = Split(bn, cout);
        double[] conv = Reference.Conv2dForward(D(x), n, cin, h, w, D(wt), cout, k, bias ? D(b) : null, stride, pad);
        double[] expected = Reference.BatchNorm2dEvalForward(conv, n, cout, shape.OutHeight, shape.OutWidth, gamma, beta, mean, variance, eps);
        AssertClose("folded conv", expected, buffers.Read(y));

        // The folded parameters themselves.
        double[] ewf = new double[wt.Length];
        double[] ebf = new double[cout];
        int perChannel = cin * k * k;
        for (int co = 0; co < cout; co++)
        {
            double scale = gamma[co] / Math.Sqrt(variance[co] + eps);
            for (int j = 0; j < perChannel; j++)
            {
                ewf[(co * perChannel) + j] = wt[(co * perChannel) + j] * scale;
            }

            ebf[co] = beta[co] + (((bias ? b[co] : 0.0) - mean[co]) * scale);
        }

        AssertClose("wf", ewf, buffers.Read(wf));
        AssertClose("bf", ebf, buffers.Read(bf));
    }

    // ------------------------------------------------------------------------------------------------------------
    // The fused epilogue y = act2(act1(bn(x)) + r)
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>The combinations of the fused pass the networks use, and a few more.</summary>
    public static TheoryData<string, bool, Activation, bool, Activation> EpilogueCombinations() => new()
    {
        { "BN", true, Activation.None, false, Activation.None },
        { "BN+ReLU", true, Activation.ReLU, false, Activation.None },
        { "BN+add+ReLU", true, Activation.None, true, Activation.ReLU },
        { "BN+ReLU+add+ReLU", true, Activation.ReLU, true, Activation.ReLU },
        { "BN+tanh", true, Activation.Tanh, false, Activation.None },
        { "BN+sigmoid", true, Activation.Sigmoid, false, Activation.None },
        { "BN+add+sigmoid", true, Activation.None, true, Activation.Sigmoid },
        { "BN+tanh+add+tanh", true, Activation.Tanh, true, Activation.Tanh },
        { "ReLU", false, Activation.ReLU, false, Activation.None },
        { "tanh", false, Activation.Tanh, false, Activation.None },
        { "sigmoid", false, Activation.Sigmoid, false, Activation.None },
        { "add", false, Activation.None, true, Activation.None },
        { "add+ReLU", false, Activation.None, true, Activation.ReLU },
        { "ReLU+add+ReLU", false, Activation.ReLU, true, Activation.ReLU },
        { "BN+GELU", true, Activation.GELU, false, Activation.None },
        { "BN+SiLU", true, Activation.SiLU, false, Activation.None },
        { "BN+add+GELU", true, Activation.None, true, Activation.GELU },
        { "BN+SiLU+add+GELU", true, Activation.SiLU, true, Activation.GELU },
        { "BN+GELU+add+SiLU", true, Activation.GELU, true, Activation.SiLU },
        { "BN+tanh+add+SiLU", true, Activation.Tanh, true, Activation.SiLU },
        { "GELU", false, Activation.GELU, false, Activation.None },
        { "SiLU", false, Activation.SiLU, false, Activation.None },
        { "add+SiLU", false, Activation.None, true, Activation.SiLU },
        { "GELU+add+GELU", false, Activation.GELU, true, Activation.GELU },
    };

    /// <summary>Training mode (batch statistics): y, dx, dr, dgamma, dbeta and the running statistics after one step.</summary>
    [Theory]
    [MemberData(nameof(EpilogueCombinations))]
    public void EpilogueTraining(string name, bool norm, Activation act1, bool add, Activation act2)
    {
        CheckEpilogue(_device, name, 3, 5, 63, norm, act1, add, act2, training: true);
        CheckEpilogue(_device, name, 1, 3, 7, norm, act1, add, act2, training: true);
        CheckEpilogue(_device, name, 3, 5, 1, norm, act1, add, act2, training: true);
    }

    /// <summary>Evaluation mode (running statistics): y, dx, dr; the running statistics are left alone.</summary>
    [Theory]
    [MemberData(nameof(EpilogueCombinations))]
    public void EpilogueEvaluation(string name, bool norm, Activation act1, bool add, Activation act2)
    {
        CheckEpilogue(_device, name, 3, 5, 63, norm, act1, add, act2, training: false);
        CheckEpilogue(_device, name, 1, 3, 1, norm, act1, add, act2, training: false);
    }

    /// <summary>Running statistics after one and after two training steps (momentum 0.1, unbiased variance).</summary>
    [Theory]
    [InlineData(3, 5, 63)]
    [InlineData(1, 3, 7)]
    [InlineData(3, 5, 1)]
    public void EpilogueRunningStatisticsOverTwoSteps(int n, int channels, int spatial) => CheckRunningStatistics(_device, n, channels, spatial);

    internal static void CheckRunningStatistics(Device device, int n, int channels, int spatial)
    {
        const float eps = 1e-5f;
        const float momentum = 0.1f;
        Random random = new(Seed(n, channels, spatial));
        EpilogueShape shape = new(n, channels, spatial, true, true, Activation.ReLU, false, Activation.None, eps, momentum);
        int count = n * channels * spatial;
        float[] x1 = RandomFloats(random, count, 2.0);
        float[] x2 = RandomFloats(random, count, 0.5);
        for (int i = 0; i < count; i++)
        {
            x2[i] += 1.5f; // A different mean.
        }

        float[] bn = BatchNormParameters(random, channels);
        (double[] gamma, double[] beta, double[] runningMean, double[] runningVar) = Split(bn, channels);

        using Buffers buffers = new(device);
        ArrayView<float> x = buffers.Upload(x1), bnView = buffers.Upload(bn);
        EpilogueOp op = new(device, shape, x, bnView, buffers.Filled(4 * channels, Garbage), default, buffers.Filled(count, Garbage));

        foreach ((float[] data, int step) in new[] { (x1, 1), (x2, 2) })
        {
            x.CopyFromCPU(data);
            op.Forward();
            (_, double[] mean, double[] variance) = Reference.BatchNorm2dTrainForward(D(data), n, channels, spatial, 1, gamma, beta, eps);
            Reference.BatchNorm2dUpdateRunningStats(runningMean, runningVar, mean, variance, n * spatial, momentum);
            float[] actual = buffers.Read(bnView);
            AssertClose($"gamma and beta after step {step}", gamma.Concat(beta).ToArray(), actual[..(2 * channels)], 0);
            AssertClose($"running mean after step {step}", runningMean, actual[(2 * channels)..(3 * channels)]);
            AssertClose($"running variance after step {step}", runningVar, actual[(3 * channels)..]);
        }
    }

    /// <summary>Training-mode batch norm over a single value per channel is refused, as PyTorch does.</summary>
    [Fact]
    public void EpilogueTrainingNeedsTwoValuesPerChannel()
    {
        EpilogueShape shape = new(1, 3, 1, true, true, Activation.None, false, Activation.None, 1e-5f, 0.1f);
        Assert.Throws<ArgumentException>(shape.Validate);
        new EpilogueShape(1, 3, 1, true, false, Activation.None, false, Activation.None, 1e-5f, 0.1f).Validate();
    }

    /// <summary>The output may overwrite the input (forward only).</summary>
    [Fact]
    public void EpilogueInPlaceForward()
    {
        Random random = new(11);
        EpilogueShape shape = new(3, 5, 9, true, true, Activation.ReLU, true, Activation.ReLU, 1e-5f, 0.1f);
        float[] x = RandomFloats(random, 135), r = RandomFloats(random, 135);
        float[] bn = BatchNormParameters(random, 5);
        using Buffers buffers = new(_device);
        ArrayView<float> xy = buffers.Upload(x), separate = buffers.Filled(135, Garbage);
        new EpilogueOp(_device, shape, buffers.Upload(x), buffers.Upload(bn), buffers.Filled(20, 0f), buffers.Upload(r), separate).Forward();
        new EpilogueOp(_device, shape, xy, buffers.Upload(bn), buffers.Filled(20, 0f), buffers.Upload(r), xy).Forward();
        Assert.Equal(buffers.Read(separate), buffers.Read(xy));
    }

    /// <summary>The input gradient may be the output gradient's own view (in place) or apart from it, but not overlap it
    /// otherwise: that is refused, naming dx.</summary>
    [Fact]
    public void EpilogueInputGradientSharesTheOutputGradientWholeOrNotAtAll()
    {
        EpilogueShape shape = new(2, 4, 4, false, true, Activation.ReLU, false, Activation.None, 0f, 0f);
        using Buffers buffers = new(_device);
        ArrayView<float> x = buffers.Filled(32, 1f), y = buffers.Filled(32, 0f), gradients = buffers.Filled(64, 0f);
        using (new EpilogueOp(_device, shape, x, default, default, default, y, gradients.SubView(0, 32), gradients.SubView(0, 32)))
        {
        }

        using (new EpilogueOp(_device, shape, x, default, default, default, y, gradients.SubView(0, 32), gradients.SubView(32, 32)))
        {
        }

        ArgumentException e = Assert.Throws<ArgumentException>(() => new EpilogueOp(_device, shape, x, default, default, default, y, gradients.SubView(0, 32), gradients.SubView(16, 32)));
        Assert.Equal("dx", e.ParamName);
        Assert.Contains("overlaps the output gradient", e.Message, StringComparison.Ordinal);
    }

    internal static void CheckEpilogue(Device device, string name, int n, int channels, int spatial, bool norm, Activation act1, bool add, Activation act2, bool training)
    {
        const float eps = 1e-5f;
        const float momentum = 0.1f;
        Random random = new(Seed(name, n, channels, spatial, training));
        EpilogueShape shape = new(n, channels, spatial, norm, training, act1, add, act2, eps, momentum);
        string what = $"{name} {(training ? "training" : "eval")} {n}x{channels}x{spatial}";
        int count = n * channels * spatial;
        float[] x = RandomFloats(random, count, 2.0);
        float[] r = RandomFloats(random, count);
        float[] dy = RandomFloats(random, count);
        float[] priorDx = RandomFloats(random, count);
        float[] priorDr = RandomFloats(random, count);
        float[] bn = BatchNormParameters(random, channels);
        (double[] gamma, double[] beta, double[] runningMean, double[] runningVar) = Split(bn, channels);

        using Buffers buffers = new(device);
        ArrayView<float> bnView = norm ? buffers.Upload(bn) : default;
        ArrayView<float> stats = norm && training ? buffers.Filled(4 * channels, Garbage) : default;
        ArrayView<float> y = buffers.Filled(count, Garbage);
        ArrayView<float> dx = buffers.Upload(priorDx);
        ArrayView<float> dr = add ? buffers.Upload(priorDr) : default;
        ArrayView<float> dbn = norm && training ? buffers.Filled(2 * channels, Garbage) : default;
        EpilogueOp op = new(device, shape, buffers.Upload(x), bnView, stats, add ? buffers.Upload(r) : default, y, buffers.Upload(dy), dx, dr, dbn);
        op.Forward();
        op.Backward();

        // The reference, composed: z = bn(x), a = act1(z), s = a + r, y = act2(s), and back.
        double[] z = D(x);
        double[] batchMean = [], batchVar = [];
        if (norm)
        {
            if (training)
            {
                (z, batchMean, batchVar) = Reference.BatchNorm2dTrainForward(D(x), n, channels, spatial, 1, gamma, beta, eps);
            }
            else
            {
                z = Reference.BatchNorm2dEvalForward(D(x), n, channels, spatial, 1, gamma, beta, runningMean, runningVar, eps);
            }
        }

        double[] a = ActivationForward(z, act1);
        double[] s = add ? Add(a, D(r)) : a;
        double[] expectedY = ActivationForward(s, act2);
        double[] gs = ActivationBackward(s, D(dy), act2);
        double[] gz = ActivationBackward(z, gs, act1);
        double[] gx = gz;
        double[] dgamma = [], dbeta = [];
        if (norm)
        {
            if (training)
            {
                (gx, dgamma, dbeta) = Reference.BatchNorm2dTrainBackward(D(x), n, channels, spatial, 1, gamma, eps, gz);
            }
            else
            {
                gx = new double[count];
                for (int i = 0; i < count; i++)
                {
                    int c = (i / spatial) % channels;
                    gx[i] = gz[i] * gamma[c] / Math.Sqrt(runningVar[c] + eps);
                }
            }
        }

        AssertClose($"{what}: y", expectedY, buffers.Read(y));
        AssertClose($"{what}: dx", Add(D(priorDx), gx), buffers.Read(dx));
        if (add)
        {
            AssertClose($"{what}: dr", Add(D(priorDr), gs), buffers.Read(dr));
        }

        if (norm)
        {
            float[] bnAfter = buffers.Read(bnView);
            AssertClose($"{what}: gamma and beta unchanged", gamma.Concat(beta).ToArray(), bnAfter[..(2 * channels)], 0);
            if (training)
            {
                float[] gradients = buffers.Read(dbn);
                AssertClose($"{what}: dgamma", dgamma, gradients[..channels]);
                AssertClose($"{what}: dbeta", dbeta, gradients[channels..]);
                Reference.BatchNorm2dUpdateRunningStats(runningMean, runningVar, batchMean, batchVar, n * spatial, momentum);
            }

            AssertClose($"{what}: running mean", runningMean, bnAfter[(2 * channels)..(3 * channels)]);
            AssertClose($"{what}: running variance", runningVar, bnAfter[(3 * channels)..]);
        }
    }

    internal static double[] ActivationForward(double[] x, Activation activation) => activation switch
    {
        Activation.ReLU => Reference.ReluForward(x),
        Activation.Tanh => Reference.TanhForward(x),
        Activation.Sigmoid => Reference.SigmoidForward(x),
        Activation.GELU => Reference.GeluForward(x),
        Activation.SiLU => Reference.SiluForward(x),
        Activation.None => (double[])x.Clone(),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "no reference"),
    };

    internal static double[] ActivationBackward(double[] x, double[] dy, Activation activation) => activation switch
    {
        Activation.ReLU => Reference.ReluBackward(x, dy),
        Activation.Tanh => Reference.TanhBackward(x, dy),
        Activation.Sigmoid => Reference.SigmoidBackward(x, dy),
        Activation.GELU => Reference.GeluBackward(x, dy),
        Activation.SiLU => Reference.SiluBackward(x, dy),
        Activation.None => (double[])dy.Clone(),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "no reference"),
    };

    // ------------------------------------------------------------------------------------------------------------
    // Pooling
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>Max, average and global-average pooling with padding and overlapping windows, forward and backward.</summary>
    [Theory]
    [InlineData(PoolKind.Max, 3, 5, 9, 7, 3, 2, 1)]
    [InlineData(PoolKind.Max, 1, 3, 7, 7, 3, 1, 1)]
    [InlineData(PoolKind.Max, 3, 3, 7, 9, 2, 2, 0)]
    [InlineData(PoolKind.Max, 1, 5, 9, 9, 7, 2, 3)]
    [InlineData(PoolKind.Max, 3, 3, 7, 7, 3, 3, 0)]
    [InlineData(PoolKind.Max, 1, 3, 9, 7, 5, 1, 2)]
    [InlineData(PoolKind.Average, 3, 5, 9, 7, 3, 2, 1)]
    [InlineData(PoolKind.Average, 1, 3, 7, 7, 3, 1, 1)]
    [InlineData(PoolKind.Average, 3, 3, 7, 9, 2, 2, 0)]
    [InlineData(PoolKind.Average, 1, 5, 9, 9, 7, 2, 3)]
    [InlineData(PoolKind.Average, 1, 3, 9, 7, 5, 1, 2)]
    [InlineData(PoolKind.GlobalAverage, 3, 5, 7, 9, 0, 1, 0)]
    [InlineData(PoolKind.GlobalAverage, 1, 3, 1, 1, 1, 1, 0)]
    [InlineData(PoolKind.GlobalAverage, 3, 3, 9, 7, 1, 1, 0)]
    public void Pool(PoolKind kind, int n, int channels, int h, int w, int k, int stride, int pad)
    {
        Random random = new(Seed(kind, n, channels, h, w, k, stride, pad));
        float[] x = kind == PoolKind.Max ? DistinctFloats(random, n * channels * h * w) : RandomFloats(random, n * channels * h * w);
        CheckPool(new PoolShape(n, channels, h, w, k, stride, pad, kind), x, random);
    }

    /// <summary>Max pooling with ties everywhere: the gradient goes to the first maximum of each window (row-major).</summary>
    [Theory]
    [InlineData(3, 5, 9, 7, 3, 2, 1)]
    [InlineData(1, 3, 7, 7, 3, 1, 1)]
    [InlineData(3, 3, 7, 9, 2, 2, 0)]
    public void MaxPoolTiesGoToTheFirstMaximum(int n, int channels, int h, int w, int k, int stride, int pad)
    {
        Random random = new(Seed(n, channels, h, w, k, stride, pad));
        float[] x = new float[n * channels * h * w];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = random.Next(3) - 1; // -1, 0 or 1: many ties.
        }

        CheckPool(new PoolShape(n, channels, h, w, k, stride, pad, PoolKind.Max), x, random);
    }

    /// <summary>Max pooling of all-negative values with padding: padding never wins.</summary>
    [Fact]
    public void MaxPoolPaddingNeverWins()
    {
        Random random = new(3);
        float[] x = RandomFloats(random, 3 * 3 * 7 * 7);
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = -1f - Math.Abs(x[i]);
        }

        CheckPool(new PoolShape(3, 3, 7, 7, 3, 2, 1, PoolKind.Max), x, random);
    }

    private void CheckPool(PoolShape shape, float[] x, Random random)
    {
        float[] dy = RandomFloats(random, (int)shape.OutputElements);
        float[] prior = RandomFloats(random, x.Length);
        using Buffers buffers = new(_device);
        ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage), dx = buffers.Upload(prior);
        PoolOp op = new(_device, shape, buffers.Upload(x), y, buffers.Upload(dy), dx);
        op.Forward();
        op.Backward();

        (int n, int c, int h, int w, int k, int s, int p) = (shape.N, shape.Channels, shape.Height, shape.Width, shape.Kernel, shape.Stride, shape.Padding);
        (double[] expectedY, double[] expectedDx) = shape.Kind switch
        {
            PoolKind.Max => (Reference.MaxPool2dForward(D(x), n, c, h, w, k, s, p), Reference.MaxPool2dBackward(D(x), n, c, h, w, k, s, p, D(dy))),
            PoolKind.Average => (Reference.AvgPool2dForward(D(x), n, c, h, w, k, s, p), Reference.AvgPool2dBackward(n, c, h, w, k, s, p, D(dy))),
            _ => (Reference.GlobalAvgPoolForward(D(x), n, c, h, w), Reference.GlobalAvgPoolBackward(n, c, h, w, D(dy))),
        };
        AssertClose($"{shape}: y", expectedY, buffers.Read(y));
        AssertClose($"{shape}: dx", Add(D(prior), expectedDx), buffers.Read(dx));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Shortcut, copy, dropout
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>The option-A shortcut cases: N, Cin, H, W, Cout, stride (the SIMD tests take them too).</summary>
    public static TheoryData<int, int, int, int, int, int> ShortcutCases => new()
    {
        { 3, 3, 7, 9, 8, 2 },
        { 1, 5, 9, 7, 5, 1 },
        { 3, 3, 7, 7, 6, 2 },
        { 1, 5, 7, 9, 10, 2 },
        { 3, 3, 7, 7, 7, 3 },
        { 1, 3, 1, 1, 4, 2 },
    };

    /// <summary>The option-A shortcut: subsampling and zero channels before and after, forward and backward.</summary>
    [Theory]
    [MemberData(nameof(ShortcutCases))]
    public void Shortcut(int n, int cin, int h, int w, int cout, int stride)
    {
        Random random = new(Seed(n, cin, h, w, cout, stride));
        ShortcutShape shape = new(n, cin, h, w, cout, stride);
        float[] x = RandomFloats(random, (int)shape.InputElements);
        float[] dy = RandomFloats(random, (int)shape.OutputElements);
        float[] prior = RandomFloats(random, x.Length);
        using Buffers buffers = new(_device);
        ArrayView<float> y = buffers.Filled((int)shape.OutputElements, Garbage), dx = buffers.Upload(prior);
        ShortcutOp op = new(_device, shape, buffers.Upload(x), y, buffers.Upload(dy), dx);
        op.Forward();
        op.Backward();
        AssertClose($"{shape}: y", Reference.ZeroPadShortcutForward(D(x), n, cin, h, w, cout, stride), buffers.Read(y), 0);
        AssertClose($"{shape}: dx", Add(D(prior), Reference.ZeroPadShortcutBackward(n, cin, h, w, cout, stride, D(dy))), buffers.Read(dx));
    }

    /// <summary>Copy overwrites forward and accumulates backward.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(10007)]
    public void Copy(int count)
    {
        Random random = new(count);
        float[] x = RandomFloats(random, count), dy = RandomFloats(random, count), prior = RandomFloats(random, count);
        using Buffers buffers = new(_device);
        ArrayView<float> y = buffers.Filled(count, Garbage), dx = buffers.Upload(prior);
        CopyOp op = new(_device, count, buffers.Upload(x), y, buffers.Upload(dy), dx);
        op.Forward();
        op.Backward();
        Assert.Equal(x, buffers.Read(y));
        float[] expected = new float[count];
        for (int i = 0; i < count; i++)
        {
            expected[i] = prior[i] + dy[i];
        }

        Assert.Equal(expected, buffers.Read(dx));
    }

    /// <summary>Rate 0 is the identity forward and backward.</summary>
    [Fact]
    public void DropoutRateZeroIsIdentity()
    {
        const int count = 10007;
        Random random = new(1);
        float[] x = RandomFloats(random, count), dy = RandomFloats(random, count), prior = RandomFloats(random, count);
        using Buffers buffers = new(_device);
        ArrayView<float> y = buffers.Filled(count, Garbage), dx = buffers.Upload(prior);
        DropoutOp op = new(_device, count, 0f, 1234, buffers.Upload(x), y, buffers.Upload(dy), dx);
        op.Forward(17);
        op.Backward(17);
        Assert.Equal(x, buffers.Read(y));
        Assert.Equal(prior.Zip(dy, (p, g) => p + g).ToArray(), buffers.Read(dx));
    }

    /// <summary>
    /// Rate 0.5: about half kept (within 5 sigma), kept values doubled, the mask that of <see cref="DropoutMask.Uniform"/>;
    /// the same (seed, step) gives the same mask, another step or seed another; the backward uses the forward's mask.
    /// </summary>
    [Theory]
    [InlineData(10007)]
    [InlineData(33)]
    public void DropoutHalf(int count)
    {
        const float rate = 0.5f;
        const int seed = 987654;
        Random random = new(count);
        float[] x = new float[count];
        for (int i = 0; i < count; i++)
        {
            x[i] = 0.5f + (float)Math.Round(random.NextDouble() * 1024) / 1024; // Never zero.
        }

        float[] dy = RandomFloats(random, count), prior = RandomFloats(random, count);
        using Buffers buffers = new(_device);
        ArrayView<float> xv = buffers.Upload(x), y = buffers.Filled(count, Garbage), dx = buffers.Upload(prior), dyv = buffers.Upload(dy);
        DropoutOp op = new(_device, count, rate, seed, xv, y, dyv, dx);

        op.Forward(3);
        bool[] mask = buffers.Read(y).Select(v => v != 0f).ToArray();
        float[] y3 = buffers.Read(y);
        for (int i = 0; i < count; i++)
        {
            bool keep = DropoutMask.Uniform(seed, 3, i) >= rate;
            Assert.Equal(keep, mask[i]);
            Assert.Equal(keep ? 2f * x[i] : 0f, y3[i]);
        }

        int kept = mask.Count(m => m);
        double sigma = Math.Sqrt(count * rate * (1 - rate));
        Assert.InRange(kept, (count * (1 - rate)) - (5 * sigma), (count * (1 - rate)) + (5 * sigma));
        AssertClose("dropout forward", Reference.DropoutForward(D(x), mask, rate), y3, 0);

        // Same (seed, step): the same mask.
        op.Forward(3);
        Assert.Equal(y3, buffers.Read(y));

        // The backward of step 3 uses step 3's mask, even after another step's forward.
        op.Forward(4);
        bool[] mask4 = buffers.Read(y).Select(v => v != 0f).ToArray();
        op.Backward(3);
        float[] dxActual = buffers.Read(dx);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(prior[i] + (mask[i] ? dy[i] * 2f : 0f), dxActual[i]);
        }

        AssertClose("dropout backward", Add(D(prior), Reference.DropoutBackward(D(dy), mask, rate)), dxActual, 0);

        // Another seed: another mask.
        ArrayView<float> y2 = buffers.Filled(count, Garbage);
        new DropoutOp(_device, count, rate, seed + 1, xv, y2).Forward(3);
        bool[] maskOtherSeed = buffers.Read(y2).Select(v => v != 0f).ToArray();
        if (count > 1000)
        {
            // Independent masks differ in about half of the elements.
            double differ4 = Enumerable.Range(0, count).Count(i => mask[i] != mask4[i]) / (double)count;
            double differSeed = Enumerable.Range(0, count).Count(i => mask[i] != maskOtherSeed[i]) / (double)count;
            Assert.InRange(differ4, 0.45, 0.55);
            Assert.InRange(differSeed, 0.45, 0.55);
        }
        else
        {
            Assert.NotEqual(mask, mask4);
            Assert.NotEqual(mask, maskOtherSeed);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Softmax cross-entropy
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>Per-image loss, correctness and gradient against the reference; rows past count get a zero gradient.</summary>
    [Theory]
    [InlineData(5, 10, 5, 1.0)]
    [InlineData(5, 10, 3, 1.0)]
    [InlineData(1, 3, 1, 1.0)]
    [InlineData(7, 13, 7, 1000.0)]
    [InlineData(7, 13, 2, 1000.0)]
    public void SoftmaxCrossEntropy(int rows, int classes, int count, double scale)
    {
        Random random = new(Seed(rows, classes, count, scale));
        float[] logits = RandomFloats(random, rows * classes, scale);
        int[] labels = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
        if (scale >= 1000)
        {
            // Extremes: one logit at +1000 (sometimes the label, sometimes not), one at -1000.
            for (int n = 0; n < rows; n++)
            {
                logits[(n * classes) + ((n + 1) % classes)] = 1000f;
                logits[(n * classes) + ((n + 2) % classes)] = -1000f;
                labels[n] = n % 2 == 0 ? (n + 1) % classes : labels[n];
            }
        }

        using Buffers buffers = new(_device);
        ArrayView<float> loss = buffers.Filled(rows, Garbage), correct = buffers.Filled(rows, Garbage), dz = buffers.Filled(rows * classes, Garbage);
        MemoryBuffer1D<int, Stride1D.Dense> labelBuffer = _device.Accelerator.Allocate1D(labels);
        try
        {
            int threads = _device.ThreadsFor(rows);
            _device.Kernels.SoftmaxCrossEntropy(
                threads, SpecializedValue.New(classes), buffers.Upload(logits), labelBuffer.View, count, 1f / count, loss, correct, dz, rows, threads);
            _device.Accelerator.Synchronize();
        }
        finally
        {
            labelBuffer.Dispose();
        }

        float[] lossActual = buffers.Read(loss), correctActual = buffers.Read(correct), dzActual = buffers.Read(dz);
        Assert.All(lossActual[..count], v => Assert.True(float.IsFinite(v), $"loss {v}"));
        Assert.All(dzActual, v => Assert.True(float.IsFinite(v), $"gradient {v}"));

        double[] expectedLoss = new double[count];
        double[] expectedCorrect = new double[count];
        for (int n = 0; n < count; n++)
        {
            double[] row = D(logits[(n * classes)..((n + 1) * classes)]);
            expectedLoss[n] = Reference.SoftmaxCrossEntropy(row, 1, classes, [labels[n]]).Loss;
            int best = 0;
            for (int j = 1; j < classes; j++)
            {
                best = row[j] > row[best] ? j : best;
            }

            expectedCorrect[n] = best == labels[n] ? 1 : 0;
        }

        (double meanLoss, double[] expectedDz) = Reference.SoftmaxCrossEntropy(D(logits[..(count * classes)]), count, classes, labels[..count]);
        AssertClose("loss", expectedLoss, lossActual[..count]);
        double meanActual = lossActual[..count].Select(v => (double)v).Average();
        Assert.True(Math.Abs(meanLoss - meanActual) <= Tolerance * Math.Max(1, Math.Abs(meanLoss)), $"mean loss {meanActual}, expected {meanLoss}");
        AssertClose("correct", expectedCorrect, correctActual[..count], 0);
        AssertClose("gradient", expectedDz, dzActual[..(count * classes)]);
        Assert.All(dzActual[(count * classes)..], v => Assert.Equal(0f, v));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------------------



    /// <summary>Distinct values 1/64 apart, shuffled: no max-pool ties.</summary>
    private static float[] DistinctFloats(Random random, int length)
    {
        float[] a = Enumerable.Range(0, length).Select(i => (i - (length / 2)) / 64f).ToArray();
        random.Shuffle(a);
        return a;
    }



}
