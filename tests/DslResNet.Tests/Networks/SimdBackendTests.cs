using System;
using System.Linq;
using DslResNet.Kernels;
using DslResNet.Kernels.Simd;
using DslResNet.Tests.Kernels;
using DslResNet.Runtime;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Networks;

/// <summary>
/// The SIMD backend as a whole: a training step allocates nothing once warm (no garbage, hence no collections), batch-1
/// inference allocates nothing, results do not depend on the thread count or vector width beyond float rounding, and
/// the device reports and validates its settings.
/// </summary>
public sealed class SimdBackendTests
{
    /// <summary>
    /// The passes that add up over the batch (batch statistics in the forward, the weight gradients and batch-norm sums in
    /// the backward) let threads take their units as they finish, yet keep each unit's sums apart and add them in unit
    /// order: twin networks trained on three threads over two cores (so that who runs what changes from step to step)
    /// end with the same parameters, bit for bit.
    /// </summary>
    [Fact]
    public void TrainingIsRepeatableWhateverThreadRunsWhat()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 3, oversubscribe: true);
        float[] Train()
        {
            using var net = new VectorResNet(device, 12, new NetworkOptions(Seed: 6));
            Random random = new(7);
            float[] images = NetworkData.Normal(random, 12 * NetworkData.ImageElements(net));
            int[] labels = [.. Enumerable.Range(0, 12).Select(i => i % 10)];
            var sgd = new Sgd(0.05, momentum: 0.9);
            net.AddParametersTo(sgd);
            for (int i = 0; i < 4; i++)
            {
                net.TrainStep(images, labels, sgd);
            }

            return [.. net.Definition.Parameters.Where(p => p.Role != ParameterRole.BatchesTracked).SelectMany(p => net.GetParameter(p.Name))];
        }

        float[] first = Train();
        for (int run = 0; run < 3; run++)
        {
            Assert.Equal(first, Train());
        }
    }

    /// <summary>
    /// The check for non-finite gradients before an update is shared among the threads (the parameters in runs): a NaN or
    /// an infinity in any trainable parameter's gradient, first, middle or last element, is found and named as the serial
    /// check names it, and a clean set of gradients passes.
    /// </summary>
    [Fact]
    public void TheSharedGradientCheckFindsEveryNonFiniteValue()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 2);
        using var net = new VectorResNet(device, 4, new NetworkOptions(Seed: 3));
        Random random = new(8);
        var sgd = new Sgd(0.01);
        net.AddParametersTo(sgd);
        net.TrainStep(NetworkData.Normal(random, 4 * NetworkData.ImageElements(net)), [1, 2, 3, 4], sgd);
        ParameterStore store = net.Store;
        SimdPool pool = device.Pool!;
        Assert.Null(store.FirstNonFiniteGradient(pool));
        string[] trainable = [.. net.Definition.Parameters.Where(p => p.IsTrainable).Select(p => p.Name)];
        Assert.True(trainable.Length > 8);
        foreach (string name in trainable)
        {
            Span<float> gradient = store.HostGradient(name).Span;
            foreach (int at in new[] { 0, gradient.Length / 2, gradient.Length - 1 })
            {
                float kept = gradient[at];
                gradient[at] = at == 0 ? float.NaN : float.PositiveInfinity;
                Assert.Equal(name, store.FirstNonFiniteGradient(pool));
                Assert.Equal(name, store.FirstNonFiniteGradient());
                gradient[at] = kept;
            }
        }

        Assert.Null(store.FirstNonFiniteGradient(pool));
    }

    /// <summary>
    /// A long Predict or Evaluate runs in passes of a few images (see NetworkBase.InferencePassImages): CIFAR ResNet-20 at
    /// batch 64 on two threads takes more than one (after it, Output refuses, as its logits are not all held), and gives
    /// the very logits of a single evaluation-mode Forward over the whole batch (each image is computed alone either way),
    /// and Evaluate the loss and hits of those logits.
    /// </summary>
    [Fact]
    public void LongPredictionsRunInPassesWithTheSameResults()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 2);
        const int batch = 64;
        using var net = new ArenaResNet20(device, batch, new NetworkOptions(Seed: 4));
        Random random = new(5);
        float[] images = NetworkData.Normal(random, batch * NetworkData.ImageElements(net));
        int[] labels = new int[batch];
        for (int i = 0; i < batch; i++)
        {
            labels[i] = random.Next(10);
        }

        net.Eval();
        net.Forward(images);
        float[] whole = net.Output();
        float[] logits = new float[whole.Length];
        net.Predict(images, logits);
        Assert.Throws<InvalidOperationException>(() => net.Output());
        Assert.Equal(whole, logits);

        double sum = 0;
        int hits = 0;
        for (int n = 0; n < batch; n++)
        {
            ReadOnlySpan<float> row = whole.AsSpan(n * 10, 10);
            float max = float.NegativeInfinity;
            int top = 0;
            for (int c = 0; c < 10; c++)
            {
                (max, top) = row[c] > max ? (row[c], c) : (max, top);
            }

            double total = 0;
            for (int c = 0; c < 10; c++)
            {
                total += Math.Exp(row[c] - max);
            }

            sum += Math.Log(total) + max - row[labels[n]];
            hits += top == labels[n] ? 1 : 0;
        }

        BatchResult result = net.Evaluate(images, labels);
        Assert.Equal(batch, result.Count);
        Assert.Equal(hits, result.Correct);
        Assert.Equal(sum / batch, result.Loss, 1e-5);
        Assert.Throws<InvalidOperationException>(() => net.Output());
    }

    /// <summary>
    /// Images come in NCHW and are laid out channels-last in parts of the batch's pixels shared out to the threads, parts
    /// that split images (3 channels, the RGB path; 2, the general one): predictions agree with the ILGPU reference's,
    /// which reads the images as they are.
    /// </summary>
    /// <param name="channels">Input channels (VectorResNet 3x12x12, TinyMixedNet 2x9x9).</param>
    /// <param name="batch">Images: enough for several parts, whose boundaries fall inside images.</param>
    [Theory]
    [InlineData(3, 77)]
    [InlineData(2, 203)]
    public void ImagesLoadChannelsLastInPartsAsTheReferenceReadsThem(int channels, int batch)
    {
        float[]? reference = null;
        foreach (DeviceKind kind in new[] { DeviceKind.IlgpuCpu, DeviceKind.Cpu })
        {
            using Device device = kind == DeviceKind.Cpu ? Device.Create(kind, 2) : Device.Create(kind);
            using NetworkBase net = channels == 3
                ? new VectorResNet(device, batch, new NetworkOptions(Seed: 5))
                : new TinyMixedNet(device, batch, new NetworkOptions(Seed: 5));
            Assert.Equal(channels, net.Definition.InputShape.Channels);
            float[] images = NetworkData.Normal(new Random(8), batch * NetworkData.ImageElements(net));
            float[] logits = new float[batch * NetworkData.Classes(net)];
            net.Eval();
            net.Predict(images, logits);
            if (reference is null)
            {
                reference = logits;
                continue;
            }

            double scale = Math.Max(1e-3, reference.Max(v => Math.Abs((double)v)));
            for (int i = 0; i < logits.Length; i++)
            {
                Assert.True(Math.Abs(logits[i] - reference[i]) <= 1e-4 * scale, $"image {i / (logits.Length / batch)}: SIMD {logits[i]:R}, ILGPU {reference[i]:R}");
            }
        }
    }

    /// <summary>
    /// The loading of <see cref="ImagesLoadChannelsLastInPartsAsTheReferenceReadsThem"/> (the same images, 3 and 2 channels,
    /// parts that split images on 2 threads) on the network host alone, with the caller's images and every buffer of the
    /// host's binding at the end of a mapping whose next page may not be touched (see <see cref="GuardedBlock"/>): a read
    /// past the caller's images or a write past the input stops the test run with a segmentation fault. A whole batch and
    /// a short one (one image fewer); the input holds the images channels-last, and reading them back (as the input's
    /// gradient is read) gives the caller's order.
    /// </summary>
    /// <param name="channels">Input channels (VectorResNet 3x12x12, TinyMixedNet 2x9x9).</param>
    /// <param name="batch">Images.</param>
    [Theory]
    [InlineData(3, 77)]
    [InlineData(2, 203)]
    public void ImagesLoadChannelsLastAndTouchNothingPastTheirBuffers(int channels, int batch)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        const int classes = 10;
        int pixels = channels == 3 ? 12 * 12 : 9 * 9, elements = channels * pixels;
        using Device device = Device.Create(DeviceKind.Cpu, 2);
        float[] images = NetworkData.Normal(new Random(8), batch * elements);
        foreach (int count in new[] { batch, batch - 1 })
        {
            using GuardedBlock source = new(images.AsSpan(0, count * elements));
            using GuardedBlock input = new(Enumerable.Repeat(12345.5f, batch * elements).ToArray()), labels = new(new float[batch]);
            using GuardedBlock loss = new(new float[batch]), correct = new(new float[batch]);
            var host = new SimdNetworkHost(
                device.Pool!, new HostBinding(input.View(), labels.IntView(), loss.View(), correct.View(), batch, classes, channels, pixels));
            host.LoadImages(source.Span, count);

            float[] stored = input.Read();
            float[] expected = Layout.ToNhwc(images[..(count * elements)], count, channels, pixels);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(stored[i] == expected[i], $"{count} of {batch} images, {channels} channels: input {i} (image {i / elements}, pixel {i % elements / channels}, channel {i % channels}) is {stored[i]:R}, not {expected[i]:R}");
            }

            float[] back = new float[batch * elements];
            host.ReadImages(input.View(), back);
            Assert.Equal(images[..(count * elements)], back[..(count * elements)]);
        }
    }

    /// <summary>The loss and parameters after three steps agree across thread counts and vector widths.</summary>
    [Fact]
    public void ResultsDoNotDependOnThreadsOrWidth()
    {
        (double Loss, float[] Weight) Run(int threads, SimdWidth width)
        {
            using Device device = Device.Create(DeviceKind.Cpu, threads, width, oversubscribe: true);
            using var net = new TinyResNet(device, 6, new NetworkOptions(Seed: 4));
            Random random = new(9);
            float[] images = NetworkData.Normal(random, 6 * NetworkData.ImageElements(net));
            int[] labels = [2, 1, 0, 0, 1, 2];
            var sgd = new Sgd(0.1, momentum: 0.9);
            net.AddParametersTo(sgd);
            double loss = 0;
            for (int i = 0; i < 3; i++)
            {
                loss = net.TrainStep(images, labels, sgd).Loss;
            }

            return (loss, net.GetParameter("layer2.0.conv2.weight"));
        }

        (double loss, float[] weight) = Run(1, SimdWidth.Scalar);
        foreach ((int threads, SimdWidth width) in new[] { (2, SimdWidth.Auto), (3, SimdWidth.Vector256), (2, SimdWidth.Scalar) })
        {
            (double l, float[] w) = Run(threads, width);
            Assert.True(Math.Abs(l - loss) < 1e-5 * Math.Max(1, Math.Abs(loss)), $"{threads} threads, {width}: loss {l} vs {loss}");
            for (int i = 0; i < w.Length; i++)
            {
                Assert.True(Math.Abs(w[i] - weight[i]) < 1e-4, $"{threads} threads, {width}: weight[{i}] {w[i]} vs {weight[i]}");
            }
        }
    }

    /// <summary>The device says what it runs, and bad settings are refused with the setting named.</summary>
    [Fact]
    public void DeviceReportsAndValidatesItsSettings()
    {
        using (Device device = Device.Create(DeviceKind.Cpu, 3, SimdWidth.Vector256, oversubscribe: true))
        {
            Assert.True(device.IsSimd);
            Assert.Equal(3, device.Threads);
            Assert.Equal(3, device.Pool!.Threads);
            Assert.Contains("3 threads", device.Description, StringComparison.Ordinal);
            Assert.Contains(System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "Vector256" : "scalar", device.Description, StringComparison.Ordinal);
        }

        using (Device reference = Device.Create(DeviceKind.IlgpuCpu))
        {
            Assert.False(reference.IsSimd);
            Assert.Null(reference.Pool);
        }

        Assert.Equal(DeviceKind.IlgpuCpu, Device.Parse("ilgpu-cpu", "--device"));
        Assert.Equal(DeviceKind.Cpu, Device.Parse("cpu", "--device"));
        Assert.Equal(SimdWidth.Scalar, Device.ParseWidth("scalar", Device.SimdVariable));
        Assert.Equal(4, Device.ParseThreads("4", Device.ThreadsVariable));
        ArgumentException threads = Assert.Throws<ArgumentException>(() => Device.ParseThreads("0", Device.ThreadsVariable));
        Assert.Contains(Device.ThreadsVariable, threads.Message, StringComparison.Ordinal);
        ArgumentException width = Assert.Throws<ArgumentException>(() => Device.ParseWidth("avx9", Device.SimdVariable));
        Assert.Contains("avx9", width.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.Create(DeviceKind.Cpu, -1));
        Assert.Equal((true, true), Device.ParseWinograd("on", Device.WinogradVariable));
        Assert.Equal((true, false), Device.ParseWinograd(" F2 ", Device.WinogradVariable));
        Assert.Equal((false, false), Device.ParseWinograd("off", Device.WinogradVariable));
        ArgumentException winograd = Assert.Throws<ArgumentException>(() => Device.ParseWinograd("f4", Device.WinogradVariable));
        Assert.Contains(Device.WinogradVariable + ": 'f4' is not on, off or f2", winograd.Message, StringComparison.Ordinal);
        using (Device device = Device.Create(DeviceKind.Cpu, 1, SimdWidth.Auto, winograd: true))
        {
            Assert.True(device.WinogradLargeTiles);
        }
    }
}

