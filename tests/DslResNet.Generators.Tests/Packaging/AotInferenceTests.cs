using System;
using System.Collections;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using Xunit.Abstractions;

namespace DslResNet.Generators.Tests.Packaging;

/// <summary>
/// Publishes samples/AotInference as a NativeAOT, trimmed executable (samples/AotInference/publish-and-run.sh) and checks
/// that it predicts what the same program predicts on the JIT, on the same weights: a checkpoint the native executable
/// exports from its seeded initialisation, loaded by both builds into a network initialised from another seed. Opt-in
/// (<c>DSLRESNET_AOT_TEST=1</c>): the publish takes several minutes on two cores and needs clang and zlib1g-dev.
/// </summary>
public sealed class AotInferenceTests
{
    /// <summary>The environment variable that turns the test on.</summary>
    public const string OptInVariable = "DSLRESNET_AOT_TEST";

    private readonly ITestOutputHelper _output;

    public AotInferenceTests(ITestOutputHelper output) => _output = output;

    [AotFact]
    public async Task Native_executable_predicts_the_JIT_builds_logits_on_the_same_weights()
    {
        string sample = Path.Combine(RepositoryRoot(), "samples", "AotInference");
        string work = Directory.CreateTempSubdirectory("dslresnet-aot-").FullName;
        try
        {
            string aot = Path.Combine(work, "publish", "AotInference");
            string jit = Path.Combine(sample, "bin", "Release", "net10.0", "AotInference");
            string weights = Path.Combine(work, "seed7.safetensors");

            // The script publishes, builds the JIT twin, and exports seed 7's initialisation from both (same file).
            (int code, string stdout) = await Run("bash", [Path.Combine(sample, "publish-and-run.sh"), "--seed", "7", "--export", weights], work, TimeSpan.FromMinutes(25));
            Assert.True(code == 0, "publish-and-run.sh failed:\n" + stdout);
            Assert.Contains("executable: ", stdout, StringComparison.Ordinal);
            Assert.Contains("launch to first prediction", stdout, StringComparison.Ordinal);
            Assert.True(File.Exists(aot), $"no executable at {aot}");
            Assert.False(File.Exists(Path.Combine(work, "publish", "DslResNet.dll")), "the publish left managed assemblies beside the executable");

            // Now the builds load that checkpoint into a network initialised from seed 1.
            string[] loaded = ["--checkpoint", weights, "--seed", "1"];
            string aotOut = await Expect(aot, loaded, work);
            string jitOut = await Expect(jit, loaded, work);
            float[] aotLogits = Logits(aotOut), jitLogits = Logits(jitOut);
            float[] seed7 = Logits(await Expect(jit, ["--seed", "7"], work));
            float[] seed1 = Logits(await Expect(jit, ["--seed", "1"], work));

            Assert.Contains("device: CPU: SIMD backend", aotOut, StringComparison.Ordinal);
            Assert.Equal(10, aotLogits.Length);
            Assert.Equal(jitLogits, aotLogits);          // the native build against the JIT's, exactly
            Assert.Equal(seed7, aotLogits);              // the checkpoint's weights were used ...
            Assert.NotEqual(seed1, aotLogits);           // ... not the network's own initialisation
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private async Task<string> Expect(string program, string[] arguments, string work)
    {
        (int code, string stdout) = await Run(program, arguments, work, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, $"{program} {string.Join(' ', arguments)} failed:\n{stdout}");
        return stdout;
    }

    private static float[] Logits(string stdout)
    {
        string line = stdout.Split('\n').Single(l => l.StartsWith("logits: ", StringComparison.Ordinal));
        return line["logits: ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    private async Task<(int Code, string Stdout)> Run(string program, string[] arguments, string work, TimeSpan limit)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = work,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["OUT"] = Path.Combine(work, "publish");
        start.Environment["RUNS"] = "3";

        // The test host inherits the outer build's MSBuild settings; the nested dotnet commands must start clean.
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            string name = (string)variable.Key;
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name is "DOTNET_HOST_PATH" or "VSTEST_HOST_DEBUG" or "TESTINGPLATFORM_UI_LANGUAGE")
            {
                start.Environment.Remove(name);
            }
        }

        using Process process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish in {limit.TotalMinutes} minutes:\n{await stdout}\n{await stderr}");
        }

        string all = await stdout + await stderr;
        _output.WriteLine($"$ {program} {string.Join(' ', arguments)}\n{all}");
        return (process.ExitCode, all);
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

    /// <summary>A fact that runs only with <see cref="OptInVariable"/> set to 1.</summary>
    private sealed class AotFactAttribute : FactAttribute
    {
        public AotFactAttribute()
        {
            if (Environment.GetEnvironmentVariable(OptInVariable) != "1")
            {
                Skip = $"NativeAOT publish (minutes; needs clang and zlib1g-dev): set {OptInVariable}=1 to run it.";
            }
        }
    }
}
