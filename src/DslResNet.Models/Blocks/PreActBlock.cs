namespace DslResNet.Models;

/// <summary>
/// The pre-activation block of "Identity Mappings in Deep Residual Networks" (ResNet v2): batch norm and ReLU come
/// before each convolution, and nothing follows the add, so the shortcut is a clean identity path.
/// </summary>
[Block]
public class PreActBlock
{
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] protected Layer conv1;
    [BatchNorm] protected Layer bn2;
    [ReLU] protected Layer relu2;
    [Conv(3, Padding = 1)] protected Layer conv2;
    [Residual] protected Layer add;
}
