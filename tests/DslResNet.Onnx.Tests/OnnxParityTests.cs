using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.IO;
using DslResNet.Runtime;
using Microsoft.ML.OnnxRuntime;
using Xunit;
using Xunit.Abstractions;

namespace DslResNet.Onnx.Tests;

/// <summary>
/// Every sample network family, small: DslResNet's evaluation-mode logits against ONNX Runtime's on the exported model,
/// with batch norm folded and as BatchNormalization nodes, at batch 3 and batch 1 (the dynamic batch dimension).
/// </summary>
/// <remarks>
/// Tolerance: max |DslResNet - ONNX Runtime| must be at most 1e-4 of max |logit|. Both sides compute in float32, in
/// different orders (ILGPU's kernels fold batch norm into the convolution themselves; ONNX Runtime's MLAS uses blocked
/// GEMMs), so each layer's result differs by a few float32 roundings of its dot products (a relative 1e-7 to 1e-6 for
/// sums of at most 144 terms here); through at most 16 layers that is about 1e-5 of the output scale. 1e-4 keeps a 10x
/// margin over that while any real mistake (a wrong pad, stride, shortcut channel offset, folded statistic or missing
/// layer) moves the logits by a sizeable fraction of their scale: the randomised batch-norm statistics make every
/// batch norm far from the identity.
/// </remarks>
[Collection(OnnxCollection.Name)]
public sealed class OnnxParityTests(OnnxDeviceFixture fixture, ITestOutputHelper output)
{
    private const int Batch = 3;
    private const double Tolerance = 1e-4;

    public static TheoryData<string> Networks => new(Factories.Keys);

    private static readonly Dictionary<string, Func<Device, NetworkBase>> Factories = new(StringComparer.Ordinal)
    {
        ["resnet-option-b"] = d => new OnnxResNetB(d, Batch, new NetworkOptions(Seed: 1)),
        ["resnet-option-a"] = d => new OnnxResNetA(d, Batch, new NetworkOptions(Seed: 2)),
        ["plain-twin"] = d => new OnnxPlainB(d, Batch, new NetworkOptions(Seed: 3)),
        ["pre-activation"] = d => new OnnxPreActNet(d, Batch, new NetworkOptions(Seed: 4)),
        ["bottleneck"] = d => new OnnxBottleneckNet(d, Batch, new NetworkOptions(Seed: 5)),
        ["tanh-bn-after-activation"] = d => new OnnxTanhNet(d, Batch, new NetworkOptions(Seed: 6)),
        ["pools-dropout-dense-bn-on-input"] = d => new OnnxMixedNet(d, Batch, new NetworkOptions(Seed: 7)),
        ["gelu-silu"] = d => new OnnxSmoothNet(d, Batch, new NetworkOptions(Seed: 8)),
        ["projection-without-batch-norm"] = d => new OnnxWideNet(d, Batch, new NetworkOptions(Seed: 9)),
        ["average-pool-projection"] = d => new OnnxResNetD(d, Batch, new NetworkOptions(Seed: 10)),
        ["grouped-resnext-depthwise"] = d => new OnnxResNeXtNet(d, Batch, new NetworkOptions(Seed: 11)),
        ["squeeze-excite"] = d => new OnnxSENet(d, Batch, new NetworkOptions(Seed: 12)),
    };

