using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace DslResNet.IO;

/// <summary>How <see cref="OnnxExport"/> writes a network.</summary>
/// <param name="FoldBatchNorm">
/// Fold each batch norm that directly follows a convolution (and is that convolution's only reader) into the
/// convolution's weights and bias, as PyTorch's exporter does with <c>do_constant_folding</c> in evaluation mode. The
/// folded tensors are named <c>{conv}.weight_folded</c> and <c>{conv}.bias_folded</c>. When false, every batch norm is a
/// <c>BatchNormalization</c> node and every initializer carries its torchvision name. Batch norms that follow anything
/// other than a convolution are <c>BatchNormalization</c> nodes either way.
/// </param>
public sealed record OnnxExportOptions(bool FoldBatchNorm = true)
{
    /// <summary>The defaults: batch norm folded into convolutions.</summary>
    public static OnnxExportOptions Default { get; } = new();
}

/// <summary>
/// Writes a network as an ONNX model (https://onnx.ai, IR version 8, opset 17) for inference: evaluation-mode semantics
/// (running statistics, dropout off) whatever mode the model is in. The graph input is <c>input</c>
/// [batch, C, H, W] and the output <c>logits</c> [batch, classes], both float, with a symbolic batch dimension
/// <c>batch</c>. Parameters are initializers under their torchvision names, raw little-endian floats. The protobuf is
/// written by hand; nothing beyond the base library is needed.
/// </summary>
/// <remarks>
/// Layers map to ONNX operators as follows: convolution to <c>Conv</c>; batch norm to <c>BatchNormalization</c> (or folded
/// into the convolution before it, see <see cref="OnnxExportOptions.FoldBatchNorm"/>); ReLU, tanh and sigmoid to
/// <c>Relu</c>, <c>Tanh</c>, <c>Sigmoid</c>; GELU to <c>0.5 x (1 + Erf(x / sqrt 2))</c> with <c>Div</c>, <c>Erf</c>,
/// <c>Add</c>, <c>Mul</c> (opset 17 has no <c>Gelu</c>); SiLU to <c>Mul(x, Sigmoid(x))</c>; residual add to <c>Add</c>; max and average pooling to <c>MaxPool</c> and
/// <c>AveragePool</c> (<c>count_include_pad=1</c>, as the kernels divide by the whole window); global average pooling to
/// <c>GlobalAveragePool</c>; flatten to <c>Flatten</c> (axis 1), also inserted before a dense layer whose input is still
/// image-shaped; dense to <c>Gemm</c> (<c>transB=1</c>); dropout to nothing (the identity in evaluation); the option-A
/// shortcut to <c>Slice</c> (step = stride on H and W) then <c>Pad</c> with zero channels, (Co - Ci) / 2 before and the
/// rest after. Every layer's inputs, parameter shapes and output shape are checked against what the operators compute;
/// anything that does not match is an <see cref="OnnxExportException"/> naming the layer, never a silently different graph.
/// </remarks>
public static class OnnxExport
{
    /// <summary>The ONNX IR version written.</summary>
    public const long IrVersion = 8;

    /// <summary>The opset version of the default domain imported.</summary>
    public const long OpsetVersion = 17;

    /// <summary>The model's <c>producer_name</c>.</summary>
    public const string ProducerName = "DslResNet";

    /// <summary>The graph input's name.</summary>
    public const string InputName = "input";

    /// <summary>The graph output's name.</summary>
    public const string OutputName = "logits";

    /// <summary>The symbolic name of the batch dimension of the input and the output.</summary>
    public const string BatchDimension = "batch";

    /// <summary>Exports a built network's current parameters to an ONNX file, atomically (see <see cref="AtomicFile"/>).</summary>
    /// <param name="model">The network; its mode is left as it is (the export always has evaluation semantics).</param>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="options">Export options; <see cref="OnnxExportOptions.Default"/> when null.</param>
    /// <exception cref="OnnxExportException">A layer cannot be exported; the file is not touched.</exception>
    public static void Save(ICheckpointSource model, string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ProtobufWriter bytes = Build(model.Definition, FloatTensors(model), options ?? OnnxExportOptions.Default);
        AtomicFile.Write(path, bytes.CopyTo);
    }

