using System;
using System.Collections.Generic;
using DslResNet.IO;

namespace DslResNet.Training;

/// <summary>
/// A snapshot of an optimizer's state: its step count, its per-parameter buffers (e.g.
/// <c>momentum_buffer.conv1.weight</c>) and its hyper-parameters (e.g. <c>lr</c>, <c>momentum</c>). It maps one to one
/// onto a checkpoint's <c>OptimizerStep</c>, <c>OptimizerBuffers</c> and <c>HyperParameters</c>.
/// </summary>
public sealed class OptimizerState
{
    /// <summary>The number of steps taken.</summary>
    public long Step { get; set; }

    /// <summary>The state buffers by name, <c>{kind}.{parameter}</c>; each is a copy, owned by this snapshot.</summary>
    public Dictionary<string, float[]> Buffers { get; } = new(StringComparer.Ordinal);

    /// <summary>The hyper-parameters by name; booleans are stored as 0 or 1.</summary>
    public Dictionary<string, double> HyperParameters { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Writes this state into a checkpoint: <see cref="Checkpoint.OptimizerStep"/>, the buffers as flat F32 tensors in
    /// <see cref="Checkpoint.OptimizerBuffers"/> (replacing what was there) and <see cref="Checkpoint.HyperParameters"/>.
    /// The checkpoint keeps references to copies of the buffers.
    /// </summary>
    /// <param name="checkpoint">The checkpoint to fill.</param>
    public void WriteTo(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        checkpoint.OptimizerStep = Step;
        checkpoint.OptimizerBuffers.Clear();
        List<string> names = [.. Buffers.Keys];
        names.Sort(StringComparer.Ordinal);
        foreach (string name in names)
        {
            float[] buffer = Buffers[name];
            checkpoint.OptimizerBuffers[name] = TensorData.Float([buffer.Length], (float[])buffer.Clone());
        }

        checkpoint.HyperParameters.Clear();
        foreach ((string name, double value) in HyperParameters)
        {
            checkpoint.HyperParameters[name] = value;
        }
    }

    /// <summary>Reads the optimizer state held in a checkpoint (buffers are copied and flattened).</summary>
    /// <param name="checkpoint">The checkpoint.</param>
    /// <returns>The state, ready for <see cref="Optimizer.ImportState"/>.</returns>
    /// <exception cref="ArgumentException">A buffer is not F32.</exception>
    public static OptimizerState ReadFrom(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        OptimizerState state = new() { Step = checkpoint.OptimizerStep };
        foreach ((string name, TensorData tensor) in checkpoint.OptimizerBuffers)
        {
            if (tensor.Floats is not { } floats)
            {
                throw new ArgumentException($"Optimizer buffer '{name}' is {tensor.DType}, not F32.", nameof(checkpoint));
            }

            state.Buffers[name] = (float[])floats.Clone();
        }

        foreach ((string name, double value) in checkpoint.HyperParameters)
        {
            state.HyperParameters[name] = value;
        }

        return state;
    }
}
