using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Training;

public sealed class OptimizerTests
{
    private const double Tolerance = 1e-6;

    private static void AssertClose(double expected, float actual, double tolerance = Tolerance) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");

    /// <summary>Runs one scalar parameter through the given gradients and returns p after each step.</summary>
    private static float[] Trajectory(Optimizer optimizer, float p0, params float[] gradients)
    {
        float[] p = [p0];
        float[] g = [0];
        optimizer.Add("w", p, g);
        float[] result = new float[gradients.Length];
        for (int i = 0; i < gradients.Length; i++)
        {
            g[0] = gradients[i];
            optimizer.Step();
            result[i] = p[0];
        }

        return result;
    }

    // ---- Independent double-precision references, straight from the torch.optim docs ----

    private static double[] SgdReference(double p, double lr, double momentum, double dampening, double wd, bool nesterov, double[] grads)
    {
        double[] result = new double[grads.Length];
        double? buf = null;
        for (int t = 0; t < grads.Length; t++)
        {
            double g = grads[t] + wd * p;
            if (momentum != 0)
            {
                buf = buf is null ? g : momentum * buf.Value + (1 - dampening) * g;
                g = nesterov ? g + momentum * buf.Value : buf.Value;
            }

            p -= lr * g;
            result[t] = p;
        }

        return result;
    }

    private static double[] AdamWReference(double p, double lr, double b1, double b2, double eps, double wd, double[] grads)
    {
        double[] result = new double[grads.Length];
        double m = 0, v = 0;
        for (int i = 0; i < grads.Length; i++)
        {
            int t = i + 1;
            double g = grads[i];
            p *= 1 - lr * wd;
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g * g;
            double mHat = m / (1 - Math.Pow(b1, t));
            double vHat = v / (1 - Math.Pow(b2, t));
            p -= lr * mHat / (Math.Sqrt(vHat) + eps);
            result[i] = p;
        }

        return result;
    }

    // ---- SGD: hand-computed values ----

    [Fact]
    public void SgdPlain()
    {
        // p -= lr * g: 1 - 0.1*0.5 = 0.95; 0.95 - 0.1*(-1) = 1.05; 1.05 - 0.1*2 = 0.85
        float[] p = Trajectory(new Sgd(0.1), 1f, 0.5f, -1f, 2f);
        AssertClose(0.95, p[0]);
        AssertClose(1.05, p[1]);
        AssertClose(0.85, p[2]);
    }

    [Fact]
    public void SgdMomentum()
    {
        // g = 1 each step, lr 0.1, momentum 0.9, p0 = 0:
        // buf1 = g = 1 -> p = -0.1; buf2 = 0.9*1 + 1 = 1.9 -> p = -0.29; buf3 = 0.9*1.9 + 1 = 2.71 -> p = -0.561
        float[] p = Trajectory(new Sgd(0.1, momentum: 0.9), 0f, 1f, 1f, 1f);
        AssertClose(-0.1, p[0]);
        AssertClose(-0.29, p[1]);
        AssertClose(-0.561, p[2]);
    }

    [Fact]
    public void SgdDampeningDoesNotApplyToTheFirstStep()
    {
        // momentum 0.9, dampening 0.5, g = 1: buf1 = 1 (no dampening) -> p = -0.1;
        // buf2 = 0.9*1 + 0.5*1 = 1.4 -> p = -0.24; buf3 = 0.9*1.4 + 0.5 = 1.76 -> p = -0.416
        float[] p = Trajectory(new Sgd(0.1, momentum: 0.9, dampening: 0.5), 0f, 1f, 1f, 1f);
        AssertClose(-0.1, p[0]);
        AssertClose(-0.24, p[1]);
        AssertClose(-0.416, p[2]);
    }

