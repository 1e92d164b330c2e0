using DslResNet;

namespace MyNet;

/// <summary>A residual block: two 3x3 convolutions with batch norm; the first carries the stage's stride.</summary>
[Block]
public class ResidualBlock
{
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual] Layer add;
    [ReLU] Layer relu2;
}

/// <summary>
/// The network: 1 x 28 x 28 images (Fashion-MNIST) to 10 classes. Change the layers and build: the generator checks every
/// shape and reports a mistake as a compiler error at its attribute (hover the class for its layer table).
/// </summary>
[Network(1, 28, 28)]
public partial class Network
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<ResidualBlock>(16, Repeat = 2)] Layer layer1;
    [Stage<ResidualBlock>(32, Repeat = 2, Stride = 2)] Layer layer2;
    [Stage<ResidualBlock>(64, Repeat = 2, Stride = 2)] Layer layer3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}
