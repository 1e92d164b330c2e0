namespace DslResNet.Models;

/// <summary>
/// ResNet-50-D as timm builds it (<c>resnet50d</c>; He et al., "Bag of Tricks for Image Classification", 2019): the
/// deep stem (three 3x3 convolutions, 32, 32 and 64 channels, the first with stride 2, in place of the 7x7) and
/// average-pool shortcuts (a 2x2 average pool with the stride, then the 1x1 projection and batch norm:
/// <c>downsample.0</c> is the pool, <c>downsample.1</c> the convolution, <c>downsample.2</c> the batch norm), on
/// torchvision's bottleneck (stride on the 3x3). 25,576,264 parameters, as timm's. timm names the stem
/// <c>conv1.0</c> ... <c>conv1.6</c> (an <c>nn.Sequential</c>); here its layers are <c>conv1_0</c> ... <c>conv1_6</c>, so
/// timm's weights load after <c>Checkpoint.RenameModel(n =&gt; Regex.Replace(n, @"^conv1\.(\d)\.", "conv1_$1."))</c>.
/// </summary>
[Network(3, 224, 224, Shortcut = ShortcutKind.AvgPoolProjection)]
public partial class ResNet50D
{
    [Conv(32, 3, Stride = 2, Padding = 1)] protected Layer conv1_0;
    [BatchNorm] protected Layer conv1_1;
    [ReLU] protected Layer conv1_2;
    [Conv(32, 3, Padding = 1)] protected Layer conv1_3;
    [BatchNorm] protected Layer conv1_4;
    [ReLU] protected Layer conv1_5;
    [Conv(64, 3, Padding = 1)] protected Layer conv1_6;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] protected Layer maxpool;
    [Stage<Bottleneck>(64, Repeat = 3)] protected Layer layer1;
    [Stage<Bottleneck>(128, Repeat = 4, Stride = 2)] protected Layer layer2;
    [Stage<Bottleneck>(256, Repeat = 6, Stride = 2)] protected Layer layer3;
    [Stage<Bottleneck>(512, Repeat = 3, Stride = 2)] protected Layer layer4;
    [GlobalAvgPool] protected Layer avgpool;
    [Dense(1000)] protected Layer fc;
}
