using DslResNet;

namespace DslResNet.Tests.Networks;

/// <summary>One convolution with its own bias, folded with its batch norm in evaluation mode: the fold's bias path.</summary>
[Network(2, 6, 6)]
public partial class ConvBnNet
{
    [Conv(3, 3, Padding = 1, Bias = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [GlobalAvgPool] Layer avgpool;
    [Dense(2)] Layer fc;
}

/// <summary>Convolutions large enough to measure the initialisation's spread: fan-in and fan-out differ in both.</summary>
[Network(3, 6, 6)]
public partial class WideInitNet
{
    [Conv(64, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Conv(16, 3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>
/// GELU and SiLU in every position the planner gives them: fused after batch norm (conv+BN+GELU), after a residual add
/// (conv+BN+add+SiLU, whose backward recomputes the add's output), before and after an add without batch norm
/// (conv+SiLU+add+GELU), standalone after average pooling, and fused after a dense layer. No kinks anywhere, so finite
/// differences of the network's own forward are exact to truncation.
/// </summary>
[Network(2, 6, 6)]
public partial class SmoothActNet
{
    [Conv(4, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [GELU] Layer gelu1;
    [Conv(4, 3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual(From = nameof(gelu1))] Layer add1;
    [SiLU] Layer silu1;
    [Conv(4, 1, Bias = true)] Layer conv3;
    [SiLU] Layer silu2;
    [Residual(From = nameof(silu1))] Layer add2;
    [GELU] Layer gelu2;
    [AvgPool(2, Stride = 2)] Layer pool;
    [GELU] Layer gelu3;
    [SiLU] Layer silu3;
    [Flatten] Layer flatten;
    [Dense(5)] Layer fc1;
    [SiLU] Layer silu4;
    [Dense(3)] Layer fc2;
}

/// <summary>
/// Squeeze-and-excitation in both places it can stand: after batch norm, before a residual add (as in timm's SE-ResNet
/// bottleneck: 16 channels, reduction 4, so 8 hidden channels by timm's rounding), and on a residual block's output with
/// explicit hidden channels (5, not a multiple of 8) on an odd-sized map.
/// </summary>
[Network(3, 7, 5)]
public partial class TinySENet
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(16, 3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [SqueezeExcite(Reduction = 4)] Layer se1;
    [Residual(From = nameof(relu1))] Layer add;
    [ReLU] Layer relu2;
    [SqueezeExcite(Channels = 5)] Layer se2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(3)] Layer fc;
}
