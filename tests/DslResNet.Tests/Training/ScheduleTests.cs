using System;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Training;

public sealed class ScheduleTests
{
    private static void Close(double expected, double actual) => Assert.Equal(expected, actual, 1e-12);

    [Fact]
    public void ConstantIsConstant()
    {
        ConstantSchedule schedule = new(0.1);
        Close(0.1, schedule.LearningRateAt(0));
        Close(0.1, schedule.LearningRateAt(1_000_000));
        Close(0.1, ((ILearningRateSchedule)schedule).LearningRateAt(7, 3, 10));
    }

    [Fact]
    public void ResNetPaperMultiStepInIterations()
    {
        // lr = 0.1 * 0.1^(number of milestones <= step): 0.1 until 31999, 0.01 from 32000, 0.001 from 48000
        MultiStepSchedule schedule = new(0.1, [32_000, 48_000]);
        Close(0.1, schedule.LearningRateAt(0));
        Close(0.1, schedule.LearningRateAt(31_999));
        Close(0.01, schedule.LearningRateAt(32_000));
        Close(0.01, schedule.LearningRateAt(47_999));
        Close(0.001, schedule.LearningRateAt(48_000));
        Close(0.001, schedule.LearningRateAt(64_000));
    }

    [Fact]
    public void MultiStepInEpochs()
    {
        // milestones at epochs 2 and 4, gamma 0.5, 10 steps an epoch: epoch 0-1 -> 1, 2-3 -> 0.5, 4+ -> 0.25
        ILearningRateSchedule schedule = new MultiStepSchedule(1.0, [2, 4], 0.5, stepsPerUnit: 10);
        Close(1.0, schedule.LearningRateAt(1, 9, 10));
        Close(0.5, schedule.LearningRateAt(2, 0, 10));
        Close(0.5, schedule.LearningRateAt(3, 9, 10));
        Close(0.25, schedule.LearningRateAt(4, 0, 10));
        Close(0.5, schedule.LearningRateAt(39)); // step 39 is epoch 3
        Close(0.25, schedule.LearningRateAt(40));
    }

    [Fact]
    public void CosineEndPointsAndMidpoint()
    {
        // eta_min + (base - eta_min) * (1 + cos(pi * t / T)) / 2, base 0.1, eta_min 0.001, T = 100:
        // t = 0 -> 0.1; t = 50 -> 0.001 + 0.099 * 0.5 = 0.0505; t = 100 -> 0.001;
        // t = 25 -> 0.001 + 0.099 * (1 + cos(pi/4)) / 2 = 0.08550063223...
        CosineAnnealingSchedule schedule = new(0.1, 100, 0.001);
        Close(0.1, schedule.LearningRateAt(0));
        Close(0.0505, schedule.LearningRateAt(50));
        Close(0.001 + 0.099 * (1 + Math.Sqrt(0.5)) / 2, schedule.LearningRateAt(25));
        Close(0.001, schedule.LearningRateAt(100));
        Close(0.001, schedule.LearningRateAt(150)); // stays at the minimum after T
    }

    [Fact]
    public void CosinePerEpochChangesOnlyAtEpochBoundaries()
    {
        // T = 4 epochs of 5 steps, eta_min 0: epoch 1 -> 0.2 * (1 + cos(pi/4)) / 2; epoch 2 -> 0.1
        CosineAnnealingSchedule schedule = new(0.2, 4, stepsPerUnit: 5);
        Close(0.2, schedule.LearningRateAt(4));
        Close(0.2 * (1 + Math.Cos(Math.PI / 4)) / 2, schedule.LearningRateAt(5));
        Close(0.2 * (1 + Math.Cos(Math.PI / 4)) / 2, schedule.LearningRateAt(9));
        Close(0.1, schedule.LearningRateAt(10));
        Close(0.0, schedule.LearningRateAt(20));
    }

