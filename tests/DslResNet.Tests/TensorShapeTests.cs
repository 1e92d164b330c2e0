using Xunit;

namespace DslResNet.Tests;

public sealed class TensorShapeTests
{
    [Fact]
    public void Shapes_print_as_PyTorch_dimensions()
    {
        Assert.Equal("(16, 32, 32)", TensorShape.Image(16, 32, 32).ToString());
        Assert.Equal("(10)", TensorShape.Flat(10).ToString());
        Assert.Equal(16L * 32 * 32, TensorShape.Image(16, 32, 32).Elements);
        Assert.Equal(new[] { 10 }, TensorShape.Flat(10).Dimensions);
    }
}
