namespace DslResNet.Samples;

/// <summary>
/// The pre-activation block of "Identity Mappings in Deep Residual Networks" (ResNet v2): batch norm and ReLU come
/// before each convolution, and nothing follows the add, so the shortcut is a clean identity path.
/// </summary>
[Block]
public class PreActBlock
{
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [Conv(3, Padding = 1)] Layer conv2;
    [Residual] Layer add;
}
