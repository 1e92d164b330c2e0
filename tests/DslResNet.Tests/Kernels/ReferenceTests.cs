using System;
using System.Linq;
using Xunit;

namespace DslResNet.Tests.Kernels;

/// <summary>
/// Checks the double-precision references themselves: every backward against central differences (h = 2^-20) of
/// f = sum(forward(.) * r) for a random r, on small awkward shapes; and forward values computed by hand.
/// </summary>
public sealed class ReferenceTests
{
    /// <summary>
    /// The central-difference step: 2^-20 (about 1e-6), a power of two so that x +- h is exact for the dyadic inputs
    /// below, and linear operations (convolution, linear, pools, shortcut) are then differenced without rounding.
    /// </summary>
    private const double Step = 1.0 / (1 << 20);
    private const double GradientTolerance = 1e-6;

    // ------------------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>Uniform in [-scale, scale], rounded to a multiple of scale / 1024 (short dyadic mantissas: see <see cref="Step"/>).</summary>
    private static double[] RandomArray(Random random, int length, double scale = 1.0)
    {
        double[] a = new double[length];
        for (int i = 0; i < length; i++)
            a[i] = scale * Math.Round((2 * random.NextDouble() - 1) * 1024) / 1024;
        return a;
    }

    /// <summary>Distinct values at least 0.01 apart, shuffled, so that no max-pool window is near a tie.</summary>
    private static double[] DistinctArray(Random random, int length)
    {
        double[] a = Enumerable.Range(0, length).Select(i => 0.01 * i - 0.005 * length).ToArray();
        random.Shuffle(a);
        return a;
    }

    /// <summary>Checks an analytic gradient against the central difference of <paramref name="f"/> at <paramref name="point"/>.</summary>
    private static void AssertGradient(string what, double[] analytic, Func<double[], double> f, double[] point)
    {
        double[] numeric = FiniteDifference.Gradient(f, point, Step);
        Comparison comparison = FiniteDifference.Compare(numeric, analytic);
        Assert.True(comparison.MaxRelativeError <= GradientTolerance, $"{what}: {comparison}");
    }

    /// <summary>
    /// Checks the gradient a backward returned for dy = <paramref name="r"/> against the central difference of
    /// sum(forward(.) * r) at <paramref name="point"/>.
    /// </summary>
    private static void AssertGradient(string what, double[] analytic, Func<double[], double[]> forward, double[] point, double[] r)
    {
        double[] numeric = FiniteDifference.ProjectedGradient(forward, point, r, Step);
        Comparison comparison = FiniteDifference.Compare(numeric, analytic);
        Assert.True(comparison.MaxRelativeError <= GradientTolerance, $"{what}: {comparison}");
    }

