using System;
using System.IO;

namespace DslResNet.Data;

/// <summary>A dataset file is missing, malformed, or inconsistent with another file. The message names the file and the problem.</summary>
public sealed class DatasetException : IOException
{
    /// <summary>Creates the exception for a problem with <paramref name="filePath"/>.</summary>
    /// <param name="filePath">The file (or directory) the problem is about.</param>
    /// <param name="message">The full message; it should name the file.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public DatasetException(string filePath, string message, Exception? inner = null)
        : base(message, inner)
    {
        FilePath = filePath;
    }

    /// <summary>The file (or directory) the problem is about.</summary>
    public string FilePath { get; }
}