    [Fact]
    public void SgdNesterov()
    {
        // momentum 0.9, g = 1: buf1 = 1, g' = 1 + 0.9*1 = 1.9 -> p = -0.19;
        // buf2 = 1.9, g' = 1 + 0.9*1.9 = 2.71 -> p = -0.461; buf3 = 2.71, g' = 1 + 0.9*2.71 = 3.439 -> p = -0.8049
        float[] p = Trajectory(new Sgd(0.1, momentum: 0.9, nesterov: true), 0f, 1f, 1f, 1f);
        AssertClose(-0.19, p[0]);
        AssertClose(-0.461, p[1]);
        AssertClose(-0.8049, p[2]);
    }

    [Fact]
    public void SgdWeightDecayAndExclusion()
    {
        // grad 0, wd 0.1, lr 0.1: g = 0.1 p, p *= 0.99 each step -> 0.99, 0.9801, 0.970299; an excluded parameter stays 1.
        Sgd sgd = new(0.1, weightDecay: 0.1);
        float[] decayed = [1f], excluded = [1f], g1 = [0f], g2 = [0f];
        sgd.Add("conv.weight", decayed, g1);
        sgd.Add("bn.bias", excluded, g2, applyWeightDecay: false);
        double[] expected = [0.99, 0.9801, 0.970299];
        foreach (double e in expected)
        {
            sgd.Step();
            AssertClose(e, decayed[0]);
            Assert.Equal(1f, excluded[0]);
        }

        Assert.Equal(3, sgd.StepCount);
    }

    [Theory]
    [InlineData(0.1, 0.0, 0.0, 0.0, false)]
    [InlineData(0.05, 0.9, 0.0, 5e-4, false)]
    [InlineData(0.05, 0.9, 0.3, 1e-2, false)]
    [InlineData(0.02, 0.8, 0.0, 1e-3, true)]
    public void SgdMatchesReferenceOnVectors(double lr, double momentum, double dampening, double wd, bool nesterov)
    {
        double[][] grads = [[0.5, -1, 0.25], [-0.75, 0.125, 2], [1.5, 0.5, -0.5], [0.1, -0.2, 0.3], [-1, 1, 0]];
        double[] p0 = [1, -2, 0.5];
        float[] p = p0.Select(x => (float)x).ToArray();
        float[] g = new float[3];
        Sgd sgd = new(lr, momentum, dampening, wd, nesterov);
        sgd.Add("w", p, g);
        foreach (double[] step in grads)
        {
            for (int i = 0; i < 3; i++)
            {
                g[i] = (float)step[i];
            }

            sgd.Step();
        }

        for (int i = 0; i < 3; i++)
        {
            double[] reference = SgdReference(p0[i], lr, momentum, dampening, wd, nesterov, grads.Select(s => s[i]).ToArray());
            AssertClose(reference[^1], p[i]);
        }
    }

    // ---- AdamW ----

    [Fact]
    public void AdamWDefaultsMatchPyTorch()
    {
        AdamW adam = new();
        Assert.Equal(1e-3, adam.LearningRate);
        Assert.Equal(0.9, adam.Beta1);
        Assert.Equal(0.999, adam.Beta2);
        Assert.Equal(1e-8, adam.Epsilon);
        Assert.Equal(1e-2, adam.WeightDecay);
    }

    [Fact]
    public void AdamWBiasCorrectionWithConstantGradient()
    {
        // g = 1, wd 0: m_t = 1 - 0.9^t and v_t = 1 - 0.999^t, so m_hat = v_hat = 1 and each step moves p by
        // lr * 1 / (1 + 1e-8): -0.1, -0.2, -0.3. Without bias correction step 1 would move by 0.1 * 0.1 / sqrt(0.001) = 0.316.
        float[] p = Trajectory(new AdamW(0.1, weightDecay: 0), 0f, 1f, 1f, 1f);
        AssertClose(-0.1, p[0]);
        AssertClose(-0.2, p[1]);
        AssertClose(-0.3, p[2]);
    }

