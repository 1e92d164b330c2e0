using DslResNet;

namespace PackageSmoke;

/// <summary>A basic residual block: the stage passes its channels and stride.</summary>
[Block]
public class SmokeBlock
{
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual] Layer add;
    [ReLU] Layer relu2;
}

/// <summary>
/// A small network with two stages; the first block of layer2 changes shape (8x16x16 to 16x8x8), so its residual takes
/// a projection shortcut (the network's default). Trainable parameters, counted by hand:
/// conv1 216, bn1 16, layer1 1,184 (one block: 576 + 16 + 576 + 16),
/// layer2 8,352 (block 0: 1,152 + 32 + 2,304 + 32 + projection 128 + 32; block 1: 2,304 + 32 + 2,304 + 32), fc 170;
/// total 9,938. run.sh checks the generated ParameterCount against this number.
/// </summary>
[Network(3, 16, 16)]
public partial class SmokeNet
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<SmokeBlock>(8)] Layer layer1;
    [Stage<SmokeBlock>(16, Repeat = 2, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}
