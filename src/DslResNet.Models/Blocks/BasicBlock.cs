namespace DslResNet.Models;

/// <summary>
/// The basic residual block of the ResNet paper (torchvision's <c>BasicBlock</c>): two 3x3 convolutions, the first
/// carrying the stage's stride, and the shortcut added before the last ReLU.
/// </summary>
/// <remarks>Use it in a stage: <c>[Stage&lt;BasicBlock&gt;(64, Repeat = 2, Stride = 2)] Layer layer2;</c>.</remarks>
[Block]
public class BasicBlock
{
    [Conv(3, Padding = 1, Strided = true)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu1;
    [Conv(3, Padding = 1)] protected Layer conv2;
    [BatchNorm] protected Layer bn2;
    [Residual] protected Layer add;
    [ReLU] protected Layer relu2;
}