    [Fact]
    public void AdamWStepsOneToThreeWithDecay()
    {
        // lr 0.01, wd 0.1, p0 = 1, g = 1, -2, 0.5 (defaults for betas and eps):
        // t=1: p = 1*(1 - 0.001) = 0.999; m_hat = 1, v_hat = 1; p -= 0.01 * 1/(1 + 1e-8) -> 0.9890000001
        // t=2: p *= 0.999; m = 0.9*0.1 + 0.1*(-2) = -0.11, m_hat = -0.11/0.19 = -0.578947...;
        //      v = 0.999*0.001 + 0.001*4 = 0.004999, v_hat = 0.004999/0.001999 = 2.500750...; p -> 0.9916720353
        // t=3: m_hat = -0.180811..., v_hat = 1.749749...; p -> 0.9920472699
        float[] p = Trajectory(new AdamW(0.01, weightDecay: 0.1), 1f, 1f, -2f, 0.5f);
        AssertClose(0.9890000001, p[0]);
        AssertClose(0.9916720353, p[1]);
        AssertClose(0.9920472699, p[2]);

        double[] reference = AdamWReference(1, 0.01, 0.9, 0.999, 1e-8, 0.1, [1, -2, 0.5]);
        for (int t = 0; t < 3; t++)
        {
            AssertClose(reference[t], p[t]);
        }
    }

    [Fact]
    public void AdamWDecayIsDecoupledAndExcludable()
    {
        // g = 0: m = v = 0, so the Adam update is 0 and only p *= 1 - lr*wd = 1 - 0.1*0.5 = 0.95 acts:
        // 2 -> 1.9 -> 1.805 -> 1.71475. An excluded parameter stays 2.
        AdamW adam = new(0.1, weightDecay: 0.5);
        float[] decayed = [2f], excluded = [2f], g1 = [0f], g2 = [0f];
        adam.Add("w", decayed, g1);
        adam.Add("b", excluded, g2, applyWeightDecay: false);
        foreach (double e in new[] { 1.9, 1.805, 1.71475 })
        {
            adam.Step();
            AssertClose(e, decayed[0]);
            Assert.Equal(2f, excluded[0]);
        }
    }

    [Fact]
    public void AdamWMatchesReferenceOverManySteps()
    {
        double[] grads = Enumerable.Range(0, 20).Select(i => Math.Sin(i * 0.7) * (1 + i % 3)).ToArray();
        float[] p = Trajectory(new AdamW(0.005, 0.8, 0.99, 1e-6, 0.05), 0.3f, grads.Select(x => (float)x).ToArray());
        double[] reference = AdamWReference(0.3, 0.005, 0.8, 0.99, 1e-6, 0.05, grads);
        for (int t = 0; t < grads.Length; t++)
        {
            AssertClose(reference[t], p[t], 1e-5);
        }
    }

    // ---- learning rate changes between steps ----

    [Fact]
    public void LearningRateChangeTakesEffectOnTheNextStep()
    {
        // p -= lr * g with g = 1: lr 0.1 then 0.01 -> 0.9, 0.89
        Sgd sgd = new(0.1);
        float[] p = [1f], g = [1f];
        sgd.Add("w", p, g);
        sgd.Step();
        sgd.LearningRate = 0.01;
        sgd.Step();
        AssertClose(0.89, p[0]);
    }

    // ---- state export / import ----

