namespace DslResNet.Samples;

/// <summary>
/// The basic residual block of the ResNet paper (torchvision's <c>BasicBlock</c>): two 3x3 convolutions, the first
/// carrying the stage's stride, and the shortcut added before the last ReLU.
/// </summary>
[Block]
public class BasicBlock
{
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual] Layer add;
    [ReLU] Layer relu2;
}
