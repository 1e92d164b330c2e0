using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using DslResNet.Training;
using Spectre.Console;
using static FashionMnistSample.Report;

namespace FashionMnistSample;

/// <summary>Spectre.Console progress bars: one per epoch's training, one per evaluation.</summary>
internal sealed class LiveProgress(ProgressContext context, List<(double Epoch, double Loss)> stepLosses, int stepsPerEpoch, CancellationToken stop)
    : IProgress<TrainingProgress>
{
    private ProgressTask? _task;

    public void Report(TrainingProgress p)
    {
        if (p.Phase == TrainingPhase.Training)
        {
            Startup.FirstStepDone();
            stepLosses.Add((p.GlobalStep / (double)stepsPerEpoch, p.BatchLoss));
        }

        if (p.Step == 1 || _task is null)
        {
            _task?.StopTask();
            _task = context.AddTask(Markup.Escape(Describe(p)), maxValue: p.Steps);
        }

        _task.Value = p.Step;
        _task.Description = Markup.Escape(Describe(p)) + (stop.IsCancellationRequested ? " [yellow](stopping after this step)[/]" : "");
        if (p.Step == p.Steps)
        {
            _task.StopTask();
        }
    }
}

/// <summary>Plain lines for redirected output: the first step, then every 10 seconds, and the last step of each phase.</summary>
internal sealed class PlainProgress(List<(double Epoch, double Loss)> stepLosses, int stepsPerEpoch) : IProgress<TrainingProgress>
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private readonly Stopwatch _sinceLine = Stopwatch.StartNew();

    public void Report(TrainingProgress p)
    {
        if (p.Phase == TrainingPhase.Training)
        {
            Startup.FirstStepDone();
            stepLosses.Add((p.GlobalStep / (double)stepsPerEpoch, p.BatchLoss));
        }

        if (p.Step == 1 || p.Step == p.Steps || _sinceLine.Elapsed >= Interval)
        {
            Console.WriteLine(Describe(p));
            _sinceLine.Restart();
        }
    }
}