    /// <summary>Exports a built network's current parameters as ONNX to a stream.</summary>
    /// <param name="model">The network; its mode is left as it is (the export always has evaluation semantics).</param>
    /// <param name="stream">Where to write; left open. Nothing is written if the export fails.</param>
    /// <param name="options">Export options; <see cref="OnnxExportOptions.Default"/> when null.</param>
    /// <exception cref="OnnxExportException">A layer cannot be exported.</exception>
    public static void Save(ICheckpointSource model, Stream stream, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        Build(model.Definition, FloatTensors(model), options ?? OnnxExportOptions.Default).CopyTo(stream);
    }

    /// <summary>
    /// Exports a network description with the given tensors as ONNX to a stream: the same as exporting a built model,
    /// without a device (for a checkpoint's <see cref="Checkpoint.Model"/>, say).
    /// </summary>
    /// <param name="network">The layers and parameter descriptions.</param>
    /// <param name="tensors">Float tensors by torchvision name; every tensor the graph uses must be present with its declared shape.</param>
    /// <param name="stream">Where to write; left open. Nothing is written if the export fails.</param>
    /// <param name="options">Export options; <see cref="OnnxExportOptions.Default"/> when null.</param>
    /// <exception cref="OnnxExportException">A layer cannot be exported, or a tensor is missing or misshapen.</exception>
    public static void Save(NetworkInfo network, IReadOnlyDictionary<string, TensorData> tensors, Stream stream, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(stream);
        Build(network, tensors, options ?? OnnxExportOptions.Default).CopyTo(stream);
    }

    private static IReadOnlyDictionary<string, TensorData> FloatTensors(ICheckpointSource model) => model.ExportCheckpoint().Model;

    private static ProtobufWriter Build(NetworkInfo network, IReadOnlyDictionary<string, TensorData> tensors, OnnxExportOptions options)
    {
        OnnxGraph graph = new OnnxGraphBuilder(network, tensors, options).Build();
        ProtobufWriter model = new();
        model.Int64(ModelField.IrVersion, IrVersion);
        model.String(ModelField.ProducerName, ProducerName);
        model.String(ModelField.ProducerVersion, Checkpoint.LibraryVersion);
        model.Message(ModelField.Graph, w => graph.Write(w));
        model.Message(ModelField.OpsetImport, w =>
        {
            w.String(OpsetField.Domain, string.Empty);
            w.Int64(OpsetField.Version, OpsetVersion);
        });
        return model;
    }

    // Field numbers from onnx/onnx.proto3.
    internal static class ModelField
    {
        public const int IrVersion = 1, ProducerName = 2, ProducerVersion = 3, Graph = 7, OpsetImport = 8;
    }

    internal static class OpsetField
    {
        public const int Domain = 1, Version = 2;
    }

    internal static class GraphField
    {
        public const int Node = 1, Name = 2, Initializer = 5, Input = 11, Output = 12;
    }

    internal static class NodeField
    {
        public const int Input = 1, Output = 2, Name = 3, OpType = 4, Attribute = 5;
    }

    internal static class AttributeField
    {
        public const int Name = 1, F = 2, I = 3, Ints = 8, Type = 20;
        public const int TypeFloat = 1, TypeInt = 2, TypeInts = 7;
    }

    internal static class TensorField
    {
        public const int Dims = 1, DataType = 2, Name = 8, RawData = 9;
        public const int DataTypeFloat = 1, DataTypeInt64 = 7;
    }

    internal static class ValueInfoField
    {
        public const int Name = 1, Type = 2;
        public const int TypeTensor = 1;          // TypeProto.tensor_type
        public const int TensorElemType = 1, TensorShape = 2;  // TypeProto.Tensor
        public const int ShapeDim = 1;            // TensorShapeProto.dim
        public const int DimValue = 1, DimParam = 2;           // TensorShapeProto.Dimension
    }
}

/// <summary>An ONNX attribute: a float, an int or a list of ints.</summary>
internal sealed record OnnxAttribute(string Name, int Type, float F = 0, long I = 0, long[]? Ints = null)
{
    public static OnnxAttribute Float(string name, float value) => new(name, OnnxExport.AttributeField.TypeFloat, F: value);

    public static OnnxAttribute Int(string name, long value) => new(name, OnnxExport.AttributeField.TypeInt, I: value);

    public static OnnxAttribute IntList(string name, params long[] values) => new(name, OnnxExport.AttributeField.TypeInts, Ints: values);

    public void Write(ProtobufWriter w)
    {
        w.String(OnnxExport.AttributeField.Name, Name);
        switch (Type)
        {
            case OnnxExport.AttributeField.TypeFloat:
                w.Float(OnnxExport.AttributeField.F, F);
                break;
            case OnnxExport.AttributeField.TypeInt:
                w.Int64(OnnxExport.AttributeField.I, I);
                break;
            default:
                foreach (long v in Ints!)
                {
                    w.Int64(OnnxExport.AttributeField.Ints, v);
                }

                break;
        }

        w.Int64(OnnxExport.AttributeField.Type, Type);
    }
}

