using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace DslResNet.Onnx.Tests;

/// <summary>One CPU device for every test that builds a network: ILGPU compiles kernels once per accelerator.</summary>
public sealed class OnnxDeviceFixture : IDisposable
{
    public Device Device { get; } = Device.Create(DeviceKind.Cpu);

    public void Dispose() => Device.Dispose();
}

[CollectionDefinition(Name)]
public sealed class OnnxCollection : ICollectionFixture<OnnxDeviceFixture>
{
    public const string Name = "ONNX export";
}

/// <summary>Random data, ONNX Runtime calls and comparisons.</summary>
internal static class OnnxTestData
{
    public static float[] Normal(Random random, int count, double scale = 1.0)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            values[i] = (float)(scale * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return values;
    }

    public static float[] Uniform(Random random, int count, double low, double high)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)(low + ((high - low) * random.NextDouble()));
        }

        return values;
    }

    /// <summary>Gives every batch norm running statistics, scale and shift far from the identity, so that folding changes the weights.</summary>
    public static void RandomiseBatchNorms(NetworkBase net, Random random)
    {
        foreach (ParameterInfo p in net.Definition.Parameters)
        {
            int count = checked((int)p.Elements);
            switch (p.Role)
            {
                case ParameterRole.BatchNormScale:
                    net.SetParameter(p.Name, Uniform(random, count, 0.5, 1.5));
                    break;
                case ParameterRole.BatchNormShift:
                case ParameterRole.RunningMean:
                    net.SetParameter(p.Name, Normal(random, count, 0.3));
                    break;
                case ParameterRole.RunningVar:
                    net.SetParameter(p.Name, Uniform(random, count, 0.3, 2.5));
                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>Runs an exported model on N x C x H x W images and returns the logits, checking their shape.</summary>
    public static float[] RunOnnx(byte[] model, float[] images, int count, TensorShape input, int classes)
    {
        using InferenceSession session = new(model);
        using OrtValue x = OrtValue.CreateTensorValueFromMemory(images, [count, input.Channels, input.Height, input.Width]);
        using RunOptions run = new();
        using IDisposableReadOnlyCollection<OrtValue> outputs = session.Run(run, [OnnxExport.InputName], [x], [OnnxExport.OutputName]);
        OrtValue y = outputs[0];
        Assert.Equal(new long[] { count, classes }, y.GetTensorTypeAndShape().Shape);
        return y.GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>max |expected - actual| / max |expected|: the error relative to the output's scale.</summary>
    public static double RelativeToScale(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 0, worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            double e = Math.Abs(expected[i] - actual[i]);
            worst = double.IsNaN(e) ? double.PositiveInfinity : Math.Max(worst, e);
        }

        return worst / Math.Max(scale, 1e-12);
    }

    public static byte[] Export(INetworkModel model, OnnxExportOptions? options = null)
    {
        using MemoryStream stream = new();
        OnnxExport.Save(model, stream, options);
        return stream.ToArray();
    }

    public static byte[] Export(NetworkInfo info, IReadOnlyDictionary<string, TensorData> tensors, OnnxExportOptions? options = null)
    {
        using MemoryStream stream = new();
        OnnxExport.Save(info, tensors, stream, options);
        return stream.ToArray();
    }
}

/// <summary>
/// A minimal protobuf reader, independent of the exporter's writer, to look inside exported files: the fields of one
/// message, and the model's header, nodes and initializers decoded with field numbers from onnx.proto3.
/// </summary>
internal static class ProtoReader
{
    public sealed record Field(int Number, int Wire, ulong Varint, byte[] Bytes)
    {
        public string Text => Encoding.UTF8.GetString(Bytes);
    }

    public sealed record Node(string OpType, string Name, string[] Inputs, string[] Outputs, Dictionary<string, long[]> Ints, Dictionary<string, float> Floats);

    public sealed record Model(long IrVersion, string Producer, long Opset, string GraphName, List<Node> Nodes, List<string> Initializers, List<string> Inputs, List<string> Outputs);

    public static List<Field> Fields(byte[] message)
    {
        List<Field> fields = [];
        int pos = 0;
        while (pos < message.Length)
        {
            ulong key = ReadVarint(message, ref pos);
            int number = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0:
                    fields.Add(new Field(number, wire, ReadVarint(message, ref pos), []));
                    break;
                case 1:
                    fields.Add(new Field(number, wire, 0, message[pos..(pos + 8)]));
                    pos += 8;
                    break;
                case 2:
                    int length = checked((int)ReadVarint(message, ref pos));
                    fields.Add(new Field(number, wire, 0, message[pos..(pos + length)]));
                    pos += length;
                    break;
                case 5:
                    fields.Add(new Field(number, wire, 0, message[pos..(pos + 4)]));
                    pos += 4;
                    break;
                default:
                    throw new InvalidDataException($"Wire type {wire} at byte {pos}.");
            }
        }

        return fields;
    }

    public static Model Parse(byte[] bytes)
    {
        List<Field> model = Fields(bytes);
        List<Field> graph = Fields(model.Single(f => f.Number == 7).Bytes);
        List<Field> opset = Fields(model.Single(f => f.Number == 8).Bytes);
        List<Node> nodes = graph.Where(f => f.Number == 1).Select(f => ParseNode(Fields(f.Bytes))).ToList();
        List<string> initializers = graph.Where(f => f.Number == 5).Select(f => Fields(f.Bytes).Single(t => t.Number == 8).Text).ToList();
        List<string> inputs = graph.Where(f => f.Number == 11).Select(f => Fields(f.Bytes).Single(v => v.Number == 1).Text).ToList();
        List<string> outputs = graph.Where(f => f.Number == 12).Select(f => Fields(f.Bytes).Single(v => v.Number == 1).Text).ToList();
        return new Model(
            (long)model.Single(f => f.Number == 1).Varint, model.Single(f => f.Number == 2).Text, (long)opset.Single(f => f.Number == 2).Varint,
            graph.Single(f => f.Number == 2).Text, nodes, initializers, inputs, outputs);
    }

    private static Node ParseNode(List<Field> node)
    {
        Dictionary<string, long[]> ints = new(StringComparer.Ordinal);
        Dictionary<string, float> floats = new(StringComparer.Ordinal);
        foreach (Field a in node.Where(f => f.Number == 5))
        {
            List<Field> attr = Fields(a.Bytes);
            string name = attr.Single(f => f.Number == 1).Text;
            long type = (long)attr.Single(f => f.Number == 20).Varint;
            if (type == 1)
            {
                floats[name] = BitConverter.ToSingle(attr.Single(f => f.Number == 2).Bytes);
            }
            else
            {
                ints[name] = attr.Where(f => f.Number == (type == 2 ? 3 : 8)).Select(f => (long)f.Varint).ToArray();
            }
        }

        return new Node(
            node.Single(f => f.Number == 4).Text, node.Single(f => f.Number == 3).Text,
            node.Where(f => f.Number == 1).Select(f => f.Text).ToArray(), node.Where(f => f.Number == 2).Select(f => f.Text).ToArray(), ints, floats);
    }

    private static ulong ReadVarint(byte[] data, ref int pos)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }
}

/// <summary>An <see cref="ICheckpointSource"/> over a hand-written description and tensors: what the exporter reads.</summary>
internal sealed class DescribedModel(NetworkInfo info, Dictionary<string, TensorData> tensors) : ICheckpointSource, IDisposable
{
    public NetworkInfo Definition { get; } = info;

    public Checkpoint ExportCheckpoint()
    {
        Checkpoint checkpoint = new() { NetworkName = Definition.Name };
        foreach (KeyValuePair<string, TensorData> pair in tensors)
        {
            checkpoint.Model[pair.Key] = pair.Value;
        }

        return checkpoint;
    }

    public void ImportCheckpoint(Checkpoint checkpoint) => throw new NotSupportedException();

    public void Dispose()
    {
    }
}
