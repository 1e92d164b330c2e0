using System;

namespace DslResNet;

/// <summary>
/// Declares a network: a <c>partial class</c> whose layer fields, in declaration order, are its layers.
/// The source generator checks it at build time, infers every shape and completes the class with the model's facts.
/// </summary>
/// <example>
/// <code>
/// [Network(3, 32, 32, Shortcut = ShortcutKind.ZeroPad)]
/// public partial class ResNet20
/// {
///     [Conv(16, 3, Padding = 1)] Layer conv1;
///     [BatchNorm] Layer bn1;
///     [ReLU] Layer relu;
///     [Stage&lt;BasicBlock&gt;(16, Repeat = 3)] Layer layer1;
///     [Stage&lt;BasicBlock&gt;(32, Repeat = 3, Stride = 2)] Layer layer2;
///     [Stage&lt;BasicBlock&gt;(64, Repeat = 3, Stride = 2)] Layer layer3;
///     [GlobalAvgPool] Layer avgpool;
///     [Dense(10)] Layer fc;
/// }
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class NetworkAttribute : Attribute
{
    /// <summary>A network whose input is an image of <paramref name="channels"/> x <paramref name="height"/> x <paramref name="width"/>.</summary>
    /// <param name="channels">Input channels (3 for RGB, 1 for grey scale).</param>
    /// <param name="height">Input height in pixels.</param>
    /// <param name="width">Input width in pixels.</param>
    public NetworkAttribute(int channels, int height, int width)
    {
        Channels = channels;
        Height = height;
        Width = width;
    }

    /// <summary>A network that takes its layers and its input shape from <see cref="LayersOf"/>.</summary>
    public NetworkAttribute()
    {
    }

    /// <summary>Input channels.</summary>
    public int Channels { get; }

    /// <summary>Input height.</summary>
    public int Height { get; }

    /// <summary>Input width.</summary>
    public int Width { get; }

    /// <summary>
    /// The plain twin switch: when true, every <see cref="ResidualAttribute"/> is switched off (no add and no
    /// projection), giving the "plain" network of the ResNet paper with the same layers otherwise.
    /// </summary>
    public bool Plain { get; set; }

    /// <summary>How residual adds whose shapes differ are bridged, unless a <see cref="ResidualAttribute"/> says otherwise. Defaults to <see cref="ShortcutKind.Projection"/>.</summary>
    public ShortcutKind Shortcut { get; set; }

    /// <summary>
    /// Another <c>[Network]</c> class whose layers this network reuses, so that a twin (the plain version, or the same
    /// layers on another input size) is declared in one line: <c>[Network(LayersOf = typeof(ResNet20), Plain = true)]</c>.
    /// Input shape and shortcut kind come from that network unless given here.
    /// </summary>
    public Type? LayersOf { get; set; }

    /// <summary>
    /// A new head: the number of outputs of the last top-level <see cref="DenseAttribute"/> (the classifier), replacing the
    /// declared one. With <see cref="LayersOf"/> this is how a pretrained network is reused for another task:
    /// <c>[Network(LayersOf = typeof(ResNet50), Classes = 37)]</c>; its checkpoint then loads with the head skipped
    /// (<c>LoadCheckpoint</c> with <c>strict: false</c> reports exactly what was skipped). 0 (the default) keeps the declared count.
    /// </summary>
    public int Classes { get; set; }

    /// <summary>
    /// A feature extractor: keep the top-level layers up to and including the one named here, drop the rest (for example
    /// <c>Until = "avgpool"</c> gives ResNet-50's 2,048 pooled features per image). The name is the layer field's name, as in
    /// the parameter names. Null (the default) keeps every layer.
    /// </summary>
    public string? Until { get; set; }
}

/// <summary>
/// Declares a reusable block (a basic or bottleneck residual block, say): a class whose layer fields are the block's
/// layers. A network uses it through <see cref="StageAttribute{TBlock}"/>, which passes the block its channels and stride.
/// Inside a block, <see cref="ConvAttribute"/> and <see cref="StageAttribute{TBlock}"/> may leave out their channels
/// (they take the block's channels times their <c>Expansion</c>), and <c>Strided = true</c> marks the layer that
/// applies the stride the stage passes.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class BlockAttribute : Attribute
{
}
