using System;
using DslResNet;
using DslResNet.Models;
using DslResNet.Runtime;

namespace GpuCheck;

/// <summary>A network the script checks: its facts and how to build it.</summary>
/// <param name="Name">resnet20 or resnet50, as on the command line and in the files' names.</param>
/// <param name="Info">The generator's facts.</param>
/// <param name="Create">Builds it on a device for a batch size.</param>
/// <param name="ParityBatch">Images in the parity batch (small: the files travel to PyTorch).</param>
internal sealed record NetCase(string Name, NetworkInfo Info, Func<Device, int, NetworkOptions, NetworkBase> Create, int ParityBatch)
{
    public static NetCase Get(string name) => name switch
    {
        "resnet20" => new("resnet20", GpuResNet20.Info, (d, b, o) => new GpuResNet20(d, b, o), 8),
        "resnet50" => new("resnet50", ResNet50.Info, (d, b, o) => new ResNet50(d, b, o), 2),
        _ => throw new ArgumentException($"unknown network '{name}'", nameof(name)),
    };
}
