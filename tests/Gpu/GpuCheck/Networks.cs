using DslResNet;
using DslResNet.Models;

namespace GpuCheck;

/// <summary>The main job's ResNet-20 (samples/FashionMnist/Networks.cs): the CIFAR layers on 1 x 28 x 28, projection shortcuts.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet20), Shortcut = ShortcutKind.Projection)]
public partial class GpuResNet20;
