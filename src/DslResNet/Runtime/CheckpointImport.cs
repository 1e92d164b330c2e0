using System.Collections.Generic;
using System.Linq;

namespace DslResNet.Runtime;

/// <summary>
/// What a non-strict <see cref="NetworkBase.ImportCheckpoint(IO.Checkpoint, bool)"/> did, tensor by tensor (as PyTorch's
/// <c>load_state_dict(strict=False)</c> reports missing and unexpected keys, plus the tensors whose shape differs).
/// </summary>
/// <param name="Loaded">Network tensors loaded from the checkpoint.</param>
/// <param name="Missing">Network tensors the checkpoint lacks; they keep their current values (a new head's fresh initialisation, say).</param>
/// <param name="Skipped">Checkpoint tensors not loaded, each with why: not in the network, or another shape or dtype (an old head, say).</param>
public sealed record CheckpointImport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Missing, IReadOnlyList<string> Skipped)
{
    /// <summary>Whether every network tensor was loaded and nothing was skipped.</summary>
    public bool Complete => Missing.Count == 0 && Skipped.Count == 0;

    /// <inheritdoc />
    public override string ToString() =>
        $"{Loaded.Count} tensors loaded" + (Missing.Count > 0 ? $"; missing from the checkpoint (kept as they were): {string.Join(", ", Missing)}" : string.Empty)
        + (Skipped.Count > 0 ? $"; skipped: {string.Join("; ", Skipped)}" : string.Empty);

    internal static CheckpointImport All(IEnumerable<string> names) => new(names.ToList(), [], []);
}
