using System;
using System.Collections;
using System.Diagnostics;
using System.IO;
using System.Runtime.CompilerServices;
using Xunit;
using Xunit.Abstractions;

namespace DslResNet.Generators.Tests.Packaging;

/// <summary>
/// Packs DslResNet and DslResNet.Models and builds three consumers of the packages (tests/PackageSmoke/run.sh): one must build, run and print
/// the generated parameter count; one with a residual shape mismatch must fail with DRN0007 at the marked line; one that
/// references only DslResNet.Models must get the generator through it and build on its shipped blocks and networks.
/// </summary>
public sealed class PackageSmokeTests
{
    private readonly ITestOutputHelper _output;

    public PackageSmokeTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async System.Threading.Tasks.Task Package_carries_the_generator_and_a_consumer_builds_or_fails_with_our_error()
    {
        string script = Path.Combine(RepositoryRoot(), "tests", "PackageSmoke", "run.sh");
        var start = new ProcessStartInfo("bash", script)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // The test host inherits the outer build's MSBuild settings; the nested dotnet commands must start clean.
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            string name = (string)variable.Key;
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name.StartsWith("MSBUILD", StringComparison.Ordinal)
                || name is "DOTNET_HOST_PATH" or "VSTEST_HOST_DEBUG" or "TESTINGPLATFORM_UI_LANGUAGE")
            {
                start.Environment.Remove(name);
            }
        }

        using Process process = Process.Start(start)!;
        var stderrTask = process.StandardError.ReadToEndAsync();
        var stdoutTask = process.StandardOutput.ReadToEndAsync();
        using var timeout = new System.Threading.CancellationTokenSource(TimeSpan.FromMinutes(8));
        bool exited = true;
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            exited = false;
            process.Kill(entireProcessTree: true);
        }

        string stdout = await stdoutTask;
        string stderr = await stderrTask;
        _output.WriteLine(stdout);
        _output.WriteLine(stderr);
        Assert.True(exited, "run.sh did not finish in 8 minutes");
        Assert.True(process.ExitCode == 0, "run.sh failed:\n" + stdout + "\n" + stderr);
        Assert.Contains("PASS:", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("FAIL:", stdout, StringComparison.Ordinal);
    }

    private static string RepositoryRoot([CallerFilePath] string callerFile = "")
    {
        for (string? dir = Path.GetDirectoryName(callerFile); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "DslResNet.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("Cannot find DslResNet.sln above " + callerFile);
    }
}
