using DslResNet;

namespace DslResNet.Onnx.Tests;

/// <summary>A basic residual block (two 3x3 convolutions), as in the CIFAR and ImageNet ResNets.</summary>
[Block]
public class OnnxBasicBlock
{
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual] Layer add;
    [ReLU] Layer relu2;
}

/// <summary>A bottleneck block (1x1, 3x3, 1x1 with expansion 4), as in ResNet-50.</summary>
[Block]
public class OnnxBottleneck
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

/// <summary>A pre-activation block: batch norm and ReLU before each convolution, nothing after the add.</summary>
[Block]
public class OnnxPreActBlock
{
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [Conv(3, Padding = 1)] Layer conv2;
    [Residual] Layer add;
}

/// <summary>Option-B (projection) shortcuts: an identity block, then a strided block with a 1x1 convolution and batch norm on the shortcut.</summary>
[Network(2, 8, 8, Shortcut = ShortcutKind.Projection)]
public partial class OnnxResNetB
{
    [Conv(4, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<OnnxBasicBlock>(4, Repeat = 1)] Layer layer1;
    [Stage<OnnxBasicBlock>(8, Repeat = 1, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(3)] Layer fc;
}

/// <summary>Option-A (zero-padding) shortcuts on an odd input (7x7: the subsampling keeps rows 0, 2, 4, 6) and an odd channel change (3 to 8: 2 zero channels before, 3 after).</summary>
[Network(3, 7, 7, Shortcut = ShortcutKind.ZeroPad)]
public partial class OnnxResNetA
{
    [Conv(3, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<OnnxBasicBlock>(3, Repeat = 1)] Layer layer1;
    [Stage<OnnxBasicBlock>(8, Repeat = 1, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(4)] Layer fc;
}

/// <summary>The plain twin of <see cref="OnnxResNetB"/>: every skip connection off.</summary>
[Network(LayersOf = typeof(OnnxResNetB), Plain = true)]
public partial class OnnxPlainB;

/// <summary>A pre-activation ResNet: batch norms that follow residual adds, and a final batch norm and ReLU before pooling.</summary>
[Network(2, 8, 8)]
public partial class OnnxPreActNet
{
    [Conv(4, 3, Padding = 1)] Layer conv1;
    [Stage<OnnxPreActBlock>(4, Repeat = 1)] Layer layer1;
    [Stage<OnnxPreActBlock>(8, Repeat = 1, Stride = 2)] Layer layer2;
    [BatchNorm] Layer bn;
    [ReLU] Layer relu;
    [GlobalAvgPool] Layer avgpool;
    [Dense(3)] Layer fc;
}

/// <summary>Bottleneck blocks after a stem with max pooling, as ResNet-50, on 2x8x8 images.</summary>
[Network(2, 8, 8)]
public partial class OnnxBottleneckNet
{
    [Conv(4, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [MaxPool(3, Stride = 2, Padding = 1)] Layer maxpool;
    [Stage<OnnxBottleneck>(2, Repeat = 1)] Layer layer1;
    [Stage<OnnxBottleneck>(4, Repeat = 1, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(3)] Layer fc;
}

/// <summary>A small version of the tanh sample: batch norm after each activation (never after a convolution), convolution and dense biases.</summary>
[Network(1, 8, 8)]
public partial class OnnxTanhNet
{
    [Conv(4, 3, Padding = 1, Bias = true)] Layer conv1;
    [Tanh] Layer act1;
    [BatchNorm] Layer bn1;
    [MaxPool(2)] Layer pool1;
    [Conv(6, 3, Padding = 1, Bias = true)] Layer conv2;
    [Tanh] Layer act2;
    [BatchNorm] Layer bn2;
    [MaxPool(2)] Layer pool2;
    [Flatten] Layer flatten;
    [Dense(8)] Layer fc1;
    [Tanh] Layer act3;
    [BatchNorm] Layer bn3;
    [Dense(3)] Layer fc2;
}

/// <summary>
/// Everything else: a batch norm on the network input, a convolution with bias folded with its batch norm, max pooling,
/// sigmoid, padded average pooling (count_include_pad), dropout, flatten, a dense layer followed by batch norm.
/// </summary>
[Network(2, 9, 9)]
public partial class OnnxMixedNet
{
    [BatchNorm] Layer bn0;
    [Conv(4, 3, Padding = 1, Bias = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [MaxPool(3, Stride = 2, Padding = 1)] Layer pool1;
    [Conv(6, 1)] Layer conv2;
    [Sigmoid] Layer sigmoid;
    [AvgPool(3, Stride = 2, Padding = 1)] Layer pool2;
#pragma warning disable DRN0012 // dropout before a batch norm on purpose: the test covers every operation
    [Dropout(0.25)] Layer drop;
#pragma warning restore DRN0012
    [Flatten] Layer flatten;
    [Dense(5)] Layer fc1;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [Dense(4)] Layer fc2;
}

/// <summary>
/// GELU (exported as 0.5 x (1 + Erf(x / sqrt 2)): opset 17 has no Gelu) and SiLU (Mul(x, Sigmoid(x))): after a folded batch
/// norm, after a residual add, standalone after average pooling, and after a dense layer.
/// </summary>
[Network(2, 8, 8)]
public partial class OnnxSmoothNet
{
    [Conv(4, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [GELU] Layer gelu1;
    [Conv(4, 3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual(From = nameof(gelu1))] Layer add;
    [SiLU] Layer silu1;
    [AvgPool(2, Stride = 2)] Layer pool;
    [GELU] Layer gelu2;
    [SiLU] Layer silu2;
    [Flatten] Layer flatten;
    [Dense(6)] Layer fc1;
    [GELU] Layer gelu3;
    [Dense(3)] Layer fc2;
}

/// <summary>The Wide ResNet block: the projection (a 1x1 conv without batch norm) reads the pre-activated input.</summary>
[Block]
public class OnnxWideBlock
{
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn2;
    [ReLU] Layer relu2;
    [Conv(3, Padding = 1)] Layer conv2;
    [Residual(ProjectionFrom = nameof(relu1))] Layer add;
}

/// <summary>Projections without batch norm: one where only the channels change, one with stride 2; then an identity block.</summary>
[Network(2, 8, 8, Shortcut = ShortcutKind.ProjectionWithoutNorm)]
public partial class OnnxWideNet
{
    [Conv(4, 3, Padding = 1)] Layer conv1;
    [Stage<OnnxWideBlock>(6, Repeat = 1)] Layer layer1;
    [Stage<OnnxWideBlock>(8, Repeat = 2, Stride = 2)] Layer layer2;
    [BatchNorm] Layer bn;
    [ReLU] Layer relu;
    [GlobalAvgPool] Layer avgpool;
    [Dense(3)] Layer fc;
}

/// <summary>ResNet-D shortcuts: a 2x2 average pool (stride 2), a 1x1 convolution and batch norm; at stride 1 no pool.</summary>
[Network(2, 8, 8, Shortcut = ShortcutKind.AvgPoolProjection)]
public partial class OnnxResNetD
{
    [Conv(4, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<OnnxBasicBlock>(6, Repeat = 1)] Layer layer1;
    [Stage<OnnxBasicBlock>(8, Repeat = 1, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(3)] Layer fc;
}

/// <summary>A ResNeXt block: the 3x3 in 4 groups at twice the block's channels, as torchvision's ResNeXt bottleneck.</summary>
[Block]
public class OnnxResNeXtBlock
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

/// <summary>Grouped convolutions: two ResNeXt blocks (folded and unfolded batch norm), then a depthwise 3x3 with a bias and no batch norm.</summary>
[Network(2, 8, 8)]
public partial class OnnxResNeXtNet
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<OnnxResNeXtBlock>(4, Repeat = 1)] Layer layer1;
    [Stage<OnnxResNeXtBlock>(8, Repeat = 1, Stride = 2)] Layer layer2;
    [Conv(32, 3, Padding = 1, Groups = 32, Bias = true)] Layer depthwise;
    [ReLU] Layer relu2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(3)] Layer fc;
}

/// <summary>timm's SE bottleneck: squeeze-and-excitation on bn3's output, before the residual add.</summary>
[Block]
public class OnnxSEBlock
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

/// <summary>Squeeze-and-excitation: two SE bottlenecks (the second strided, to an odd 3x3 map), then an SE with 5 hidden channels.</summary>
[Network(2, 6, 6)]
public partial class OnnxSENet
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<OnnxSEBlock>(4, Repeat = 1)] Layer layer1;
    [Stage<OnnxSEBlock>(8, Repeat = 1, Stride = 2)] Layer layer2;
    [SqueezeExcite(Channels = 5)] Layer se;
    [GlobalAvgPool] Layer avgpool;
    [Dense(3)] Layer fc;
}
