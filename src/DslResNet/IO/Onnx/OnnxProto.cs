using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace DslResNet.IO;

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
