using System;

namespace DslResNet;

/// <summary>
/// A 2-D convolution with a square kernel (PyTorch's <c>Conv2d</c>); parameters <c>{name}.weight</c>
/// [out, in / <see cref="Groups"/>, k, k] and, with <see cref="Bias"/>, <c>{name}.bias</c> [out].
/// </summary>
public sealed class ConvAttribute : LayerAttribute
{
    /// <summary>A convolution to <paramref name="outChannels"/> channels with a <paramref name="kernel"/> x <paramref name="kernel"/> kernel.</summary>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernel">Kernel size.</param>
    public ConvAttribute(int outChannels, int kernel)
    {
        OutChannels = outChannels;
        Kernel = kernel;
    }

    /// <summary>Inside a block: a convolution to the block's channels times <see cref="Expansion"/>.</summary>
    /// <param name="kernel">Kernel size.</param>
    public ConvAttribute(int kernel)
    {
        Kernel = kernel;
    }

    /// <summary>Output channels; 0 when taken from the block.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel size.</summary>
    public int Kernel { get; }

    /// <summary>Stride (default 1).</summary>
    public int Stride { get; set; } = 1;

    /// <summary>Zero padding on every side (default 0).</summary>
    public int Padding { get; set; }

    /// <summary>Whether the convolution adds a bias. Default false: in a ResNet every convolution is followed by batch norm, which makes a bias redundant.</summary>
    public bool Bias { get; set; }

    /// <summary>Inside a block: this convolution applies the stride the stage passes to the block (instead of <see cref="Stride"/>).</summary>
    public bool Strided { get; set; }

    /// <summary>Inside a block, when the channels are left out: the multiple of the block's channels to produce (4 for the last 1x1 of a bottleneck).</summary>
    public int Expansion { get; set; } = 1;

    /// <summary>
    /// Groups (PyTorch's <c>groups</c>, default 1): the input and output channels are split into this many groups and each
    /// output channel reads only its own group's inputs, so the weights are [out, in / Groups, k, k] (ResNeXt's 3x3 has 32;
    /// depthwise has as many as channels). Must be at least 1 and divide both channel counts.
    /// </summary>
    public int Groups { get; set; } = 1;
}

/// <summary>
/// Batch normalisation over channels (PyTorch's <c>BatchNorm2d</c>, or <c>BatchNorm1d</c> on a flat input), with
/// PyTorch's defaults; parameters <c>weight</c>, <c>bias</c> and buffers <c>running_mean</c>, <c>running_var</c>,
/// <c>num_batches_tracked</c>. It may stand before or after an activation.
/// </summary>
public sealed class BatchNormAttribute : LayerAttribute
{
    /// <summary>Added to the variance before the square root (default 1e-5).</summary>
    public double Eps { get; set; } = 1e-5;

    /// <summary>Weight of the newest batch in the running statistics (default 0.1).</summary>
    public double Momentum { get; set; } = 0.1;
}

/// <summary>Rectified linear unit, max(0, x).</summary>
public sealed class ReLUAttribute : LayerAttribute
{
}

/// <summary>Hyperbolic tangent.</summary>
public sealed class TanhAttribute : LayerAttribute
{
}

/// <summary>Logistic sigmoid, 1 / (1 + e^-x).</summary>
public sealed class SigmoidAttribute : LayerAttribute
{
}

/// <summary>
/// GELU in its exact form, <c>x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))</c>, as PyTorch's <c>nn.GELU()</c> default (not the
/// tanh approximation).
/// </summary>
public sealed class GELUAttribute : LayerAttribute
{
}

/// <summary>SiLU (swish), <c>x * sigmoid(x)</c>, as PyTorch's <c>nn.SiLU()</c>.</summary>
public sealed class SiLUAttribute : LayerAttribute
{
}

/// <summary>
/// The residual add: adds the shortcut (by default the block's input) to the output of the layer before it.
/// When the shapes differ, the shortcut is bridged as <see cref="Shortcut"/> says (else as the network says).
/// Switched off, with its shortcut, in a <see cref="NetworkAttribute.Plain"/> network.
/// </summary>
public sealed class ResidualAttribute : LayerAttribute
{
    /// <summary>
    /// The layer whose output the shortcut starts from (use <c>nameof</c>); it must come earlier in the same class.
    /// Default: the block's input. Required outside a block.
    /// </summary>
    public string? From { get; set; }

    /// <summary>How to bridge a change of shape; <see cref="ShortcutKind.Default"/> takes the network's setting.</summary>
    public ShortcutKind Shortcut { get; set; }

    /// <summary>The name of the projection's modules (default <c>downsample</c>, as torchvision: <c>downsample.0</c> is the 1x1 conv, <c>downsample.1</c> its batch norm).</summary>
    public string ProjectionName { get; set; } = "downsample";

    /// <summary>
    /// The layer whose output a bridging shortcut (projection or zero-pad) reads when the shapes differ (use
    /// <c>nameof</c>; an earlier layer of the same class with the shortcut's shape). Default: the same as <see cref="From"/>.
    /// Pre-activation ResNets and Wide ResNets project the pre-activated input but add the raw input when the shapes
    /// match: <c>[Residual(ProjectionFrom = nameof(relu1))]</c>.
    /// </summary>
    public string? ProjectionFrom { get; set; }
}

/// <summary>Max pooling over square windows (PyTorch's <c>MaxPool2d</c>).</summary>
public sealed class MaxPoolAttribute : LayerAttribute
{
    /// <summary>Max pooling over <paramref name="kernel"/> x <paramref name="kernel"/> windows.</summary>
    /// <param name="kernel">Window size.</param>
    public MaxPoolAttribute(int kernel) => Kernel = kernel;

    /// <summary>Window size.</summary>
    public int Kernel { get; }

