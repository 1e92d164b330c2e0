using System;
using System.Collections.Generic;
using System.Globalization;

namespace DslResNet.Training;

/// <summary>
/// A learning rate as a function of training progress. Progress is a 0-based global optimizer step (the number of
/// steps taken before the one the rate is for); schedules defined in epochs take a number of steps per unit and use the
/// whole units elapsed, <c>step / stepsPerUnit</c>, so that a rate changes only at unit boundaries, as with PyTorch
/// schedulers stepped once per epoch.
/// </summary>
public interface ILearningRateSchedule
{
    /// <summary>The learning rate for the step with the given 0-based global index.</summary>
    /// <param name="step">The number of optimizer steps already taken; at least 0.</param>
    /// <returns>The learning rate.</returns>
    double LearningRateAt(long step);

    /// <summary>The learning rate for a step given as an epoch and a step within it.</summary>
    /// <param name="epoch">The 0-based epoch.</param>
    /// <param name="stepInEpoch">The 0-based step within the epoch, below <paramref name="stepsPerEpoch"/>.</param>
    /// <param name="stepsPerEpoch">The number of steps in an epoch; above 0.</param>
    /// <returns>The learning rate at global step <c>epoch * stepsPerEpoch + stepInEpoch</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    double LearningRateAt(int epoch, int stepInEpoch, int stepsPerEpoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepsPerEpoch);
        ArgumentOutOfRangeException.ThrowIfNegative(stepInEpoch);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(stepInEpoch, stepsPerEpoch);
        return LearningRateAt((long)epoch * stepsPerEpoch + stepInEpoch);
    }
}

/// <summary>Helpers for applying schedules.</summary>
public static class LearningRateSchedules
{
    /// <summary>Sets the optimizer's learning rate for its next step, the one numbered <see cref="Optimizer.StepCount"/> (0-based).</summary>
    /// <param name="schedule">The schedule.</param>
    /// <param name="optimizer">The optimizer.</param>
    /// <returns>The learning rate set.</returns>
    public static double ApplyTo(this ILearningRateSchedule schedule, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(optimizer);
        double lr = schedule.LearningRateAt(optimizer.StepCount);
        optimizer.LearningRate = lr;
        return lr;
    }

    internal static void CheckRate(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value))
        {
            throw new ArgumentException($"The learning rate '{name}' must be finite and >= 0, not {value.ToString(CultureInfo.InvariantCulture)}.", name);
        }
    }

    internal static void CheckStep(long step)
    {
        if (step < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(step), step, "The step must be >= 0.");
        }
    }

    internal static void CheckStepsPerUnit(long stepsPerUnit)
    {
        if (stepsPerUnit <= 0)
        {
            throw new ArgumentException($"The number of steps per unit must be positive, not {stepsPerUnit}.", nameof(stepsPerUnit));
        }
    }
}

/// <summary>A constant learning rate.</summary>
public sealed class ConstantSchedule : ILearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="learningRate">The learning rate; finite and at least 0.</param>
    /// <exception cref="ArgumentException">The rate is negative or not finite.</exception>
    public ConstantSchedule(double learningRate)
    {
        LearningRateSchedules.CheckRate(learningRate, nameof(learningRate));
        LearningRate = learningRate;
    }

    /// <summary>The learning rate.</summary>
    public double LearningRate { get; }

    /// <inheritdoc/>
    public double LearningRateAt(long step)
    {
        LearningRateSchedules.CheckStep(step);
        return LearningRate;
    }
}

/// <summary>
/// Step decay, as <c>torch.optim.lr_scheduler.MultiStepLR</c>: <c>base * gamma^k</c>, with <c>k</c> the number of
/// milestones reached (a milestone <c>m</c> is reached once <c>step / stepsPerUnit >= m</c>). The ResNet paper's CIFAR
/// schedule is <c>new MultiStepSchedule(0.1, [32000, 48000], 0.1)</c> in iterations.
/// </summary>
public sealed class MultiStepSchedule : ILearningRateSchedule
{
    private readonly long[] _milestones;

    /// <summary>Creates the schedule.</summary>
    /// <param name="baseLearningRate">The rate before the first milestone.</param>
    /// <param name="milestones">The units (epochs or steps) at which the rate is multiplied by <paramref name="gamma"/>; strictly ascending, positive.</param>
    /// <param name="gamma">The factor; finite and at least 0 (0.1 in the ResNet paper).</param>
    /// <param name="stepsPerUnit">Steps per milestone unit: 1 for milestones in steps, the steps per epoch for milestones in epochs.</param>
    /// <exception cref="ArgumentException">An argument is out of range.</exception>
    public MultiStepSchedule(double baseLearningRate, IReadOnlyList<long> milestones, double gamma = 0.1, long stepsPerUnit = 1)
    {
        LearningRateSchedules.CheckRate(baseLearningRate, nameof(baseLearningRate));
        ArgumentNullException.ThrowIfNull(milestones);
        if (!(gamma >= 0) || double.IsInfinity(gamma))
        {
            throw new ArgumentException($"The decay factor gamma must be finite and >= 0, not {gamma.ToString(CultureInfo.InvariantCulture)}.", nameof(gamma));
        }

        LearningRateSchedules.CheckStepsPerUnit(stepsPerUnit);
        for (int i = 0; i < milestones.Count; i++)
        {
            if (milestones[i] <= 0)
            {
                throw new ArgumentException($"Milestone {i} is {milestones[i]}; milestones must be positive.", nameof(milestones));
            }

            if (i > 0 && milestones[i] <= milestones[i - 1])
            {
                throw new ArgumentException(
                    $"Milestones must be strictly ascending, but milestone {i} ({milestones[i]}) follows {milestones[i - 1]}.", nameof(milestones));
            }
        }

        BaseLearningRate = baseLearningRate;
        _milestones = [.. milestones];
        Gamma = gamma;
        StepsPerUnit = stepsPerUnit;
    }