/// <summary>An ONNX node.</summary>
internal sealed class OnnxNode(string name, string opType, string[] inputs, string output, OnnxAttribute[] attributes)
{
    public string Name { get; } = name;

    public string OpType { get; } = opType;

    public string[] Inputs { get; } = inputs;

    public string Output { get; set; } = output;

    public OnnxAttribute[] Attributes { get; } = attributes;

    public void Write(ProtobufWriter w)
    {
        foreach (string input in Inputs)
        {
            w.String(OnnxExport.NodeField.Input, input);
        }

        w.String(OnnxExport.NodeField.Output, Output);
        w.String(OnnxExport.NodeField.Name, Name);
        w.String(OnnxExport.NodeField.OpType, OpType);
        foreach (OnnxAttribute a in Attributes)
        {
            w.Message(OnnxExport.NodeField.Attribute, a.Write);
        }
    }
}

/// <summary>A constant tensor of the graph: float or int64 values, row-major.</summary>
internal sealed record OnnxInitializer(string Name, long[] Dims, float[]? Floats, long[]? Int64s)
{
    public void Write(ProtobufWriter w)
    {
        foreach (long d in Dims)
        {
            w.Int64(OnnxExport.TensorField.Dims, d);
        }

        w.Int64(OnnxExport.TensorField.DataType, Floats is not null ? OnnxExport.TensorField.DataTypeFloat : OnnxExport.TensorField.DataTypeInt64);
        w.String(OnnxExport.TensorField.Name, Name);
        byte[] raw;
        if (Floats is not null)
        {
            raw = new byte[Floats.Length * sizeof(float)];
            for (int i = 0; i < Floats.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * sizeof(float)), Floats[i]);
            }
        }
        else
        {
            raw = new byte[Int64s!.Length * sizeof(long)];
            for (int i = 0; i < Int64s.Length; i++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * sizeof(long)), Int64s[i]);
            }
        }

        w.Bytes(OnnxExport.TensorField.RawData, raw);
    }
}

/// <summary>The translated graph, ready to serialise.</summary>
internal sealed record OnnxGraph(string Name, TensorShape Input, long Classes, List<OnnxNode> Nodes, List<OnnxInitializer> Initializers)
{
    public void Write(ProtobufWriter w)
    {
        foreach (OnnxNode node in Nodes)
        {
            w.Message(OnnxExport.GraphField.Node, node.Write);
        }

        w.String(OnnxExport.GraphField.Name, Name);
        foreach (OnnxInitializer init in Initializers)
        {
            w.Message(OnnxExport.GraphField.Initializer, init.Write);
        }

        w.Message(OnnxExport.GraphField.Input, v => ValueInfo(v, OnnxExport.InputName, [Input.Channels, Input.Height, Input.Width]));
        w.Message(OnnxExport.GraphField.Output, v => ValueInfo(v, OnnxExport.OutputName, [Classes]));
    }

    // A float tensor [batch, dims...] with a symbolic batch dimension.
    private static void ValueInfo(ProtobufWriter w, string name, long[] dims)
    {
        w.String(OnnxExport.ValueInfoField.Name, name);
        w.Message(OnnxExport.ValueInfoField.Type, type => type.Message(OnnxExport.ValueInfoField.TypeTensor, tensor =>
        {
            tensor.Int64(OnnxExport.ValueInfoField.TensorElemType, OnnxExport.TensorField.DataTypeFloat);
            tensor.Message(OnnxExport.ValueInfoField.TensorShape, shape =>
            {
                shape.Message(OnnxExport.ValueInfoField.ShapeDim, d => d.String(OnnxExport.ValueInfoField.DimParam, OnnxExport.BatchDimension));
                foreach (long dim in dims)
                {
                    shape.Message(OnnxExport.ValueInfoField.ShapeDim, d => d.Int64(OnnxExport.ValueInfoField.DimValue, dim));
                }
            });
        }));
    }
}

