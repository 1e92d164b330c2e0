using System;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using Xunit;

namespace FashionMnist.Tests;

/// <summary>Runs the main job (samples/FashionMnist) as a process, as a user does.</summary>
internal static class SampleProcess
{
    public const int UsageError = 2;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    /// <summary>Runs the sample (its assembly sits beside this one) with the muxer that runs the tests, in <paramref name="directory"/>.</summary>
    public static SampleResult Run(string directory, params string[] args) => RunAssembly("FashionMnist.dll", directory, args);

    /// <summary>Runs a sample assembly that sits beside this one.</summary>
    public static SampleResult RunAssembly(string assembly, string directory, params string[] args)
    {
        string? dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        ProcessStartInfo info = new(string.IsNullOrEmpty(dotnet) ? "dotnet" : dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, assembly));
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        using Process process = Process.Start(info)!;
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"fashion-mnist {string.Join(' ', args)} did not end within {Limit.TotalSeconds} s (a hang). Standard error so far: {stderr.Result}");
        }

        return new SampleResult(string.Join(' ', args), process.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>What a run of the sample gave.</summary>
internal sealed record SampleResult(string Args, int ExitCode, string Out, string Error)
{
    /// <summary>Exit 2, and standard error is one line starting "fashion-mnist: " that holds each of <paramref name="mentions"/>.</summary>
    public void AssertOneLineError(params string[] mentions)
    {
        Assert.True(ExitCode == SampleProcess.UsageError, $"exit {ExitCode}, expected {SampleProcess.UsageError}. {this}");
        string[] lines = Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on standard error, got {lines.Length}. {this}");
        Assert.StartsWith("fashion-mnist: ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", Error, StringComparison.Ordinal);
        foreach (string m in mentions)
        {
            Assert.Contains(m, lines[0], StringComparison.Ordinal);
        }
    }

    public override string ToString() => $"args: {Args}\nstdout:\n{Out}\nstderr:\n{Error}";
}
