using System;
using System.Collections.Generic;
using System.IO;
using DslResNet.IO.Pth;

namespace DslResNet.IO;

// PyTorch's .pth format: Load reads it beside safetensors (chosen by the file's first bytes), SavePth writes the model
// state as torch.save(model.state_dict(), path) would.
public sealed partial class Checkpoint
{
    /// <summary>
    /// Saves the model state (<see cref="Model"/>) atomically in PyTorch's zip <c>.pth</c> format, loadable with
    /// <c>torch.load(path, weights_only=True)</c> and <c>model.load_state_dict(...)</c>. A <c>.pth</c> holds a
    /// state_dict only: <see cref="OptimizerBuffers"/>, the epoch and the metadata are not written (use
    /// <see cref="Save(string)"/> to resume training).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <exception cref="CheckpointException">A tensor holds a non-finite value (nothing is written), or the file could not be written.</exception>
    public void SavePth(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        List<KeyValuePair<string, TensorData>> tensors = [.. Model];
        CheckFinite(path, tensors);
        PthWriter.Write(path, tensors);
    }

    /// <summary>Writes the model state in PyTorch's zip <c>.pth</c> format to a stream (not atomic).</summary>
    /// <param name="stream">Where to write; left open.</param>
    public void WritePthTo(Stream stream) => PthWriter.Write(stream, Model);

    /// <summary>A checkpoint whose model state is a <c>.pth</c> state_dict's tensors (floating types as F32, integers as I64).</summary>
    /// <param name="tensors">The tensors by name, as <see cref="PthReader.Read(string)"/> returns them.</param>
    public static Checkpoint FromStateDict(IEnumerable<KeyValuePair<string, PthTensor>> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Checkpoint checkpoint = new();
        foreach (KeyValuePair<string, PthTensor> kv in tensors)
        {
            checkpoint.Model.Add(kv.Key, kv.Value.ToTensorData());
        }

        return checkpoint;
    }

    private static Checkpoint ReadFile(string path)
    {
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, "cannot be opened: " + e.Message, e);
        }

        using (file)
        {
            return ReadStream(file, path);
        }
    }

    private static Checkpoint ReadStream(Stream stream, string source)
    {
        if (!stream.CanSeek)
        {
            throw new ArgumentException("The stream must be seekable.", nameof(stream));
        }

        long start = stream.Position;
        byte[] head = new byte[512];
        int got;
        try
        {
            got = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            stream.Position = start;
        }
        catch (IOException e)
        {
            throw new CheckpointException(source, "cannot be read: " + e.Message, e);
        }

        return PthReader.Detect(head.AsSpan(0, got)) == PthReader.Format.None
            ? FromContent(SafeTensors.Read(stream, source), source)
            : FromStateDict(PthReader.Read(stream, source));
    }
}