/// <summary>Translates the layer table into ONNX nodes and initializers, checking every layer on the way.</summary>
internal sealed class OnnxGraphBuilder
{
    private readonly NetworkInfo _network;
    private readonly IReadOnlyDictionary<string, TensorData> _tensors;
    private readonly OnnxExportOptions _options;
    private readonly List<OnnxNode> _nodes = [];
    private readonly List<OnnxInitializer> _initializers = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Value?[] _values;
    private readonly Dictionary<int, int> _foldInto = [];   // conv index -> the batch norm folded into it
    private readonly Dictionary<int, int> _foldedFrom = []; // batch norm index -> its conv

    public OnnxGraphBuilder(NetworkInfo network, IReadOnlyDictionary<string, TensorData> tensors, OnnxExportOptions options)
    {
        _network = network;
        _tensors = tensors;
        _options = options;
        _values = new Value?[network.Layers.Count];
        _names.Add(OnnxExport.InputName);
        _names.Add(OnnxExport.OutputName);
    }

    /// <summary>A tensor of the graph: its ONNX name, its rank there (2 or 4) and its per-image shape.</summary>
    private sealed record Value(string Name, int Rank, TensorShape Shape);

    public OnnxGraph Build()
    {
        IReadOnlyList<LayerInfo> layers = _network.Layers;
        if (layers.Count == 0)
        {
            throw new OnnxExportException($"{_network.Name}: the network has no layers to export.");
        }

        CheckTable(layers);
        PlanFolding(layers);
        foreach (LayerInfo layer in layers)
        {
            _values[layer.Index] = Translate(layer);
        }

        LayerInfo last = layers[^1];
        Value final = _values[last.Index]!;
        if (final.Shape.Elements != _network.OutputShape.Elements)
        {
            throw Fail(last, $"it is the last layer and gives {final.Shape.Elements} values per image, but the network's output {_network.OutputShape} has {_network.OutputShape.Elements}.");
        }

        if (final.Rank != 2)
        {
            _nodes.Add(new OnnxNode(last.Name + ".output_flatten", "Flatten", [final.Name], OnnxExport.OutputName, [OnnxAttribute.Int("axis", 1)]));
        }
        else if (_nodes.Count > 0 && _nodes[^1].Output == final.Name)
        {
            _nodes[^1].Output = OnnxExport.OutputName; // nothing reads the last node's output yet
        }
        else
        {
            _nodes.Add(new OnnxNode(last.Name + ".output", "Identity", [final.Name], OnnxExport.OutputName, []));
        }

        return new OnnxGraph(_network.Name, _network.InputShape, _network.OutputShape.Elements, _nodes, _initializers);
    }

    private void CheckTable(IReadOnlyList<LayerInfo> layers)
    {
        HashSet<string> layerNames = new(StringComparer.Ordinal);
        for (int i = 0; i < layers.Count; i++)
        {
            LayerInfo layer = layers[i];
            if (layer.Index != i)
            {
                throw Fail(layer, $"it is at position {i} of the layer table but its index is {layer.Index}.");
            }

            if (string.IsNullOrEmpty(layer.Name) || !layerNames.Add(layer.Name))
            {
                throw Fail(layer, "layer names must be non-empty and distinct.");
            }

            int expected = layer.Kind == LayerKind.Add ? 2 : 1;
            if (layer.Inputs is null || layer.Inputs.Length != expected)
            {
                throw Fail(layer, $"{layer.Kind} reads {expected} input(s), but the layer lists {layer.Inputs?.Length ?? 0}.");
            }

            foreach (int input in layer.Inputs)
            {
                if (input < -1 || input >= i)
                {
                    throw Fail(layer, $"it reads layer {input}, which is neither the network input (-1) nor an earlier layer.");
                }
            }
        }
    }

    // A batch norm folds into the convolution it reads when that convolution has no other reader.
    private void PlanFolding(IReadOnlyList<LayerInfo> layers)
    {
        if (!_options.FoldBatchNorm)
        {
            return;
        }

        int[] readers = new int[layers.Count];
        foreach (LayerInfo layer in layers)
        {
            foreach (int input in layer.Inputs.Where(j => j >= 0))
            {
                readers[input]++;
            }
        }

        foreach (LayerInfo layer in layers)
        {
            if (layer.Kind == LayerKind.BatchNorm && layer.Inputs[0] is int conv && conv >= 0
                && layers[conv].Kind == LayerKind.Conv && readers[conv] == 1)
            {
                _foldInto[conv] = layer.Index;
                _foldedFrom[layer.Index] = conv;
            }
        }
    }

    private Value Input(LayerInfo layer, int position)
    {
        int index = layer.Inputs[position];
        return index < 0
            ? new Value(OnnxExport.InputName, 4, _network.InputShape)
            : _values[index] ?? throw Fail(layer, $"its input '{_network.Layers[index].Name}' has no ONNX value.");
    }