    private static float[] RandomValues(Random random, int n) =>
        Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    private static (float[] W, float[] B) Run(Func<Optimizer> create, int steps, int splitAt, bool viaCheckpoint)
    {
        Random random = new(42);
        float[] w0 = RandomValues(random, 6), b0 = RandomValues(random, 2);
        float[][] gw = Enumerable.Range(0, steps).Select(_ => RandomValues(random, 6)).ToArray();
        float[][] gb = Enumerable.Range(0, steps).Select(_ => RandomValues(random, 2)).ToArray();
        float[] w = (float[])w0.Clone(), b = (float[])b0.Clone(), gW = new float[6], gB = new float[2];
        Optimizer optimizer = create();
        optimizer.Add("fc.weight", w, gW);
        optimizer.Add("fc.bias", b, gB, applyWeightDecay: false);
        for (int s = 0; s < steps; s++)
        {
            if (s == splitAt)
            {
                OptimizerState state = optimizer.ExportState();
                if (viaCheckpoint)
                {
                    Checkpoint checkpoint = new();
                    state.WriteTo(checkpoint);
                    state = OptimizerState.ReadFrom(checkpoint);
                }

                // A fresh optimizer (with a different initial lr, which the import restores) over fresh copies of the values.
                w = (float[])w.Clone();
                b = (float[])b.Clone();
                gW = new float[6];
                gB = new float[2];
                optimizer = create();
                optimizer.LearningRate = 123;
                optimizer.Add("fc.weight", w, gW);
                optimizer.Add("fc.bias", b, gB, applyWeightDecay: false);
                optimizer.ImportState(state);
                Assert.Equal(splitAt, optimizer.StepCount);
            }

            gw[s].CopyTo(gW, 0);
            gb[s].CopyTo(gB, 0);
            optimizer.LearningRate = 0.05 / (1 + s);
            optimizer.Step();
        }

        return (w, b);
    }

    public static IEnumerable<object[]> Optimizers()
    {
        yield return ["sgd-momentum", false];
        yield return ["sgd-nesterov", true];
        yield return ["adamw", false];
        yield return ["adamw", true];
        yield return ["sgd-plain", true];
    }

