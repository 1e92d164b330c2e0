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
