using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using DslResNet.Kernels.Simd;
using DslResNet.Runtime;
using DslResNet.Tests.Networks;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Lifetime;

/// <summary>
/// The threading contract: a network is used by one thread at a time, and a second call from another thread throws
/// InvalidOperationException naming both calls, never a wrong result or a dead process; Dispose during a call frees
/// nothing under it; a network on a disposed device throws ObjectDisposedException; two networks on one device run on
/// two threads and both are right. The blocking optimizer makes the overlap certain instead of hoping for it.
/// </summary>
[Collection(AllocationCollection.Name)]
public sealed class ConcurrencyTests
{
    /// <summary>A call on another thread while a training step runs throws, naming both calls; the step finishes right.</summary>
    [Theory]
    [InlineData(DeviceKind.Cpu)]
    [InlineData(DeviceKind.IlgpuCpu)]
    public async Task SecondCallDuringAStepThrowsNamingBothCalls(DeviceKind kind)
    {
        using Device device = Device.Create(kind, kind == DeviceKind.Cpu ? 2 : 0);
        using TinyResNet net = new(device, 4, new NetworkOptions(Seed: 3));
        (float[] images, int[] labels) = Batch(net);
        using BlockingSgd sgd = new();
        net.AddParametersTo(sgd);

        Task<BatchResult> step = Task.Run(() => net.TrainStep(images, labels, sgd));
        Assert.True(sgd.Entered.Wait(TimeSpan.FromSeconds(60)), "the step never reached the optimizer");
        float[] logits = new float[4 * NetworkData.Classes(net)];
        InvalidOperationException predict = Assert.Throws<InvalidOperationException>(() => net.Predict(images, logits));
        Assert.Contains("TinyResNet: Predict was called while TrainStep is running on thread", predict.Message, StringComparison.Ordinal);
        InvalidOperationException train = Assert.Throws<InvalidOperationException>(() => net.TrainStep(images, labels, new Sgd(0.1)));
        Assert.Contains("TrainStep was called while TrainStep", train.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => net.SetParameter("fc.bias", new float[3]));
        sgd.Release.Set();
        Assert.True(double.IsFinite((await step).Loss));

        // Idle again: calls work.
        net.Eval();
        net.Predict(images, logits);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>Dispose from another thread during a step lets the step finish, then frees; later calls throw.</summary>
    [Fact]
    public async Task DisposeDuringAStepWaitsForItThenFrees()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 2);
        TinyResNet warm = new(device, 4); // grows the device's scratch first, so the count below is the network's alone
        warm.Dispose();
        long before = NativeBlocks.LiveBytes;
        TinyResNet net = new(device, 4, new NetworkOptions(Seed: 3));
        Assert.True(NativeBlocks.LiveBytes > before);
        (float[] images, int[] labels) = Batch(net);
        using BlockingSgd sgd = new();
        net.AddParametersTo(sgd);
        Task<BatchResult> step = Task.Run(() => net.TrainStep(images, labels, sgd));
        Assert.True(sgd.Entered.Wait(TimeSpan.FromSeconds(60)));

