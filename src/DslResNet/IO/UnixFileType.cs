using System;
using System.IO;
using System.Runtime.InteropServices;

namespace DslResNet.IO;

/// <summary>
/// Tells a regular file from a FIFO, socket or device, which .NET does not report: opening a FIFO for reading blocks
/// until a writer appears, so paths given by users are checked with this before they are opened.
/// </summary>
public static partial class UnixFileType
{
    // The shim .NET's own file APIs call (libSystem.Native's SystemNative_Stat), whose FileStatus starts with
    // int Flags, int Mode; Mode's type bits are normalised by the shim to these values on every Unix.
    private const int TypeMask = 0xF000;
    private const int RegularFile = 0x8000;
    private const int DirectoryFile = 0x4000;

    /// <summary>
    /// Whether <paramref name="path"/> exists (following links) and is neither a regular file nor a directory: a FIFO,
    /// socket, or character or block device. Always false on Windows and for a path that does not exist.
    /// </summary>
    /// <param name="path">The path.</param>
    /// <returns>True for a FIFO, socket or device.</returns>
    public static bool IsSpecial(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (OperatingSystem.IsWindows())
        {
            return false;
        }

        StatBuffer buffer = default;
        if (Stat(Path.GetFullPath(path), ref buffer) != 0)
        {
            return false;
        }

        int type = buffer.Mode & TypeMask;
        return type != RegularFile && type != DirectoryFile;
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, ref StatBuffer output);

    /// <summary>Room for the shim's FileStatus (about 120 bytes); only the first two fields are read.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct StatBuffer
    {
        public int Flags;
        public int Mode;
    }
}
