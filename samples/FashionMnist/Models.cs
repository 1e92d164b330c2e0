using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet;
using DslResNet.Runtime;

namespace FashionMnistSample;

/// <summary>A network the sample can train: its command-line name, the generator's facts, and how to build it.</summary>
/// <param name="Name">The name given to --model.</param>
/// <param name="Info">The generator's facts about the network.</param>
/// <param name="Create">Builds the network on a device for a batch size.</param>
internal sealed record ModelEntry(string Name, NetworkInfo Info, Func<Device, int, NetworkOptions?, INetworkModel> Create);

/// <summary>The networks of the sample, by command-line name.</summary>
internal static class Models
{
    /// <summary>Every model, residual first, then plain.</summary>
    public static IReadOnlyList<ModelEntry> All { get; } =
    [
        new("resnet20", FashionResNet20.Info, (device, batch, options) => new FashionResNet20(device, batch, options)),
        new("resnet32", FashionResNet32.Info, (device, batch, options) => new FashionResNet32(device, batch, options)),
        new("resnet44", FashionResNet44.Info, (device, batch, options) => new FashionResNet44(device, batch, options)),
        new("resnet56", FashionResNet56.Info, (device, batch, options) => new FashionResNet56(device, batch, options)),
        new("resnet110", FashionResNet110.Info, (device, batch, options) => new FashionResNet110(device, batch, options)),
        new("plain20", FashionPlain20.Info, (device, batch, options) => new FashionPlain20(device, batch, options)),
        new("plain32", FashionPlain32.Info, (device, batch, options) => new FashionPlain32(device, batch, options)),
        new("plain44", FashionPlain44.Info, (device, batch, options) => new FashionPlain44(device, batch, options)),
        new("plain56", FashionPlain56.Info, (device, batch, options) => new FashionPlain56(device, batch, options)),
        new("plain110", FashionPlain110.Info, (device, batch, options) => new FashionPlain110(device, batch, options)),
    ];

    /// <summary>The names, for help and error messages.</summary>
    public static string Names => string.Join(", ", All.Select(m => m.Name));

    /// <summary>Finds a model by name (any case).</summary>
    /// <param name="name">The name.</param>
    /// <returns>The model, or null.</returns>
    public static ModelEntry? Find(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));
}