        net.Dispose();
        Assert.True(net.IsDisposed);
        Assert.True(NativeBlocks.LiveBytes > before, "Dispose freed the memory under a running step");
        sgd.Release.Set();
        Assert.True(double.IsFinite((await step).Loss));
        Assert.Equal(before, NativeBlocks.LiveBytes);
        ObjectDisposedException e = Assert.Throws<ObjectDisposedException>(() => net.Predict(images, new float[12]));
        Assert.Contains("Predict was called after Dispose", e.Message, StringComparison.Ordinal);
        net.Dispose();
    }

    /// <summary>Disposing the device waits for a call in progress; afterwards the network throws ObjectDisposedException
    /// (on both kinds of device) and its own Dispose still works.</summary>
    [Theory]
    [InlineData(DeviceKind.Cpu)]
    [InlineData(DeviceKind.IlgpuCpu)]
    public async Task DeviceDisposedBeforeItsNetwork(DeviceKind kind)
    {
        Device device = Device.Create(kind, kind == DeviceKind.Cpu ? 2 : 0);
        TinyResNet net = new(device, 4, new NetworkOptions(Seed: 3));
        (float[] images, int[] labels) = Batch(net);
        using BlockingSgd sgd = new();
        net.AddParametersTo(sgd);
        Task<BatchResult> step = Task.Run(() => net.TrainStep(images, labels, sgd));
        Assert.True(sgd.Entered.Wait(TimeSpan.FromSeconds(60)));
        Task disposing = Task.Run(device.Dispose);
        Assert.NotSame(disposing, await Task.WhenAny(disposing, Task.Delay(300)));
        Assert.False(disposing.IsCompleted, "the device was disposed under a running step");
        sgd.Release.Set();
        Assert.True(double.IsFinite((await step).Loss));
        await disposing.WaitAsync(TimeSpan.FromSeconds(60));

        ObjectDisposedException e = Assert.Throws<ObjectDisposedException>(() => net.Predict(images, new float[12]));
        Assert.Contains("TinyResNet: Predict was called after its device", e.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => net.TrainStep(images, labels, sgd));
        Assert.Throws<ObjectDisposedException>(() => new TinyResNet(device, 2));
        net.Dispose();
        device.Dispose();
    }

    /// <summary>Disposing the device from inside a call on that device (here, the optimizer's update) would wait for itself
    /// forever: it throws instead, and the device stays usable.</summary>
    [Fact]
    public void DeviceDisposedFromInsideItsOwnCallThrowsInsteadOfHanging()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 2);
        using TinyResNet net = new(device, 4, new NetworkOptions(Seed: 3));
        (float[] images, int[] labels) = Batch(net);
        using CallbackSgd sgd = new(device.Dispose);
        net.AddParametersTo(sgd);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => net.TrainStep(images, labels, sgd));
        Assert.Contains("Device.Dispose was called from inside a network call on the same thread", e.Message, StringComparison.Ordinal);
        Assert.False(device.IsDisposed);
        net.Eval();
        net.Predict(images, new float[12]);
    }

    /// <summary>Two threads hammering Predict on one network: every call either returns exactly the right logits or throws
    /// InvalidOperationException; nothing else happens.</summary>
    [Fact]
    public void ConcurrentPredictionsAreRightOrRefused()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 2);
        using TinyResNet net = new(device, 4, new NetworkOptions(Seed: 5));
        (float[] images, _) = Batch(net);
        net.Eval();
        float[] expected = new float[4 * NetworkData.Classes(net)];
        net.Predict(images, expected);

        int right = 0, refused = 0;
        ConcurrentBag<string> wrong = [];
        void Hammer()
        {
            float[] logits = new float[expected.Length];
            for (int i = 0; i < 300; i++)
            {
                try
                {
                    net.Predict(images, logits);
                    if (logits.AsSpan().SequenceEqual(expected))
                    {
                        Interlocked.Increment(ref right);
                    }
                    else
                    {
                        wrong.Add($"call {i}: logits differ");
                    }
                }
                catch (InvalidOperationException e) when (e.Message.Contains("Predict was called while Predict is running", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref refused);
                }
            }
        }

        Parallel.Invoke(Hammer, Hammer);
        Assert.Empty(wrong);
        Assert.Equal(600, right + refused);
        Assert.True(right > 0);
    }

    /// <summary>Two networks on one device, trained on two threads at once, end exactly where each ends trained alone.</summary>
    [Theory]
    [InlineData(DeviceKind.Cpu, 12)]
    [InlineData(DeviceKind.IlgpuCpu, 3)]
    public void TwoNetworksOnOneDeviceFromTwoThreadsAreBothRight(DeviceKind kind, int steps)
    {
        using Device device = Device.Create(kind, kind == DeviceKind.Cpu ? 2 : 0);
        float[] Train(int seed)
        {
            using TinyResNet net = new(device, 4, new NetworkOptions(Seed: seed));
            (float[] images, int[] labels) = Batch(net, seed);
            var sgd = new Sgd(0.05, momentum: 0.9);
            net.AddParametersTo(sgd);
            for (int i = 0; i < steps; i++)
            {
                net.Train();
                net.TrainStep(images, labels, sgd);
            }

            net.Eval();
            float[] logits = new float[4 * NetworkData.Classes(net)];
            net.Predict(images, logits);
            return [.. net.GetParameter("layer2.0.conv2.weight"), .. logits];
        }

        float[] aloneA = Train(1), aloneB = Train(2);
        float[]? togetherA = null, togetherB = null;
        Parallel.Invoke(() => togetherA = Train(1), () => togetherB = Train(2));
        Assert.Equal(aloneA, togetherA);
        Assert.Equal(aloneB, togetherB);
    }

    /// <summary>An optimizer that holds none of the network's parameters is refused: the step would change nothing.</summary>
    [Fact]
    public void OptimizerWithoutTheNetworksParametersIsRefused()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 2);
        using TinyResNet net = new(device, 4, new NetworkOptions(Seed: 3));
        using TinyResNet other = new(device, 4, new NetworkOptions(Seed: 4));
        (float[] images, int[] labels) = Batch(net);
        var empty = new Sgd(0.1);
        ArgumentException e = Assert.Throws<ArgumentException>(() => net.TrainStep(images, labels, empty));
        Assert.Contains("TinyResNet: the optimizer holds none of this network's parameters", e.Message, StringComparison.Ordinal);

        // The other network's parameters have the same names, but they are not this network's.
        var others = new Sgd(0.1);
        other.AddParametersTo(others);
        Assert.Throws<ArgumentException>(() => net.TrainStep(images, labels, others));

        net.AddParametersTo(empty);
        Assert.True(double.IsFinite(net.TrainStep(images, labels, empty).Loss));
    }

    /// <summary>More SIMD threads than processors is refused (each thread spins), unless asked for explicitly.</summary>
    [Fact]
    public void MoreThreadsThanProcessorsAreRefused()
    {
        int threads = Environment.ProcessorCount + 1;
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => Device.Create(DeviceKind.Cpu, threads));
        Assert.Contains($"threads: {threads} threads on a machine with {Environment.ProcessorCount} processors", e.Message, StringComparison.Ordinal);
        using Device device = Device.Create(DeviceKind.Cpu, threads, oversubscribe: true);
        Assert.Equal(threads, device.Threads);
    }

    private static (float[] Images, int[] Labels) Batch(NetworkBase net, int seed = 7)
    {
        Random random = new(seed);
        float[] images = NetworkData.Normal(random, net.BatchSize * NetworkData.ImageElements(net));
        int[] labels = new int[net.BatchSize];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = random.Next(NetworkData.Classes(net));
        }

        return (images, labels);
    }

    /// <summary>SGD whose first update runs a callback.</summary>
    private sealed class CallbackSgd(Action callback) : Optimizer(0.01), IDisposable
    {
        private int _calls;

        public void Dispose()
        {
        }

        protected override IReadOnlyList<string> BufferKinds => [];

        protected override void Update(ParameterSlot parameter, long step)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                callback();
            }
        }

        protected override void WriteHyperParameters(IDictionary<string, double> target)
        {
        }

        protected override float[]? GetBuffer(string kind, string parameter) => null;

        protected override void SetBuffer(string kind, string parameter, float[]? buffer)
        {
        }
    }

    /// <summary>SGD whose first update waits until released: a training step that is certainly in progress.</summary>
    private sealed class BlockingSgd() : Optimizer(0.01), IDisposable
    {
        private int _calls;

        public ManualResetEventSlim Entered { get; } = new(false);

        public ManualResetEventSlim Release { get; } = new(false);

        public void Dispose()
        {
            Release.Set();
            Entered.Dispose();
            Release.Dispose();
        }

        protected override IReadOnlyList<string> BufferKinds => [];

        protected override void Update(ParameterSlot parameter, long step)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                Entered.Set();
                Release.Wait(TimeSpan.FromSeconds(60));
            }

            Span<float> value = parameter.Value.Span;
            ReadOnlySpan<float> gradient = parameter.Gradient.Span;
            for (int i = 0; i < value.Length; i++)
            {
                value[i] -= 0.01f * gradient[i];
            }
        }

        protected override void WriteHyperParameters(IDictionary<string, double> target)
        {
        }

        protected override float[]? GetBuffer(string kind, string parameter) => null;

        protected override void SetBuffer(string kind, string parameter, float[]? buffer)
        {
        }
    }
}
