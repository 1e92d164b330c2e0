using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;

namespace DslResNet.IO;

/// <summary>What <see cref="Checkpoint.Load(string, CheckpointLoadOptions)"/> checks beyond the file's structure.</summary>
public sealed record CheckpointLoadOptions
{
    /// <summary>The default options: every value check on.</summary>
    public static CheckpointLoadOptions Default { get; } = new();

    /// <summary>
    /// Whether to check the values (default true): every F32 tensor and optimizer buffer finite, every
    /// <c>running_var</c> non-negative, <see cref="Checkpoint.OptimizerStep"/> between 0 and
    /// <see cref="long.MaxValue"/> - 1 (so the next step does not wrap). Set false to load such a file anyway, for
    /// example to inspect a diverged run.
    /// </summary>
    public bool CheckValues { get; init; } = true;
}

/// <content>Loading with options; every failure is a <see cref="CheckpointException"/>.</content>
public sealed partial class Checkpoint
{
    /// <summary>
    /// Loads a checkpoint: a safetensors file, or a PyTorch <c>.pth</c> state_dict (zip or legacy format, told apart
    /// by content, not by extension; see <see cref="Pth.PthReader"/>), whose tensors become <see cref="Model"/>.
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="options">What to check beyond the file's structure.</param>
    /// <exception cref="CheckpointException">The file is not a valid safetensors or .pth file, its checkpoint entries are
    /// malformed, or (unless <see cref="CheckpointLoadOptions.CheckValues"/> is false) a value is out of range.</exception>
    public static Checkpoint Load(string path, CheckpointLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        return Guard(path, () => ReadFile(path), options);
    }

    /// <summary>Loads a checkpoint from a seekable stream.</summary>
    /// <param name="stream">The content.</param>
    /// <param name="sourceName">The name to give in error messages.</param>
    /// <param name="options">What to check beyond the file's structure.</param>
    /// <exception cref="CheckpointException">The content is not a valid checkpoint, or (unless
    /// <see cref="CheckpointLoadOptions.CheckValues"/> is false) a value is out of range.</exception>
    public static Checkpoint Load(Stream stream, string sourceName, CheckpointLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        ArgumentNullException.ThrowIfNull(options);
        return Guard(sourceName, () => ReadStream(stream, sourceName), options);
    }

    private static Checkpoint Guard(string source, Func<Checkpoint> load, CheckpointLoadOptions options)
    {
        Checkpoint checkpoint;
        try
        {
            checkpoint = load();
        }
        catch (Exception e) when (e is not CheckpointException and not OutOfMemoryException)
        {
            // Any other failure on malformed content (a lone surrogate escape in a name: InvalidOperationException from
            // the JSON reader; an arithmetic or format fault) is reported as what it is: a bad checkpoint file.
            throw new CheckpointException(source, $"is malformed: {e.Message}", e);
        }
        if (options.CheckValues)
        {
            CheckValues(checkpoint, source);
        }
        return checkpoint;
    }

    private static void CheckValues(Checkpoint checkpoint, string source)
    {
        if (checkpoint.OptimizerStep < 0 || checkpoint.OptimizerStep == long.MaxValue)
        {
            throw new CheckpointException(source, string.Create(CultureInfo.InvariantCulture,
                $"metadata '{OptimizerStepKey}' is {checkpoint.OptimizerStep}; it must be between 0 and {long.MaxValue - 1}."));
        }
        foreach (KeyValuePair<string, TensorData> kv in checkpoint.Model)
        {
            CheckTensor(kv.Key, kv.Value, source, kv.Key.EndsWith("running_var", StringComparison.Ordinal));
        }
        foreach (KeyValuePair<string, TensorData> kv in checkpoint.OptimizerBuffers)
        {
            CheckTensor(OptimizerPrefix + kv.Key, kv.Value, source, nonNegative: false);
        }
    }

    private static void CheckTensor(string name, TensorData tensor, string source, bool nonNegative)
    {
        if (tensor.Floats is not float[] values)
        {
            return;
        }
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (!float.IsFinite(v))
            {
                throw new CheckpointException(source, string.Create(CultureInfo.InvariantCulture,
                    $"tensor '{name}' holds the non-finite value {v} at element {i}; load with CheckpointLoadOptions.CheckValues = false to accept it."));
            }
            if (nonNegative && v < 0)
            {
                throw new CheckpointException(source, string.Create(CultureInfo.InvariantCulture,
                    $"tensor '{name}' holds the negative variance {v} at element {i}; load with CheckpointLoadOptions.CheckValues = false to accept it."));
            }
        }
    }
}
