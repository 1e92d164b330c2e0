using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;

namespace DslResNet.IO;

// The save side's checks: a checkpoint never holds a non-finite value, its path is checked before a run spends time
// training, and a failed write is a CheckpointException naming the path and the operating system's reason.
public sealed partial class Checkpoint
{
    /// <summary>
    /// Checks that a checkpoint can be saved at <paramref name="path"/> before any work is spent: the directory exists,
    /// the path is not a directory nor an existing non-regular file (a FIFO or device), and a file can be created in the
    /// directory (a probe file is created and deleted).
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <exception cref="CheckpointException">The path cannot be written; the message names it and says why.</exception>
    public static void CheckWritable(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new CheckpointException(path ?? "", "the checkpoint path is empty.");
        }

        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new CheckpointException(path, "is not a valid file path: " + e.Message, e);
        }

        if (Directory.Exists(full))
        {
            throw new CheckpointException(path, "is a directory; give a file path such as 'run.safetensors'.");
        }

        string? directory = Path.GetDirectoryName(full);
        if (directory is null || !Directory.Exists(directory))
        {
            throw new CheckpointException(path, $"its directory '{directory}' does not exist.");
        }

        if (UnixFileType.IsSpecial(full))
        {
            throw new CheckpointException(path, "is not a regular file (a FIFO, socket or device); a checkpoint must be a regular file.");
        }

        string probe = full + ".probe-" + Guid.NewGuid().ToString("N")[..16];
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, $"cannot create a file in '{directory}': {e.Message}", e);
        }
    }

    private static void CheckFinite(string path, List<KeyValuePair<string, TensorData>> tensors)
    {
        foreach ((string name, TensorData tensor) in tensors)
        {
            if (tensor.Floats is not { } values)
            {
                continue;
            }

            int count = 0;
            int first = -1;
            for (int i = 0; i < values.Length; i++)
            {
                if (!float.IsFinite(values[i]))
                {
                    count++;
                    first = first < 0 ? i : first;
                }
            }

            if (count > 0)
            {
                throw new CheckpointException(path, string.Create(CultureInfo.InvariantCulture,
                    $"not saved: tensor '{name}' holds {count} non-finite value(s) (the first at index {first} is {values[first]}); a checkpoint never holds NaN or Inf."));
            }
        }
    }

    private static void WriteAtomically(string path, Action<Stream> write)
    {
        try
        {
            AtomicFile.Write(path, write);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, $"could not be saved ({e.Message}); the previous checkpoint, if any, is unchanged.", e);
        }
    }
}
