using System;
using System.Globalization;

namespace DslResNet.Tests.Kernels;

/// <summary>The largest relative error between two arrays and where it occurred.</summary>
/// <param name="MaxRelativeError">max over i of |expected[i] - actual[i]| / max(floor, |expected[i]| + |actual[i]|).</param>
/// <param name="WorstIndex">The index of that element (-1 for empty arrays).</param>
/// <param name="Expected">expected[WorstIndex] (NaN for empty arrays).</param>
/// <param name="Actual">actual[WorstIndex] (NaN for empty arrays).</param>
internal readonly record struct Comparison(double MaxRelativeError, int WorstIndex, double Expected, double Actual)
{
    /// <summary>A one-line description for test failure messages.</summary>
    public override string ToString() => string.Format(
        CultureInfo.InvariantCulture,
        "max relative error {0:E3} at index {1}: expected {2:R}, actual {3:R}",
        MaxRelativeError, WorstIndex, Expected, Actual);
}

/// <summary>
/// Numeric gradients by central differences, and the comparison used to check analytic gradients against them.
/// </summary>
/// <remarks>
/// The central difference (f(x + h e_i) - f(x - h e_i)) / 2h has truncation error O(h^2 f''') and rounding error
/// O(eps |f| / h). For the double-precision references use h ~ 1e-6 (truncation ~1e-12, rounding ~1e-10); a power
/// of two such as 2^-20 makes x +- h exact when x has a short mantissa.
/// For float32 kernels (eps ~ 6e-8) the default h = 1e-3 balances the two (truncation ~1e-6, rounding ~1e-4 of |f|),
/// so float comparisons need tolerances of order 1e-2 to 1e-3, and inputs kept away from kinks (ReLU at 0,
/// max-pool ties) by much more than h.
/// </remarks>
internal static class FiniteDifference
{
    /// <summary>The default step: suited to float32 kernels (see remarks on the class).</summary>
    public const double DefaultStep = 1e-3;

    /// <summary>The default floor of the relative-error denominator.</summary>
    public const double DefaultFloor = 1e-3;

    /// <summary>
    /// The gradient of the scalar function <paramref name="f"/> at <paramref name="point"/> by central differences:
    /// g[i] = (f(x + h e_i) - f(x - h e_i)) / (2h). The point is not modified (f receives a private copy).
    /// </summary>
    public static double[] Gradient(Func<double[], double> f, double[] point, double h = DefaultStep)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(point);
        if (!(h > 0))
            throw new ArgumentOutOfRangeException(nameof(h), "the step must be positive");
        double[] x = (double[])point.Clone();
        double[] gradient = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double original = x[i];
            x[i] = original + h;
            double plus = f(x);
            x[i] = original - h;
            double minus = f(x);
            x[i] = original;
            gradient[i] = (plus - minus) / (2 * h);
        }
        return gradient;
    }

    /// <summary>
    /// The gradient of x -> sum_k forward(x)[k] * weights[k] by central differences, for checking a backward pass
    /// fed with dy = <paramref name="weights"/>. Unlike <see cref="Gradient"/> applied to the same scalar function,
    /// it subtracts the two perturbed outputs element by element before weighting them: outputs that x[i] does not
    /// reach cancel exactly, so the rounding of a long sum over the whole output does not swamp small gradients.
    /// </summary>
    public static double[] ProjectedGradient(Func<double[], double[]> forward, double[] point, double[] weights, double h = DefaultStep)
    {
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(weights);
        if (!(h > 0))
            throw new ArgumentOutOfRangeException(nameof(h), "the step must be positive");
        double[] x = (double[])point.Clone();
        double[] gradient = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double original = x[i];
            x[i] = original + h;
            double[] plus = forward(x);
            x[i] = original - h;
            double[] minus = forward(x);
            x[i] = original;
            if (plus.Length != weights.Length || minus.Length != weights.Length)
                throw new ArgumentException($"forward returned {plus.Length} elements, weights has {weights.Length}");
            double sum = 0;
            for (int k = 0; k < weights.Length; k++)
                sum += (plus[k] - minus[k]) * weights[k];
            gradient[i] = sum / (2 * h);
        }
        return gradient;
    }

    /// <summary>
    /// The maximum relative error |e - a| / max(floor, |e| + |a|) over the elements, and the worst element.
    /// A NaN in either array (where the other is not the same NaN position) counts as an infinite error.
    /// </summary>
    public static Comparison Compare(double[] expected, double[] actual, double floor = DefaultFloor)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        if (expected.Length != actual.Length)
            throw new ArgumentException($"lengths differ: expected {expected.Length}, actual {actual.Length}");
        Comparison worst = new(0, -1, double.NaN, double.NaN);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double error;
            if (double.IsNaN(e) || double.IsNaN(a))
                error = double.IsNaN(e) && double.IsNaN(a) ? 0 : double.PositiveInfinity;
            else if (e == a)
                error = 0; // also equal infinities
            else
                error = Math.Abs(e - a) / Math.Max(floor, Math.Abs(e) + Math.Abs(a));
            if (double.IsNaN(error))
                error = double.PositiveInfinity; // e.g. +inf against -inf
            if (worst.WorstIndex < 0 || error > worst.MaxRelativeError)
                worst = new Comparison(error, i, e, a);
        }
        return worst;
    }

    /// <summary><see cref="Compare(double[], double[], double)"/> for a float kernel's output against a double reference.</summary>
    public static Comparison Compare(double[] expected, float[] actual, double floor = DefaultFloor)
    {
        ArgumentNullException.ThrowIfNull(actual);
        double[] widened = new double[actual.Length];
        for (int i = 0; i < actual.Length; i++)
            widened[i] = actual[i];
        return Compare(expected, widened, floor);
    }
}
