using System;
using System.Collections.Generic;

namespace DslResNet.Benchmarks.Harness;

/// <summary>The engines the harness measures, their variants, and the versions it reports.</summary>
internal static class Engines
{
    /// <summary>Engine names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["dslresnet", "torchsharp", "pytorch", "onnxruntime"];

    /// <summary>The variants of an engine for a task.</summary>
    public static IEnumerable<string> Variants(string engine, string task) => engine switch
    {
        "torchsharp" or "pytorch" => task is "conv" or "startup" or "rss" ? [] : ["default", "tcmalloc", "tcmalloc-cl"],
        "onnxruntime" => task is "train" or "conv" or "startup" or "rss" ? [] : ["default"],
        _ => ["default"],
    };

    /// <summary>Runs one measurement in this process.</summary>
    public static MeasureResult Measure(MeasureSpec spec) => spec.Engine switch
    {
        "dslresnet" when spec.Network == Networks.MainJob => MainJobEngine.Measure(spec),
        "dslresnet" => DslResNetEngine.Measure(spec),
        "torchsharp" => TorchSharpEngine.Measure(spec),
        "pytorch" => PyTorchEngine.Measure(spec),
        "onnxruntime" => OnnxRuntimeEngine.Measure(spec),
        _ => throw new ArgumentException($"Unknown engine '{spec.Engine}'."),
    };

    /// <summary>Versions for the results file (<paramref name="pytorch"/>: <see cref="PyTorchEngine.Find"/>'s answer).</summary>
    public static string Versions(string? pytorch) =>
        $"DslResNet {typeof(DslResNet.Runtime.Device).Assembly.GetName().Version}, ILGPU {typeof(ILGPU.Context).Assembly.GetName().Version}, " +
        $"TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version} (libtorch-cpu 2.10.0), ONNX Runtime {typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version}" +
        (pytorch is null ? "" : $", {pytorch} (Debian, {PyTorchEngine.Python})");
}
