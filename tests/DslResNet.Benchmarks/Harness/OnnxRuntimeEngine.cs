using System;
using System.IO;
using DslResNet.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace DslResNet.Benchmarks.Harness;

/// <summary>
/// Measures ONNX Runtime on DslResNet's own ONNX export of the same network (same weights, batch norm folded):
/// ORT_ENABLE_ALL, intra-op threads = the measured thread count, sequential execution.
/// </summary>
internal static class OnnxRuntimeEngine
{
    /// <summary>Runs one measurement in this process.</summary>
    public static MeasureResult Measure(MeasureSpec spec)
    {
        string path = Path.Combine(Path.GetTempPath(), $"dslresnet-bench-{spec.Network}-{Environment.ProcessId}.onnx");
        int imageSize;
        int channels, height, width;
        using (Device device = Device.Create(DeviceKind.Cpu))
        using (INetworkModel model = DslResNetEngine.Create(spec.Network, device, 1))
        {
            model.Eval();
            DslResNet.IO.OnnxExport.Save(model, path);
            TensorShape shape = model.Definition.InputShape;
            (channels, height, width) = (shape.Channels, shape.Height, shape.Width);
            imageSize = (int)shape.Elements;
        }

        try
        {
            using SessionOptions options = new()
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                IntraOpNumThreads = spec.Threads,
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            };
            using InferenceSession session = new(path, options);
            Random random = new(7);
            float[] data = new float[spec.Batch * imageSize];
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (float)((random.NextDouble() * 2) - 1);
            }

            DenseTensor<float> input = new(data, [spec.Batch, channels, height, width]);
            NamedOnnxValue[] inputs = [NamedOnnxValue.CreateFromTensor(First(session), input)];
            double seconds = Timing.MedianSeconds(spec.Steps, warmups: 3, call: () =>
            {
                using var results = session.Run(inputs);
            });
            return new MeasureResult(seconds, Timing.PeakRssMiB(), $"ONNX Runtime, {spec.Threads} intra-op threads");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string First(InferenceSession session)
    {
        foreach (string name in session.InputMetadata.Keys)
        {
            return name;
        }

        throw new InvalidOperationException("The exported model has no input.");
    }
}