    /// <summary>The rate before the first milestone.</summary>
    public double BaseLearningRate { get; }

    /// <summary>The milestones, in units.</summary>
    public IReadOnlyList<long> Milestones => _milestones;

    /// <summary>The decay factor.</summary>
    public double Gamma { get; }

    /// <summary>Steps per milestone unit.</summary>
    public long StepsPerUnit { get; }

    /// <inheritdoc/>
    public double LearningRateAt(long step)
    {
        LearningRateSchedules.CheckStep(step);
        long unit = step / StepsPerUnit;
        double lr = BaseLearningRate;
        foreach (long milestone in _milestones)
        {
            if (unit >= milestone)
            {
                lr *= Gamma;
            }
        }

        return lr;
    }
}

/// <summary>
/// Cosine annealing, the closed form of <c>torch.optim.lr_scheduler.CosineAnnealingLR</c>:
/// <c>min + (base - min) * (1 + cos(pi * t / T)) / 2</c> with <c>t = step / stepsPerUnit</c> (whole units); after
/// <c>T</c> units the rate stays at the minimum.
/// </summary>
public sealed class CosineAnnealingSchedule : ILearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="baseLearningRate">The rate at the start.</param>
    /// <param name="totalUnits">The number of units <c>T</c> over which the rate falls to the minimum; positive.</param>
    /// <param name="minimumLearningRate">The rate reached after <c>T</c> units (PyTorch's <c>eta_min</c>).</param>
    /// <param name="stepsPerUnit">Steps per unit: 1 to anneal per step, the steps per epoch to anneal per epoch.</param>
    /// <exception cref="ArgumentException">An argument is out of range.</exception>
    public CosineAnnealingSchedule(double baseLearningRate, long totalUnits, double minimumLearningRate = 0, long stepsPerUnit = 1)
    {
        LearningRateSchedules.CheckRate(baseLearningRate, nameof(baseLearningRate));
        LearningRateSchedules.CheckRate(minimumLearningRate, nameof(minimumLearningRate));
        if (totalUnits <= 0)
        {
            throw new ArgumentException($"The annealing length must be positive, not {totalUnits}.", nameof(totalUnits));
        }

        LearningRateSchedules.CheckStepsPerUnit(stepsPerUnit);
        BaseLearningRate = baseLearningRate;
        TotalUnits = totalUnits;
        MinimumLearningRate = minimumLearningRate;
        StepsPerUnit = stepsPerUnit;
    }

    /// <summary>The rate at the start.</summary>
    public double BaseLearningRate { get; }

    /// <summary>The annealing length <c>T</c>, in units.</summary>
    public long TotalUnits { get; }

    /// <summary>The final rate.</summary>
    public double MinimumLearningRate { get; }

    /// <summary>Steps per unit.</summary>
    public long StepsPerUnit { get; }

    /// <inheritdoc/>
    public double LearningRateAt(long step)
    {
        LearningRateSchedules.CheckStep(step);
        long t = Math.Min(step / StepsPerUnit, TotalUnits);
        return MinimumLearningRate + (BaseLearningRate - MinimumLearningRate) * (1 + Math.Cos(Math.PI * t / TotalUnits)) / 2;
    }
}

/// <summary>
/// Linear warm-up over the first <c>W</c> steps, wrapping another schedule: at step <c>s &lt; W</c> the rate is
/// <c>inner(s) * (startFactor + (1 - startFactor) * s / W)</c>, rising from <c>startFactor</c> times the wrapped rate;
/// from step <c>W</c> on it is the wrapped schedule's rate (not shifted).
/// </summary>
public sealed class LinearWarmupSchedule : ILearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="inner">The wrapped schedule.</param>
    /// <param name="warmupSteps">The warm-up length <c>W</c> in steps; positive.</param>
    /// <param name="startFactor">The fraction of the wrapped rate at step 0, in [0, 1].</param>
    /// <exception cref="ArgumentException">An argument is out of range.</exception>
    public LinearWarmupSchedule(ILearningRateSchedule inner, long warmupSteps, double startFactor = 0)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (warmupSteps <= 0)
        {
            throw new ArgumentException($"The warm-up length must be a positive number of steps, not {warmupSteps}.", nameof(warmupSteps));
        }

        if (!(startFactor >= 0 && startFactor <= 1))
        {
            throw new ArgumentException($"The start factor must be in [0, 1], not {startFactor.ToString(CultureInfo.InvariantCulture)}.", nameof(startFactor));
        }

        Inner = inner;
        WarmupSteps = warmupSteps;
        StartFactor = startFactor;
    }

    /// <summary>The wrapped schedule.</summary>
    public ILearningRateSchedule Inner { get; }

    /// <summary>The warm-up length in steps.</summary>
    public long WarmupSteps { get; }

    /// <summary>The fraction of the wrapped rate at step 0.</summary>
    public double StartFactor { get; }

    /// <inheritdoc/>
    public double LearningRateAt(long step)
    {
        LearningRateSchedules.CheckStep(step);
        double lr = Inner.LearningRateAt(step);
        return step >= WarmupSteps ? lr : lr * (StartFactor + (1 - StartFactor) * step / WarmupSteps);
    }
}
