namespace DslResNet.Models;

/// <summary>
/// WRN-16-4 for CIFAR-10 (Zagoruyko and Komodakis 2016, "Wide Residual Networks"): depth 16 (two
/// <see cref="PreActBlock"/>s per stage), widening factor 4 (64, 128 and 256 channels), 1x1 projection shortcuts without
/// batch norm reading the pre-activated input, a final batch norm and ReLU, global average pooling and a 10-way layer.
/// 2,748,890 parameters (the paper's 2.7M). No dropout between the convolutions (the paper's default for this table).
/// </summary>
[Network(3, 32, 32, Shortcut = ShortcutKind.ProjectionWithoutNorm)]
public partial class WideResNet16x4
{
    [Conv(16, 3, Padding = 1)] protected Layer conv1;
    [Stage<PreActBlock>(64, Repeat = 2)] protected Layer layer1;
    [Stage<PreActBlock>(128, Repeat = 2, Stride = 2)] protected Layer layer2;
    [Stage<PreActBlock>(256, Repeat = 2, Stride = 2)] protected Layer layer3;
    [BatchNorm] protected Layer bn;
    [ReLU] protected Layer relu;
    [GlobalAvgPool] protected Layer avgpool;
    [Dense(10)] protected Layer fc;
}
