namespace DslResNet.Models;

/// <summary>
/// torchvision's ResNeXt bottleneck as <c>resnext101_32x8d</c> builds it (<c>groups = 32</c>, <c>width_per_group = 8</c>: the inner width is four times the stage's channels (planes x 8 / 64 x 32)): the 1x1 reduce, a 3x3 grouped convolution in
/// 32 groups carrying the stride, and the 1x1 expand to four times the stage's channels.
/// </summary>
[Block]
public class ResNeXtBottleneck32x8d
{
    [Conv(1, Expansion = 4)] protected Layer conv1;
    [BatchNorm] protected Layer bn1;
    [ReLU] protected Layer relu1;
    [Conv(3, Padding = 1, Strided = true, Expansion = 4, Groups = 32)] protected Layer conv2;
    [BatchNorm] protected Layer bn2;
    [ReLU] protected Layer relu2;
    [Conv(1, Expansion = 4)] protected Layer conv3;
    [BatchNorm] protected Layer bn3;
    [Residual] protected Layer add;
    [ReLU] protected Layer relu3;
}
