using DslResNet;

namespace DslResNet.Parity;

/// <summary>The CIFAR basic block (conv-BN-ReLU-conv-BN, add, ReLU).</summary>
[Block]
public class ParityBasicBlock
{
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual] Layer add;
    [ReLU] Layer relu2;
}

/// <summary>The bottleneck block (1x1, 3x3 strided, 1x1 with expansion 4).</summary>
[Block]
public class ParityBottleneck
{
    [Conv(1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] Layer conv2;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [Conv(1, Expansion = 4)] Layer conv3;
    [BatchNorm] Layer bn3;
    [Residual] Layer add;
    [ReLU] Layer relu3;
}

/// <summary>The pre-activation block (BN-ReLU-conv twice, then the add).</summary>
[Block]
public class ParityPreActBlock
{
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [Conv(3, Padding = 1)] Layer conv2;
    [Residual] Layer add;
}

/// <summary>The pre-activation block as Wide ResNets and the pre-activation paper's code build it: the projection reads the pre-activated input.</summary>
[Block]
public class ParityWideBlock
{
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [Conv(3, Padding = 1)] Layer conv2;
    [Residual(ProjectionFrom = nameof(relu1))] Layer add;
}

/// <summary>CIFAR ResNet-20 (three stages of three blocks, 16/32/64 channels) with option-A shortcuts, on 3 x 16 x 16.</summary>
[Network(3, 16, 16, Shortcut = ShortcutKind.ZeroPad)]
public partial class ParityResNet20A
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<ParityBasicBlock>(16, Repeat = 3)] Layer layer1;
    [Stage<ParityBasicBlock>(32, Repeat = 3, Stride = 2)] Layer layer2;
    [Stage<ParityBasicBlock>(64, Repeat = 3, Stride = 2)] Layer layer3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>The same with option-B (projection) shortcuts.</summary>
[Network(LayersOf = typeof(ParityResNet20A), Shortcut = ShortcutKind.Projection)]
public partial class ParityResNet20B;

/// <summary>The plain twin: every skip connection off.</summary>
[Network(LayersOf = typeof(ParityResNet20A), Plain = true)]
public partial class ParityPlain20;

/// <summary>A small pre-activation network (as PreActResNet18, scaled down): stem conv, two pre-activation stages, final BN-ReLU.</summary>
[Network(3, 16, 16)]
public partial class ParityPreAct
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [Stage<ParityPreActBlock>(8, Repeat = 2)] Layer layer1;
    [Stage<ParityPreActBlock>(16, Repeat = 2, Stride = 2)] Layer layer2;
    [BatchNorm] Layer bn;
    [ReLU] Layer relu;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>A small bottleneck network (as ResNet-50, scaled down): 7x7 stem, max pool, two bottleneck stages.</summary>
