namespace DslResNet.Samples;

/// <summary>
/// ResNet-50 as torchvision builds it: bottleneck blocks (64, 128, 256, 512 channels, expanded four times) repeated
/// 3, 4, 6 and 3 times, projection shortcuts where the shape changes.
/// </summary>
[Network(3, 224, 224)]
public partial class ResNet50
{
    [Conv(64, 7, Stride = 2, Padding = 3)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] Layer maxpool;
    [Stage<Bottleneck>(64, Repeat = 3)] Layer layer1;
    [Stage<Bottleneck>(128, Repeat = 4, Stride = 2)] Layer layer2;
    [Stage<Bottleneck>(256, Repeat = 6, Stride = 2)] Layer layer3;
    [Stage<Bottleneck>(512, Repeat = 3, Stride = 2)] Layer layer4;
    [GlobalAvgPool] Layer avgpool;
    [Dense(1000)] Layer fc;
}

#pragma warning disable DRN0013 // a deliberately deep plain twin: it exists to show the degradation problem
/// <summary>Plain-50: <see cref="ResNet50"/> without skip connections.</summary>
[Network(LayersOf = typeof(ResNet50), Plain = true)]
public partial class Plain50;
#pragma warning restore DRN0013
