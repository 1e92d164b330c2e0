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