[Network(3, 16, 16)]
public partial class ParityBottleneckNet
{
    [Conv(8, 7, Stride = 2, Padding = 3)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] Layer maxpool;
    [Stage<ParityBottleneck>(4, Repeat = 2)] Layer layer1;
    [Stage<ParityBottleneck>(8, Repeat = 2, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>The sample TanhNet's layers (tanh, then batch norm after the activation) on 1 x 12 x 12.</summary>
[Network(1, 12, 12)]
public partial class ParityTanhNet
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

/// <summary>Sigmoid, average pooling with padding (count_include_pad), dropout and a dense layer; compared in evaluation mode.</summary>
[Network(1, 12, 12)]
public partial class ParityDropoutNet
{
    [Conv(8, 3, Padding = 1, Bias = true)] Layer conv1;
#pragma warning disable DRN0011 // batch norm before sigmoid on purpose: parity must cover that order too
    [BatchNorm] Layer bn1;
#pragma warning restore DRN0011
    [Sigmoid] Layer sigmoid;
    [AvgPool(3, Stride = 2, Padding = 1)] Layer pool1;
    [Conv(8, 3, Stride = 2, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu;
    [Flatten] Layer flatten;
    [Dropout(0.5)] Layer drop;
    [Dense(10)] Layer fc;
}

/// <summary>
/// Depth that the generator writes as loops: seven basic blocks per stage (as ResNet-44) with option-A shortcuts, at 8/16/32
/// channels on 3 x 16 x 16 (smaller maps leave batch norm too few values per channel for float32 gradients through 45 layers to
/// agree within tolerance). Blocks 1-6 of each stage have one shape, so the generated constructor and tables build them in
/// loops (Emit/LoopRoller); parity here covers the rolled code, arena offsets and parameter names included.
/// </summary>
[Network(3, 16, 16, Shortcut = ShortcutKind.ZeroPad)]
public partial class ParityDeep
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<ParityBasicBlock>(8, Repeat = 7)] Layer layer1;
    [Stage<ParityBasicBlock>(16, Repeat = 7, Stride = 2)] Layer layer2;
    [Stage<ParityBasicBlock>(32, Repeat = 7, Stride = 2)] Layer layer3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>Rolled bottleneck stages with projection shortcuts: five and four blocks, on 3 x 16 x 16.</summary>
[Network(3, 16, 16)]
public partial class ParityDeepBottleneck
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<ParityBottleneck>(4, Repeat = 5)] Layer layer1;
    [Stage<ParityBottleneck>(8, Repeat = 4, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>
/// GELU (exact, erf form) and SiLU in every position the planner gives them: fused after batch norm, after a residual add
/// (whose backward recomputes the activation's input), before and after an add without batch norm, standalone after
/// average pooling (so average pooling is compared in training too), and after a dense layer.
/// </summary>
[Network(3, 16, 16)]
public partial class ParitySmoothNet
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [GELU] Layer gelu1;
    [Conv(8, 3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual(From = nameof(gelu1))] Layer add1;
    [SiLU] Layer silu1;
    [Conv(8, 1, Bias = true)] Layer conv3;
    [SiLU] Layer silu2;
    [Residual(From = nameof(silu1))] Layer add2;
    [GELU] Layer gelu2;
    [AvgPool(2, Stride = 2)] Layer pool;
    [GELU] Layer gelu3;
    [Conv(16, 3, Stride = 2, Padding = 1)] Layer conv4;
    [BatchNorm] Layer bn4;
    [SiLU] Layer silu3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(12)] Layer fc1;
    [SiLU] Layer silu4;
    [Dense(10)] Layer fc2;
}

/// <summary>
/// A small Wide ResNet (WRN-10-2 on 3 x 16 x 16): projections without batch norm (one with a stride of 1, where only
/// the channels change, one with stride 2), reading the pre-activated input; identity shortcuts add the raw input.
/// </summary>
[Network(3, 16, 16, Shortcut = ShortcutKind.ProjectionWithoutNorm)]
public partial class ParityWide
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [Stage<ParityWideBlock>(16, Repeat = 2)] Layer layer1;
    [Stage<ParityWideBlock>(32, Repeat = 2, Stride = 2)] Layer layer2;
    [BatchNorm] Layer bn;
    [ReLU] Layer relu;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>
/// A small ResNet-D (bottlenecks with average-pool shortcuts) on 3 x 16 x 16: layer1 changes only the channels (1x1 conv
/// and batch norm, no pool, named downsample.1 and .2 as timm), layer2 halves 4x4 to 2x2 (2x2 average pool, then the 1x1
/// conv and batch norm).
/// </summary>
[Network(3, 16, 16, Shortcut = ShortcutKind.AvgPoolProjection)]
public partial class ParityResNetD
{
    [Conv(8, 7, Stride = 2, Padding = 3)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] Layer maxpool;
    [Stage<ParityBottleneck>(4, Repeat = 2)] Layer layer1;
    [Stage<ParityBottleneck>(8, Repeat = 2, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>torchvision's ResNeXt bottleneck, small: the 3x3 in 4 groups at twice the block's channels, carrying the stride.</summary>
[Block]
public class ParityResNeXtBlock
{
    [Conv(1, Expansion = 2)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1, Strided = true, Expansion = 2, Groups = 4)] Layer conv2;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [Conv(1, Expansion = 4)] Layer conv3;
    [BatchNorm] Layer bn3;
    [Residual] Layer add;
    [ReLU] Layer relu3;
}

/// <summary>
/// A small ResNeXt on 3 x 16 x 16 (grouped 3x3s with 2 and 4 channels per group, one with stride 2) and a depthwise 3x3
/// with a bias and no batch norm.
/// </summary>
[Network(3, 16, 16)]
public partial class ParityResNeXt
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<ParityResNeXtBlock>(4, Repeat = 2)] Layer layer1;
    [Stage<ParityResNeXtBlock>(8, Repeat = 1, Stride = 2)] Layer layer2;
    [Conv(32, 3, Padding = 1, Groups = 32, Bias = true)] Layer depthwise;
    [ReLU] Layer relu2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}

/// <summary>timm's SE bottleneck, small: squeeze-and-excitation on bn3's output before the add (16 and 32 channels, 8 hidden).</summary>
[Block]
public class ParitySEBlock
{
    [Conv(1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] Layer conv2;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [Conv(1, Expansion = 4)] Layer conv3;
    [BatchNorm] Layer bn3;
    [SqueezeExcite(Reduction = 4)] Layer se;
    [Residual] Layer add;
    [ReLU] Layer relu3;
}

/// <summary>
/// A small SE-ResNet on 3 x 10 x 10 (the strided stage halves it to 5 x 5, an odd map): two stages of SE bottlenecks with
/// projection shortcuts, and an SE module with explicit hidden channels (5) on the last stage's output.
/// </summary>
[Network(3, 10, 10)]
public partial class ParitySENet
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<ParitySEBlock>(4, Repeat = 2)] Layer layer1;
    [Stage<ParitySEBlock>(8, Repeat = 1, Stride = 2)] Layer layer2;
    [SqueezeExcite(Channels = 5)] Layer se;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}
