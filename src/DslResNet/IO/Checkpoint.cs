using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;

namespace DslResNet.IO;

/// <summary>
/// A training checkpoint stored as one safetensors file: the model state (torchvision-named tensors), the
/// optimizer's buffers (tensors named <c>optimizer.</c> + buffer name), and in <c>__metadata__</c> the epoch, the
/// optimizer's step count and hyper-parameters, and free-form strings such as the network's name.
/// </summary>
public sealed partial class Checkpoint
{
    /// <summary>Prefix of optimizer buffers' tensor names in the file, e.g. <c>optimizer.momentum_buffer.conv1.weight</c>.</summary>
    public const string OptimizerPrefix = "optimizer.";

    /// <summary>Metadata key of the epoch.</summary>
    public const string EpochKey = "epoch";

    /// <summary>Metadata key of the optimizer's step count.</summary>
    public const string OptimizerStepKey = "optimizer.step";

    /// <summary>Metadata key prefix of the optimizer's hyper-parameters, e.g. <c>optimizer.hp.lr</c>.</summary>
    public const string HyperParameterPrefix = "optimizer.hp.";

    /// <summary>Metadata key of the network's name.</summary>
    public const string NetworkKey = "network";

    /// <summary>Metadata key of the DslResNet version that wrote the file.</summary>
    public const string VersionKey = "dslresnet_version";

    /// <summary>Metadata key that marks the file as a DslResNet checkpoint.</summary>
    public const string FormatKey = "format";

    /// <summary>Value of <see cref="FormatKey"/>.</summary>
    public const string FormatValue = "dslresnet-checkpoint";

    /// <summary>The model state: tensors by torchvision name (e.g. <c>conv1.weight</c>), F32, or I64 for <c>num_batches_tracked</c>; saved in this order.</summary>
    public OrderedDictionary<string, TensorData> Model { get; } = new(StringComparer.Ordinal);

    /// <summary>The optimizer's F32 buffers by name without the <see cref="OptimizerPrefix"/>, e.g. <c>momentum_buffer.conv1.weight</c>.</summary>
    public OrderedDictionary<string, TensorData> OptimizerBuffers { get; } = new(StringComparer.Ordinal);

    /// <summary>The optimizer's hyper-parameters, e.g. <c>lr</c>, <c>momentum</c>, <c>weight_decay</c>; stored round-trip exact.</summary>
    public SortedDictionary<string, double> HyperParameters { get; } = new(StringComparer.Ordinal);

    /// <summary>The optimizer's step count.</summary>
    public long OptimizerStep { get; set; }

    /// <summary>The number of completed epochs.</summary>
    public int Epoch { get; set; }

