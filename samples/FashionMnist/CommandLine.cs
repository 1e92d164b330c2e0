using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using DslResNet.Data;
using DslResNet.Runtime;

namespace FashionMnistSample;

/// <summary>A command-line mistake: the message names the option; the program prints it and exits with code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The sample's settings, parsed from the command line by System.CommandLine (see <see cref="Parse"/>).</summary>
internal sealed partial record CommandLine
{
    public string Model { get; init; } = "resnet20";
    public int Epochs { get; init; } = 1;
    public int Batch { get; init; } = 128;
    public double LearningRate { get; init; } = 0.1;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; } = 1e-4;
    public bool Nesterov { get; init; }
    public string Optimizer { get; init; } = "sgd";
    public string Schedule { get; init; } = "multistep";
    public double WarmupEpochs { get; init; }
    public bool Augment { get; init; }
    public DeviceKind Device { get; init; } = DeviceKind.Auto;
    public int Seed { get; init; }
    public string Data { get; init; } = FashionMnist.DefaultDirectory;
    public string? Checkpoint { get; init; }
    public bool Resume { get; init; }
    public int? MaxSteps { get; init; }
    public int? EvalLimit { get; init; }

    /// <summary>With a value: time this many training steps and inference batches instead of training (--benchmark).</summary>
    public int? Benchmark { get; init; }

    /// <summary>SIMD backend threads (0: DSLRESNET_THREADS, else one per processor).</summary>
    public int Threads { get; init; }

    /// <summary>With --benchmark: print where the CPU backend's time goes, operation by operation.</summary>
    public bool Profile { get; init; }
    public string? Plot { get; init; }
    public bool Help { get; init; }

    /// <summary>Data-parallel over MPI (--distributed, or started by mpirun).</summary>
    public bool Distributed { get; init; }

    /// <summary>With distributed training: synchronised batch norm (--sync-bn).</summary>
    public bool SyncBatchNorm { get; init; }

    /// <summary>The checkpoint file, or null when checkpoints are off (--checkpoint none).</summary>
    public string? CheckpointPath => Checkpoint is null ? $"fashion-{Model}.safetensors" : IsNone(Checkpoint) ? null : Checkpoint;

    /// <summary>The plot file, or null when plotting is off (--plot none).</summary>
    public string? PlotPath => Plot is null ? $"fashion-{Model}.png" : IsNone(Plot) ? null : Plot;

    /// <summary>The --help text: System.CommandLine's listing of <see cref="Syntax"/>, then the exit codes.</summary>
    public static string Usage
    {
        get
        {
            using StringWriter text = new(CultureInfo.InvariantCulture);
            Syntax.Root.Parse(["--help"], Syntax.Configuration).Invoke(new InvocationConfiguration { Output = text });
            return text.ToString().TrimEnd() + Environment.NewLine + Environment.NewLine + ExitCodes;
        }
    }

    private const string ExitCodes = """
        Exit codes: 0 done, 2 bad option / missing or unfit dataset / unusable checkpoint or device, or a
        checkpoint save that failed (training stops; the previous checkpoint is kept), 3 training diverged (a
        non-finite loss, gradient, update or test loss; the last checkpoint this run saved is kept, and no checkpoint
        ever holds NaN or Inf), 130 stopped with Ctrl+C (the last completed epoch's checkpoint is kept).
        """;

    /// <summary>Parses the arguments. With --help (-h, -?) anywhere, only <see cref="Help"/> is set and nothing else is checked.</summary>
    /// <exception cref="UsageException">An unknown option, a missing value or a bad value; the message names the option.</exception>
    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        ParseResult parse = Syntax.Root.Parse(args, Syntax.Configuration);
        if (parse.GetResult(Syntax.HelpFlag) is not null)
        {
            return new CommandLine { Help = true };
        }

        if (Syntax.FirstError(parse) is { } error)
        {
            throw new UsageException(error);
        }

        CommandLine result = Syntax.Read(parse);
        if (result.Nesterov && result.Optimizer != "sgd")
        {
            throw new UsageException("--nesterov: applies to --optimizer sgd only.");
        }

        if (result.Nesterov && result.Momentum <= 0)
        {
            throw new UsageException("--nesterov: needs --momentum above 0.");
        }

        if (result.Resume && result.CheckpointPath is null)
        {
            throw new UsageException("--resume: needs a checkpoint (--checkpoint is 'none').");
        }

        if (result.Profile && result.Benchmark is null)
        {
            throw new UsageException("--profile: applies to --benchmark N only.");
        }

        if (result.SyncBatchNorm && !result.Distributed && !DslResNet.Distributed.DistributedTraining.LaunchedByMpirun)
        {
            throw new UsageException("--sync-bn: applies to distributed training only (--distributed, under mpirun).");
        }

        if (result.Benchmark is not null && (result.Distributed || DslResNet.Distributed.DistributedTraining.LaunchedByMpirun))
        {
            throw new UsageException("--benchmark: times one process; run it without --distributed and mpirun.");
        }

        return result;
    }

    private static bool IsNone(string text) => string.Equals(text, "none", StringComparison.OrdinalIgnoreCase);

    // Value checks: each takes the option's name and its text and returns the value, or throws a UsageException whose
    // message names the option. They run inside System.CommandLine's parse (see Syntax.Value), which turns the
    // exception into a parse error.
    private static string ModelName(string name, string text) =>
        Models.Find(text)?.Name ?? throw new UsageException($"{name}: unknown model '{text}'; expected one of {Models.Names}.");

    private static Func<string, string, int> Int(int min) => (name, text) =>
    {
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
        {
            throw new UsageException($"{name}: '{text}' is not a whole number.");
        }

        return value >= min ? value : throw new UsageException($"{name}: {value} is too small; it must be at least {min}.");
    };

    // More threads than processors is refused: the SIMD backend's threads spin while they wait for each other, so on fewer
    // cores every step becomes many times slower (16 threads on 2 cores: about 100 times).
    private static int ThreadCount(string name, string text)
    {
        int threads = Int(min: 1)(name, text);
        if (threads > Environment.ProcessorCount)
        {
            throw new UsageException($"{name}: {threads} is more than the {Environment.ProcessorCount} processors of this machine; use 1 to {Environment.ProcessorCount}.");
        }

        return threads;
    }

    private static Func<string, string, double> Number(bool positive) => (name, text) =>
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            throw new UsageException($"{name}: '{text}' is not a finite number.");
        }

        return (positive ? value > 0 : value >= 0) ? value : throw new UsageException($"{name}: {text} must be {(positive ? "above 0" : "at least 0")}.");
    };

    private static Func<string, string, string> Choice(params string[] choices) => (name, text) =>
    {
        string lower = text.Trim().ToLowerInvariant();
        return Array.IndexOf(choices, lower) >= 0 ? lower : throw new UsageException($"{name}: unknown value '{text}'; expected {string.Join(", ", choices)}.");
    };

    private static DeviceKind DeviceKindOf(string name, string text)
    {
        try
        {
            return DslResNet.Runtime.Device.Parse(text, name);
        }
        catch (ArgumentException e)
        {
            // Device.Parse appends " (Parameter '--device')"; keep its first sentence-level message only.
            throw new UsageException(e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal));
        }
    }

    private static string Text(string name, string text) =>
        string.IsNullOrWhiteSpace(text) ? throw new UsageException($"{name}: the value is empty.") : text;
}
