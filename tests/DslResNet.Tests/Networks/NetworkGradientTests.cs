using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using DslResNet.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace DslResNet.Tests.Networks;

/// <summary>
/// Whole-network gradient checks in training mode (batch norm with batch statistics): with L = sum(output * G) for a
/// fixed random G, <see cref="NetworkBase.Backward"/> fed with G must give dL/dθ for every trainable tensor (a few
/// elements of each, always including its largest) and dL/dx for a sample of input pixels.
/// </summary>
/// <remarks>
/// <para>
/// Two sources of central differences. (1) The network's own float32 forward, h = 1e-2: truncation O(h^2) ~ 1e-4
/// relative; rounding of O(1) outputs (eps 6e-8, a few dozen operations deep) ~1e-6, divided by 2h ~ 1e-4 absolute,
/// kept small by subtracting the two perturbed outputs element by element before weighting in double. An element
/// passes when |numeric - analytic| &lt;= 2e-3 + 3e-2 max(|numeric|, |analytic|). This works for TinyMixedNet, whose
/// only kinks are one ReLU and a max pool. It does not work for the residual networks: with batch statistics every
/// perturbation moves every pre-activation of the batch, and in a network this small a single ReLU input crossing
/// zero moves L by a sizeable share of its derivative, so at h = 1e-2 (and even at h = 1e-3 in double precision)
/// a quarter of the differences are off by 5-30%, a smooth-looking error that halving h does not reveal.
/// (2) Therefore, for all three networks, the same loss through a double-precision re-implementation of the network
/// (<see cref="NetworkReference"/>, built from the reference ops), after asserting that it reproduces the network's
/// training output (to 1e-5): in double h = 1e-6 is possible, which makes kink crossings negligible (truncation
/// ~1e-12, rounding ~1e-10), and the float32 backward must then match to |Δ| &lt;= 1e-4 + 1e-3 max(|numeric|, |analytic|).
/// </para>
/// <para>
/// Elements that fail are re-differenced with h/2: a kink makes the two steps disagree, a wrong gradient does not.
/// The test fails on any failing element whose two steps agree, or when more than 5% of the elements are excused
/// as kinks. A self-check asserts that every tensor has elements whose negated gradient the criterion rejects, so a
/// flipped sign in any backward kernel fails the test.
/// </para>
/// </remarks>
[Collection(NetworkCollection.Name)]
public sealed class NetworkGradientTests
{
    private const double FloatStep = 1e-2;
    private const double FloatAbsTol = 2e-3;
    private const double FloatRelTol = 3e-2;
    private const double DoubleStep = 1e-6;
    private const double DoubleAbsTol = 1e-4;
    private const double DoubleRelTol = 1e-3;
    private const int PerTensor = 5;
    private const int Pixels = 24;

    private readonly Device _device;
    private readonly ITestOutputHelper _output;

    public NetworkGradientTests(NetworkDeviceFixture fixture, ITestOutputHelper output)
    {
        _device = fixture.Device;
        _output = output;
    }

    [Fact]
    public void TinyResNet_BackwardMatchesFiniteDifferences()
    {
        using var net = new TinyResNet(_device, 4, new NetworkOptions(Seed: 1));
        CheckAgainstReference(net, 11, (p, x) => NetworkReference.TinyResidual(p, x, 4, training: true, projection: true));
    }

    [Fact]
    public void TinyZeroPadNet_BackwardMatchesFiniteDifferences()
    {
        using var net = new TinyZeroPadNet(_device, 4, new NetworkOptions(Seed: 2));
        CheckAgainstReference(net, 12, (p, x) => NetworkReference.TinyResidual(p, x, 4, training: true, projection: false));
    }

    [Fact]
    public void TinyMixedNet_BackwardMatchesFiniteDifferences()
    {
        using var net = new TinyMixedNet(_device, 4, new NetworkOptions(Seed: 3));
        CheckAgainstReference(net, 13, (p, x) => NetworkReference.TinyMixed(net, p, x, 4, training: true));
    }

    [Fact]
    public void TinyMixedNet_BackwardMatchesFiniteDifferencesOfItsOwnForward()
    {
        using var net = new TinyMixedNet(_device, 4, new NetworkOptions(Seed: 3));
        CheckAgainstNetwork(net, seed: 13);
    }

