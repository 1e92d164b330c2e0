using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DslResNet.IO;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace DslResNet.Onnx.Tests;

/// <summary>
/// The file itself, on networks described by hand (no device needed): header fields, names, the dynamic batch
/// dimension, operator attributes, atomic writes, and clear refusals of descriptions that cannot be exported.
/// </summary>
public sealed class OnnxFormatTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dslresnet-onnx-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // input 1x5x5 -> conv1 (2 ch, 3x3, stride 2, pad 1) -> bn1 -> relu -> avgpool -> fc (3)
    private static (NetworkInfo Info, Dictionary<string, TensorData> Tensors) Tiny(Func<List<LayerInfo>, List<LayerInfo>>? edit = null)
    {
        List<LayerInfo> layers =
        [
            new(0, "conv1", LayerKind.Conv, "Conv2d 1->2, 3x3, stride 2, pad 1", [-1], TensorShape.Image(2, 3, 3), 18, 0, 0, 3, 2, 1),
            new(1, "bn1", LayerKind.BatchNorm, "BatchNorm2d(2)", [0], TensorShape.Image(2, 3, 3), 4, 0, 0, 0, 0, 0, Eps: 1e-5, Momentum: 0.1),
            new(2, "relu", LayerKind.ReLU, "ReLU", [1], TensorShape.Image(2, 3, 3), 0, 0, 0, 0, 0, 0),
            new(3, "avgpool", LayerKind.GlobalAvgPool, "AdaptiveAvgPool2d(1)", [2], TensorShape.Flat(2), 0, 0, 0, 0, 0, 0),
            new(4, "fc", LayerKind.Dense, "Linear 2->3", [3], TensorShape.Flat(3), 9, 0, 0, 0, 0, 0, Bias: true),
        ];
        if (edit is not null)
        {
            layers = edit(layers);
        }

        List<ParameterInfo> parameters =
        [
            new("conv1.weight", "conv1", ParameterRole.Weight, [2, 1, 3, 3]),
            new("bn1.weight", "bn1", ParameterRole.BatchNormScale, [2]),
            new("bn1.bias", "bn1", ParameterRole.BatchNormShift, [2]),
            new("bn1.running_mean", "bn1", ParameterRole.RunningMean, [2]),
            new("bn1.running_var", "bn1", ParameterRole.RunningVar, [2]),
            new("bn1.num_batches_tracked", "bn1", ParameterRole.BatchesTracked, []),
            new("fc.weight", "fc", ParameterRole.Weight, [3, 2]),
            new("fc.bias", "fc", ParameterRole.Bias, [3]),
        ];
        Random random = new(5);
        Dictionary<string, TensorData> tensors = parameters.Where(p => p.Role != ParameterRole.BatchesTracked).ToDictionary(
            p => p.Name,
            p => TensorData.Float(p.Shape, p.Role == ParameterRole.RunningVar
                ? OnnxTestData.Uniform(random, checked((int)p.Elements), 0.5, 2)
                : OnnxTestData.Normal(random, checked((int)p.Elements))),
            StringComparer.Ordinal);
        tensors["bn1.num_batches_tracked"] = TensorData.Int64Scalar(3);
        NetworkInfo info = new("Tiny", TensorShape.Image(1, 5, 5), TensorShape.Flat(3), layers, parameters, [], 0, 0);
        return (info, tensors);
    }

    /// <summary>The tiny network in double precision, written out by hand: the exporter's reference without DslResNet's kernels.</summary>
    private static double[] TinyReference(Dictionary<string, TensorData> t, float[] image)
    {
        float[] w = t["conv1.weight"].Floats!, gamma = t["bn1.weight"].Floats!, beta = t["bn1.bias"].Floats!;
        float[] mean = t["bn1.running_mean"].Floats!, var = t["bn1.running_var"].Floats!, fw = t["fc.weight"].Floats!, fb = t["fc.bias"].Floats!;
        double[] pooled = new double[2];
        for (int c = 0; c < 2; c++)
        {
            for (int oy = 0; oy < 3; oy++)
            {
                for (int ox = 0; ox < 3; ox++)
                {
                    double sum = 0;
                    for (int ky = 0; ky < 3; ky++)
                    {
                        for (int kx = 0; kx < 3; kx++)
                        {
                            int iy = (oy * 2) - 1 + ky, ix = (ox * 2) - 1 + kx;
                            if (iy >= 0 && iy < 5 && ix >= 0 && ix < 5)
                            {
                                sum += w[(c * 9) + (ky * 3) + kx] * (double)image[(iy * 5) + ix];
                            }
                        }
                    }

                    double bn = ((sum - mean[c]) / Math.Sqrt(var[c] + 1e-5) * gamma[c]) + beta[c];
                    pooled[c] += Math.Max(bn, 0) / 9;
                }
            }
        }

        return Enumerable.Range(0, 3).Select(o => fb[o] + (fw[o * 2] * pooled[0]) + (fw[(o * 2) + 1] * pooled[1])).ToArray();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void HandDescribedNetworkMatchesAnIndependentReference(bool fold)
    {
        (NetworkInfo info, Dictionary<string, TensorData> tensors) = Tiny();
        byte[] model = OnnxTestData.Export(info, tensors, new OnnxExportOptions(fold));
        Random random = new(9);
        float[] images = OnnxTestData.Normal(random, 2 * 25);
        float[] actual = OnnxTestData.RunOnnx(model, images, 2, info.InputShape, 3);
        for (int n = 0; n < 2; n++)
        {
            double[] expected = TinyReference(tensors, images[(n * 25)..((n + 1) * 25)]);
            for (int o = 0; o < 3; o++)
            {
                Assert.Equal(expected[o], actual[(n * 3) + o], 4);
            }
        }
    }

    [Fact]
    public void HeaderNodesAndInitializersFollowTheSpecification()
    {
        (NetworkInfo info, Dictionary<string, TensorData> tensors) = Tiny();
        ProtoReader.Model folded = ProtoReader.Parse(OnnxTestData.Export(info, tensors));
        Assert.Equal(8, folded.IrVersion);
        Assert.Equal(17, folded.Opset);
        Assert.Equal("DslResNet", folded.Producer);
        Assert.Equal("Tiny", folded.GraphName);
        Assert.Equal(["input"], folded.Inputs);
        Assert.Equal(["logits"], folded.Outputs);
        Assert.Equal(["Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"], folded.Nodes.Select(n => n.OpType));
        ProtoReader.Node conv = folded.Nodes[0];
        Assert.Equal(["input", "conv1.weight_folded", "conv1.bias_folded"], conv.Inputs);
        Assert.Equal([3L, 3], conv.Ints["kernel_shape"]);
        Assert.Equal([2L, 2], conv.Ints["strides"]);
        Assert.Equal([1L, 1, 1, 1], conv.Ints["pads"]);
        Assert.Equal([1L], folded.Nodes[3].Ints["axis"]);
        Assert.Equal([1L], folded.Nodes[4].Ints["transB"]);
        Assert.Equal(["logits"], folded.Nodes[4].Outputs);
        Assert.Equal(["conv1.weight_folded", "conv1.bias_folded", "fc.weight", "fc.bias"], folded.Initializers);

        ProtoReader.Model plain = ProtoReader.Parse(OnnxTestData.Export(info, tensors, new OnnxExportOptions(FoldBatchNorm: false)));
        Assert.Equal(["Conv", "BatchNormalization", "Relu", "GlobalAveragePool", "Flatten", "Gemm"], plain.Nodes.Select(n => n.OpType));
        Assert.Equal(1e-5f, plain.Nodes[1].Floats["epsilon"]);
        Assert.Equal(["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "fc.weight", "fc.bias"], plain.Initializers);
    }

    [Fact]
    public void OnnxRuntimeSeesTheNamesAndTheDynamicBatchDimension()
    {
        (NetworkInfo info, Dictionary<string, TensorData> tensors) = Tiny();
        using InferenceSession session = new(OnnxTestData.Export(info, tensors));
        Assert.Equal("DslResNet", session.ModelMetadata.ProducerName);
        Assert.Equal("Tiny", session.ModelMetadata.GraphName);
        NodeMetadata input = Assert.Single(session.InputMetadata, m => m.Key == "input").Value;
        Assert.Equal(new[] { -1, 1, 5, 5 }, input.Dimensions);
        Assert.Equal("batch", input.SymbolicDimensions[0]);
        Assert.Equal(typeof(float), input.ElementType);
        NodeMetadata logits = Assert.Single(session.OutputMetadata, m => m.Key == "logits").Value;
        Assert.Equal(new[] { -1, 3 }, logits.Dimensions);
        Assert.Equal("batch", logits.SymbolicDimensions[0]);
    }

    [Fact]
    public void OptionAShortcutIsSliceThenPadWithOddChannelSplit()
    {
        // input 3x7x7 -> conv (8 ch, stride 2) ; shortcut: subsample by 2 and pad 3 -> 8 channels ; add ; pool ; fc
        List<LayerInfo> layers =
        [
            new(0, "conv", LayerKind.Conv, "Conv2d 3->8, 3x3, stride 2, pad 1", [-1], TensorShape.Image(8, 4, 4), 216, 0, 0, 3, 2, 1),
            new(1, "add.shortcut", LayerKind.ZeroPadShortcut, "Shortcut", [-1], TensorShape.Image(8, 4, 4), 0, 0, 0, 0, 2, 0),
            new(2, "add", LayerKind.Add, "Add", [0, 1], TensorShape.Image(8, 4, 4), 0, 0, 0, 0, 0, 0),
            new(3, "avgpool", LayerKind.GlobalAvgPool, "AdaptiveAvgPool2d(1)", [2], TensorShape.Flat(8), 0, 0, 0, 0, 0, 0),
        ];
        List<ParameterInfo> parameters = [new("conv.weight", "conv", ParameterRole.Weight, [8, 3, 3, 3])];
        Dictionary<string, TensorData> tensors = new(StringComparer.Ordinal) { ["conv.weight"] = TensorData.Float([8, 3, 3, 3], new float[216]) };
        NetworkInfo info = new("ZeroPad", TensorShape.Image(3, 7, 7), TensorShape.Flat(8), layers, parameters, [], 0, 0);
        byte[] bytes = OnnxTestData.Export(info, tensors);
        Assert.Equal(["Conv", "Slice", "Pad", "Add", "GlobalAveragePool", "Flatten"], ProtoReader.Parse(bytes).Nodes.Select(n => n.OpType));

        // With a zero convolution the output is the mean of each subsampled input channel, shifted by 2 channels.
        float[] image = Enumerable.Range(0, 3 * 49).Select(i => (float)i).ToArray();
        float[] actual = OnnxTestData.RunOnnx(bytes, image, 1, info.InputShape, 8);
        float[] expected = new float[8];
        for (int c = 0; c < 3; c++)
        {
            double sum = 0;
            for (int y = 0; y < 7; y += 2)
            {
                for (int x = 0; x < 7; x += 2)
                {
                    sum += image[(c * 49) + (y * 7) + x];
                }
            }

            expected[c + 2] = (float)(sum / 16);
        }

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void SaveWritesAtomicallyAndReplacesAnExistingFile()
    {
        (NetworkInfo info, Dictionary<string, TensorData> tensors) = Tiny();
        string path = Path.Combine(_directory, "tiny.onnx");
        File.WriteAllText(path, "old content");
        using (DescribedModel model = new(info, tensors))
        {
            OnnxExport.Save(model, path);
        }

        Assert.Equal(["tiny.onnx"], Directory.GetFiles(_directory).Select(Path.GetFileName));
        byte[] written = File.ReadAllBytes(path);
        Assert.Equal(OnnxTestData.Export(info, tensors), written);
        using InferenceSession session = new(path);
        Assert.Equal("DslResNet", session.ModelMetadata.ProducerName);
    }

    [Fact]
    public void AFailedExportLeavesTheOldFileAndNoTemporaryFile()
    {
        (NetworkInfo info, Dictionary<string, TensorData> tensors) = Tiny(l => [.. l.Take(4), l[4] with { Kind = (LayerKind)99 }]);
        string path = Path.Combine(_directory, "model.onnx");
        File.WriteAllText(path, "old content");
        using DescribedModel model = new(info, tensors);
        Assert.Throws<OnnxExportException>(() => OnnxExport.Save(model, path));
        Assert.Equal("old content", File.ReadAllText(path));
        Assert.Equal(["model.onnx"], Directory.GetFiles(_directory).Select(Path.GetFileName));
    }

    public static TheoryData<string, string, string> Refusals => new()
    {
        { "unknown kind", "fc", "has no ONNX translation" },
        { "weight fits no grouping", "conv1", "g dividing both channel counts" },
        { "table shape disagrees", "conv1", "the ONNX operators compute (2, 3, 3) per image, but the layer table says (2, 5, 5)" },
        { "forward reference", "relu", "neither the network input (-1) nor an earlier layer" },
        { "add with one input", "relu", "Add reads 2 input(s), but the layer lists 1" },
        { "missing tensor", "fc", "no float tensor 'fc.bias' was given" },
        { "pooling a flat tensor", "pool", "needs an image-shaped (N x C x H x W) input" },
        { "padding over half the window", "relu", "padding 2 is more than half" },
        { "zero-pad to fewer channels", "conv1", "cannot give fewer" },
        { "last layer is not the output", "fc", "the network's output (4) has 4" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void DescriptionsThatCannotBeExportedAreRefusedByLayer(string problem, string layer, string message)
    {
        (NetworkInfo info, Dictionary<string, TensorData> tensors) = Tiny();
        switch (problem)
        {
            case "unknown kind":
                (info, _) = Tiny(l => [.. l.Take(4), l[4] with { Kind = (LayerKind)99 }]);
                break;
            case "weight fits no grouping":
                info = info with { InputShape = TensorShape.Image(3, 5, 5) }; // 3 input channels, weight [2, 1, 3, 3]: 3 groups of 2 outputs
                break;
            case "table shape disagrees":
                (info, _) = Tiny(l => [l[0] with { OutputShape = TensorShape.Image(2, 5, 5) }, .. l.Skip(1)]);
                break;
            case "forward reference":
                (info, _) = Tiny(l => [l[0], l[1], l[2] with { Inputs = [3] }, l[3], l[4]]);
                break;
            case "add with one input":
                (info, _) = Tiny(l => [l[0], l[1], l[2] with { Kind = LayerKind.Add }, l[3], l[4]]);
                break;
            case "missing tensor":
                tensors.Remove("fc.bias");
                break;
            case "pooling a flat tensor":
                (info, _) = Tiny(l => [.. l, new LayerInfo(5, "pool", LayerKind.MaxPool, "MaxPool2d", [4], TensorShape.Image(3, 1, 1), 0, 0, 0, 1, 1, 0)]);
                break;
            case "padding over half the window":
                (info, _) = Tiny(l => [l[0], l[1], l[2] with { Kind = LayerKind.MaxPool, Kernel = 3, Stride = 1, Padding = 2 }, l[3], l[4]]);
                break;
            case "zero-pad to fewer channels":
                (info, _) = Tiny(l => [l[0] with { Kind = LayerKind.ZeroPadShortcut }, .. l.Skip(1)]);
                info = info with { InputShape = TensorShape.Image(3, 5, 5) };
                break;
            case "last layer is not the output":
                info = info with { OutputShape = TensorShape.Flat(4) };
                break;
        }

        OnnxExportException e = Assert.Throws<OnnxExportException>(() => OnnxTestData.Export(info, tensors));
        Assert.Equal(layer, e.Layer);
        Assert.Contains($"layer '{layer}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
