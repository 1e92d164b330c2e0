using System;
using System.IO;
using System.Security.Cryptography;

namespace DslResNet.IO;

/// <summary>Replaces a file all at once: a reader sees either the old file or the complete new one, never a partial write.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes to a temporary file in the target's directory (<c>path + ".tmp-" + random</c>), flushes it to disk, then
    /// moves it over <paramref name="path"/>. If anything fails, the temporary file is deleted, the previous file at
    /// <paramref name="path"/> is left untouched, and the exception propagates.
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="write">Writes the new content to the stream it is given (it must not dispose it).</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        try
        {
            using (FileStream stream = new(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string temp)
    {
        try
        {
            File.Delete(temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nothing more can be done; the original exception matters more.
        }
    }
}
