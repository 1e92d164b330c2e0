namespace DslResNet.Samples;

/// <summary>
/// The bottleneck block as torchvision builds it ("ResNet v1.5"): 1x1 reduce, 3x3 (carrying the stride), 1x1
/// expand to four times the channels.
/// </summary>
[Block]
public class Bottleneck
{
    [Conv(1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] Layer conv2;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [Conv(1, Expansion = 4)] Layer conv3;
    [BatchNorm] Layer bn3;
    [Residual] Layer add;
    [ReLU] Layer relu3;
}