    [Theory]
    [MemberData(nameof(Networks))]
    public void OnnxRuntimeMatchesDslResNet(string network)
    {
        using NetworkBase net = Factories[network](fixture.Device);
        Random random = new(network.Length * 7919);
        OnnxTestData.RandomiseBatchNorms(net, random);
        net.Eval();
        TensorShape input = net.Definition.InputShape;
        int imageElements = checked((int)input.Elements);
        int classes = checked((int)net.Definition.OutputShape.Elements);
        float[] images = OnnxTestData.Normal(random, Batch * imageElements);
        float[] expected = new float[Batch * classes];
        net.Predict(images, expected);
        Assert.Contains(expected, v => v != 0);

        byte[] folded = OnnxTestData.Export(net);
        byte[] unfolded = OnnxTestData.Export(net, new OnnxExportOptions(FoldBatchNorm: false));
        float[]? foldedLogits = null;
        foreach ((string mode, byte[] model) in new[] { ("folded", folded), ("BatchNormalization nodes", unfolded) })
        {
            float[] actual = OnnxTestData.RunOnnx(model, images, Batch, input, classes);
            double error = OnnxTestData.RelativeToScale(expected, actual);
            output.WriteLine($"{network}, {mode}, batch {Batch}: max error {error:E2} of the output scale");
            Assert.True(error <= Tolerance, $"{network} ({mode}), batch {Batch}: error {error:E3} of the output scale exceeds {Tolerance:E0}.");

            for (int i = 0; i < Batch; i++)
            {
                float[] single = OnnxTestData.RunOnnx(model, images[(i * imageElements)..((i + 1) * imageElements)], 1, input, classes);
                double e = OnnxTestData.RelativeToScale(expected.AsSpan(i * classes, classes), single);
                Assert.True(e <= Tolerance, $"{network} ({mode}), batch 1, image {i}: error {e:E3} of the output scale exceeds {Tolerance:E0}.");
            }

            if (foldedLogits is null)
            {
                foldedLogits = actual;
            }
            else
            {
                // Both batch-norm modes of the same export agree with each other as closely as with DslResNet.
                Assert.True(OnnxTestData.RelativeToScale(foldedLogits, actual) <= Tolerance);
            }
        }

        // Folding removes exactly the batch norms that read a convolution nothing else reads (in the pre-activation net
        // the stem's convolution also feeds the first shortcut, so the batch norm after it stays); the rest stay nodes.
        NetworkInfo info = net.Definition;
        int Readers(int layer) => info.Layers.Count(l => l.Inputs.Contains(layer));
        int batchNorms = info.Layers.Count(l => l.Kind == LayerKind.BatchNorm);
        int foldable = info.Layers.Count(l => l.Kind == LayerKind.BatchNorm && l.Inputs[0] >= 0
            && info.Layers[l.Inputs[0]].Kind == LayerKind.Conv && Readers(l.Inputs[0]) == 1);
        Assert.Equal(batchNorms, ProtoReader.Parse(unfolded).Nodes.Count(n => n.OpType == "BatchNormalization"));
        Assert.Equal(batchNorms - foldable, ProtoReader.Parse(folded).Nodes.Count(n => n.OpType == "BatchNormalization"));
        output.WriteLine($"{network}: {batchNorms} batch norms, {foldable} folded");
    }

    /// <summary>Each SE module exports as timm's does under torch.onnx: GlobalAveragePool, Conv, Relu, Conv, Sigmoid, Mul.</summary>
    [Fact]
    public void SqueezeExciteExportsAsTimmsOperators()
    {
        using NetworkBase net = new OnnxSENet(fixture.Device, Batch, new NetworkOptions(Seed: 12));
        var nodes = ProtoReader.Parse(OnnxTestData.Export(net)).Nodes;
        foreach (string se in new[] { "layer1.0.se", "layer2.0.se", "se" })
        {
            string[] ops = nodes.Where(n => n.Name == se || n.Name.StartsWith(se + ".", StringComparison.Ordinal)).Select(n => n.OpType).ToArray();
            Assert.Equal(new[] { "GlobalAveragePool", "Conv", "Relu", "Conv", "Sigmoid", "Mul" }, ops);
            Assert.Contains(se + ".fc1.weight", ProtoReader.Parse(OnnxTestData.Export(net)).Initializers);
        }
    }

    [Fact]
    public void ExportHasEvaluationSemanticsAndLeavesTheModeAlone()
    {
        using NetworkBase net = new OnnxMixedNet(fixture.Device, Batch, new NetworkOptions(Seed: 11));
        Random random = new(11);
        OnnxTestData.RandomiseBatchNorms(net, random);
        Assert.True(net.IsTraining);
        byte[] exportedWhileTraining = OnnxTestData.Export(net);
        Assert.True(net.IsTraining);

        net.Eval();
        Assert.Equal(exportedWhileTraining, OnnxTestData.Export(net)); // deterministic, and the mode does not matter
        float[] images = OnnxTestData.Normal(random, Batch * checked((int)net.Definition.InputShape.Elements));
        float[] expected = new float[Batch * 4];
        net.Predict(images, expected);
        float[] actual = OnnxTestData.RunOnnx(exportedWhileTraining, images, Batch, net.Definition.InputShape, 4);
        Assert.True(OnnxTestData.RelativeToScale(expected, actual) <= Tolerance);
    }
}
