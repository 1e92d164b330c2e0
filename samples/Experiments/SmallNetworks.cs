using DslResNet;

namespace Experiments;

// Claims 2-4: one small convolutional network on 1x28x28 in several arms. The trunk is three 3x3 convolutions of 16, 32
// and 64 channels (2x2 max pooling after the first two), then a 128-unit hidden layer and a 10-way classifier:
// 426,490 parameters with batch norm, most of them in the hidden layer, so that a small training set can be overfitted
// (claim 3). Each arm differs from SmallBn (conv, batch norm, ReLU) in one respect only.

/// <summary>With batch norm before each ReLU (the usual order), no dropout: the reference arm of claims 2, 3 and 4.</summary>
[Network(1, 28, 28)]
public partial class SmallBn
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [MaxPool(2)] Layer pool2;
    [Conv(64, 3, Padding = 1)] Layer conv3;
    [BatchNorm] Layer bn3;
    [ReLU] Layer relu3;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [BatchNorm] Layer bn4;
    [ReLU] Layer relu4;
    [Dense(10)] Layer fc;
}

/// <summary>Without batch norm (the convolutions get biases instead): claims 2 and 3.</summary>
[Network(1, 28, 28)]
public partial class SmallPlain
{
    [Conv(16, 3, Padding = 1, Bias = true)] Layer conv1;
    [ReLU] Layer relu1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1, Bias = true)] Layer conv2;
    [ReLU] Layer relu2;
    [MaxPool(2)] Layer pool2;
    [Conv(64, 3, Padding = 1, Bias = true)] Layer conv3;
    [ReLU] Layer relu3;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [ReLU] Layer relu4;
    [Dense(10)] Layer fc;
}

// Claim 3's dropout arms: dropout on the hidden layer, right before the classifier. It comes after the last batch norm,
// so DRN0012 (dropout before a batch norm) does not apply.

/// <summary><see cref="SmallBn"/> with dropout 0.2 before the classifier.</summary>
[Network(1, 28, 28)]
public partial class SmallBnDrop02
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [MaxPool(2)] Layer pool2;
    [Conv(64, 3, Padding = 1)] Layer conv3;
    [BatchNorm] Layer bn3;
    [ReLU] Layer relu3;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [BatchNorm] Layer bn4;
    [ReLU] Layer relu4;
    [Dropout(0.2)] Layer drop;
    [Dense(10)] Layer fc;
}

/// <summary><see cref="SmallBn"/> with dropout 0.5 before the classifier.</summary>
[Network(1, 28, 28)]
public partial class SmallBnDrop05
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [MaxPool(2)] Layer pool2;
    [Conv(64, 3, Padding = 1)] Layer conv3;
    [BatchNorm] Layer bn3;
    [ReLU] Layer relu3;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [BatchNorm] Layer bn4;
    [ReLU] Layer relu4;
    [Dropout(0.5)] Layer drop;
    [Dense(10)] Layer fc;
}

/// <summary><see cref="SmallPlain"/> with dropout 0.2 before the classifier.</summary>
[Network(1, 28, 28)]
public partial class SmallPlainDrop02
{
    [Conv(16, 3, Padding = 1, Bias = true)] Layer conv1;
    [ReLU] Layer relu1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1, Bias = true)] Layer conv2;
    [ReLU] Layer relu2;
    [MaxPool(2)] Layer pool2;
    [Conv(64, 3, Padding = 1, Bias = true)] Layer conv3;
    [ReLU] Layer relu3;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [ReLU] Layer relu4;
    [Dropout(0.2)] Layer drop;
    [Dense(10)] Layer fc;
}

/// <summary><see cref="SmallPlain"/> with dropout 0.5 before the classifier.</summary>
[Network(1, 28, 28)]
public partial class SmallPlainDrop05
{
    [Conv(16, 3, Padding = 1, Bias = true)] Layer conv1;
    [ReLU] Layer relu1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1, Bias = true)] Layer conv2;
    [ReLU] Layer relu2;
    [MaxPool(2)] Layer pool2;
    [Conv(64, 3, Padding = 1, Bias = true)] Layer conv3;
    [ReLU] Layer relu3;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [ReLU] Layer relu4;
    [Dropout(0.5)] Layer drop;
    [Dense(10)] Layer fc;
}
