namespace DslResNet.Models;

/// <summary>
/// The bottleneck block as torchvision builds it ("ResNet v1.5"): 1x1 reduce, 3x3 (carrying the stride), 1x1
/// expand to four times the stage's channels.
/// </summary>
[Block]
public class Bottleneck
{
    [Conv(1)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] protected Layer conv2;
    [BatchNorm] protected Layer bn2;
    [ReLU] protected Layer relu2;
    [Conv(1, Expansion = 4)] protected Layer conv3;
    [BatchNorm] protected Layer bn3;
    [Residual] protected Layer add;
    [ReLU] protected Layer relu3;
}
