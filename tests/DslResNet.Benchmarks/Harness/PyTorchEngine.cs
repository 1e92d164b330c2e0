using System;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace DslResNet.Benchmarks.Harness;

/// <summary>
/// Measures real PyTorch (Debian's python3-torch and python3-torchvision, run by /usr/bin/python3) with the same
/// protocol as <see cref="TorchSharpEngine"/>: <c>Peers/pytorch_measure.py</c>, copied beside this assembly, is the
/// measuring process, started from this one (it inherits the pinning, OMP_NUM_THREADS and, for the tcmalloc variants,
/// LD_PRELOAD) and printing the same RESULT line with its own peak resident set. A peer of its own kind, and the
/// stand-in for TorchSharp where libtorch 2.10 cannot run (its oneDNN dies of SIGFPE on a CPUID without cache sizes;
/// Debian's PyTorch 1.13 carries oneDNN 2.6, which does not).
/// </summary>
internal static class PyTorchEngine
{
    /// <summary>The interpreter Debian's python3-torch installs for (another python3 may come first on PATH).</summary>
    public const string Python = "/usr/bin/python3";

    private static string Script => Path.Combine(AppContext.BaseDirectory, "Peers", "pytorch_measure.py");

    // Debian's PyTorch is linked against libblas.so.3, whatever the alternatives system points it at.
    private const string Blas = "/usr/lib/x86_64-linux-gnu/libblas.so.3";

    /// <summary>PyTorch's and torchvision's versions and the BLAS it loads, or null when the interpreter or either package is
    /// missing; says which. Debian's default libblas.so.3 is the reference BLAS, and PyTorch runs a 1x1 convolution through
    /// it on one thread at a batch under 16 (its rule: oneDNN only when multi-threaded there): ResNet-50's training step
    /// took 20 s at 1 thread against 2.1 s with OpenBLAS. So, as for tcmalloc, the sweep installs OpenBLAS (the OpenMP
    /// build, which follows OMP_NUM_THREADS like PyTorch) when run as root, and names the BLAS in the results.</summary>
    public static string? Find(Action<string> say)
    {
        (int code, string output) = Run(["-c", "import torch, torchvision; print(torch.__version__, torchvision.__version__)"], TimeSpan.FromMinutes(2));
        if (code != 0 || output.Trim().Split(' ') is not [string torch, string vision])
        {
            say($"pytorch: not available ({Python} with torch and torchvision: apt-get install python3-torch python3-torchvision); its variants are skipped");
            return null;
        }

        if (BlasLibrary().Contains("/blas/", StringComparison.Ordinal) && OperatingSystem.IsLinux() && Environment.UserName == "root")
        {
            say("pytorch: libblas.so.3 is the reference BLAS; installing libopenblas0-openmp with apt-get");
            Tcmalloc.Run("apt-get", "install -y libopenblas0-openmp");
        }

        string blas = BlasLibrary();
        string version = $"PyTorch {torch}, torchvision {vision}, BLAS {blas}{(blas.Contains("/blas/", StringComparison.Ordinal) ? " (the reference BLAS: slow 1x1 convolutions at 1 thread)" : "")}";
        say($"pytorch: {version} ({Python})");
        return version;
    }

    // Where libblas.so.3 leads (the alternatives system's links followed), or "none".
    private static string BlasLibrary()
    {
        try
        {
            return File.Exists(Blas) ? new FileInfo(Blas).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Blas : "none";
        }
        catch (IOException)
        {
            return Blas;
        }
    }

    /// <summary>Runs one measurement in a python process.</summary>
    public static MeasureResult Measure(MeasureSpec spec)
    {
        if (!File.Exists(Script))
        {
            throw new InvalidOperationException($"the PyTorch measuring script is missing: {Script} (build tests/DslResNet.Benchmarks again)");
        }

        (int code, string output) = Run([Script, spec.Variant, spec.Network, spec.Task, spec.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture),
            spec.Steps.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromMinutes(10));
        MeasureResult? result = MeasureResult.FromOutput(output);
        if (code != 0 || result is null)
        {
            string last = string.Join(" | ", output.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));
            throw new InvalidOperationException($"{Python} {Path.GetFileName(Script)}: {Sweep.ExitDescription(code)}{(last.Length > 0 ? ": " + last : "")}");
        }

        return result;
    }

    // stdout and stderr together (both drained while the child runs); exit code -1 where the interpreter cannot be
    // started or the child outlives the timeout (it is killed).
    private static (int Code, string Output) Run(string[] arguments, TimeSpan timeout)
    {
        ProcessStartInfo start = new(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        try
        {
            using Process process = Process.Start(start)!;
            System.Threading.Tasks.Task<string> stderr = process.StandardError.ReadToEndAsync();
            System.Threading.Tasks.Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return (-1, $"timed out after {timeout.TotalMinutes:F0} min and was killed");
            }

            return (process.ExitCode, stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult());
        }
        catch (Win32Exception e)
        {
            return (-1, $"cannot start {Python}: {e.Message}");
        }
    }
}
