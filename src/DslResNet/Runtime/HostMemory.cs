using System;
using System.Globalization;
using System.IO;

namespace DslResNet.Runtime;

/// <summary>How much host memory a new allocation may take.</summary>
internal static class HostMemory
{
    /// <summary>
    /// The smaller of the system's available memory (Linux: <c>MemAvailable</c> in <c>/proc/meminfo</c>) and what is left
    /// of the process's limit (the GC's view, which honours container limits).
    /// </summary>
    /// <returns>Bytes.</returns>
    public static long AvailableBytes()
    {
        long limit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes - Environment.WorkingSet;
        long system = MemAvailable() ?? limit;
        return Math.Max(0, Math.Min(limit, system));
    }

    private static long? MemAvailable()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                // "MemAvailable:   12345678 kB"
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long kib))
                    {
                        return kib * 1024;
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux, or not readable: the GC's figure alone.
        }

        return null;
    }
}
