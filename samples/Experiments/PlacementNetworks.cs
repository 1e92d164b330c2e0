using DslResNet;

namespace Experiments;

// Claim 4: batch norm before or after the activation, for ReLU, tanh and the sigmoid: the trunk of SmallBn with every
// "batch norm, activation" pair in one order or the other (SmallBn itself is the ReLU "before" arm).

/// <summary>Claim 4: each convolution (and the hidden layer) followed by relu, then batch norm.</summary>
[Network(1, 28, 28)]
public partial class BnAfterReLU
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [ReLU] Layer act1;
    [BatchNorm] Layer bn1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1)] Layer conv2;
    [ReLU] Layer act2;
    [BatchNorm] Layer bn2;
    [MaxPool(2)] Layer pool2;
    [Conv(64, 3, Padding = 1)] Layer conv3;
    [ReLU] Layer act3;
    [BatchNorm] Layer bn3;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [ReLU] Layer act4;
    [BatchNorm] Layer bn4;
    [Dense(10)] Layer fc;
}

#pragma warning disable DRN0011 // batch norm right before tanh is the arm under test (the hint's own claim)
/// <summary>Claim 4: each convolution (and the hidden layer) followed by batch norm, then tanh.</summary>
[Network(1, 28, 28)]
public partial class BnBeforeTanh
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [Tanh] Layer act1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Tanh] Layer act2;
    [MaxPool(2)] Layer pool2;
    [Conv(64, 3, Padding = 1)] Layer conv3;
    [BatchNorm] Layer bn3;
    [Tanh] Layer act3;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [BatchNorm] Layer bn4;
    [Tanh] Layer act4;
    [Dense(10)] Layer fc;
}
#pragma warning restore DRN0011

/// <summary>Claim 4: each convolution (and the hidden layer) followed by tanh, then batch norm.</summary>
[Network(1, 28, 28)]
public partial class BnAfterTanh
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [Tanh] Layer act1;
    [BatchNorm] Layer bn1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1)] Layer conv2;
    [Tanh] Layer act2;
    [BatchNorm] Layer bn2;
    [MaxPool(2)] Layer pool2;
    [Conv(64, 3, Padding = 1)] Layer conv3;
    [Tanh] Layer act3;
    [BatchNorm] Layer bn3;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [Tanh] Layer act4;
    [BatchNorm] Layer bn4;
    [Dense(10)] Layer fc;
}

#pragma warning disable DRN0011 // batch norm right before sigmoid is the arm under test (the hint's own claim)
/// <summary>Claim 4: each convolution (and the hidden layer) followed by batch norm, then sigmoid.</summary>
[Network(1, 28, 28)]
public partial class BnBeforeSigmoid
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [Sigmoid] Layer act1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Sigmoid] Layer act2;
    [MaxPool(2)] Layer pool2;
    [Conv(64, 3, Padding = 1)] Layer conv3;
    [BatchNorm] Layer bn3;
    [Sigmoid] Layer act3;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [BatchNorm] Layer bn4;
    [Sigmoid] Layer act4;
    [Dense(10)] Layer fc;
}
#pragma warning restore DRN0011

/// <summary>Claim 4: each convolution (and the hidden layer) followed by sigmoid, then batch norm.</summary>
[Network(1, 28, 28)]
public partial class BnAfterSigmoid
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [Sigmoid] Layer act1;
    [BatchNorm] Layer bn1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1)] Layer conv2;
    [Sigmoid] Layer act2;
    [BatchNorm] Layer bn2;
    [MaxPool(2)] Layer pool2;
    [Conv(64, 3, Padding = 1)] Layer conv3;
    [Sigmoid] Layer act3;
    [BatchNorm] Layer bn3;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [Sigmoid] Layer act4;
    [BatchNorm] Layer bn4;
    [Dense(10)] Layer fc;
}