    [Fact]
    public void WarmupRampsLinearlyToTheWrappedSchedule()
    {
        // W = 4, start factor 0.25, wrapping constant 0.4: lr = 0.4 * (0.25 + 0.75 * s / 4)
        // s = 0 -> 0.1, 1 -> 0.175, 2 -> 0.25, 3 -> 0.325, 4+ -> 0.4
        LinearWarmupSchedule schedule = new(new ConstantSchedule(0.4), 4, 0.25);
        Close(0.1, schedule.LearningRateAt(0));
        Close(0.175, schedule.LearningRateAt(1));
        Close(0.25, schedule.LearningRateAt(2));
        Close(0.325, schedule.LearningRateAt(3));
        Close(0.4, schedule.LearningRateAt(4));
        Close(0.4, schedule.LearningRateAt(100));
    }

    [Fact]
    public void WarmupWrapsADecayingSchedule()
    {
        // Warm-up of 10 steps from 0 over MultiStep(0.1, [5]) in steps: s = 2 -> 0.1 * 2/10 = 0.02;
        // s = 6 -> 0.01 * 6/10 = 0.006; s = 10 -> 0.01
        LinearWarmupSchedule schedule = new(new MultiStepSchedule(0.1, [5]), 10);
        Close(0.0, schedule.LearningRateAt(0));
        Close(0.02, schedule.LearningRateAt(2));
        Close(0.006, schedule.LearningRateAt(6));
        Close(0.01, schedule.LearningRateAt(10));
    }

    [Fact]
    public void ApplyToSetsTheRateForTheOptimizersNextStep()
    {
        MultiStepSchedule schedule = new(0.1, [2]);
        Sgd sgd = new(1);
        sgd.Add("w", [0f], [0f]);
        Close(0.1, schedule.ApplyTo(sgd));
        sgd.Step();
        sgd.Step();
        Close(0.01, schedule.ApplyTo(sgd));
        Close(0.01, sgd.LearningRate);
    }

    [Fact]
    public void ValidatesArguments()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new MultiStepSchedule(0.1, [48_000, 32_000]));
        Assert.Equal("milestones", e.ParamName);
        Assert.Contains("strictly ascending", e.Message);
        Assert.Contains("milestone 1 (32000) follows 48000", e.Message);

        e = Assert.Throws<ArgumentException>(() => new MultiStepSchedule(0.1, [10, 10]));
        Assert.Contains("strictly ascending", e.Message);

        e = Assert.Throws<ArgumentException>(() => new MultiStepSchedule(0.1, [0, 10]));
        Assert.Contains("must be positive", e.Message);

        e = Assert.Throws<ArgumentException>(() => new MultiStepSchedule(0.1, [10], gamma: -1));
        Assert.Equal("gamma", e.ParamName);

        e = Assert.Throws<ArgumentException>(() => new MultiStepSchedule(0.1, [10], stepsPerUnit: 0));
        Assert.Equal("stepsPerUnit", e.ParamName);
        Assert.Contains("must be positive", e.Message);

        e = Assert.Throws<ArgumentException>(() => new CosineAnnealingSchedule(0.1, 0));
        Assert.Equal("totalUnits", e.ParamName);
        Assert.Contains("annealing length must be positive", e.Message);

        e = Assert.Throws<ArgumentException>(() => new CosineAnnealingSchedule(0.1, 10, -0.01));
        Assert.Equal("minimumLearningRate", e.ParamName);

        e = Assert.Throws<ArgumentException>(() => new ConstantSchedule(-1));
        Assert.Equal("learningRate", e.ParamName);

        e = Assert.Throws<ArgumentException>(() => new LinearWarmupSchedule(new ConstantSchedule(0.1), 0));
        Assert.Equal("warmupSteps", e.ParamName);
        Assert.Contains("positive number of steps", e.Message);

        e = Assert.Throws<ArgumentException>(() => new LinearWarmupSchedule(new ConstantSchedule(0.1), 5, 1.5));
        Assert.Equal("startFactor", e.ParamName);

        Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantSchedule(0.1).LearningRateAt(-1));
        ILearningRateSchedule schedule = new ConstantSchedule(0.1);
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.LearningRateAt(0, 10, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.LearningRateAt(0, 0, 0));
    }
}
