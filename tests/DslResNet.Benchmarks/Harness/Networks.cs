using System.Collections.Generic;

namespace DslResNet.Benchmarks.Harness;

/// <summary>The networks the harness knows and the tasks each is measured on.</summary>
internal static class Networks
{
    /// <summary>The main job (samples/FashionMnist) run as a process: its start-up time and its peak memory.</summary>
    public const string MainJob = "main";

    /// <summary>Whether the network is one of torchvision's at 3x224x224 (batch 8 for training and inference).</summary>
    public static bool IsImageNet(string network) => network.EndsWith("-224", System.StringComparison.Ordinal);

    /// <summary>The tasks measured for a network: the 224 networks skip the convolutions-alone row (the FLOP counter's
    /// training steps at 224 take minutes); the main job has its own two.</summary>
    public static IReadOnlyList<string> Tasks(string network) => network switch
    {
        MainJob => ["startup", "rss"],
        _ when IsImageNet(network) => ["train", "infer", "latency"],
        _ => ["train", "infer", "latency", "conv"],
    };
}
