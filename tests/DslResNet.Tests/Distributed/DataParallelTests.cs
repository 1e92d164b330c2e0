using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using DslResNet.Distributed;
using DslResNet.Kernels;
using DslResNet.Runtime;
using DslResNet.Tests.Networks;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Distributed;

/// <summary>
/// Data-parallel training in one process (ranks as threads, <see cref="ThreadRanks"/>): two replicas with half a batch
/// each and synchronised batch norm must end where one network on the whole batch ends, after several SGD steps; with
/// local batch norm they must not (the check can fail). The same over MPI runs in FashionMnist.Tests.
/// </summary>
public sealed class DataParallelTests
{
    private const int Steps = 3;
    private const int Whole = 8;

    [Theory]
    [InlineData(DeviceKind.Cpu)]
    [InlineData(DeviceKind.IlgpuCpu)]
    public void TwoRanksWithSynchronisedBatchNormEqualOneProcessOnTheCombinedBatch(DeviceKind kind)
    {
        (float[][] images, int[][] labels) = Data();
        Dictionary<string, float[]> reference = TrainOne(images, labels, kind);
        Dictionary<string, float[]>[] ranks = TrainRanks(images, labels, synchronized: true, bucketBytes: 64, kind);
        foreach ((string name, float[] expected) in reference)
        {
            Assert.Equal(ranks[0][name], ranks[1][name]); // replicas identical, bit for bit
            double error = RelativeError(expected, ranks[0][name]);
            Assert.True(error < 2e-5, $"{name}: two ranks differ from one process by {error:E2} (relative to the largest value)");
        }
    }

    [Fact]
    public void TwoRanksWithLocalBatchNormDifferFromOneProcess()
    {
        (float[][] images, int[][] labels) = Data();
        Dictionary<string, float[]> reference = TrainOne(images, labels, DeviceKind.Cpu);
        Dictionary<string, float[]>[] ranks = TrainRanks(images, labels, synchronized: false, bucketBytes: 4 << 20, DeviceKind.Cpu);
        // The trainable parameters stay identical; each rank's running statistics are its own (as DDP's: rank 0's are saved).
        Assert.All(TrainableNames(), name => Assert.Equal(ranks[0][name], ranks[1][name]));
        double worst = reference.Max(p => RelativeError(p.Value, ranks[0][p.Key]));
        Assert.True(worst > 1e-3, $"local batch norm on half batches should differ from the whole batch's; worst difference {worst:E2}");
    }

    [Fact]
    public void BucketsCoverTheStoreAndStartInBackwardOrder()
    {
        using Device device = Device.Create(DeviceKind.Cpu, 1);
        using var net = new TinyResNet(device, 4);
        var world = new ThreadRanks(1);
        net.AttachDistributed(world.For(0), synchronizedBatchNorm: false, bucketFloats: 100);
        IReadOnlyList<GradientReducer.Bucket> buckets = net.Reducer!.Buckets;
        Assert.True(buckets.Count > 3, $"{buckets.Count} buckets");
        Assert.Equal(net.Store.Elements, buckets.Sum(b => (long)b.Count));
        long[] starts = [.. buckets.Select(b => b.Offset).Order()];
        Assert.Equal(0, starts[0]);
        Assert.True(buckets.Zip(buckets.Skip(1)).All(p => p.First.ReadyAfterStep >= p.Second.ReadyAfterStep), "buckets start in backward order");
        Assert.Equal(buckets[0].Offset + buckets[0].Count, net.Store.Elements); // the classifier's end first
    }

    [Fact]
    public void RanksThatBuiltDifferentBatchSizesAreToldSo()
    {
        var world = new ThreadRanks(2);
        string?[] messages = new string?[2];
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, rank =>
        {
            using Device device = Device.Create(DeviceKind.Cpu, 1);
            using var net = new TinyResNet(device, rank == 0 ? 4 : 8);
            var dist = DistributedTraining.Over(world.For(rank));
            messages[rank] = Assert.Throws<DistributedException>(() => dist.Attach(net)).Message;
        });
        Assert.All(messages, m => Assert.Contains("batch size per rank (from 4 to 8", m, StringComparison.Ordinal));
    }

    private static (float[][] Images, int[][] Labels) Data()
    {
        var random = new Random(7);
        float[][] images = new float[Steps][];
        int[][] labels = new int[Steps][];
        for (int s = 0; s < Steps; s++)
        {
            images[s] = new float[Whole * 64];
            labels[s] = new int[Whole];
            for (int i = 0; i < images[s].Length; i++)
            {
                images[s][i] = (float)NetworkData.Normal(random);
            }

            for (int i = 0; i < Whole; i++)
            {
                labels[s][i] = random.Next(3);
            }
        }

        return (images, labels);
    }

    private static Dictionary<string, float[]> TrainOne(float[][] images, int[][] labels, DeviceKind kind)
    {
        using Device device = Device.Create(kind, 1);
        using var net = new TinyResNet(device, Whole, new NetworkOptions(Seed: 100));
        var sgd = new Sgd(0.05, momentum: 0.9, weightDecay: 1e-4);
        net.AddParametersTo(sgd);
        for (int s = 0; s < Steps; s++)
        {
            net.TrainStep(images[s], labels[s], sgd);
        }

        return Values(net);
    }

    private static Dictionary<string, float[]>[] TrainRanks(float[][] images, int[][] labels, bool synchronized, int bucketBytes, DeviceKind kind)
    {
        const int Half = Whole / 2;
        var world = new ThreadRanks(2);
        var results = new Dictionary<string, float[]>[2];
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, rank =>
        {
            using Device device = Device.Create(kind, 1);
            using var net = new TinyResNet(device, Half, new NetworkOptions(Seed: 100 + rank)); // rank 0's start is broadcast
            var dist = DistributedTraining.Over(world.For(rank), new DistributedOptions { BucketBytes = bucketBytes });
            dist.Attach(net, synchronized);
            var sgd = new Sgd(0.05, momentum: 0.9, weightDecay: 1e-4);
            net.AddParametersTo(sgd);
            for (int s = 0; s < Steps; s++)
            {
                net.TrainStep(images[s].AsSpan(rank * Half * 64, Half * 64), labels[s].AsSpan(rank * Half, Half), sgd);
            }

            results[rank] = Values(net);
        });
        return results;
    }

    private static IEnumerable<string> TrainableNames() => TinyResNet.Info.Parameters.Where(p => p.IsTrainable).Select(p => p.Name);

    private static Dictionary<string, float[]> Values(NetworkBase net) =>
        net.Definition.Parameters.Where(p => p.Role != ParameterRole.BatchesTracked).ToDictionary(p => p.Name, p => net.GetParameter(p.Name));

    private static double RelativeError(float[] expected, float[] actual)
    {
        double scale = Math.Max(1e-3, expected.Max(v => Math.Abs((double)v)));
        return expected.Zip(actual).Max(p => Math.Abs((double)p.First - p.Second)) / scale;
    }
}
