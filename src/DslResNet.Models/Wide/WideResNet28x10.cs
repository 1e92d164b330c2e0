namespace DslResNet.Models;

/// <summary>
/// WRN-28-10 for CIFAR-10 (Zagoruyko and Komodakis 2016, "Wide Residual Networks"), the paper's best CIFAR network:
/// depth 28 (four <see cref="PreActBlock"/>s per stage), widening factor 10 (160, 320 and 640 channels), 1x1 projection
/// shortcuts without batch norm reading the pre-activated input, a final batch norm and ReLU, global average pooling
/// and a 10-way layer. 36,479,194 parameters (the paper's 36.5M).
/// </summary>
[Network(3, 32, 32, Shortcut = ShortcutKind.ProjectionWithoutNorm)]
public partial class WideResNet28x10
{
    [Conv(16, 3, Padding = 1)] protected Layer conv1;
    [Stage<PreActBlock>(160, Repeat = 4)] protected Layer layer1;
    [Stage<PreActBlock>(320, Repeat = 4, Stride = 2)] protected Layer layer2;
    [Stage<PreActBlock>(640, Repeat = 4, Stride = 2)] protected Layer layer3;
    [BatchNorm] protected Layer bn;
    [ReLU] protected Layer relu;
    [GlobalAvgPool] protected Layer avgpool;
    [Dense(10)] protected Layer fc;
}
