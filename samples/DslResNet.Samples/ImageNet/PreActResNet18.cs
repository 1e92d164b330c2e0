namespace DslResNet.Samples;

/// <summary>
/// Pre-activation ResNet-18 (He et al. 2016, "Identity Mappings"): pre-activation blocks, so a final batch norm and
/// ReLU come after the last stage.
/// </summary>
[Network(3, 224, 224)]
public partial class PreActResNet18
{
    [Conv(64, 7, Stride = 2, Padding = 3)] Layer conv1;
    [MaxPool(3, Stride = 2, Padding = 1)] Layer maxpool;
    [Stage<PreActBlock>(64, Repeat = 2)] Layer layer1;
    [Stage<PreActBlock>(128, Repeat = 2, Stride = 2)] Layer layer2;
    [Stage<PreActBlock>(256, Repeat = 2, Stride = 2)] Layer layer3;
    [Stage<PreActBlock>(512, Repeat = 2, Stride = 2)] Layer layer4;
    [BatchNorm] Layer bn;
    [ReLU] Layer relu;
    [GlobalAvgPool] Layer avgpool;
    [Dense(1000)] Layer fc;
}

/// <summary>The plain twin of <see cref="PreActResNet18"/>.</summary>
[Network(LayersOf = typeof(PreActResNet18), Plain = true)]
public partial class PlainPreAct18;
