namespace DslResNet.Models;

/// <summary>
/// Pre-activation ResNet-20 for CIFAR-10 (He et al. 2016, "Identity Mappings in Deep Residual Networks"): a 3x3 stem,
/// three stages of three <see cref="PreActBlock"/>s (16, 32 and 64 channels), projection shortcuts without batch norm
/// (option B as the paper's code builds it), a final batch norm and ReLU, global average pooling and a 10-way layer.
/// 272,282 parameters.
/// </summary>
[Network(3, 32, 32, Shortcut = ShortcutKind.ProjectionWithoutNorm)]
public partial class PreActResNet20
{
    [Conv(16, 3, Padding = 1)] protected Layer conv1;
    [Stage<PreActBlock>(16, Repeat = 3)] protected Layer layer1;
    [Stage<PreActBlock>(32, Repeat = 3, Stride = 2)] protected Layer layer2;
    [Stage<PreActBlock>(64, Repeat = 3, Stride = 2)] protected Layer layer3;
    [BatchNorm] protected Layer bn;
    [ReLU] protected Layer relu;
    [GlobalAvgPool] protected Layer avgpool;
    [Dense(10)] protected Layer fc;
}
