using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace DslResNet.Parity;

/// <summary>
/// DslResNet's learning-rate schedules against torch.optim.lr_scheduler over a few hundred steps: the rate DslResNet
/// gives for step t (0-based, as <see cref="LearningRateSchedules.ApplyTo"/> asks before the optimizer's t+1-th step)
/// against the rate in TorchSharp's optimizer after t scheduler steps. Relative tolerance 1e-9: PyTorch's schedulers
/// update the rate recursively (multiplying factors), DslResNet evaluates closed forms, so they agree to rounding.
/// </summary>
[Collection(ParityCollection.Name)]
public sealed class ScheduleParityTests
{
    private const double Tolerance = 1e-9;
    private const double BaseRate = 0.1;

    private static void Compare(string what, ILearningRateSchedule schedule, Func<optim.Optimizer, optim.lr_scheduler.LRScheduler> torchScheduler, int steps)
    {
        using Parameter p = new(zeros(1), requires_grad: true);
        optim.Optimizer sgd = optim.SGD([p], BaseRate);
        optim.lr_scheduler.LRScheduler scheduler = torchScheduler(sgd);
        List<string> problems = [];
        for (int t = 0; t < steps; t++)
        {
            double expected = sgd.ParamGroups.First().LearningRate;
            double actual = schedule.LearningRateAt(t);
            if (!(Math.Abs(actual - expected) <= Tolerance * Math.Max(Math.Abs(expected), 1e-12)))
            {
                problems.Add($"step {t}: DslResNet {actual:R}, TorchSharp {expected:R}");
            }

            TorchSteps.Step(sgd);
            scheduler.step();
        }

        Assert.True(problems.Count == 0, $"{what}: {problems.Count} of {steps} steps differ:\n  " + string.Join("\n  ", problems.Take(10)));
    }

    [Fact]
    public void MultiStepMatchesMultiStepLR() =>
        Compare("MultiStep", new MultiStepSchedule(BaseRate, [100, 150, 250], gamma: 0.1),
            o => optim.lr_scheduler.MultiStepLR(o, [100, 150, 250], gamma: 0.1), 300);

    /// <summary>Up to T_max: beyond it PyTorch's CosineAnnealingLR rises again (it is periodic) while DslResNet holds the minimum.</summary>
    [Fact]
    public void CosineMatchesCosineAnnealingLR() =>
        Compare("Cosine", new CosineAnnealingSchedule(BaseRate, 300, minimumLearningRate: 1e-3),
            o => optim.lr_scheduler.CosineAnnealingLR(o, 300, eta_min: 1e-3), 301);

    [Fact]
    public void LinearWarmupMatchesLinearLR() =>
        Compare("LinearWarmup(constant)", new LinearWarmupSchedule(new ConstantSchedule(BaseRate), 50, startFactor: 0.1),
            o => optim.lr_scheduler.LinearLR(o, start_factor: 0.1, end_factor: 1.0, total_iters: 50), 300);

    /// <summary>DslResNet's warm-up scales the inner schedule at the same step: PyTorch's ChainedLR (ChainedScheduler) of LinearLR and CosineAnnealingLR (eta_min 0).</summary>
    [Fact]
    public void WarmupCosineMatchesChainedLinearAndCosine() =>
        Compare("LinearWarmup(cosine)", new LinearWarmupSchedule(new CosineAnnealingSchedule(BaseRate, 300), 30, startFactor: 0.25),
            o => optim.lr_scheduler.ChainedLR([
                optim.lr_scheduler.LinearLR(o, start_factor: 0.25, end_factor: 1.0, total_iters: 30),
                optim.lr_scheduler.CosineAnnealingLR(o, 300)]), 300);
}

/// <summary>TorchSharp itself: it loads, and if not, the failure names the real cause.</summary>
[Collection(ParityCollection.Name)]
public sealed class TorchSharpHealthTests
{
    [Fact]
    public void TorchSharpLoadsWithItsNativeLibrary()
    {
        TorchHealth.EnsureLoaded();
        Assert.Equal(6f, ones(2, 3).sum().item<float>());
    }
}
