namespace DslResNet.Samples;

/// <summary>
/// A small tanh network for 28x28 grey images with batch norm after each activation, the placement that suits
/// s-shaped activations (batch norm before tanh would push it into saturation less often, but normalises what the
/// next layer sees less well).
/// </summary>
[Network(1, 28, 28)]
public partial class TanhNet
{
    [Conv(16, 3, Padding = 1, Bias = true)] Layer conv1;
    [Tanh] Layer act1;
    [BatchNorm] Layer bn1;
    [MaxPool(2)] Layer pool1;
    [Conv(32, 3, Padding = 1, Bias = true)] Layer conv2;
    [Tanh] Layer act2;
    [BatchNorm] Layer bn2;
    [MaxPool(2)] Layer pool2;
    [Flatten] Layer flatten;
    [Dense(128)] Layer fc1;
    [Tanh] Layer act3;
    [BatchNorm] Layer bn3;
    [Dense(10)] Layer fc2;
}
