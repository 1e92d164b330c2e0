namespace DslResNet.Generators.Tests.Infrastructure;

/// <summary>Declarations that several tests build on.</summary>
public static class TestSources
{
    /// <summary>A basic residual block, <c>Basic</c>, whose first conv takes the stage's stride.</summary>
    public const string BasicBlock = """
        [Block]
        public class Basic
        {
            [Conv(3, Padding = 1, Strided = true)] Layer conv1;
            [BatchNorm] Layer bn1;
            [ReLU] Layer relu1;
            [Conv(3, Padding = 1)] Layer conv2;
            [BatchNorm] Layer bn2;
            [Residual] Layer add;
            [ReLU] Layer relu2;
        }
        """;
}
