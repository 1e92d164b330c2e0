using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DslResNet.IO;
using DslResNet.Runtime;
using Xunit;

namespace DslResNet.Tests.Networks;

/// <summary>
/// Every <see cref="LayerKind"/> appears in one of the test networks, so each switch over layer kinds (the generator's,
/// which ran to build them, and the runtime's: training, inference, ONNX export) is exercised for every kind; a kind added
/// to Operations.cs without a network using it fails <see cref="TestNetworksUseEveryLayerKind"/>. Each network then runs
/// a training forward and backward and an evaluation forward on the SIMD backend and on ILGPU's CPU accelerator (the
/// reference kernels), which must agree, and exports to ONNX.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class AllKindsTests
{
    private static readonly (string Name, NetworkInfo Info, Func<Device, NetworkBase> Create)[] Networks =
    [
        ("TinyResNet", TinyResNet.Info, d => new TinyResNet(d, 4, new NetworkOptions(Seed: 1))),
        ("TinyZeroPadNet", TinyZeroPadNet.Info, d => new TinyZeroPadNet(d, 4, new NetworkOptions(Seed: 2))),
        ("TinyMixedNet", TinyMixedNet.Info, d => new TinyMixedNet(d, 4, new NetworkOptions(Seed: 3))),
        ("SmoothActNet", SmoothActNet.Info, d => new SmoothActNet(d, 4, new NetworkOptions(Seed: 4))),
        ("TinySENet", TinySENet.Info, d => new TinySENet(d, 4, new NetworkOptions(Seed: 5))),
    ];

    public static TheoryData<string> Names() => new(Networks.Select(n => n.Name));

    [Fact]
    public void TestNetworksUseEveryLayerKind()
    {
        var used = new HashSet<LayerKind>(Networks.SelectMany(n => n.Info.Layers.Select(l => l.Kind)));
        LayerKind[] missing = LayerKinds.All.Where(k => !used.Contains(k)).ToArray();
        Assert.True(missing.Length == 0, "no test network uses " + string.Join(", ", missing));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void SimdAndIlgpuAgreeAndExportToOnnx(string name)
    {
        (string _, NetworkInfo info, Func<Device, NetworkBase> create) = Networks.Single(n => n.Name == name);
        var results = new List<(float[] Train, float[] Input, float[] Eval)>();
        foreach (DeviceKind kind in new[] { DeviceKind.Cpu, DeviceKind.IlgpuCpu })
        {
            using Device device = Device.Create(kind);
            using NetworkBase net = create(device);
            Random random = new(21);
            float[] images = NetworkData.Normal(random, 4 * NetworkData.ImageElements(net));
            float[] g = NetworkData.Normal(random, 4 * NetworkData.Classes(net));
            net.Train();
            net.Forward(images);
            float[] train = net.Output();
            net.Backward(g);
            float[] input = net.InputGradient();
            net.Eval();
            net.Forward(images);
            results.Add((train, input, net.Output()));
            Assert.All(train.Concat(input).Concat(results[^1].Eval), v => Assert.True(float.IsFinite(v)));
            using var onnx = new MemoryStream();
            OnnxExport.Save(net, onnx);
            Assert.True(onnx.Length > 0);
        }

        Close("training output", results[0].Train, results[1].Train);
        Close("input gradient", results[0].Input, results[1].Input);
        Close("evaluation output", results[0].Eval, results[1].Eval);
        _ = info;
    }

    private static void Close(string what, float[] simd, float[] ilgpu)
    {
        Assert.Equal(ilgpu.Length, simd.Length);
        double scale = Math.Max(1e-3, ilgpu.Max(v => Math.Abs((double)v)));
        for (int i = 0; i < simd.Length; i++)
        {
            Assert.True(Math.Abs(simd[i] - ilgpu[i]) <= 1e-4 * scale, $"{what}[{i}]: SIMD {simd[i]:R}, ILGPU {ilgpu[i]:R}");
        }
    }
}