    private Value Translate(LayerInfo layer)
    {
        switch (layer.Kind)
        {
            case LayerKind.Conv:
                return Conv(layer);
            case LayerKind.BatchNorm:
                return BatchNorm(layer);
            case LayerKind.ReLU:
                return Unary(layer, "Relu");
            case LayerKind.Tanh:
                return Unary(layer, "Tanh");
            case LayerKind.Sigmoid:
                return Unary(layer, "Sigmoid");
            case LayerKind.GELU:
                return Gelu(layer);
            case LayerKind.SiLU:
            {
                Value x = Input(layer, 0);
                Expect(layer, x.Shape);
                Value sigmoid = Emit(layer.Name + ".sigmoid", "Sigmoid", [x.Name], x.Rank, x.Shape);
                return Emit(layer.Name, "Mul", [x.Name, sigmoid.Name], x.Rank, x.Shape);
            }

            case LayerKind.Add:
                return Add(layer);
            case LayerKind.ZeroPadShortcut:
                return ZeroPadShortcut(layer);
            case LayerKind.MaxPool:
            case LayerKind.AvgPool:
                return Pool(layer);
            case LayerKind.GlobalAvgPool:
                return GlobalAvgPool(layer);
            case LayerKind.Flatten:
            {
                Value x = Input(layer, 0);
                TensorShape shape = TensorShape.Flat(checked((int)x.Shape.Elements));
                Expect(layer, shape);
                return Emit(layer.Name, "Flatten", [x.Name], 2, shape, OnnxAttribute.Int("axis", 1));
            }

            case LayerKind.Dense:
                return Dense(layer);
            case LayerKind.Dropout:
            {
                Value x = Input(layer, 0);
                if (!(layer.Rate >= 0 && layer.Rate < 1))
                {
                    throw Fail(layer, $"dropout's rate {layer.Rate.ToString(CultureInfo.InvariantCulture)} is outside [0, 1).");
                }

                Expect(layer, x.Shape);
                return x; // the identity in evaluation mode
            }

            default:
                throw Fail(layer, $"its kind '{layer.Kind}' has no ONNX translation.");
        }
    }

    private Value Conv(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        RequireImage(layer, x);
        RequireWindow(layer);
        float[] weight = Tensor(layer, ParameterRole.Weight, out int[] wShape);
        int co = layer.OutputShape.Channels;
        if (wShape.Length != 4 || wShape[0] != co || wShape[1] != x.Shape.Channels || wShape[2] != layer.Kernel || wShape[3] != layer.Kernel)
        {
            throw Fail(layer, $"its weight has shape [{string.Join(", ", wShape)}]; a {layer.Kernel}x{layer.Kernel} convolution from {x.Shape.Channels} to {co} channels needs [{co}, {x.Shape.Channels}, {layer.Kernel}, {layer.Kernel}] (grouped convolutions are not supported).");
        }

        float[]? bias = layer.Bias ? Vector(layer, ParameterRole.Bias, co) : null;
        TensorShape shape = TensorShape.Image(co, Window(layer, x.Shape.Height), Window(layer, x.Shape.Width));
        Expect(layer, shape);

        string weightName, output;
        string? biasName = null;
        if (_foldInto.TryGetValue(layer.Index, out int bnIndex))
        {
            LayerInfo bn = _network.Layers[bnIndex];
            (float[] scale, float[] shift) = BatchNormAffine(bn, co);
            float[] folded = new float[weight.Length];
            int perChannel = weight.Length / co;
            float[] foldedBias = new float[co];
            for (int c = 0; c < co; c++)
            {
                for (int k = 0; k < perChannel; k++)
                {
                    folded[(c * perChannel) + k] = weight[(c * perChannel) + k] * scale[c];
                }

                foldedBias[c] = ((bias?[c] ?? 0f) * scale[c]) + shift[c];
            }

            weightName = Initializer(layer.Name + ".weight_folded", wShape.Select(d => (long)d).ToArray(), folded);
            biasName = Initializer(layer.Name + ".bias_folded", [co], foldedBias);
            output = bn.Name; // the batch norm's output: nothing else reads the convolution's own
        }
        else
        {
            weightName = Initializer(ParameterName(layer, ParameterRole.Weight), wShape.Select(d => (long)d).ToArray(), weight);
            if (bias is not null)
            {
                biasName = Initializer(ParameterName(layer, ParameterRole.Bias), [co], bias);
            }

            output = layer.Name;
        }

        string[] inputs = biasName is null ? [x.Name, weightName] : [x.Name, weightName, biasName];
        return Emit(output, "Conv", inputs, 4, shape,
            OnnxAttribute.IntList("kernel_shape", layer.Kernel, layer.Kernel),
            OnnxAttribute.IntList("strides", layer.Stride, layer.Stride),
            OnnxAttribute.IntList("pads", layer.Padding, layer.Padding, layer.Padding, layer.Padding));
    }

