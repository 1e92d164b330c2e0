namespace DslResNet.IO;

/// <summary>
/// A network as the file formats see it: its definition and its state dict. <c>DslResNet.Runtime.INetworkModel</c> (every
/// generated network) is one; the exporters (<see cref="OnnxExport"/>) take this, so IO depends on the model types only,
/// never on the runtime.
/// </summary>
public interface ICheckpointSource
{
    /// <summary>The network's layers, parameters and plan.</summary>
    NetworkInfo Definition { get; }

    /// <summary>The model's state dict (parameters and batch-norm buffers, torchvision names) as a checkpoint.</summary>
    /// <returns>A new checkpoint holding copies.</returns>
    Checkpoint ExportCheckpoint();
}
