using System;
using System.Linq;
using DslResNet.Kernels;
using DslResNet.Kernels.Ilgpu;
using DslResNet.Runtime;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Xunit;
using Device = DslResNet.Runtime.Device;

using static DslResNet.Tests.Kernels.KernelTestData;

namespace DslResNet.Tests.Kernels;

/// <summary>An ILGPU CPU device whose backend runs the grouped batch-norm reductions (off by default on the CPU accelerator).</summary>
public sealed class GroupedCpuDeviceFixture : IDisposable
{
    /// <summary>Creates the device and switches the grouped reductions on.</summary>
    public GroupedCpuDeviceFixture()
    {
        Device = Device.Create(DeviceKind.IlgpuCpu);
        ((IlgpuBackend)Device.Backend).GroupedReductions = true;
    }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>Releases the device.</summary>
    public void Dispose() => Device.Dispose();
}

/// <summary>
/// The grouped batch-norm reductions (<see cref="ReductionKernels"/>): through the runtime's epilogue op against the
/// double-precision <see cref="Reference"/>, on channels whose element counts are not multiples of the group and one much
/// bigger than a group; and launched directly with the GPU's group size of 256 on a CPU accelerator configured to allow it.
/// </summary>
public sealed class GroupedReductionTests : IClassFixture<GroupedCpuDeviceFixture>
{
    private readonly Device _device;

    /// <summary>Takes the shared device.</summary>
    /// <param name="fixture">The fixture.</param>
    public GroupedReductionTests(GroupedCpuDeviceFixture fixture)
    {
        _device = fixture.Device;
    }

    /// <summary>The device's backend runs the grouped kernels and not the one-thread-per-channel ones (else the tests below would check the old kernels).</summary>
    [Fact]
    public void TheGroupedKernelsAreTheOnesRun()
    {
        IlgpuKernelTests.CheckEpilogue(_device, "BN+ReLU", 2, 3, 17, true, Activation.ReLU, false, Activation.None, training: true);
        string[] loaded = _device.Kernels.Loaded.ToArray();
        Assert.Contains(nameof(KernelSet.GroupedStatistics), loaded);
        Assert.Contains(nameof(KernelSet.GroupedBackwardReduce), loaded);
        Assert.DoesNotContain(nameof(KernelSet.Statistics), loaded);
        Assert.DoesNotContain(nameof(KernelSet.EpilogueBackwardReduce), loaded);
        Assert.Equal(16, _device.Kernels.ReductionGroupSize);
    }

    /// <summary>
    /// Training mode, every combination of the fused pass: y, dx, dr, dgamma, dbeta and the running statistics. Channels of
    /// 189, 7 and 21 values (not multiples of the group of 16) and of 6,000 (375 per thread).
    /// </summary>
    [Theory]
    [MemberData(nameof(IlgpuKernelTests.EpilogueCombinations), MemberType = typeof(IlgpuKernelTests))]
    public void EpilogueTraining(string name, bool norm, Activation act1, bool add, Activation act2)
    {
        IlgpuKernelTests.CheckEpilogue(_device, name, 3, 5, 63, norm, act1, add, act2, training: true);
        IlgpuKernelTests.CheckEpilogue(_device, name, 1, 3, 7, norm, act1, add, act2, training: true);
        IlgpuKernelTests.CheckEpilogue(_device, name, 3, 5, 7, norm, act1, add, act2, training: true);
        IlgpuKernelTests.CheckEpilogue(_device, name, 2, 2, 3000, norm, act1, add, act2, training: true);
    }

    /// <summary>Running statistics after one and two steps (mode 0's update).</summary>
    [Theory]
    [InlineData(3, 5, 63)]
    [InlineData(1, 3, 7)]
    [InlineData(2, 3, 3000)]
    public void EpilogueRunningStatisticsOverTwoSteps(int n, int channels, int spatial) =>
        IlgpuKernelTests.CheckRunningStatistics(_device, n, channels, spatial);