    private static Func<Optimizer> Factory(string kind) => kind switch
    {
        "sgd-momentum" => () => new Sgd(0.05, momentum: 0.9, dampening: 0.1, weightDecay: 1e-3),
        "sgd-nesterov" => () => new Sgd(0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true),
        "sgd-plain" => () => new Sgd(0.05, weightDecay: 1e-3),
        _ => () => new AdamW(0.05, weightDecay: 0.1),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void ResumingFromExportedStateMatchesAnUninterruptedRun(string kind, bool viaCheckpoint)
    {
        (float[] w, float[] b) = Run(Factory(kind), 8, -1, viaCheckpoint);
        foreach (int split in new[] { 0, 1, 5 })
        {
            (float[] w2, float[] b2) = Run(Factory(kind), 8, split, viaCheckpoint);
            Assert.Equal(w, w2);
            Assert.Equal(b, b2);
        }
    }

    [Fact]
    public void ExportedStateNamesBuffersAndHyperParameters()
    {
        Sgd sgd = new(0.1, momentum: 0.9, weightDecay: 5e-4);
        float[] p = [1f, 2f], g = [0.5f, 0.25f];
        sgd.Add("conv1.weight", p, g);
        Assert.Empty(sgd.ExportState().Buffers);
        sgd.Step();
        OptimizerState state = sgd.ExportState();
        Assert.Equal(1, state.Step);
        Assert.Equal(["momentum_buffer.conv1.weight"], state.Buffers.Keys);
        Assert.Equal(0.1, state.HyperParameters["lr"]);
        Assert.Equal(0.9, state.HyperParameters["momentum"]);
        Assert.Equal(5e-4, state.HyperParameters["weight_decay"]);
        Assert.Equal(0, state.HyperParameters["nesterov"]);

        // The export is a copy.
        state.Buffers["momentum_buffer.conv1.weight"][0] = 99;
        Assert.NotEqual(99, sgd.ExportState().Buffers["momentum_buffer.conv1.weight"][0]);

        AdamW adam = new();
        adam.Add("fc.bias", p, g);
        adam.Step();
        Assert.Equal(["exp_avg.fc.bias", "exp_avg_sq.fc.bias"], adam.ExportState().Buffers.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ImportRejectsMismatchedState()
    {
        Sgd sgd = new(0.1, momentum: 0.9);
        float[] p = [1f, 2f], g = [0.5f, 0.25f];
        sgd.Add("w", p, g);
        sgd.Step();
        OptimizerState state = sgd.ExportState();

        Sgd otherMomentum = new(0.1, momentum: 0.8);
        otherMomentum.Add("w", [1f, 2f], [0f, 0f]);
        ArgumentException e = Assert.Throws<ArgumentException>(() => otherMomentum.ImportState(state));
        Assert.Contains("'momentum'", e.Message);

        Sgd otherName = new(0.1, momentum: 0.9);
        otherName.Add("v", [1f, 2f], [0f, 0f]);
        e = Assert.Throws<ArgumentException>(() => otherName.ImportState(state));
        Assert.Contains("'momentum_buffer.w'", e.Message);
        Assert.Contains("no registered parameter", e.Message);

        Sgd otherLength = new(0.1, momentum: 0.9);
        otherLength.Add("w", [1f], [0f]);
        e = Assert.Throws<ArgumentException>(() => otherLength.ImportState(state));
        Assert.Contains("has 2 elements but parameter 'w' has 1", e.Message);
        Assert.Equal(0, otherLength.StepCount);

        AdamW adam = new(0.1);
        adam.Add("w", [1f, 2f], [0f, 0f]);
        Assert.Throws<ArgumentException>(() => adam.ImportState(state));
    }

    // ---- validation ----

    [Theory]
    [InlineData(-0.1, 0, 0, 0, false, "lr")]
    [InlineData(double.NaN, 0, 0, 0, false, "lr")]
    [InlineData(0.1, -0.5, 0, 0, false, "momentum")]
    [InlineData(0.1, 0, 0, -1e-4, false, "weightDecay")]
    [InlineData(0.1, 0, 0, 0, true, "nesterov")]
    [InlineData(0.1, 0.9, 0.1, 0, true, "nesterov")]
    public void SgdValidatesArguments(double lr, double momentum, double dampening, double wd, bool nesterov, string parameter)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new Sgd(lr, momentum, dampening, wd, nesterov));
        Assert.Equal(parameter, e.ParamName);
    }

    [Fact]
    public void ValidationMessagesAreClear()
    {
        Assert.Contains("Invalid learning rate: -1", Assert.Throws<ArgumentException>(() => new Sgd(-1)).Message);
        Assert.Contains("Invalid momentum value: -0.5", Assert.Throws<ArgumentException>(() => new Sgd(0.1, momentum: -0.5)).Message);
        Assert.Contains("Invalid weight_decay value: -1", Assert.Throws<ArgumentException>(() => new Sgd(0.1, weightDecay: -1)).Message);
        Assert.Contains("Nesterov momentum requires", Assert.Throws<ArgumentException>(() => new Sgd(0.1, nesterov: true)).Message);
        Assert.Contains("Invalid beta parameter at index 1: 1", Assert.Throws<ArgumentException>(() => new AdamW(beta2: 1)).Message);
        Sgd sgd = new(0.1);
        Assert.Equal("lr", Assert.Throws<ArgumentException>(() => sgd.LearningRate = -0.5).ParamName);
        Assert.Equal(0.1, sgd.LearningRate);
    }

    [Theory]
    [InlineData(-1e-3, 0.9, 0.999, 1e-8, 0.01, "lr")]
    [InlineData(1e-3, 1.0, 0.999, 1e-8, 0.01, "beta1")]
    [InlineData(1e-3, -0.1, 0.999, 1e-8, 0.01, "beta1")]
    [InlineData(1e-3, 0.9, 1.0, 1e-8, 0.01, "beta2")]
    [InlineData(1e-3, 0.9, 0.999, -1e-8, 0.01, "epsilon")]
    [InlineData(1e-3, 0.9, 0.999, 1e-8, -0.01, "weightDecay")]
    public void AdamWValidatesArguments(double lr, double b1, double b2, double eps, double wd, string parameter)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new AdamW(lr, b1, b2, eps, wd));
        Assert.Equal(parameter, e.ParamName);
    }

    [Fact]
    public void ParametersAreValidatedOnRegistration()
    {
        Sgd sgd = new(0.1);
        Assert.Throws<ArgumentException>(() => sgd.Add("w", new float[3], new float[2]));
        sgd.Add("w", new float[2], new float[2]);
        Assert.Contains("'w' is already registered", Assert.Throws<ArgumentException>(() => sgd.Add("w", new float[2], new float[2])).Message);
        Assert.Single(sgd.Parameters);
    }

    [Fact]
    public void SlotsOverSlicesOfALargerBufferUpdateOnlyTheirSlice()
    {
        // Runtime buffers are views: two parameters living in one flat array.
        float[] values = [1, 1, 1, 1], grads = [1, 1, 2, 2];
        Sgd sgd = new(0.5);
        sgd.Add(new ParameterSlot("a", values.AsMemory(0, 2), grads.AsMemory(0, 2)));
        sgd.Add(new ParameterSlot("b", values.AsMemory(2, 2), grads.AsMemory(2, 2)));
        sgd.Step();
        Assert.Equal([0.5f, 0.5f, 0f, 0f], values);
    }

    [Fact]
    public void Parameter_groups_scale_the_learning_rate_and_override_weight_decay_per_module()
    {
        // SGD without momentum, one step, computed in float as the update does: p - lr * scale * (g + wd * p).
        Sgd sgd = new(0.5, weightDecay: 0.1);
        float[] backbone = [1f, -2f], backboneGrad = [0.25f, 0.5f];
        float[] head = [3f, 4f], headGrad = [1f, -1f];
        float[] other = [2f], otherGrad = [1f];
        sgd.Add("layer1.0.conv1.weight", backbone, backboneGrad);
        sgd.Add("fc.weight", head, headGrad);
        sgd.Add("bn1.weight", other, otherGrad);
        Assert.Equal(1, sgd.SetGroup("layer1", learningRateScale: 0.1));
        Assert.Equal(1, sgd.SetGroup("fc", learningRateScale: 1, weightDecay: 0));
        sgd.Step();

        float lrBackbone = (float)(0.5 * 0.1);
        Assert.Equal(1f - (lrBackbone * (0.25f + (0.1f * 1f))), backbone[0]);
        Assert.Equal(-2f - (lrBackbone * (0.5f + (0.1f * -2f))), backbone[1]);
        Assert.Equal(3f - (0.5f * 1f), head[0]);
        Assert.Equal(4f - (0.5f * -1f), head[1]);
        Assert.Equal(2f - (0.5f * (1f + (0.1f * 2f))), other[0]);
    }

    [Fact]
    public void AdamW_follows_the_group_scale_and_a_zero_scale_freezes_the_group()
    {
        AdamW adam = new(0.01, weightDecay: 0.5);
        float[] still = [1f, 2f], stillGrad = [0.3f, -0.3f];
        float[] moving = [1f, 2f], movingGrad = [0.3f, -0.3f];
        adam.Add("layer1.weight", still, stillGrad);
        adam.Add("fc.weight", moving, movingGrad);
        adam.SetGroup("layer1", learningRateScale: 0);
        adam.Step();
        Assert.Equal([1f, 2f], still);
        Assert.NotEqual(1f, moving[0]);
    }

    [Fact]
    public void Parameter_groups_refuse_unknown_modules_and_bad_values()
    {
        Sgd sgd = new(0.1);
        sgd.Add("fc.weight", [1f], [1f]);
        ArgumentException unknown = Assert.Throws<ArgumentException>(() => sgd.SetGroup("layer9"));
        Assert.Contains("module 'layer9'; the optimizer holds fc", unknown.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => sgd.SetGroup("fc", learningRateScale: -1));
        Assert.Throws<ArgumentException>(() => sgd.SetGroup("fc", weightDecay: double.NaN));
    }
}
