namespace DslResNet.Models;

/// <summary>
/// The pre-activation block of "Identity Mappings in Deep Residual Networks" (ResNet v2): batch norm and ReLU come
/// before each convolution, and nothing follows the add, so the shortcut is a clean identity path. Where the shape
/// changes, the shortcut projects the pre-activated input (<c>relu1</c>), as the paper's code and the Wide ResNet
/// code do; where it does not, it adds the block's raw input.
/// </summary>
/// <remarks>
/// The published networks project without batch norm: declare the network with
/// <c>Shortcut = ShortcutKind.ProjectionWithoutNorm</c> (as <see cref="PreActResNet20"/> and <see cref="WideResNet16x4"/> do).
/// </remarks>
[Block]
public class PreActBlock
{
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] protected Layer conv1;
    [BatchNorm] protected Layer bn2;
    [ReLU] protected Layer relu2;
    [Conv(3, Padding = 1)] protected Layer conv2;
    [Residual(ProjectionFrom = nameof(relu1))] protected Layer add;
}
