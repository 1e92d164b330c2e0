namespace DslResNet.Models;

/// <summary>
/// The bottleneck block with squeeze-and-excitation, as timm's <c>Bottleneck</c> builds it with <c>attn_layer='se'</c>
/// (<c>seresnet50</c>): torchvision's bottleneck (1x1 reduce, 3x3 carrying the stride, 1x1 expand to four times the
/// stage's channels) with an SE module on <c>bn3</c>'s output, before the residual add: <c>layer1.0.se.fc1.weight</c>
/// [16, 256, 1, 1], hidden channels C / 16 rounded as timm rounds them.
/// </summary>
[Block]
public class SEBottleneck
{
    [Conv(1)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] protected Layer conv2;
    [BatchNorm] protected Layer bn2;
    [ReLU] protected Layer relu2;
    [Conv(1, Expansion = 4)] protected Layer conv3;
    [BatchNorm] protected Layer bn3;
    [SqueezeExcite] protected Layer se;
    [Residual] protected Layer add;
    [ReLU] protected Layer relu3;
}
