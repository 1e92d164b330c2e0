using System;
using System.Collections.Generic;
using DslResNet.Training;

namespace FashionMnistSample;

/// <summary>Builds the learning-rate schedule the options ask for.</summary>
internal static class Schedules
{
    /// <summary>The learning-rate schedule of --schedule and --warmup-epochs, and a line describing it for the header.</summary>
    public static (ILearningRateSchedule Schedule, string Text) For(CommandLine options, int stepsPerEpoch)
    {
        double lr = options.LearningRate;
        ILearningRateSchedule schedule;
        string text;
        switch (options.Schedule)
        {
            case "cosine":
                schedule = new CosineAnnealingSchedule(lr, (long)options.Epochs * stepsPerEpoch);
                text = $"cosine from {lr:G3} to 0 over {options.Epochs} epochs";
                break;
            case "multistep":
                // The paper divides the rate by 10 at 32k and 48k of 64k iterations: at 50% and 75% of training.
                List<long> milestones = [];
                foreach (double fraction in (double[])[0.5, 0.75])
                {
                    long epoch = (long)Math.Round(options.Epochs * fraction, MidpointRounding.AwayFromZero);
                    if (epoch >= 1 && epoch < options.Epochs && (milestones.Count == 0 || epoch > milestones[^1]))
                    {
                        milestones.Add(epoch);
                    }
                }

                schedule = new MultiStepSchedule(lr, milestones, 0.1, stepsPerEpoch);
                text = milestones.Count == 0
                    ? $"{lr:G3} (multistep: too few epochs for a decay)"
                    : $"{lr:G3}, x0.1 after epoch{(milestones.Count > 1 ? "s" : "")} {string.Join(" and ", milestones)}";
                break;
            default:
                schedule = new ConstantSchedule(lr);
                text = $"constant {lr:G3}";
                break;
        }

        if (options.WarmupEpochs > 0)
        {
            long warmupSteps = Math.Max(1, (long)Math.Round(options.WarmupEpochs * stepsPerEpoch));
            schedule = new LinearWarmupSchedule(schedule, warmupSteps, startFactor: 0.1);
            text += $"; linear warm-up from 10% over {warmupSteps} steps";
        }

        return (schedule, text);
    }
}