    // Evaluation-mode batch norm as y = scale * x + shift per channel, computed in double: what folding multiplies in.
    private (float[] Scale, float[] Shift) BatchNormAffine(LayerInfo bn, int channels)
    {
        RequireEps(bn);
        float[] gamma = Vector(bn, ParameterRole.BatchNormScale, channels);
        float[] beta = Vector(bn, ParameterRole.BatchNormShift, channels);
        float[] mean = Vector(bn, ParameterRole.RunningMean, channels);
        float[] var = Vector(bn, ParameterRole.RunningVar, channels);
        float[] scale = new float[channels];
        float[] shift = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double s = gamma[c] / Math.Sqrt(var[c] + bn.Eps);
            scale[c] = (float)s;
            shift[c] = (float)(beta[c] - (mean[c] * s));
        }

        return (scale, shift);
    }

    private Value BatchNorm(LayerInfo layer)
    {
        if (_foldedFrom.ContainsKey(layer.Index))
        {
            Value conv = _values[layer.Inputs[0]]!; // already named after this layer
            Expect(layer, conv.Shape);
            return conv;
        }

        Value x = Input(layer, 0);
        RequireEps(layer);
        int c = x.Shape.Channels;
        Expect(layer, x.Shape);
        string[] inputs =
        [
            x.Name,
            Initializer(ParameterName(layer, ParameterRole.BatchNormScale), [c], Vector(layer, ParameterRole.BatchNormScale, c)),
            Initializer(ParameterName(layer, ParameterRole.BatchNormShift), [c], Vector(layer, ParameterRole.BatchNormShift, c)),
            Initializer(ParameterName(layer, ParameterRole.RunningMean), [c], Vector(layer, ParameterRole.RunningMean, c)),
            Initializer(ParameterName(layer, ParameterRole.RunningVar), [c], Vector(layer, ParameterRole.RunningVar, c)),
        ];
        return Emit(layer.Name, "BatchNormalization", inputs, x.Rank, x.Shape, OnnxAttribute.Float("epsilon", (float)layer.Eps));
    }

    private Value Unary(LayerInfo layer, string op)
    {
        Value x = Input(layer, 0);
        Expect(layer, x.Shape);
        return Emit(layer.Name, op, [x.Name], x.Rank, x.Shape);
    }

    // Opset 17 has no Gelu (it came in opset 20): 0.5 x (1 + Erf(x / sqrt 2)) from primitives, as torch.onnx exports it.
    private Value Gelu(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        Expect(layer, x.Shape);
        string sqrt2 = Initializer(layer.Name + ".sqrt2", [], [MathF.Sqrt(2f)]);
        string one = Initializer(layer.Name + ".one", [], [1f]);
        string half = Initializer(layer.Name + ".half", [], [0.5f]);
        Value scaled = Emit(layer.Name + ".div", "Div", [x.Name, sqrt2], x.Rank, x.Shape);
        Value erf = Emit(layer.Name + ".erf", "Erf", [scaled.Name], x.Rank, x.Shape);
        Value plus = Emit(layer.Name + ".add", "Add", [erf.Name, one], x.Rank, x.Shape);
        Value times = Emit(layer.Name + ".mul", "Mul", [x.Name, plus.Name], x.Rank, x.Shape);
        return Emit(layer.Name, "Mul", [times.Name, half], x.Rank, x.Shape);
    }

    private Value Add(LayerInfo layer)
    {
        Value body = Input(layer, 0);
        Value shortcut = Input(layer, 1);
        if (!SameDims(body.Shape, shortcut.Shape))
        {
            throw Fail(layer, $"it adds {body.Shape} to {shortcut.Shape}; the shapes differ.");
        }

        Expect(layer, body.Shape);
        if (body.Rank != shortcut.Rank)
        {
            // Same shape, one side still N x C x 1 x 1 (after global pooling), the other N x C: flatten the former.
            if (body.Rank == 4)
            {
                body = Emit(layer.Name + ".flatten_body", "Flatten", [body.Name], 2, body.Shape, OnnxAttribute.Int("axis", 1));
            }
            else
            {
                shortcut = Emit(layer.Name + ".flatten_shortcut", "Flatten", [shortcut.Name], 2, shortcut.Shape, OnnxAttribute.Int("axis", 1));
            }
        }

        return Emit(layer.Name, "Add", [body.Name, shortcut.Name], body.Rank, body.Shape);
    }

    private Value ZeroPadShortcut(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        RequireImage(layer, x);
        int s = layer.Stride;
        int ci = x.Shape.Channels;
        int co = layer.OutputShape.Channels;
        if (s < 1)
        {
            throw Fail(layer, $"the shortcut's stride is {s}; it must be at least 1.");
        }

        if (co < ci)
        {
            throw Fail(layer, $"an option-A shortcut pads {ci} channels with zeros, so it cannot give fewer ({co}).");
        }

        TensorShape shape = TensorShape.Image(co, ((x.Shape.Height - 1) / s) + 1, ((x.Shape.Width - 1) / s) + 1);
        Expect(layer, shape);
        Value v = x;
        if (s > 1)
        {
            string[] inputs =
            [
                x.Name,
                Initializer(layer.Name + ".slice_starts", [2], [0L, 0L]),
                Initializer(layer.Name + ".slice_ends", [2], [(long)x.Shape.Height, x.Shape.Width]),
                Initializer(layer.Name + ".slice_axes", [2], [2L, 3L]),
                Initializer(layer.Name + ".slice_steps", [2], [(long)s, s]),
            ];
            v = Emit(co > ci ? layer.Name + ".subsample" : layer.Name, "Slice", inputs, 4, TensorShape.Image(ci, shape.Height, shape.Width));
        }

        if (co > ci)
        {
            long before = (co - ci) / 2;
            long after = co - ci - before;
            string pads = Initializer(layer.Name + ".pads", [8], [0L, before, 0L, 0L, 0L, after, 0L, 0L]);
            v = Emit(layer.Name, "Pad", [v.Name, pads], 4, shape);
        }

        return v;
    }

    private Value Pool(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        RequireImage(layer, x);
        RequireWindow(layer);
        if (layer.Padding * 2 > layer.Kernel)
        {
            throw Fail(layer, $"padding {layer.Padding} is more than half the {layer.Kernel}x{layer.Kernel} window; ONNX Runtime (and PyTorch) reject it.");
        }

        TensorShape shape = TensorShape.Image(x.Shape.Channels, Window(layer, x.Shape.Height), Window(layer, x.Shape.Width));
        Expect(layer, shape);
        List<OnnxAttribute> attributes =
        [
            OnnxAttribute.IntList("kernel_shape", layer.Kernel, layer.Kernel),
            OnnxAttribute.IntList("strides", layer.Stride, layer.Stride),
            OnnxAttribute.IntList("pads", layer.Padding, layer.Padding, layer.Padding, layer.Padding),
        ];
        bool max = layer.Kind == LayerKind.MaxPool;
        if (!max)
        {
            attributes.Add(OnnxAttribute.Int("count_include_pad", 1)); // the kernel divides by the whole window
        }

        return Emit(layer.Name, max ? "MaxPool" : "AveragePool", [x.Name], 4, shape, [.. attributes]);
    }

    private Value GlobalAvgPool(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        TensorShape shape = TensorShape.Flat(x.Shape.Channels);
        Expect(layer, shape);
        if (x.Rank == 2)
        {
            return x; // averaging over 1 x 1 is the identity
        }

        return Emit(layer.Name, "GlobalAveragePool", [x.Name], 4, shape);
    }

    private Value Dense(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        int features = checked((int)x.Shape.Elements);
        int outputs = layer.OutputShape.Channels;
        float[] weight = Tensor(layer, ParameterRole.Weight, out int[] wShape);
        if (wShape.Length != 2 || wShape[0] != outputs || wShape[1] != features)
        {
            throw Fail(layer, $"its weight has shape [{string.Join(", ", wShape)}]; a dense layer from {features} to {outputs} features needs [{outputs}, {features}].");
        }

        TensorShape shape = TensorShape.Flat(outputs);
        Expect(layer, shape);
        if (x.Rank != 2)
        {
            x = Emit(layer.Name + ".flatten", "Flatten", [x.Name], 2, TensorShape.Flat(features), OnnxAttribute.Int("axis", 1));
        }

        List<string> inputs = [x.Name, Initializer(ParameterName(layer, ParameterRole.Weight), [outputs, features], weight)];
        if (layer.Bias)
        {
            inputs.Add(Initializer(ParameterName(layer, ParameterRole.Bias), [outputs], Vector(layer, ParameterRole.Bias, outputs)));
        }

        return Emit(layer.Name, "Gemm", [.. inputs], 2, shape, OnnxAttribute.Int("transB", 1));
    }

    private Value Emit(string output, string op, string[] inputs, int rank, TensorShape shape, params OnnxAttribute[] attributes)
    {
        string name = Unique(output);
        _nodes.Add(new OnnxNode(name, op, inputs, name, attributes));
        return new Value(name, rank, shape);
    }

    private string Initializer(string name, long[] dims, float[] values)
    {
        string unique = Unique(name);
        _initializers.Add(new OnnxInitializer(unique, dims, values, null));
        return unique;
    }

    private string Initializer(string name, long[] dims, long[] values)
    {
        string unique = Unique(name);
        _initializers.Add(new OnnxInitializer(unique, dims, null, values));
        return unique;
    }

    private string Unique(string name)
    {
        string candidate = name;
        for (int i = 1; !_names.Add(candidate); i++)
        {
            candidate = name + "_" + i.ToString(CultureInfo.InvariantCulture);
        }

        return candidate;
    }

    private ParameterInfo Parameter(LayerInfo layer, ParameterRole role) =>
        _network.Parameters.FirstOrDefault(p => p.Layer == layer.Name && p.Role == role)
        ?? throw Fail(layer, $"the network describes no {role} parameter for it.");

    private string ParameterName(LayerInfo layer, ParameterRole role) => Parameter(layer, role).Name;

    private float[] Tensor(LayerInfo layer, ParameterRole role, out int[] shape)
    {
        ParameterInfo p = Parameter(layer, role);
        if (!_tensors.TryGetValue(p.Name, out TensorData? t) || t.Floats is null)
        {
            throw Fail(layer, $"no float tensor '{p.Name}' was given.");
        }

        if (!t.Shape.AsSpan().SequenceEqual(p.Shape))
        {
            throw Fail(layer, $"tensor '{p.Name}' has shape {t.ShapeText}, but the network declares {p.ShapeText}.");
        }

        shape = t.Shape;
        return t.Floats;
    }

    private float[] Vector(LayerInfo layer, ParameterRole role, int length)
    {
        float[] values = Tensor(layer, role, out int[] shape);
        if (shape.Length != 1 || shape[0] != length)
        {
            throw Fail(layer, $"its {role} has shape [{string.Join(", ", shape)}]; {length} channels need [{length}].");
        }

        return values;
    }

    private int Window(LayerInfo layer, int size)
    {
        int span = size + (2 * layer.Padding) - layer.Kernel;
        if (span < 0)
        {
            throw Fail(layer, $"its {layer.Kernel}x{layer.Kernel} window with padding {layer.Padding} is larger than its {size}-wide input.");
        }

        return (span / layer.Stride) + 1;
    }

    private void RequireWindow(LayerInfo layer)
    {
        if (layer.Kernel < 1 || layer.Stride < 1 || layer.Padding < 0)
        {
            throw Fail(layer, $"kernel {layer.Kernel}, stride {layer.Stride} and padding {layer.Padding} are not a valid window (kernel and stride at least 1, padding at least 0).");
        }
    }

    private void RequireImage(LayerInfo layer, Value x)
    {
        if (x.Rank != 4 || x.Shape.IsFlat)
        {
            throw Fail(layer, $"it needs an image-shaped (N x C x H x W) input, but its input is the flat {x.Shape}.");
        }
    }

    private void RequireEps(LayerInfo layer)
    {
        if (!(layer.Eps > 0) || double.IsInfinity(layer.Eps))
        {
            throw Fail(layer, $"batch norm's epsilon {layer.Eps.ToString(CultureInfo.InvariantCulture)} must be positive and finite.");
        }
    }

    private void Expect(LayerInfo layer, TensorShape computed)
    {
        if (!SameDims(computed, layer.OutputShape))
        {
            throw Fail(layer, $"the ONNX operators compute {computed} per image, but the layer table says {layer.OutputShape}.");
        }
    }

    private static bool SameDims(TensorShape a, TensorShape b) => a.Channels == b.Channels && a.Height == b.Height && a.Width == b.Width;

    private OnnxExportException Fail(LayerInfo layer, string problem) => new(_network.Name, layer.Name, problem);
}
