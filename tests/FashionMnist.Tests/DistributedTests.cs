using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using DslResNet.IO;
using Xunit;

namespace FashionMnist.Tests;

/// <summary>Runs only where Open MPI's mpirun is on the PATH (.ci/run installs openmpi-bin when it runs as root).</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (DistributedTests.Mpirun() is null)
        {
            Skip = "Open MPI's mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev).";
        }
    }
}

/// <summary>
/// The main job under <c>mpirun -np 2</c> on generated data: two processes of batch 64 with synchronised batch norm end
/// where one process of batch 128 ends after 3 SGD steps, local batch norm runs (and ends elsewhere), and a killed rank
/// makes the job stop with an error in bounded time.
/// </summary>
public sealed class DistributedTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(180);
    private readonly string _dir = Directory.CreateTempSubdirectory("dslresnet-mpi-").FullName;

    public DistributedTests()
    {
        string data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        foreach ((string prefix, int count) in new[] { ("train", 512), ("t10k", 64) })
        {
            // Noise images: no exact ties (constant backgrounds), so that float rounding is all that differs.
            Random random = new(count);
            byte[] pixels = new byte[count * 28 * 28];
            random.NextBytes(pixels);
            byte[] labels = Enumerable.Range(0, count).Select(_ => (byte)random.Next(10)).ToArray();
            File.WriteAllBytes(Path.Combine(data, $"{prefix}-images-idx3-ubyte"), [.. Header(0x803, count, 28, 28), .. pixels]);
            File.WriteAllBytes(Path.Combine(data, $"{prefix}-labels-idx1-ubyte"), [.. Header(0x801, count), .. labels]);
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [MpiFact]
    public void Two_ranks_of_64_with_synchronised_batch_norm_equal_one_process_of_128_after_3_steps()
    {
        SampleResult one = SampleProcess.Run(_dir, [.. Common("one.safetensors"), "--batch", "128"]);
        Assert.True(one.ExitCode == 0, one.ToString());
        Result two = Mpi(2, [.. Common("two.safetensors"), "--batch", "64", "--sync-bn"]);
        Assert.True(two.ExitCode == 0, two.ToString());
        Assert.Contains("2 processes (MPI), 64 x 2 = 128 images per step; batch norm synchronised", two.Out, StringComparison.Ordinal);
        Result local = Mpi(2, [.. Common("local.safetensors"), "--batch", "64"]);
        Assert.True(local.ExitCode == 0, local.ToString());
        Assert.Contains("batch norm per process", local.Out, StringComparison.Ordinal);

        Checkpoint a = Checkpoint.Load(Path.Combine(_dir, "one.safetensors"));
        Checkpoint b = Checkpoint.Load(Path.Combine(_dir, "two.safetensors"));
        Checkpoint c = Checkpoint.Load(Path.Combine(_dir, "local.safetensors"));
        Assert.Equal("2", b.Metadata["trainer.world_size"]);
        Assert.Equal(3, b.OptimizerStep);

        // Parameters, running statistics and momentum buffers (the gradients of the 3 steps). Float rounding differs
        // with the order of the sums (merely swapping the two halves of one process's batch moves the first layer's
        // gradient of a deep batch-normalised network by about 0.4%, and 2 threads instead of 1 here by about 1%);
        // local batch norm on half batches differs by tens of percent.
        (double sync, string syncWorst) = Worst(a, b);
        (double loc, string locWorst) = Worst(a, c);
        Assert.True(sync < 0.1, $"two ranks with synchronised batch norm differ from one process by {sync:P2} in {syncWorst}");
        Assert.True(loc > 0.25, $"two ranks with local batch norm should differ from one process; worst {loc:P2} in {locWorst}");

        // Resuming: one process refuses the 2-process checkpoint, naming both world sizes; 2 processes go on from it.
        SampleResult refused = SampleProcess.Run(_dir, [.. Common("two.safetensors"), "--batch", "64", "--resume", "--epochs", "2"]);
        Assert.True(refused.ExitCode == SampleProcess.UsageError, refused.ToString());
        Assert.Contains("written by a run of 2 process(es)", refused.Error, StringComparison.Ordinal);
        Assert.Contains("mpirun -np 2", refused.Error, StringComparison.Ordinal);
        Result resumed = Mpi(2, [.. Common("two.safetensors"), "--batch", "64", "--sync-bn", "--resume", "--epochs", "2"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal(2, Checkpoint.Load(Path.Combine(_dir, "two.safetensors")).Epoch);
    }

    [MpiFact]
    public async Task A_rank_that_hangs_stops_the_job_after_the_collective_timeout()
    {
        (Process job, Task<string> stdout, Task<string> stderr, int victim) = await StartLongJobAndFindRank1(timeoutSeconds: 5);
        using Process owned = job;
        Process.Start("kill", ["-STOP", victim.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        bool ended = job.WaitForExit(TimeSpan.FromSeconds(60));
        if (!ended)
        {
            Process.Start("kill", ["-KILL", victim.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            job.Kill(entireProcessTree: true);
        }

        string error = await stderr;
        Assert.True(ended, $"the job did not end within 60 s of rank 1 stopping. Standard error: {error}");
        Assert.NotEqual(0, job.ExitCode);
        Assert.Contains("rank 0 of 2", error, StringComparison.Ordinal);
        Assert.Contains("did not complete within 5 s", error, StringComparison.Ordinal);
        _ = await stdout;
    }

    [MpiFact]
    public async Task A_killed_rank_stops_the_job_with_an_error_in_bounded_time()
    {
        (Process job, Task<string> stdout, Task<string> stderr, int victim) = await StartLongJobAndFindRank1(timeoutSeconds: null);
        using Process owned = job;
        Stopwatch clock = Stopwatch.StartNew();
        Process.GetProcessById(victim).Kill();
        bool ended = job.WaitForExit(TimeSpan.FromSeconds(60));
        if (!ended)
        {
            job.Kill(entireProcessTree: true);
        }

        Assert.True(ended, $"mpirun did not end within 60 s of rank 1's death. Standard error: {await stderr}");
        Assert.NotEqual(0, job.ExitCode);
        string error = await stderr;
        Assert.True(error.Contains("rank 1", StringComparison.OrdinalIgnoreCase) || error.Contains("exited on signal", StringComparison.OrdinalIgnoreCase),
            $"exit {job.ExitCode} after {clock.Elapsed.TotalSeconds:F1} s; standard error: {error}");
        _ = await stdout;
    }

    // A 2-rank job long enough to be training when a test stops one of its ranks (3 s after rank 1 appears).
    private async Task<(Process Job, Task<string> Out, Task<string> Error, int Rank1)> StartLongJobAndFindRank1(int? timeoutSeconds)
    {
        ProcessStartInfo info = MpiStart(2, ["--data", Path.Combine(_dir, "data"), "--batch", "32", "--epochs", "50", "--eval-limit", "0",
            "--plot", "none", "--checkpoint", "none", "--threads", "1"]);
        if (timeoutSeconds is { } t)
        {
            info.Environment["DSLRESNET_COLLECTIVE_TIMEOUT"] = t.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        Process job = Process.Start(info)!;
        Task<string> stdout = job.StandardOutput.ReadToEndAsync();
        Task<string> stderr = job.StandardError.ReadToEndAsync();
        int? victim = null;
        for (int i = 0; i < 600 && victim is null; i++)
        {
            await Task.Delay(100);
            victim = RankPid(job.Id, rank: 1);
        }

        Assert.True(victim is not null, "rank 1 never started");
        await Task.Delay(TimeSpan.FromSeconds(3));
        return (job, stdout, stderr, victim.Value);
    }

    internal static string? Mpirun() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists);

    private string[] Common(string checkpoint) =>
        ["--data", Path.Combine(_dir, "data"), "--max-steps", "3", "--epochs", "1", "--lr", "0.001", "--eval-limit", "0", "--plot", "none",
         "--threads", "1", "--seed", "3", "--checkpoint", checkpoint];

    private static (double Worst, string Name) Worst(Checkpoint a, Checkpoint b)
    {
        var pairs = a.Model.Select(p => (p.Key, p.Value, b.Model[p.Key]))
            .Concat(a.OptimizerBuffers.Select(p => (p.Key, p.Value, b.OptimizerBuffers[p.Key])));
        double worst = 0;
        string name = "";
        foreach ((string key, TensorData x, TensorData y) in pairs)
        {
            if (x.Floats is not { Length: > 0 } fx)
            {
                continue;
            }

            float[] fy = y.Floats!;
            double norm = Math.Sqrt(fx.Sum(v => (double)v * v));
            double diff = Math.Sqrt(fx.Zip(fy).Sum(p => ((double)p.First - p.Second) * (p.First - p.Second)));
            double rel = norm > 0 ? diff / norm : diff;
            if (rel > worst)
            {
                (worst, name) = (rel, key);
            }
        }

        return (worst, name);
    }

    private sealed record Result(int ExitCode, string Out, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- out ---\n{Out}\n--- err ---\n{Error}";
    }

    private Result Mpi(int ranks, string[] args)
    {
        using Process p = Process.Start(MpiStart(ranks, args))!;
        Task<string> o = p.StandardOutput.ReadToEndAsync();
        Task<string> e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(Limit))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"mpirun -np {ranks} did not end within {Limit.TotalSeconds} s. Standard error: {e.Result}");
        }

        return new Result(p.ExitCode, o.Result, e.Result);
    }

    private ProcessStartInfo MpiStart(int ranks, string[] args)
    {
        string? dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        ProcessStartInfo info = new(Mpirun()!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = _dir,
        };
        // As root (CI), Open MPI wants its consent; more ranks than cores is fine for a test.
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        foreach (string a in (string[])["--oversubscribe", "-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     string.IsNullOrEmpty(dotnet) ? "dotnet" : dotnet, Path.Combine(AppContext.BaseDirectory, "FashionMnist.dll"), "--distributed", .. args])
        {
            info.ArgumentList.Add(a);
        }

        return info;
    }

    // The pid of the main job's rank (OMPI_COMM_WORLD_RANK in its environment) among mpirun's children.
    private static int? RankPid(int mpirun, int rank)
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }

            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                int parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
                if (parent != mpirun)
                {
                    continue;
                }

                string env = File.ReadAllText(Path.Combine(dir, "environ"));
                if (env.Split('\0').Contains($"OMPI_COMM_WORLD_RANK={rank}"))
                {
                    return pid;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
            }
        }

        return null;
    }

    private static byte[] Header(params int[] values) =>
        values.SelectMany(v => new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v }).ToArray();
}
