using DslResNet;

namespace DslResNet.Tests.Networks;

/// <summary>A basic residual block for the small test networks.</summary>
[Block]
public class TinyBlock
{
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual] Layer add;
    [ReLU] Layer relu2;
}

/// <summary>A small residual network on whole vectors of channels (16 and 32), for the SIMD backend's vector paths.</summary>
[Network(3, 12, 12, Shortcut = ShortcutKind.Projection)]
public partial class VectorResNet
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<TinyBlock>(16, Repeat = 1)] Layer layer1;
    [Stage<TinyBlock>(32, Repeat = 1, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>A small residual network with an identity block and a projection (option B) block.</summary>
[Network(1, 8, 8, Shortcut = ShortcutKind.Projection)]
public partial class TinyResNet
{
    [Conv(4, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<TinyBlock>(4, Repeat = 1)] Layer layer1;
    [Stage<TinyBlock>(8, Repeat = 1, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(3)] Layer fc;
}

/// <summary>The same with option-A (zero-padding) shortcuts.</summary>
[Network(1, 8, 8, Shortcut = ShortcutKind.ZeroPad)]
public partial class TinyZeroPadNet
{
    [Conv(4, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<TinyBlock>(4, Repeat = 1)] Layer layer1;
    [Stage<TinyBlock>(8, Repeat = 1, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(3)] Layer fc;
}

/// <summary>Every other operation: max and average pooling, tanh and sigmoid with batch norm after them, dropout, flatten, a dense layer with batch norm.</summary>
[Network(2, 9, 9)]
public partial class TinyMixedNet
{
    [Conv(4, 3, Padding = 1, Bias = true)] Layer conv1;
    [Tanh] Layer tanh;
    [BatchNorm] Layer bn1;
    [MaxPool(3, Stride = 2, Padding = 1)] Layer pool1;
    [Conv(6, 1)] Layer conv2;
    [Sigmoid] Layer sigmoid;
    [AvgPool(2, Stride = 1)] Layer pool2;
#pragma warning disable DRN0012 // dropout before a batch norm on purpose: the test covers every operation
    [Dropout(0.25)] Layer drop;
#pragma warning restore DRN0012
    [Flatten] Layer flatten;
    [Dense(5)] Layer fc1;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu;
    [Dense(4)] Layer fc2;
}
