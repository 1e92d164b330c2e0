using System;
using System.IO;
using System.Runtime.CompilerServices;
using Xunit;

namespace DslResNet.Generators.Tests.Infrastructure;

/// <summary>
/// Snapshot files with Verify's conventions, so switching to Verify later is a rename: the approved text is
/// <c>Snapshots/{Class}.{Test}#{Hint}.verified.cs</c>, committed; a mismatch writes <c>.received.cs</c> beside it and
/// fails. Set <c>DSLRESNET_ACCEPT_SNAPSHOTS=1</c> to accept (overwrite the verified file); never under CI.
/// </summary>
public static class Snapshot
{
    /// <summary>The environment variable that accepts received snapshots.</summary>
    public const string AcceptVariable = "DSLRESNET_ACCEPT_SNAPSHOTS";

    /// <summary>Compares <paramref name="actual"/> with the verified snapshot.</summary>
    public static void Verify(string actual, string className, string testName, string hintName, [CallerFilePath] string callerFile = "")
    {
        string directory = Path.Combine(ProjectDirectory(callerFile), "Snapshots");
        Directory.CreateDirectory(directory);
        string stem = Path.Combine(directory, $"{className}.{testName}#{Path.GetFileNameWithoutExtension(hintName)}");
        string verified = stem + ".verified.cs";
        string received = stem + ".received.cs";
        string normalized = actual.Replace("\r\n", "\n", StringComparison.Ordinal);

        if (File.Exists(verified) && File.ReadAllText(verified).Replace("\r\n", "\n", StringComparison.Ordinal) == normalized)
        {
            File.Delete(received);
            return;
        }

        bool accept = Environment.GetEnvironmentVariable(AcceptVariable) == "1"
            && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (accept)
        {
            File.WriteAllText(verified, normalized);
            File.Delete(received);
            return;
        }

        File.WriteAllText(received, normalized);
        Assert.Fail(File.Exists(verified)
            ? $"Snapshot mismatch: compare {received} with {verified}; if the change is intended, rerun with {AcceptVariable}=1."
            : $"No snapshot yet: review {received} and rerun with {AcceptVariable}=1 to accept it.");
    }

    /// <summary>The test project's directory, from the calling file's path (snapshots live in the source tree).</summary>
    private static string ProjectDirectory(string callerFile)
    {
        for (string? dir = Path.GetDirectoryName(callerFile); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "DslResNet.Generators.Tests.csproj")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("Cannot find the test project above " + callerFile);
    }
}