    /// <summary>
    /// A copy whose model tensors carry other names, for weights saved under another naming scheme: timm's ResNet-D
    /// names its deep stem <c>conv1.0</c> ... <c>conv1.6</c> (an <c>nn.Sequential</c>), which DslResNet's
    /// <c>ResNet50D</c> declares as <c>conv1_0</c> ... <c>conv1_6</c>, so
    /// <c>ckpt.RenameModel(n =&gt; Regex.Replace(n, @"^conv1\.(\d)\.", "conv1_$1."))</c>. The copy holds the model
    /// tensors (shared, not copied), the epoch and the metadata; not the optimizer state, whose buffers are named after the
    /// old parameter names.
    /// </summary>
    /// <param name="rename">Maps a tensor's name to its new name (return it unchanged to keep it).</param>
    /// <returns>The renamed copy, in the same order.</returns>
    /// <exception cref="ArgumentException">The function gives an empty name, or two tensors the same name (both named).</exception>
    public Checkpoint RenameModel(Func<string, string> rename)
    {
        ArgumentNullException.ThrowIfNull(rename);
        Checkpoint copy = new() { Epoch = Epoch };
        var from = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string name, TensorData tensor) in Model)
        {
            string renamed = rename(name);
            if (string.IsNullOrWhiteSpace(renamed))
            {
                throw new ArgumentException($"Renaming checkpoint tensor '{name}' gave an empty name.", nameof(rename));
            }

            if (from.TryGetValue(renamed, out string? earlier))
            {
                throw new ArgumentException($"Renaming checkpoint tensors '{earlier}' and '{name}' gave both the name '{renamed}'.", nameof(rename));
            }

            from[renamed] = name;
            copy.Model[renamed] = tensor;
        }

        foreach ((string key, string value) in Metadata)
        {
            copy.Metadata[key] = value;
        }

        return copy;
    }

    /// <summary>
    /// Free-form strings (the network name under <see cref="NetworkKey"/>, the version under <see cref="VersionKey"/>, ...).
    /// Keys may not be <see cref="EpochKey"/>, <see cref="FormatKey"/> nor start with <see cref="OptimizerPrefix"/>.
    /// </summary>
    public SortedDictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>The network's name (metadata <see cref="NetworkKey"/>), or null.</summary>
    public string? NetworkName
    {
        get => Metadata.GetValueOrDefault(NetworkKey);
        set => SetOrRemove(NetworkKey, value);
    }

    /// <summary>The DslResNet version that wrote the checkpoint (metadata <see cref="VersionKey"/>), or null.</summary>
    public string? Version
    {
        get => Metadata.GetValueOrDefault(VersionKey);
        set => SetOrRemove(VersionKey, value);
    }

    /// <summary>This library's version, as <see cref="Save(string)"/> records it when <see cref="Version"/> is not set.</summary>
    public static string LibraryVersion { get; } =
        typeof(Checkpoint).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(Checkpoint).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>
    /// Saves atomically: writes <c>path + ".tmp-" + random</c> in the same directory, flushes it to disk, and moves
    /// it over <paramref name="path"/>. On failure the temporary file is deleted and an existing checkpoint is left as it was.
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <exception cref="CheckpointException">
    /// A tensor holds a non-finite value (nothing is written), or the file could not be written (the message names the
    /// path and the operating system's reason).
    /// </exception>
    public void Save(string path) => Save(path, s => s);

    /// <summary>
    /// Saves atomically as <see cref="Save(string)"/>, writing through a stream that <paramref name="wrap"/> makes of the
    /// temporary file's stream (for compression, progress, hashing, or simulating a failed write in tests).
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="wrap">Returns the stream to write to, given the temporary file's stream; the wrapper must not dispose the file stream.</param>
    public void Save(string path, Func<Stream, Stream> wrap)
    {
        ArgumentNullException.ThrowIfNull(wrap);
        List<KeyValuePair<string, TensorData>> tensors = AllTensors();
        CheckFinite(path, tensors);
        Dictionary<string, string> metadata = BuildMetadata();
        WriteAtomically(path, stream =>
        {
            Stream target = wrap(stream);
            SafeTensors.Write(target, tensors, metadata);
            target.Flush();
        });
    }

    /// <summary>Writes the checkpoint in safetensors format to a stream (not atomic; use <see cref="Save(string)"/> for files).</summary>
    /// <param name="stream">Where to write; left open.</param>
    public void WriteTo(Stream stream) => SafeTensors.Write(stream, AllTensors(), BuildMetadata());

    /// <summary>Loads a checkpoint.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <exception cref="CheckpointException">The file is not a valid safetensors file, or its checkpoint entries are malformed.</exception>
    public static Checkpoint Load(string path) => Load(path, CheckpointLoadOptions.Default);

    /// <summary>Loads a checkpoint from a seekable stream.</summary>
    /// <param name="stream">The content.</param>
    /// <param name="sourceName">The name to give in error messages.</param>
    /// <exception cref="CheckpointException">The content is not a valid checkpoint.</exception>
    public static Checkpoint Load(Stream stream, string sourceName) => Load(stream, sourceName, CheckpointLoadOptions.Default);

    /// <summary>Loads a checkpoint and checks it against a network (see <see cref="Validate(NetworkInfo, string?)"/>).</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="info">The network it must fit.</param>
    /// <exception cref="CheckpointException">The file is invalid, or its tensors do not match the network's; the message lists every mismatch.</exception>
    public static Checkpoint LoadFor(string path, NetworkInfo info)
    {
        Checkpoint checkpoint = Load(path);
        checkpoint.Validate(info, path);
        return checkpoint;
    }

    /// <summary>
    /// Checks the model state against a network's parameters: every parameter present with its shape (and F32, or
    /// I64 for <c>num_batches_tracked</c>), and no other tensor. A different network name in the metadata is
    /// reported with the mismatches but is not itself an error.
    /// </summary>
    /// <param name="info">The network.</param>
    /// <param name="source">The file name to give in the message, if any.</param>
    /// <exception cref="CheckpointException">Any tensor is missing, unexpected, or of another shape or dtype; the message lists them all.</exception>
    public void Validate(NetworkInfo info, string? source = null)
    {
        IReadOnlyList<string> problems = Mismatches(info);
        if (problems.Count == 0)
        {
            return;
        }

        StringBuilder text = new();
        text.Append(CultureInfo.InvariantCulture, $"does not fit network {info.Name}: {problems.Count} mismatch{(problems.Count == 1 ? "" : "es")}");
        if (NetworkName is { } name && name != info.Name)
        {
            text.Append(CultureInfo.InvariantCulture, $" (the checkpoint was saved from network '{name}')");
        }

        text.Append(':');
        foreach (string problem in problems)
        {
            text.Append("\n  ").Append(problem);
        }

        string message = text.ToString();
        throw source is null ? new CheckpointException("Checkpoint " + message) : new CheckpointException(source, message);
    }

    /// <summary>Every difference between the model state and a network's parameters, one line each (empty when they match).</summary>
    /// <param name="info">The network.</param>
    public IReadOnlyList<string> Mismatches(NetworkInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        List<string> missing = [];
        List<string> shapes = [];
        HashSet<string> expected = new(StringComparer.Ordinal);
        foreach (ParameterInfo p in info.Parameters)
        {
            expected.Add(p.Name);
            if (!Model.TryGetValue(p.Name, out TensorData? t))
            {
                missing.Add($"missing: {p.Name} {p.ShapeText}");
                continue;
            }

            if (!t.Shape.AsSpan().SequenceEqual(p.Shape))
            {
                shapes.Add($"shape: {p.Name}: expected {p.ShapeText}, found {t.ShapeText}");
            }

            SafeTensorDType dtype = p.Role == ParameterRole.BatchesTracked ? SafeTensorDType.I64 : SafeTensorDType.F32;
            if (t.DType != dtype)
            {
                shapes.Add($"dtype: {p.Name}: expected {dtype}, found {t.DType}");
            }
        }

        List<string> unexpected = Model.Where(kv => !expected.Contains(kv.Key)).Select(kv => $"unexpected: {kv.Key} {kv.Value.ShapeText}").ToList();
        return [.. missing, .. unexpected, .. shapes];
    }

    private void SetOrRemove(string key, string? value)
    {
        if (value is null)
        {
            Metadata.Remove(key);
        }
        else
        {
            Metadata[key] = value;
        }
    }

    private List<KeyValuePair<string, TensorData>> AllTensors()
    {
        List<KeyValuePair<string, TensorData>> all = [];
        foreach (KeyValuePair<string, TensorData> kv in Model)
        {
            if (kv.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Model tensor '{kv.Key}' may not start with '{OptimizerPrefix}', which marks optimizer buffers.");
            }

            all.Add(kv);
        }

        foreach (KeyValuePair<string, TensorData> kv in OptimizerBuffers)
        {
            if (kv.Value.DType != SafeTensorDType.F32)
            {
                throw new InvalidOperationException($"Optimizer buffer '{kv.Key}' must be F32, not {kv.Value.DType}.");
            }

            all.Add(new(OptimizerPrefix + kv.Key, kv.Value));
        }

        return all;
    }

    private Dictionary<string, string> BuildMetadata()
    {
        Dictionary<string, string> metadata = new(StringComparer.Ordinal) { [FormatKey] = FormatValue };
        foreach (KeyValuePair<string, string> kv in Metadata)
        {
            if (kv.Key is EpochKey or FormatKey || kv.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Metadata key '{kv.Key}' is reserved for the checkpoint's own entries.");
            }

            metadata[kv.Key] = kv.Value;
        }

        metadata.TryAdd(VersionKey, LibraryVersion);
        metadata[EpochKey] = Epoch.ToString(CultureInfo.InvariantCulture);
        metadata[OptimizerStepKey] = OptimizerStep.ToString(CultureInfo.InvariantCulture);
        foreach (KeyValuePair<string, double> kv in HyperParameters)
        {
            metadata[HyperParameterPrefix + kv.Key] = kv.Value.ToString("R", CultureInfo.InvariantCulture);
        }

        return metadata;
    }

    private static Checkpoint FromContent(SafeTensorsContent content, string source)
    {
        Checkpoint checkpoint = new();
        foreach (KeyValuePair<string, TensorData> kv in content.Tensors)
        {
            if (kv.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
            {
                if (kv.Value.DType != SafeTensorDType.F32)
                {
                    throw new CheckpointException(source, $"optimizer buffer '{kv.Key}' is {kv.Value.DType}, not F32.");
                }

                checkpoint.OptimizerBuffers.Add(kv.Key[OptimizerPrefix.Length..], kv.Value);
            }
            else
            {
                checkpoint.Model.Add(kv.Key, kv.Value);
            }
        }

        foreach (KeyValuePair<string, string> kv in content.Metadata)
        {
            if (kv.Key == FormatKey)
            {
                continue;
            }

            if (kv.Key == EpochKey)
            {
                checkpoint.Epoch = int.TryParse(kv.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int epoch)
                    ? epoch
                    : throw new CheckpointException(source, $"metadata '{EpochKey}' is '{kv.Value}', not an integer.");
            }
            else if (kv.Key == OptimizerStepKey)
            {
                checkpoint.OptimizerStep = long.TryParse(kv.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long step)
                    ? step
                    : throw new CheckpointException(source, $"metadata '{OptimizerStepKey}' is '{kv.Value}', not an integer.");
            }
            else if (kv.Key.StartsWith(HyperParameterPrefix, StringComparison.Ordinal))
            {
                checkpoint.HyperParameters[kv.Key[HyperParameterPrefix.Length..]] = double.TryParse(kv.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                    ? value
                    : throw new CheckpointException(source, $"metadata '{kv.Key}' is '{kv.Value}', not a number.");
            }
            else if (!kv.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
            {
                checkpoint.Metadata[kv.Key] = kv.Value;
            }
        }

        return checkpoint;
    }
}
