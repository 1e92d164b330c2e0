using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace DslResNet.IO;

/// <summary>Translates the layer table into ONNX nodes and initializers, checking every layer on the way.</summary>
internal sealed partial class OnnxGraphBuilder
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

            int expected = layer.Kind is LayerKind.Add or LayerKind.ChannelScale ? 2 : 1;
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
            case LayerKind.ChannelScale:
                return ChannelScale(layer);
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
