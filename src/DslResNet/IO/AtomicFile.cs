using System;
using System.IO;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace DslResNet.IO;

/// <summary>Replaces a file all at once: a reader sees either the old file or the complete new one, never a partial write.</summary>
/// <remarks>
/// <para>
/// Temporary files are named <c>name + ".tmp-" + 16 hex digits</c> next to the target. A process killed mid-save leaves
/// its temporary file behind; the next <see cref="Write"/> to the same target removes such leftovers (that exact
/// pattern only, nothing else in the directory).
/// </para>
/// <para>
/// A save running at the same time in another process is never disturbed: the writer holds an exclusive lock on its
/// temporary file (<see cref="FileShare.None"/>, an advisory <c>flock</c> on Unix, released by the kernel when the
/// process dies) until the file has been moved into place, and a leftover is deleted only when that lock can be taken
/// and the file has not been written for <see cref="StaleAfter"/> (which covers the instant between another writer's
/// creating the file and locking it).
/// </para>
/// </remarks>
internal static partial class AtomicFile
{
    /// <summary>How long a temporary file must have gone unwritten (and be unlocked) before another save removes it.</summary>
    public static TimeSpan StaleAfter { get; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Writes to a temporary file in the target's directory (<c>path + ".tmp-" + random</c>), flushes it to disk, then
    /// moves it over <paramref name="path"/>. If anything fails, the temporary file is deleted, the previous file at
    /// <paramref name="path"/> is left untouched, and the exception propagates. Stale temporary files of the same target
    /// left by killed processes are removed first (see the remarks).
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="write">Writes the new content to the stream it is given (it must not dispose it).</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        RemoveStaleTemporaries(full);
        string temp = full + ".tmp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        try
        {
            using (FileStream stream = new(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
                if (!OperatingSystem.IsWindows())
                {
                    // Moved while still locked, so no cleaner can take it for a leftover between close and move.
                    File.Move(temp, full, overwrite: true);
                }
            }

            if (OperatingSystem.IsWindows())
            {
                File.Move(temp, full, overwrite: true);
            }
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Deletes the unlocked, stale temporary files of <paramref name="fullPath"/>; returns how many.</summary>
    /// <param name="fullPath">The target file's full path.</param>
    /// <returns>The number of files removed.</returns>
    public static int RemoveStaleTemporaries(string fullPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(fullPath);
        string? directory = Path.GetDirectoryName(fullPath);
        string name = Path.GetFileName(fullPath);
        if (directory is null || name.Length == 0 || !Directory.Exists(directory))
        {
            return 0;
        }

        int removed = 0;
        string[] candidates;
        try
        {
            candidates = Directory.GetFiles(directory, name + ".tmp-*");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        foreach (string candidate in candidates)
        {
            string suffix = Path.GetFileName(candidate)[name.Length..];
            if (!TempSuffix().IsMatch(suffix)
                || DateTime.UtcNow - File.GetLastWriteTimeUtc(candidate) < StaleAfter)
            {
                continue;
            }

            try
            {
                // Taking the lock proves that no live writer holds the file.
                using FileStream probe = new(candidate, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1);
                File.Delete(candidate);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Locked by a live save, gone already, or not ours to delete: leave it.
            }
        }

        return removed;
    }

    [GeneratedRegex("^\\.tmp-[0-9a-f]{16}$", RegexOptions.CultureInvariant)]
    private static partial Regex TempSuffix();

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