    /// <summary>GELU and SiLU fused and standalone (see <see cref="SmoothActNet"/>), against its own float32 forward.</summary>
    [Fact]
    public void SmoothActNet_BackwardMatchesFiniteDifferencesOfItsOwnForward()
    {
        using var net = new SmoothActNet(_device, 4, new NetworkOptions(Seed: 4));
        Assert.Contains(net.Definition.FusionGroups, g => g.Layers.Length == 4); // conv+BN+add+SiLU and conv+SiLU+add+GELU are fused
        CheckAgainstNetwork(net, seed: 14);
    }

    /// <summary>
    /// The gradient checks above rely on this: Forward does not advance the step counter, so repeated training forwards
    /// draw the same dropout mask (and give bitwise the same output: the running statistics they update do not enter the
    /// training output); a training step advances it and the mask changes.
    /// </summary>
    [Fact]
    public void TinyMixedNet_DropoutMaskIsFixedUntilATrainingStep()
    {
        using var net = new TinyMixedNet(_device, 4, new NetworkOptions(Seed: 3));
        Random random = new(5);
        float[] images = NetworkData.Normal(random, 4 * NetworkData.ImageElements(net));
        net.Train();
        net.Forward(images);
        float[] first = net.Output();
        net.Forward(images);
        float[] second = net.Output();
        Assert.Equal(first, second);
        Assert.Equal(0, net.StepCount);

        // The mask really drops something: evaluation mode (no dropout, running statistics) and a training output
        // computed by the reference with the hash-derived mask agree with the network, and the mask matters.
        double[] reference = NetworkReference.TinyMixed(net, images, 4, training: true);
        (double error, int at) = NetworkData.MaxScaledError(reference, first);
        Assert.True(error < 1e-4, $"training forward vs reference (with the dropout mask of step 0): {error:E3} at {at}");

        // A training step with a zero learning rate changes nothing but the step counter, hence the mask.
        var sgd = new DslResNet.Training.Sgd(0.0);
        net.AddParametersTo(sgd);
        net.TrainStep(images, [0, 1, 2, 3], sgd);
        Assert.Equal(1, net.StepCount);
        net.Forward(images);
        float[] third = net.Output();
        Assert.NotEqual(first, third);
        double[] reference1 = NetworkReference.TinyMixed(net, images, 4, training: true);
        (error, at) = NetworkData.MaxScaledError(reference1, third);
        Assert.True(error < 1e-4, $"training forward vs reference (with the dropout mask of step 1): {error:E3} at {at}");
    }

    private sealed record Element(string Tensor, int Index, double Analytic, double Numeric, double AbsTol, double RelTol)
    {
        public double Bound => AbsTol + (RelTol * Math.Max(Math.Abs(Numeric), Math.Abs(Analytic)));

        public bool Pass => Math.Abs(Numeric - Analytic) <= Bound;

        public bool PassNegated => Math.Abs(Numeric + Analytic) <= Bound;
    }

