using System;
using System.Linq;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace DslResNet.Generators.Tests.Emit;

/// <summary>
/// Generated code grows with the distinct shapes, not with the depth (issue 13, item 3): ResNet-1202, the paper's deepest
/// CIFAR network, generates under 200 KB of source that compiles, and a stage's Repeat count changes numbers, not code.
/// </summary>
public sealed class DepthTests
{
    private static string ResNet(int blocksPerStage) => Harness.WithUsing($$"""
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

        [Network(3, 32, 32, Shortcut = ShortcutKind.ZeroPad)]
        public partial class Deep
        {
            [Conv(16, 3, Padding = 1)] Layer conv1;
            [BatchNorm] Layer bn1;
            [ReLU] Layer relu;
            [Stage<BasicBlock>(16, Repeat = {{blocksPerStage}})] Layer layer1;
            [Stage<BasicBlock>(32, Repeat = {{blocksPerStage}}, Stride = 2)] Layer layer2;
            [Stage<BasicBlock>(64, Repeat = {{blocksPerStage}}, Stride = 2)] Layer layer3;
            [GlobalAvgPool] Layer avgpool;
            [Dense(10)] Layer fc;
        }
        """);

    [Fact]
    public void ResNet_1202_generates_under_200_KB_that_compiles()
    {
        HarnessResult result = Harness.Run(ResNet(200));
        Assert.Empty(result.Errors);
        string source = Assert.Single(result.Generated, g => g.Key.Contains("Deep", StringComparison.Ordinal)).Value;
        Assert.True(source.Length < 200_000, $"ResNet-1202 generated {source.Length:N0} characters");
        // 19.4M in the paper; by hand: stem 464, stages 934,400 + 3,707,392 + 14,778,368, fc 650.
        Assert.Contains("public const long ParameterCount = 19421274;", source, StringComparison.Ordinal);
    }

    [Fact]
    public void More_blocks_of_one_shape_change_numbers_not_code()
    {
        int Lines(int blocks) => Harness.Run(ResNet(blocks)).Generated.Single(g => g.Key.Contains("Deep", StringComparison.Ordinal)).Value.Split('\n').Length;

        // 20 and 90 blocks per stage: the same digit widths in names (10-19 vs 10-89), so the same loops with other bounds.
        Assert.Equal(Lines(20), Lines(90));
    }
}
