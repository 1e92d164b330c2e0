namespace DslResNet.Models;

/// <summary>
/// torchvision's bottleneck at twice the width (<c>width_per_group = 128</c>, as <c>wide_resnet50_2</c> and
/// <c>wide_resnet101_2</c> build it): the 1x1 reduce and the 3x3 (carrying the stride) have twice the stage's channels,
/// the 1x1 expand four times, so the output has a plain bottleneck's width.
/// </summary>
[Block]
public class WideBottleneck
{
    [Conv(1, Expansion = 2)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu1;
    [Conv(3, Padding = 1, Strided = true, Expansion = 2)] protected Layer conv2;
    [BatchNorm] protected Layer bn2;
    [ReLU] protected Layer relu2;
    [Conv(1, Expansion = 4)] protected Layer conv3;
    [BatchNorm] protected Layer bn3;
    [Residual] protected Layer add;
    [ReLU] protected Layer relu3;
}