    /// <summary>Analytic gradients of the network against central differences of the double-precision reference.</summary>
    private void CheckAgainstReference(NetworkBase net, int seed, Func<Func<string, double[]>, double[], double[]> reference)
    {
        Random random = new(seed);
        int batch = net.BatchSize;
        float[] images = NetworkData.Normal(random, batch * NetworkData.ImageElements(net));
        float[] g = NetworkData.Normal(random, batch * NetworkData.Classes(net));

        net.Train();
        net.ComputeInputGradient = true;
        net.Forward(images);
        float[] output = net.Output();
        net.Backward(g);
        Dictionary<string, float[]> analytic = NetworkData.Trainable(net).ToDictionary(p => p.Name, p => net.GetGradient(p.Name), StringComparer.Ordinal);
        float[] inputGradient = net.InputGradient();

        Dictionary<string, double[]> parameters = net.Definition.Parameters.Where(p => p.Role != ParameterRole.BatchesTracked)
            .ToDictionary(p => p.Name, p => NetworkData.ToDouble(net.GetParameter(p.Name)), StringComparer.Ordinal);
        double[] x = NetworkData.ToDouble(images);
        double[] expected = reference(name => parameters[name], x);
        (double error, int at) = NetworkData.MaxScaledError(expected, output);
        Assert.True(error < 1e-5, $"{net.Definition.Name}: the reference's training output differs from the network's by {error:E3} at {at}");

        double Loss() => reference(name => parameters[name], x).Zip(g, (y, w) => y * w).Sum();
        double Difference(double[] values, int i, double h)
        {
            double original = values[i];
            values[i] = original + h;
            double plus = Loss();
            values[i] = original - h;
            double minus = Loss();
            values[i] = original;
            return (plus - minus) / (2 * h);
        }

        List<Element> elements = [];
        Dictionary<Element, double[]> owners = [];
        foreach (ParameterInfo p in NetworkData.Trainable(net))
        {
            foreach (int i in Sample(analytic[p.Name], PerTensor, random))
            {
                Element e = new(p.Name, i, analytic[p.Name][i], Difference(parameters[p.Name], i, DoubleStep), DoubleAbsTol, DoubleRelTol);
                elements.Add(e);
                owners[e] = parameters[p.Name];
            }
        }

        foreach (int i in Sample(inputGradient, Pixels, random))
        {
            Element e = new("input", i, inputGradient[i], Difference(x, i, DoubleStep), DoubleAbsTol, DoubleRelTol);
            elements.Add(e);
            owners[e] = x;
        }

        Judge(net, elements, e => Difference(owners[e], e.Index, DoubleStep / 2));
    }

    /// <summary>Analytic gradients against central differences of the network's own float32 training forward.</summary>
    private void CheckAgainstNetwork(NetworkBase net, int seed)
    {
        Random random = new(seed);
        int batch = net.BatchSize;
        int imageElements = NetworkData.ImageElements(net);
        float[] images = NetworkData.Normal(random, batch * imageElements);
        float[] g = NetworkData.Normal(random, batch * NetworkData.Classes(net));

        net.Train();
        net.ComputeInputGradient = true;
        net.Forward(images);
        float[] output = net.Output();
        net.Backward(g);

        Dictionary<string, float[]> analytic = NetworkData.Trainable(net).ToDictionary(p => p.Name, p => net.GetGradient(p.Name), StringComparer.Ordinal);
        float[] inputGradient = net.InputGradient();

        // The analytic gradients are read before any perturbation; the forward must be repeatable for the differences to mean anything.
        net.Forward(images);
        Assert.Equal(output, net.Output());

        List<Element> elements = [];
        foreach (ParameterInfo p in NetworkData.Trainable(net))
        {
            float[] values = net.GetParameter(p.Name);
            float[] grad = analytic[p.Name];
            foreach (int i in Sample(grad, PerTensor, random))
            {
                double numeric = Numeric(net, images, g, v => Perturb(net, p.Name, values, i, v), values[i], FloatStep);
                elements.Add(new Element(p.Name, i, grad[i], numeric, FloatAbsTol, FloatRelTol));
            }
        }

        foreach (int i in Sample(inputGradient, Pixels, random))
        {
            float[] perturbed = (float[])images.Clone();
            double numeric = Numeric(net, perturbed, g, v => perturbed[i] = v, images[i], FloatStep);
            elements.Add(new Element("input", i, inputGradient[i], numeric, FloatAbsTol, FloatRelTol));
        }

        Judge(net, elements, e => e.Tensor == "input"
            ? Numeric(net, (float[])images.Clone(), g, null, images[e.Index], FloatStep / 2, e.Index)
            : Numeric(net, images, g, v => Perturb(net, e.Tensor, net.GetParameter(e.Tensor), e.Index, v), net.GetParameter(e.Tensor)[e.Index], FloatStep / 2));
    }