    private static void AssertValues(double[] expected, double[] actual, double tolerance = 1e-12)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"index {i}: expected {expected[i]:R}, actual {actual[i]:R}");
    }

    // ------------------------------------------------------------------------------------------------------------
    // FiniteDifference itself
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void Central_difference_of_a_cubic_has_error_h_squared()
    {
        // For f = sum x^3 the central difference is exactly 3x^2 + h^2.
        double[] point = [1, 2, -3];
        double[] g = FiniteDifference.Gradient(x => x.Sum(v => v * v * v), point);
        AssertValues([3 + 1e-6, 12 + 1e-6, 27 + 1e-6], g, 1e-9);
        Assert.Equal(new double[] { 1, 2, -3 }, point);
    }

    [Fact]
    public void Compare_reports_the_worst_element_with_a_floor()
    {
        Comparison c = FiniteDifference.Compare([1, 2, 3], new double[] { 1, 2.1, 3 });
        Assert.Equal(1, c.WorstIndex);
        Assert.Equal(0.1 / 4.1, c.MaxRelativeError, 12);
        Assert.Equal(2, c.Expected);
        Assert.Equal(2.1, c.Actual);
        Assert.Contains("index 1", c.ToString(), StringComparison.Ordinal);

        // Near zero the floor 1e-3 takes over: 1e-5 / 1e-3.
        Assert.Equal(1e-2, FiniteDifference.Compare([0.0], [1e-5]).MaxRelativeError, 12);
        Assert.Equal(0, FiniteDifference.Compare([0.0, 5], new float[] { 0f, 5f }).MaxRelativeError);
        Assert.Equal(double.PositiveInfinity, FiniteDifference.Compare([1.0], [double.NaN]).MaxRelativeError);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Convolution
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void Conv2d_of_known_numbers()
    {
        double[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        double[] w = [1, 0, -1, 2, 0, -2, 1, 0, -1]; // not symmetric: catches a flipped (true) convolution
        AssertValues([-7.5], Reference.Conv2dForward(x, 1, 1, 3, 3, w, 1, 3, [0.5], 1, 0));
        // Padding 1, stride 2: windows centred on (0,0), (0,2), (2,0), (2,2).
        AssertValues([-9, 9, -21, 21], Reference.Conv2dForward(x, 1, 1, 3, 3, w, 1, 3, null, 2, 1));
        Assert.Equal(2, Reference.OutputSize(3, 3, 2, 1));
        Assert.Equal(16, Reference.OutputSize(32, 3, 2, 1));
        Assert.Equal(3, Reference.OutputSize(7, 3, 2, 0));

        // Two input channels, two output channels, 1x1 kernel: a per-pixel matrix product plus bias.
        double[] x2 = [1, 2, 3, 4]; // [1,2,1,2]: channel 0 = (1,2), channel 1 = (3,4)
        double[] w2 = [1, 10, -1, 0.5]; // out 0 = c0 + 10 c1, out 1 = -c0 + 0.5 c1
        AssertValues([31, 42, 1.5, 1], Reference.Conv2dForward(x2, 1, 2, 1, 2, w2, 2, 1, [0, 1], 1, 0));
    }

    [Theory]
    [InlineData(2, 3, 7, 5, 4, 3, 2, 1, true)]
    [InlineData(2, 2, 9, 7, 3, 7, 2, 3, false)]
    [InlineData(2, 2, 7, 9, 3, 7, 1, 3, true)]
    [InlineData(2, 3, 5, 5, 2, 1, 2, 0, true)]
    [InlineData(2, 1, 6, 5, 3, 3, 1, 0, true)]
    [InlineData(2, 3, 6, 6, 1, 3, 2, 0, false)]
    public void Conv2d_backward_matches_finite_differences(int n, int ci, int h, int w, int co, int k, int s, int p, bool hasBias)
    {
        Random random = new(1000 + n * 100 + ci * 10 + k);
        double[] x = RandomArray(random, n * ci * h * w);
        double[] weight = RandomArray(random, co * ci * k * k);
        double[]? bias = hasBias ? RandomArray(random, co) : null;
        int ho = Reference.OutputSize(h, k, s, p), wo = Reference.OutputSize(w, k, s, p);
        double[] r = RandomArray(random, n * co * ho * wo);

        var (dx, dw, db) = Reference.Conv2dBackward(x, n, ci, h, w, weight, co, k, s, p, r);
        AssertGradient("dx", dx, v => Reference.Conv2dForward(v, n, ci, h, w, weight, co, k, bias, s, p), x, r);
        AssertGradient("dw", dw, v => Reference.Conv2dForward(x, n, ci, h, w, v, co, k, bias, s, p), weight, r);
        AssertGradient("db", db, v => Reference.Conv2dForward(x, n, ci, h, w, weight, co, k, v, s, p), bias ?? new double[co], r);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Batch norm
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void BatchNorm_of_one_to_four()
    {
        double[] x = [1, 2, 3, 4];
        var (y, mean, variance) = Reference.BatchNorm2dTrainForward(x, 1, 1, 2, 2, [1], [0], 0);
        AssertValues([2.5], mean);
        AssertValues([1.25], variance);
        double s = Math.Sqrt(1.25);
        AssertValues([-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], y);

        // Same numbers laid out as a batch of four 1x1 images, with gamma, beta and eps.
        var (y2, mean2, variance2) = Reference.BatchNorm2dTrainForward(x, 4, 1, 1, 1, [2], [0.5], 0.75);
        AssertValues([2.5], mean2);
        AssertValues([1.25], variance2);
        AssertValues([2 * -1.5 / Math.Sqrt(2) + 0.5, 2 * -0.5 / Math.Sqrt(2) + 0.5, 2 * 0.5 / Math.Sqrt(2) + 0.5, 2 * 1.5 / Math.Sqrt(2) + 0.5], y2);

        // Running stats, momentum 0.1, from PyTorch's initial (0, 1): the variance enters unbiased, 1.25 * 4/3 = 1.6667.
        double[] runningMean = [0], runningVar = [1];
        Reference.BatchNorm2dUpdateRunningStats(runningMean, runningVar, mean, variance, 4, 0.1);
        AssertValues([0.25], runningMean);
        AssertValues([0.9 + 0.1 * (5.0 / 3.0)], runningVar);
        Assert.Equal(1.0666667, runningVar[0], 6);
        double[] unbiasedMean = [0], unbiasedVar = [0];
        Reference.BatchNorm2dUpdateRunningStats(unbiasedMean, unbiasedVar, mean, variance, 4, 1.0); // momentum 1: the batch's own
        Assert.Equal(2.5, unbiasedMean[0], 14);
        Assert.Equal(1.6666667, unbiasedVar[0], 6);

        // Eval mode uses the running statistics: (x - 0.25) / sqrt(1.0666667 + 0) * 3 - 1.
        double[] e = Reference.BatchNorm2dEvalForward(x, 1, 1, 2, 2, [3], [-1], runningMean, runningVar, 0);
        AssertValues(x.Select(v => (v - 0.25) / Math.Sqrt(0.9 + 0.5 / 3) * 3 - 1).ToArray(), e);

        Assert.Throws<ArgumentException>(() => Reference.BatchNorm2dTrainForward([1.0], 1, 1, 1, 1, [1], [0], 1e-5));
    }

    [Fact]
    public void BatchNorm_statistics_are_per_channel_over_batch_and_plane()
    {
        // [2,2,1,2]: channel 0 holds 1,2 (image 0) and 5,6 (image 1); channel 1 holds 10,10 and 10,14.
        double[] x = [1, 2, 10, 10, 5, 6, 10, 14];
        var (_, mean, variance) = Reference.BatchNorm2dTrainForward(x, 2, 2, 1, 2, [1, 1], [0, 0], 1e-5);
        AssertValues([3.5, 11], mean);
        AssertValues([(6.25 + 2.25 + 2.25 + 6.25) / 4, (1 + 1 + 1 + 9) / 4.0], variance);
    }

    [Theory]
    [InlineData(2, 3, 3, 5, 1e-5)]
    [InlineData(2, 1, 5, 3, 1e-5)]
    [InlineData(3, 2, 2, 3, 1e-5)]
    // Two values per channel: with a small eps the output is +-gamma whatever x is, dx ~ eps and the check would only
    // see rounding; a large eps makes dx substantial.
    [InlineData(2, 2, 1, 1, 0.1)]
    public void BatchNorm_train_backward_matches_finite_differences(int n, int c, int h, int w, double eps)
    {
        Random random = new(2000 + n * 1000 + c * 100 + h * 10 + w);
        double[] x = RandomArray(random, n * c * h * w, 2.0);
        double[] gamma = RandomArray(random, c).Select(v => v + 1.5).ToArray();
        double[] beta = RandomArray(random, c);
        double[] r = RandomArray(random, x.Length);

        var (dx, dgamma, dbeta) = Reference.BatchNorm2dTrainBackward(x, n, c, h, w, gamma, eps, r);
        // dx does not depend on beta; leaving it out of the forward keeps the rounding of "+ beta" out of the differences.
        double[] noBeta = new double[c];
        AssertGradient("dx", dx, v => Reference.BatchNorm2dTrainForward(v, n, c, h, w, gamma, noBeta, eps).Y, x, r);
        AssertGradient("dgamma", dgamma, v => Reference.BatchNorm2dTrainForward(x, n, c, h, w, v, beta, eps).Y, gamma, r);
        AssertGradient("dbeta", dbeta, v => Reference.BatchNorm2dTrainForward(x, n, c, h, w, gamma, v, eps).Y, beta, r);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Activations
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void Activations_of_known_numbers()
    {
        double[] x = [-2, 0, 0.5, 3];
        AssertValues([0, 0, 0.5, 3], Reference.ReluForward(x));
        AssertValues([0, 0, 1, 1], Reference.ReluBackward(x, [1, 1, 1, 1])); // derivative 0 at 0, as PyTorch
        AssertValues([Math.Tanh(-2), 0, Math.Tanh(0.5), Math.Tanh(3)], Reference.TanhForward(x));
        AssertValues([0.5], Reference.SigmoidForward([0]));
        AssertValues([0.25 * 3], Reference.SigmoidBackward([0], [3]));
        AssertValues([1 * 2], Reference.TanhBackward([0], [2]));
        AssertValues([1 / (1 + Math.Exp(2)), 1 / (1 + Math.Exp(-3))], Reference.SigmoidForward([-2, 3]));

        // No overflow to NaN at the extremes.
        double[] extreme = Reference.SigmoidForward([-800, 800]);
        AssertValues([0, 1], extreme);
        AssertValues([0, 0], Reference.SigmoidBackward([-800, 800], [1, 1]));
    }

    [Fact]
    public void Activation_backwards_match_finite_differences()
    {
        Random random = new(3000);
        // Keep the ReLU inputs at least 0.05 from the kink.
        double[] x = RandomArray(random, 2 * 3 * 5 * 3, 3.0).Select(v => v >= 0 ? v + 0.05 : v - 0.05).ToArray();
        double[] r = RandomArray(random, x.Length);
        AssertGradient("relu", Reference.ReluBackward(x, r), v => Reference.ReluForward(v), x, r);
        AssertGradient("tanh", Reference.TanhBackward(x, r), v => Reference.TanhForward(v), x, r);
        AssertGradient("sigmoid", Reference.SigmoidBackward(x, r), v => Reference.SigmoidForward(v), x, r);
        AssertGradient("gelu", Reference.GeluBackward(x, r), v => Reference.GeluForward(v), x, r);
        AssertGradient("silu", Reference.SiluBackward(x, r), v => Reference.SiluForward(v), x, r);
    }

    /// <summary>Phi and erfc against published values (Abramowitz and Stegun table 26.1; erfc(5) from its table 7.1).</summary>
    [Fact]
    public void NormalCdf_and_erfc_of_known_numbers()
    {
        (double X, double Phi)[] table =
        [
            (0, 0.5), (0.5, 0.69146246127401310), (1, 0.84134474606854293), (2, 0.97724986805182079),
            (-1, 0.15865525393145707), (-3, 0.0013498980316301), (-5, 2.8665157187919391e-7),
        ];
        foreach ((double x, double phi) in table)
        {
            double actual = Reference.NormalCdf(x);
            Assert.True(Math.Abs(actual - phi) <= 1e-13 * Math.Max(1, 1 / phi) * phi + 1e-15, $"Phi({x}) = {actual:R}, expected {phi:R}");
        }

        Assert.Equal(1.5374597944280349e-12, Reference.Erfc(5), 1e-24);
        AssertValues([0.5 * 1 * (1 + 0.68268949213708590)], Reference.GeluForward([1])); // erf(1/sqrt 2) = 0.6826894921370859
        AssertValues([1 / (1 + Math.Exp(-2)) * 2], Reference.SiluForward([2]));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Pooling
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void MaxPool_of_known_numbers()
    {
        double[] x = [1, 5, 2, 0, 3, 4, 7, 4, 6, 8, 1, 9]; // [1,1,3,4]
        // Kernel 2, stride 2: rows 0-1 only (floor mode): max(1,5,3,4) = 5, max(2,0,7,4) = 7.
        AssertValues([5, 7], Reference.MaxPool2dForward(x, 1, 1, 3, 4, 2, 2, 0));
        // Kernel 3, stride 2, padding 1 over [3,4] -> [2,2]: windows clipped to rows 0-1 / 1-2 and cols 0-1 / 1-3.
        AssertValues([5, 7, 8, 9], Reference.MaxPool2dForward(x, 1, 1, 3, 4, 3, 2, 1));
        Assert.Equal(new[] { 1, 6, 9, 11 }, Reference.MaxPool2dArgmax(x, 1, 1, 3, 4, 3, 2, 1));
        AssertValues([0, 1, 0, 0, 0, 0, 2, 0, 0, 3, 0, 4], Reference.MaxPool2dBackward(x, 1, 1, 3, 4, 3, 2, 1, [1, 2, 3, 4]));

        // Overlapping windows sharing a maximum accumulate its gradient.
        double[] peak = [0, 1, 0, 2, 9, 3, 0, 1, 0];
        AssertValues([0, 0, 0, 0, 10, 0, 0, 0, 0], Reference.MaxPool2dBackward(peak, 1, 1, 3, 3, 2, 1, 0, [1, 2, 3, 4]));
    }

    [Fact]
    public void MaxPool_padding_is_minus_infinity_and_ties_go_to_the_first_maximum()
    {
        // All negative: zero padding would wrongly give 0.
        double[] negative = Enumerable.Repeat(-5.0, 9).ToArray();
        AssertValues(Enumerable.Repeat(-5.0, 9).ToArray(), Reference.MaxPool2dForward(negative, 1, 1, 3, 3, 3, 1, 1));

        // Equal values, overlapping 2x2 windows at stride 1: each window's first element (row-major) takes the gradient.
        double[] equal = Enumerable.Repeat(5.0, 9).ToArray();
        AssertValues([1, 1, 0, 1, 1, 0, 0, 0, 0], Reference.MaxPool2dBackward(equal, 1, 1, 3, 3, 2, 1, 0, [1, 1, 1, 1]));
        // A tie between positions 1 and 2 of a window, after a smaller first element.
        double[] tie = [1, 4, 4, 2]; // [1,1,2,2], one 2x2 window: first max is index 1
        AssertValues([0, 7, 0, 0], Reference.MaxPool2dBackward(tie, 1, 1, 2, 2, 2, 2, 0, [7]));

        // Windows of -inf only: the value is -inf and the index is the window's first in-range element, as PyTorch CPU.
        double[] minusInf = Enumerable.Repeat(double.NegativeInfinity, 4).ToArray();
        Assert.All(Reference.MaxPool2dForward(minusInf, 1, 1, 2, 2, 2, 1, 1), v => Assert.Equal(double.NegativeInfinity, v));
        Assert.Equal(new[] { 0, 0, 1, 0, 0, 1, 2, 2, 3 }, Reference.MaxPool2dArgmax(minusInf, 1, 1, 2, 2, 2, 1, 1));

        // NaN propagates.
        Assert.True(double.IsNaN(Reference.MaxPool2dForward([1, double.NaN, 3, 2], 1, 1, 2, 2, 2, 2, 0)[0]));

        // PyTorch rejects padding above half the kernel.
        Assert.Throws<ArgumentException>(() => Reference.MaxPool2dForward(equal, 1, 1, 3, 3, 3, 1, 2));
    }

    [Fact]
    public void AvgPool_counts_padding_in_the_divisor()
    {
        double[] ones = Enumerable.Repeat(1.0, 9).ToArray();
        double[] expected = [4 / 9.0, 6 / 9.0, 4 / 9.0, 6 / 9.0, 1, 6 / 9.0, 4 / 9.0, 6 / 9.0, 4 / 9.0];
        AssertValues(expected, Reference.AvgPool2dForward(ones, 1, 1, 3, 3, 3, 1, 1));
        // The backward of all-ones is symmetric: each position gets (windows covering it) / 9.
        AssertValues(expected, Reference.AvgPool2dBackward(1, 1, 3, 3, 3, 1, 1, ones));

        double[] x = [1, 2, 3, 4, 5, 6, 7, 8]; // [1,1,2,4], kernel 2 stride 2
        AssertValues([(1 + 2 + 5 + 6) / 4.0, (3 + 4 + 7 + 8) / 4.0], Reference.AvgPool2dForward(x, 1, 1, 2, 4, 2, 2, 0));
    }

    [Fact]
    public void GlobalAvgPool_of_known_numbers()
    {
        double[] x = [1, 2, 3, 4, 10, 20, 30, 40]; // [1,2,2,2]
        AssertValues([2.5, 25], Reference.GlobalAvgPoolForward(x, 1, 2, 2, 2));
        AssertValues([1, 1, 1, 1, -0.5, -0.5, -0.5, -0.5], Reference.GlobalAvgPoolBackward(1, 2, 2, 2, [4, -2]));
    }

    [Theory]
    [InlineData(2, 3, 7, 5, 3, 2, 1)]
    [InlineData(2, 2, 9, 9, 7, 2, 3)]
    [InlineData(2, 2, 5, 6, 2, 2, 0)]
    [InlineData(2, 1, 7, 7, 1, 2, 0)]
    [InlineData(2, 2, 6, 5, 3, 1, 1)]
    [InlineData(2, 3, 7, 7, 3, 3, 0)]
    public void Pool_backwards_match_finite_differences(int n, int c, int h, int w, int k, int s, int p)
    {
        Random random = new(4000 + h * 100 + k * 10 + p);
        double[] x = DistinctArray(random, n * c * h * w);
        int ho = Reference.OutputSize(h, k, s, p), wo = Reference.OutputSize(w, k, s, p);
        double[] r = RandomArray(random, n * c * ho * wo);

        AssertGradient("max", Reference.MaxPool2dBackward(x, n, c, h, w, k, s, p, r),
            v => Reference.MaxPool2dForward(v, n, c, h, w, k, s, p), x, r);
        AssertGradient("avg", Reference.AvgPool2dBackward(n, c, h, w, k, s, p, r),
            v => Reference.AvgPool2dForward(v, n, c, h, w, k, s, p), x, r);

        double[] rg = RandomArray(random, n * c);
        AssertGradient("global", Reference.GlobalAvgPoolBackward(n, c, h, w, rg),
            v => Reference.GlobalAvgPoolForward(v, n, c, h, w), x, rg);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Zero-pad shortcut
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void ZeroPadShortcut_subsamples_and_centres_the_channels()
    {
        // [1,2,3,3] -> stride 2, 5 channels: Ho = 2, one zero channel before, two after.
        double[] x = Enumerable.Range(0, 18).Select(i => (double)i).ToArray();
        double[] y = Reference.ZeroPadShortcutForward(x, 1, 2, 3, 3, 5, 2);
        AssertValues([
            0, 0, 0, 0,
            0, 2, 6, 8,
            9, 11, 15, 17,
            0, 0, 0, 0,
            0, 0, 0, 0], y);
        Assert.Equal(3, Reference.ShortcutOutputSize(5, 2));
        Assert.Equal(16, Reference.ShortcutOutputSize(32, 2));

        double[] dy = Enumerable.Range(1, 20).Select(i => (double)i).ToArray();
        double[] dx = Reference.ZeroPadShortcutBackward(1, 2, 3, 3, 5, 2, dy);
        AssertValues([
            5, 0, 6, 0, 0, 0, 7, 0, 8,
            9, 0, 10, 0, 0, 0, 11, 0, 12], dx);
    }

    [Theory]
    [InlineData(2, 3, 7, 5, 8, 2)]
    [InlineData(2, 4, 6, 6, 8, 2)]
    [InlineData(2, 3, 5, 5, 3, 1)]
    [InlineData(2, 2, 7, 5, 5, 3)]
    public void ZeroPadShortcut_backward_matches_finite_differences(int n, int ci, int h, int w, int co, int s)
    {
        Random random = new(5000 + ci * 100 + co * 10 + s);
        double[] x = RandomArray(random, n * ci * h * w);
        int ho = Reference.ShortcutOutputSize(h, s), wo = Reference.ShortcutOutputSize(w, s);
        double[] r = RandomArray(random, n * co * ho * wo);
        AssertGradient("dx", Reference.ZeroPadShortcutBackward(n, ci, h, w, co, s, r),
            v => Reference.ZeroPadShortcutForward(v, n, ci, h, w, co, s), x, r);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Linear
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void Linear_of_known_numbers()
    {
        double[] x = [1, 2, 3, -1, 0, 1]; // [2,3]
        double[] w = [1, 0, 0, 1, 1, 1]; // [2,3]
        AssertValues([1 + 10, 6 - 10, -1 + 10, 0 - 10], Reference.LinearForward(x, 2, 3, w, 2, [10, -10]));
        var (dx, dw, db) = Reference.LinearBackward(x, 2, 3, w, 2, [1, 2, 3, 4]);
        AssertValues([3, 2, 2, 7, 4, 4], dx);
        AssertValues([1 - 3, 2, 3 + 3, 2 - 4, 4, 6 + 4], dw);
        AssertValues([4, 6], db);
    }

    [Theory]
    [InlineData(2, 5, 3)]
    [InlineData(3, 1, 4)]
    [InlineData(2, 7, 10)]
    public void Linear_backward_matches_finite_differences(int n, int inFeatures, int outFeatures)
    {
        Random random = new(6000 + n * 100 + inFeatures * 10 + outFeatures);
        double[] x = RandomArray(random, n * inFeatures);
        double[] w = RandomArray(random, outFeatures * inFeatures);
        double[] b = RandomArray(random, outFeatures);
        double[] r = RandomArray(random, n * outFeatures);
        var (dx, dw, db) = Reference.LinearBackward(x, n, inFeatures, w, outFeatures, r);
        AssertGradient("dx", dx, v => Reference.LinearForward(v, n, inFeatures, w, outFeatures, b), x, r);
        AssertGradient("dw", dw, v => Reference.LinearForward(x, n, inFeatures, v, outFeatures, b), w, r);
        AssertGradient("db", db, v => Reference.LinearForward(x, n, inFeatures, w, outFeatures, v), b, r);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Softmax cross-entropy
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void SoftmaxCrossEntropy_of_known_numbers()
    {
        var (loss, d) = Reference.SoftmaxCrossEntropy([0, 0], 1, 2, [0]);
        Assert.Equal(Math.Log(2), loss, 14);
        AssertValues([-0.5, 0.5], d);

        // Mean over the batch: the second sample, logits (0, ln 3), label 1: p = (1/4, 3/4), loss = -ln(3/4).
        var (loss2, d2) = Reference.SoftmaxCrossEntropy([0, 0, 0, Math.Log(3)], 2, 2, [0, 1]);
        Assert.Equal((Math.Log(2) - Math.Log(0.75)) / 2, loss2, 14);
        AssertValues([-0.25, 0.25, 0.125, -0.125], d2);

        // Large logits stay finite.
        var (loss3, d3) = Reference.SoftmaxCrossEntropy([1000, 0, -1000], 1, 3, [1]);
        Assert.Equal(1000, loss3, 10);
        AssertValues([1, -1, 0], d3);

        Assert.Throws<ArgumentOutOfRangeException>(() => Reference.SoftmaxCrossEntropy([0, 0], 1, 2, [2]));
    }

    [Theory]
    [InlineData(2, 5)]
    [InlineData(3, 10)]
    [InlineData(1, 2)]
    public void SoftmaxCrossEntropy_gradient_matches_finite_differences(int n, int classes)
    {
        Random random = new(7000 + n * 100 + classes);
        double[] logits = RandomArray(random, n * classes, 3.0);
        int[] labels = Enumerable.Range(0, n).Select(_ => random.Next(classes)).ToArray();
        var (_, d) = Reference.SoftmaxCrossEntropy(logits, n, classes, labels);
        AssertGradient("dlogits", d, v => Reference.SoftmaxCrossEntropy(v, n, classes, labels).Loss, logits);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Dropout
    // ------------------------------------------------------------------------------------------------------------

    [Fact]
    public void Dropout_scales_the_kept_values()
    {
        bool[] keep = [true, false, true, true];
        AssertValues([2, 0, -4, 8], Reference.DropoutForward([1, 5, -2, 4], keep, 0.5));
        AssertValues([1, 5, -2, 4], Reference.DropoutForward([1, 5, -2, 4], [true, true, true, true], 0));
        AssertValues([0, 0, 0, 0], Reference.DropoutForward([1, 5, -2, 4], [false, false, false, false], 1));
        AssertValues([0.4, 0, 0.8, 1.2], Reference.DropoutBackward([0.3, 0.3, 0.6, 0.9], keep, 0.25));
    }

    [Fact]
    public void Dropout_backward_matches_finite_differences()
    {
        Random random = new(8000);
        double[] x = RandomArray(random, 2 * 3 * 5 * 3);
        bool[] keep = x.Select(_ => random.NextDouble() >= 0.3).ToArray();
        double[] r = RandomArray(random, x.Length);
        AssertGradient("dx", Reference.DropoutBackward(r, keep, 0.3), v => Reference.DropoutForward(v, keep, 0.3), x, r);
    }
}
