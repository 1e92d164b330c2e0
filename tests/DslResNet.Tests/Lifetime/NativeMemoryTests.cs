using System;
using System.IO;
using DslResNet.Kernels.Simd;
using DslResNet.Runtime;
using DslResNet.Tests.Networks;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Lifetime;

/// <summary>
/// Every native byte has one owner and is freed by its Dispose: creating, training and disposing networks (and devices)
/// over and over returns every byte the SIMD backend allocated (its own counter) and does not grow the process (RSS, which
/// also sees ILGPU's buffers). Alone in their collection, so that no other test's networks are counted.
/// </summary>
[Collection(AllocationCollection.Name)]
public sealed class NativeMemoryTests
{
    private const int Cycles = 200;

    /// <summary>200 networks of two kinds, built, trained a step, evaluated and disposed on one device: no byte stays.</summary>
    [Fact]
    public void NetworkCyclesReturnEveryNativeByte()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 2);

        // The first cycle grows the device's per-thread scratch, which the device keeps (and frees with itself).
        Cycle(device, 0);
        long baseline = NativeBlocks.LiveBytes;
        long rss = ResidentBytes();
        for (int i = 1; i <= Cycles; i++)
        {
            Cycle(device, i);
        }

        long leaked = NativeBlocks.LiveBytes - baseline;
        Assert.True(leaked == 0, $"{Cycles} network cycles left {leaked} native bytes ({NativeBlocks.LiveBlocks} blocks live)");
        AssertRssBounded(rss, "network cycles");
    }

    /// <summary>200 devices, each with a network trained a step, disposed network first or device first: no byte stays.</summary>
    [Fact]
    public void DeviceCyclesReturnEveryNativeByte()
    {
        long baseline = NativeBlocks.LiveBytes;
        long rss = ResidentBytes();
        for (int i = 0; i < Cycles; i++)
        {
            Device device = Device.Create(DeviceKind.Cpu, 2);
            TinyResNet net = new(device, 2, new NetworkOptions(Seed: i));
            Step(net);
            if (i % 2 == 0)
            {
                net.Dispose();
                device.Dispose();
            }
            else
            {
                // The wrong order still frees everything: the device waits for nothing, the network frees its own blocks.
                device.Dispose();
                net.Dispose();
            }
        }

        long leaked = NativeBlocks.LiveBytes - baseline;
        Assert.True(leaked == 0, $"{Cycles} device cycles left {leaked} native bytes ({NativeBlocks.LiveBlocks} blocks live)");
        AssertRssBounded(rss, "device cycles");
    }

    /// <summary>A network whose batch cannot fit is refused before anything is allocated, naming the batch and the sizes.</summary>
    [Fact]
    public void BatchTooLargeForMemoryIsRefusedBeforeAllocating()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 2);
        long before = NativeBlocks.LiveBytes;
        InsufficientMemoryException e = Assert.Throws<InsufficientMemoryException>(() => new TinyResNet(device, 1_000_000_000));
        Assert.Contains("TinyResNet: batch size 1000000000 needs", e.Message, StringComparison.Ordinal);
        Assert.Contains("available", e.Message, StringComparison.Ordinal);
        Assert.Contains("The largest batch that fits is about", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, NativeBlocks.LiveBytes);

        // The figure it names fits (a tenth of it, to leave room for the rest of the machine's users).
        long fits = long.Parse(e.Message[(e.Message.LastIndexOf("about ", StringComparison.Ordinal) + 6)..].TrimEnd('.'), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(fits > 1000, e.Message);
    }

    private static void Cycle(Device device, int seed)
    {
        using (TinyResNet net = new(device, 3, new NetworkOptions(Seed: seed)))
        {
            Step(net);
        }

        using TinyMixedNet mixed = new(device, 2, new NetworkOptions(Seed: seed));
        Step(mixed);
    }

    private static void Step(NetworkBase net)
    {
        int batch = net.BatchSize;
        float[] images = NetworkData.Normal(new Random(1), batch * NetworkData.ImageElements(net));
        int[] labels = new int[batch];
        var sgd = new Sgd(0.01, momentum: 0.9);
        net.AddParametersTo(sgd);
        net.TrainStep(images, labels, sgd);
        net.Eval();
        net.Predict(images, new float[batch * NetworkData.Classes(net)]);
    }

    // A leak of the size the issue measured (about 10 MiB per ResNet-20 cycle, 0.3 MiB per tiny network) would show as
    // hundreds of MiB over 200 cycles; allocator caching and the JIT stay well under this bound.
    private static void AssertRssBounded(long before, string what)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long grown = ResidentBytes() - before;
        Assert.True(grown < 48L << 20, $"{Cycles} {what} grew the resident set by {grown >> 20} MiB");
    }

    private static long ResidentBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }
}