/// <summary>Runs alone (no other test in parallel), so that no other test's garbage collections are counted.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Allocation, alone";
}

/// <summary>The SIMD backend allocates no managed memory in a warm training step or prediction, on any thread.</summary>
[Collection(AllocationCollection.Name)]
public sealed class SimdAllocationTests
{
    /// <summary>After warm-up, training steps and predictions allocate no managed memory on the calling thread or the SIMD
    /// backend's worker threads, and cause no garbage collection. (Not the process-wide count: the test runner's own
    /// threads allocate while the test runs.)</summary>
    [Fact]
    public void TrainingStepAndPredictionAllocateNothingOnceWarm()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 2);
        using var net = new TinyResNet(device, 8, new NetworkOptions(Seed: 1));
        Random random = new(2);
        float[] images = NetworkData.Normal(random, 8 * NetworkData.ImageElements(net));
        int[] labels = [0, 1, 2, 0, 1, 2, 0, 1];
        var sgd = new Sgd(0.05, momentum: 0.9, weightDecay: 1e-4);
        net.AddParametersTo(sgd);
        float[] one = images.AsSpan(0, NetworkData.ImageElements(net)).ToArray();
        float[] logits = new float[NetworkData.Classes(net)];
        for (int i = 0; i < 3; i++)
        {
            net.Train();
            net.TrainStep(images, labels, sgd);
            net.Eval();
            net.Predict(one, logits);
        }

        long thread = GC.GetAllocatedBytesForCurrentThread();
        long workers = device.Pool!.WorkerAllocatedBytes;
        int collections = GC.CollectionCount(0);
        for (int i = 0; i < 5; i++)
        {
            net.Train();
            net.TrainStep(images, labels, sgd);
            net.Eval();
            net.Predict(one, logits);
        }

        long threadBytes = GC.GetAllocatedBytesForCurrentThread() - thread;
        long workerBytes = device.Pool.WorkerAllocatedBytes - workers;
        Assert.True(threadBytes == 0, $"5 training steps and predictions allocated {threadBytes} bytes on the calling thread");
        Assert.True(workerBytes == 0, $"5 training steps and predictions allocated {workerBytes} bytes on the SIMD worker threads");
        Assert.Equal(collections, GC.CollectionCount(0));
    }
}