    /// <summary>Stride; when not set, the window size (as PyTorch).</summary>
    public int Stride { get; set; }

    /// <summary>Implicit padding on every side (default 0); padded positions never win the max.</summary>
    public int Padding { get; set; }

    /// <summary>Inside a block: use the stride the stage passes to the block.</summary>
    public bool Strided { get; set; }
}

/// <summary>Average pooling over square windows (PyTorch's <c>AvgPool2d</c>, padding counted as zeros).</summary>
public sealed class AvgPoolAttribute : LayerAttribute
{
    /// <summary>Average pooling over <paramref name="kernel"/> x <paramref name="kernel"/> windows.</summary>
    /// <param name="kernel">Window size.</param>
    public AvgPoolAttribute(int kernel) => Kernel = kernel;

    /// <summary>Window size.</summary>
    public int Kernel { get; }

    /// <summary>Stride; when not set, the window size (as PyTorch).</summary>
    public int Stride { get; set; }

    /// <summary>Implicit zero padding on every side (default 0).</summary>
    public int Padding { get; set; }

    /// <summary>Inside a block: use the stride the stage passes to the block.</summary>
    public bool Strided { get; set; }
}

/// <summary>Averages each channel over the whole image: C x H x W becomes C (PyTorch's <c>AdaptiveAvgPool2d(1)</c> then flatten).</summary>
public sealed class GlobalAvgPoolAttribute : LayerAttribute
{
}

/// <summary>
/// Squeeze-and-excitation (Hu et al. 2018), as timm's <c>SEModule</c>: each channel of the C x H x W input is averaged over the
/// image, passed through a 1x1 convolution to <see cref="Channels"/> (with bias), ReLU, a 1x1 convolution back to C (with
/// bias) and a sigmoid, and the input is multiplied channel by channel with the result. Parameters <c>{name}.fc1.weight</c>
/// [rd, C, 1, 1], <c>{name}.fc1.bias</c> [rd], <c>{name}.fc2.weight</c> [C, rd, 1, 1], <c>{name}.fc2.bias</c> [C]; the
/// output has the input's shape. In timm's SE-ResNet bottleneck it stands after <c>bn3</c>, before the residual add.
/// </summary>
public sealed class SqueezeExciteAttribute : LayerAttribute
{
    /// <summary>
    /// The reduction ratio r (default 16): the hidden channels are C / r rounded as timm's <c>make_divisible</c> does (to
    /// the nearest multiple of 8, at least 8). Ignored when <see cref="Channels"/> is set.
    /// </summary>
    public int Reduction { get; set; } = 16;

    /// <summary>The hidden channels rd, exactly; 0 (the default) derives them from <see cref="Reduction"/>.</summary>
    public int Channels { get; set; }
}

/// <summary>Flattens C x H x W into one vector of C*H*W features, in PyTorch's order.</summary>
public sealed class FlattenAttribute : LayerAttribute
{
}

/// <summary>
/// A fully connected layer (PyTorch's <c>Linear</c>): <c>{name}.weight</c> [out, in] and <c>{name}.bias</c> [out].
/// Its input must be flat: after <see cref="FlattenAttribute"/>, <see cref="GlobalAvgPoolAttribute"/>, or any C x 1 x 1 tensor.
/// </summary>
public sealed class DenseAttribute : LayerAttribute
{
    /// <summary>A fully connected layer with <paramref name="outFeatures"/> outputs.</summary>
    /// <param name="outFeatures">Number of outputs (the classes, for the last layer).</param>
    public DenseAttribute(int outFeatures) => OutFeatures = outFeatures;

    /// <summary>Number of outputs.</summary>
    public int OutFeatures { get; }

    /// <summary>Whether the layer adds a bias (default true).</summary>
    public bool Bias { get; set; } = true;
}

/// <summary>Dropout: in training, zeroes each element with probability <see cref="Rate"/> and scales the rest by 1/(1-rate).</summary>
public sealed class DropoutAttribute : LayerAttribute
{
    /// <summary>Dropout with the given rate.</summary>
    /// <param name="rate">Probability of zeroing an element, in [0, 1).</param>
    public DropoutAttribute(double rate) => Rate = rate;

    /// <summary>Probability of zeroing an element.</summary>
    public double Rate { get; }
}

/// <summary>
/// A stage: <see cref="Repeat"/> copies of the block <typeparamref name="TBlock"/>, named <c>{name}.0</c>,
/// <c>{name}.1</c>, ... as torchvision names <c>layer1.0</c>. The first copy gets <see cref="Stride"/>, the others
/// stride 1; every copy gets the channels.
/// </summary>
/// <typeparam name="TBlock">A class marked <see cref="BlockAttribute"/>.</typeparam>
public sealed class StageAttribute<TBlock> : LayerAttribute
    where TBlock : class
{
    /// <summary>A stage whose blocks work with <paramref name="channels"/> channels.</summary>
    /// <param name="channels">The block's channels (torchvision's <c>planes</c>).</param>
    public StageAttribute(int channels) => Channels = channels;

    /// <summary>Inside a block: a stage with the enclosing block's channels times <see cref="Expansion"/>.</summary>
    public StageAttribute()
    {
    }

    /// <summary>The block's channels; 0 when taken from the enclosing block.</summary>
    public int Channels { get; }

    /// <summary>Number of blocks (default 1).</summary>
    public int Repeat { get; set; } = 1;

    /// <summary>Stride of the first block (default 1).</summary>
    public int Stride { get; set; } = 1;

    /// <summary>Inside a block: pass the enclosing block's stride to the first block.</summary>
    public bool Strided { get; set; }

    /// <summary>Inside a block, when the channels are left out: the multiple of the enclosing block's channels.</summary>
    public int Expansion { get; set; } = 1;
}
