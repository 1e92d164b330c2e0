using System;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace DslResNet.Benchmarks.Harness;

/// <summary>Finds Debian's tcmalloc (libtcmalloc-minimal4), installing it with apt-get when allowed and running as root.</summary>
internal static class Tcmalloc
{
    private static readonly string[] Candidates =
    [
        "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
        "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4",
        "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
    ];

    /// <summary>The library's path, or null; says what it found or did.</summary>
    public static string? Find(bool install, Action<string> say)
    {
        string? found = Candidates.FirstOrDefault(File.Exists);
        if (found is null && install && OperatingSystem.IsLinux() && Environment.UserName == "root")
        {
            say("tcmalloc: not found; installing libtcmalloc-minimal4 with apt-get");
            Run("apt-get", "install -y libtcmalloc-minimal4");
            found = Candidates.FirstOrDefault(File.Exists);
        }

        say(found is null ? "tcmalloc: not available; TorchSharp's tcmalloc variants are skipped" : $"tcmalloc: {found} (LD_PRELOAD for the tcmalloc variants)");
        return found;
    }

    /// <summary>Runs a command to its end, its output discarded (an installer: what it did is checked afterwards).</summary>
    internal static void Run(string file, string arguments)
    {
        try
        {
            using Process? p = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true });
            p?.StandardOutput.ReadToEnd();
            p?.StandardError.ReadToEnd();
            p?.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }
}
