using DslResNet;
using DslResNet.Models;

namespace TransferSample;

/// <summary>ResNet-20's layers on 1x28x28 with projection shortcuts (as the main job) and a five-way head.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet20), Shortcut = ShortcutKind.Projection, Classes = 5)]
public partial class FiveWayResNet20;
