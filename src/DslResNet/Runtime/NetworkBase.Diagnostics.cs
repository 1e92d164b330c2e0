using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using DslResNet.IO;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

// NetworkBase's diagnosis of a non-finite loss: per-group tracing and the re-run that names the first non-finite value.
public abstract partial class NetworkBase
{
    /// <summary>Registers what a fusion group's tracing checks: its output, and the gradient its backward produces.</summary>
    /// <param name="group">The group's index in <see cref="NetworkInfo.FusionGroups"/>.</param>
    /// <param name="output">Its output in the training arena.</param>
    /// <param name="inputGradient">The gradient of its input.</param>
    protected void RegisterTrace(int group, ArrayView<float> output, ArrayView<float> inputGradient) => _traces[group] = (output, inputGradient);

    /// <summary>While diagnosing a non-finite loss: records the first group whose output is not finite.</summary>
    /// <param name="group">The group that just ran forward.</param>
    private void TraceForward(int group)
    {
        if (_tracing && _firstNonFinite is null && _traces.TryGetValue(group, out var views) && !Finite(views.Output))
        {
            _firstNonFinite = $"forward of {GroupName(group)}";
        }
    }

    /// <summary>While diagnosing: records the first group whose backward produced a non-finite gradient.</summary>
    /// <param name="group">The group that just ran backward.</param>
    private void TraceBackward(int group)
    {
        if (_tracing && _firstNonFinite is null && _traces.TryGetValue(group, out var views) && views.InputGradient.Length > 0 && !Finite(views.InputGradient))
        {
            _firstNonFinite = $"backward of {GroupName(group)}";
        }
    }

    // Re-runs the step with every group's output and input gradient checked, restores the running statistics and says
    // where the first non-finite value appeared.
    private string Diagnose()
    {
        string? parameter = Store.FirstNonFiniteGradient();
        string? runningStatistic = FirstNonFiniteRunningStatistic();
        Store.RestoreStatistics();
        _tracing = true;
        _firstNonFinite = null;
        try
        {
            ForwardTraining();
            RunLoss(TrainingOutput, BatchSize, TrainingOutputGradient);
            Synchronize();
            if (_firstNonFinite is null && !Finite(TrainingOutputGradient))
            {
                _firstNonFinite = "loss (softmax cross-entropy)";
            }

            BackwardTraining(false);
            Synchronize();
            return _firstNonFinite
                ?? (parameter is not null ? $"gradient of parameter {parameter}"
                    : runningStatistic is not null ? $"batch statistics of {runningStatistic} (they overflow float)"
                    : "loss");
        }
        finally
        {
            _tracing = false;
            Store.RestoreStatistics();
        }
    }

    // A batch statistic can overflow (a huge activation squared) while the normalised output stays finite; the running
    // statistics then hold an infinity that evaluation and checkpoints would carry on.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private string? FirstNonFiniteRunningStatistic()
    {
        // Over views listed once: a training step allocates nothing here.
        _runningStatistics ??= [.. Definition.Parameters.Where(p => p.Role is ParameterRole.RunningMean or ParameterRole.RunningVar).Select(p => (p.Name, Store.HostValue(p.Name)))];
        foreach ((string name, Memory<float> values) in _runningStatistics)
        {
            if (!ParameterStore.AllFinite(values.Span))
            {
                return name;
            }
        }

        return null;
    }

    private string GroupName(int group)
    {
        FusionGroupInfo g = Definition.FusionGroups[group];
        string first = Definition.Layers[g.Layers[0]].Name;
        string last = Definition.Layers[g.Layers[^1]].Name;
        return g.Layers.Length == 1 ? $"layer {first}" : $"layers {first} .. {last}";
    }

    private bool Finite(ArrayView<float> view)
    {
        float[] values = new float[view.Length];
        Device.Backend.Read(view, values);
        return ParameterStore.AllFinite(values);
    }
}
