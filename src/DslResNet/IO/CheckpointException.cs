using System;

namespace DslResNet.IO;

/// <summary>A checkpoint or safetensors file could not be read, written or matched to a network.</summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    public CheckpointException()
        : base("The checkpoint is invalid.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public CheckpointException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public CheckpointException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception about one file; the message names the file, then the problem.</summary>
    /// <param name="filePath">The file concerned (or a description of the source when it is not a file).</param>
    /// <param name="problem">What went wrong.</param>
    /// <param name="innerException">The cause, if any.</param>
    public CheckpointException(string filePath, string problem, Exception? innerException = null)
        : base($"'{filePath}': {problem}", innerException)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The file concerned, when known.</summary>
    public string? FilePath { get; }

    /// <summary>The problem without the file name, when the exception was created for a file.</summary>
    public string? Problem { get; }
}
