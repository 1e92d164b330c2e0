using System;
using System.Linq;
using DslResNet.Kernels;
using DslResNet.Kernels.Ilgpu;
using Xunit;

namespace DslResNet.Tests.Kernels;

/// <summary>
/// The shared operation definitions (src/DslResNet/Model/Operations.cs): every mapping answers for every defined value,
/// so a kind added without its cases fails here; undefined values are refused loudly; the kernels' activation functions
/// agree with the double-precision reference.
/// </summary>
public sealed class OperationsTests
{
    [Fact]
    public void Every_layer_kind_maps()
    {
        Assert.Equal(Enum.GetValues<LayerKind>(), LayerKinds.All);
        foreach (LayerKind kind in LayerKinds.All)
        {
            Activation activation = LayerKinds.ActivationOf(kind);
            Assert.Equal(activation != Activation.None, LayerKinds.IsActivation(kind));
            if (activation != Activation.None)
            {
                Assert.Equal(kind, Activations.LayerKindOf(activation));
                Assert.Equal(kind.ToString(), Activations.Name(activation));
            }
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => LayerKinds.ActivationOf((LayerKind)99));
    }

    [Fact]
    public void Every_activation_maps_and_has_a_kernel()
    {
        Assert.Equal(Enum.GetValues<Activation>(), Activations.All);
        foreach (Activation activation in Activations.All)
        {
            Assert.Equal(Activations.BackwardNeedsInput(activation), ActivationMath.NeedsInput(activation));
            _ = Activations.IsSaturating(activation);
            if (activation != Activation.None)
            {
                Assert.Equal(activation, LayerKinds.ActivationOf(Activations.LayerKindOf(activation)));
            }

            foreach (float x in new[] { -3f, -0.5f, 0.25f, 2f })
            {
                float y = ActivationMath.Activate(x, activation);
                Assert.True(float.IsFinite(y), $"{activation}({x}) = {y}");
                Assert.True(float.IsFinite(ActivationMath.Gradient(x, y, activation)), $"{activation}'({x})");
            }

            new EpilogueShape(2, 3, 4, false, true, activation, true, activation, 0f, 0f).Validate();
        }

        Activation unknown = (Activation)99;
        Assert.Throws<ArgumentOutOfRangeException>(() => Activations.BackwardNeedsInput(unknown));
        Assert.Throws<ArgumentOutOfRangeException>(() => Activations.LayerKindOf(Activation.None));
        Assert.True(float.IsNaN(ActivationMath.Activate(1f, unknown)), "an undefined activation must not pass as the identity");
        Assert.True(float.IsNaN(ActivationMath.Gradient(1f, 1f, unknown)));
        ArgumentException e = Assert.Throws<ArgumentException>(new EpilogueShape(2, 3, 4, false, true, Activation.ReLU, false, unknown, 0f, 0f).Validate);
        Assert.Contains("Unknown activation", e.Message, StringComparison.Ordinal);
    }

    /// <summary>GELU (A-S 7.1.26 erfc) and SiLU in float against the double reference over [-9, 9], values and derivatives.</summary>
    [Theory]
    [InlineData(Activation.GELU)]
    [InlineData(Activation.SiLU)]
    public void Kernel_activation_matches_reference(Activation activation)
    {
        double[] xs = Enumerable.Range(-900, 1801).Select(i => i / 100.0).ToArray();
        double[] ones = xs.Select(_ => 1.0).ToArray();
        double[] y = activation == Activation.GELU ? Reference.GeluForward(xs) : Reference.SiluForward(xs);
        double[] dy = activation == Activation.GELU ? Reference.GeluBackward(xs, ones) : Reference.SiluBackward(xs, ones);
        for (int i = 0; i < xs.Length; i++)
        {
            float x = (float)xs[i];
            float actual = ActivationMath.Activate(x, activation);
            float gradient = ActivationMath.Gradient(x, actual, activation);
            // Absolute 3e-7 (the erfc polynomial's 1.5e-7 times |x| / 2, plus float rounding) or 2e-6 relative.
            Assert.True(Math.Abs(actual - y[i]) <= Math.Max(4e-7 * Math.Max(1, Math.Abs(xs[i])), 2e-6 * Math.Abs(y[i])), $"{activation}({xs[i]}) = {actual:R}, reference {y[i]:R}");
            Assert.True(Math.Abs(gradient - dy[i]) <= Math.Max(1e-6 * Math.Max(1, Math.Abs(xs[i])), 2e-6 * Math.Abs(dy[i])), $"{activation}'({xs[i]}) = {gradient:R}, reference {dy[i]:R}");
        }
    }
}