    /// <summary>
    /// The kernels at the GPU's group size (256 threads, on a CPU accelerator of 8 warps of 32), all three statistics modes
    /// and the backward reduction, against sums in double: channels of 70 values (fewer than a group), 300 (not a multiple)
    /// and 20,000 (78 per thread), with a mean of 1,000 over a spread of 1, where a one-pass variance in float would lose
    /// every digit.
    /// </summary>
    [Theory]
    [InlineData(256, 2, 3, 35)]
    [InlineData(256, 3, 2, 100)]
    [InlineData(256, 4, 3, 5000)]
    [InlineData(64, 4, 3, 5000)]
    public void KernelsAtGroupSize(int groupSize, int n, int channels, int spatial)
    {
        using Context context = Context.Create(builder => builder.Default().EnableAlgorithms());
        using Accelerator accelerator = new CPUDevice(32, 8, 1).CreateAccelerator(context);
        Random random = new(Seed(groupSize, n, channels, spatial));
        int count = n * channels * spatial;
        float[] x = RandomFloats(random, count).Select(v => 1000f + v).ToArray();
        float[] dy = RandomFloats(random, count);
        float[] bn = BatchNormParameters(random, channels);
        const float eps = 1e-5f, momentum = 0.1f;
        EpilogueShape shape = new(n, channels, spatial, true, true, Activation.None, false, Activation.None, eps, momentum);
        var statistics = accelerator.LoadStreamKernel<SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ReductionKernels.Statistics);
        var reduce = accelerator.LoadStreamKernel<SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ReductionKernels.BackwardReduce);
        using var xBuffer = accelerator.Allocate1D(x);
        using var dyBuffer = accelerator.Allocate1D(dy);
        using var yBuffer = accelerator.Allocate1D<float>(count);
        using var bnBuffer = accelerator.Allocate1D(bn);
        using var stats = accelerator.Allocate1D<float>(4 * channels);
        using var dbn = accelerator.Allocate1D<float>(2 * channels);
        KernelConfig config = new(channels, groupSize);

        // Double references, per channel.
        double[] mean = new double[channels], variance = new double[channels], sumG = new double[channels], sumGx = new double[channels];
        int per = n * spatial;
        for (int c = 0; c < channels; c++)
        {
            double[] values = Enumerable.Range(0, per).Select(k => (double)x[((((k / spatial) * channels) + c) * spatial) + (k % spatial)]).ToArray();
            double[] g = Enumerable.Range(0, per).Select(k => (double)dy[((((k / spatial) * channels) + c) * spatial) + (k % spatial)]).ToArray();
            mean[c] = values.Average();
            variance[c] = values.Sum(v => (v - mean[c]) * (v - mean[c])) / per;
            double inv = 1 / Math.Sqrt(variance[c] + eps);
            sumG[c] = g.Sum();
            sumGx[c] = values.Zip(g, (v, d) => d * (v - mean[c]) * inv).Sum();
        }

        (double[] _, double[] _, double[] runningMean, double[] runningVar) = Split(bn, channels);

        // Mode 2: this device's moments.
        statistics(config, SpecializedValue.New(shape), xBuffer.View, bnBuffer.View, stats.View, 2);
        float[] moments = stats.GetAsArray1D();
        AssertClose($"mode 2 mean, group {groupSize}", mean, moments[..channels], 1e-6);
        AssertClose($"mode 2 variance, group {groupSize}", variance, moments[channels..(2 * channels)], 1e-3);
        Assert.Equal(bn, bnBuffer.GetAsArray1D());

        // Mode 1: the running statistics, unchanged.
        statistics(config, SpecializedValue.New(shape), xBuffer.View, bnBuffer.View, stats.View, 1);
        float[] frozen = stats.GetAsArray1D();
        AssertClose("mode 1 mean", runningMean, frozen[..channels], 1e-6);
        AssertClose("mode 1 inverse deviation", runningVar.Select(v => 1 / Math.Sqrt(v + eps)).ToArray(), frozen[channels..(2 * channels)], 1e-6);
        Assert.Equal(bn, bnBuffer.GetAsArray1D());

        // Mode 0: batch statistics and the running update.
        statistics(config, SpecializedValue.New(shape), xBuffer.View, bnBuffer.View, stats.View, 0);
        float[] batch = stats.GetAsArray1D();
        AssertClose("mode 0 mean", mean, batch[..channels], 1e-6);
        AssertClose("mode 0 inverse deviation", variance.Select(v => 1 / Math.Sqrt(v + eps)).ToArray(), batch[channels..(2 * channels)], 1e-3);
        Reference.BatchNorm2dUpdateRunningStats(runningMean, runningVar, mean, variance, per, momentum);
        float[] bnAfter = bnBuffer.GetAsArray1D();
        AssertClose("running mean", runningMean, bnAfter[(2 * channels)..(3 * channels)], 1e-6);
        AssertClose("running variance", runningVar, bnAfter[(3 * channels)..], 1e-4);

        // Backward reduction (no activation, no residual: g = dy).
        reduce(config, SpecializedValue.New(shape), dyBuffer.View, yBuffer.View, xBuffer.View, default, bnBuffer.View, stats.View, dbn.View, 0);
        float[] sums = dbn.GetAsArray1D();
        float[] means = stats.GetAsArray1D()[(2 * channels)..];
        AssertClose("dgamma", sumGx, sums[..channels], 1e-3);
        AssertClose("dbeta", sumG, sums[channels..], 1e-4);
        AssertClose("mean of g", sumG.Select(v => v / per).ToArray(), means[..channels], 1e-4);
        AssertClose("mean of g xhat", sumGx.Select(v => v / per).ToArray(), means[channels..], 1e-3);
        reduce(config, SpecializedValue.New(shape), dyBuffer.View, yBuffer.View, xBuffer.View, default, bnBuffer.View, stats.View, dbn.View, 1);
        Assert.All(stats.GetAsArray1D()[(2 * channels)..], v => Assert.Equal(0f, v));
    }
}