    /// <summary>Fails on any disagreement that is not a kink, on too many kinks, and when a sign error could go unseen.</summary>
    private void Judge(NetworkBase net, List<Element> elements, Func<Element, double> halfStep)
    {
        // Failing elements: a kink (the two step sizes disagree) or a wrong gradient (they agree).
        List<(Element E, double Half)> kinks = [];
        List<(Element E, double Half)> wrong = [];
        foreach (Element e in elements.Where(e => !e.Pass))
        {
            double half = halfStep(e);
            bool nonSmooth = Math.Abs(half - e.Numeric) > 0.5 * Math.Abs(e.Numeric - e.Analytic);
            (nonSmooth ? kinks : wrong).Add((e, half));
        }

        StringBuilder report = new();
        report.AppendLine(CultureInfo.InvariantCulture, $"{net.Definition.Name}: {elements.Count} elements checked, {kinks.Count} at kinks, {wrong.Count} wrong");
        foreach (IGrouping<string, Element> tensor in elements.GroupBy(e => e.Tensor))
        {
            double worst = tensor.Max(e => Math.Abs(e.Numeric - e.Analytic) / Math.Max(1e-12, e.Bound));
            double scale = tensor.Max(e => Math.Abs(e.Analytic));
            report.AppendLine(CultureInfo.InvariantCulture, $"  {tensor.Key,-32} max|grad| {scale:E2}  worst error/bound {worst:F3}");
        }

        foreach ((Element e, double half) in kinks.Concat(wrong))
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"  FAIL {e.Tensor}[{e.Index}]: analytic {e.Analytic:E4}, numeric(h) {e.Numeric:E4}, numeric(h/2) {half:E4}");
        }

        _output.WriteLine(report.ToString());
        Assert.True(wrong.Count == 0, report.ToString());
        Assert.True(kinks.Count <= elements.Count / 20, report.ToString());

        // Every trainable tensor and the input were checked, and a sign error in any of them would have been caught.
        Assert.Equal(NetworkData.Trainable(net).Count() + 1, elements.Select(e => e.Tensor).Distinct().Count());
        foreach (IGrouping<string, Element> tensor in elements.GroupBy(e => e.Tensor))
        {
            List<Element> significant = tensor.Where(e => Math.Abs(e.Analytic) > 10 * e.AbsTol).ToList();
            Assert.All(significant, e => Assert.False(e.PassNegated, $"a negated gradient of {e.Tensor}[{e.Index}] would pass"));
            if (significant.Count == 0)
            {
                // Only a bias right before a training-mode batch norm has a zero gradient (the normalisation removes it).
                Assert.True(IsBiasBeforeBatchNorm(net, tensor.Key), $"{tensor.Key}: no element has a gradient above 10x the tolerance; the check would not see a sign error");
                Assert.All(tensor, e => Assert.True(Math.Abs(e.Analytic) < 1e-4, $"{e.Tensor}[{e.Index}] = {e.Analytic}, should be 0"));
            }
        }
    }

    private static bool IsBiasBeforeBatchNorm(NetworkBase net, string name)
    {
        ParameterInfo p = net.Definition.Parameter(name);
        if (p.Role != ParameterRole.Bias)
        {
            return false;
        }

        LayerInfo layer = net.Definition.Layers.Single(l => l.Name == p.Layer);
        return net.Definition.Layers.Any(l => l.Kind == LayerKind.BatchNorm && l.Inputs.Length > 0 && l.Inputs[0] == layer.Index);
    }

    private static void Perturb(NetworkBase net, string name, float[] values, int index, float value)
    {
        float[] copy = (float[])values.Clone();
        copy[index] = value;
        net.SetParameter(name, copy);
    }

    /// <summary>(L(x + h) - L(x - h)) / (actual step), with the two outputs subtracted element by element before weighting.</summary>
    private static double Numeric(NetworkBase net, float[] images, float[] g, Action<float>? set, float original, double h, int pixel = -1)
    {
        set ??= v => images[pixel] = v;
        float up = (float)(original + h);
        float down = (float)(original - h);
        set(up);
        net.Forward(images);
        float[] plus = net.Output();
        set(down);
        net.Forward(images);
        float[] minus = net.Output();
        set(original);
        double sum = 0;
        for (int k = 0; k < g.Length; k++)
        {
            sum += ((double)plus[k] - minus[k]) * g[k];
        }

        return sum / ((double)up - down);
    }

    /// <summary>Up to <paramref name="count"/> distinct indices: the largest-gradient element and random others.</summary>
    private static IEnumerable<int> Sample(float[] gradient, int count, Random random)
    {
        if (gradient.Length <= count)
        {
            return Enumerable.Range(0, gradient.Length);
        }

        HashSet<int> chosen = [Array.IndexOf(gradient, gradient.MaxBy(Math.Abs))];
        while (chosen.Count < count)
        {
            chosen.Add(random.Next(gradient.Length));
        }

        return chosen.Order();
    }
}
