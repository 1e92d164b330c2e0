using System;
using System.Collections.Generic;
using System.Globalization;
using DslResNet.Data;
using DslResNet.Runtime;

namespace FashionMnistSample;

/// <summary>A command-line mistake: the message names the option; the program prints it and exits with code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The sample's settings, parsed from the command line.</summary>
internal sealed record CommandLine
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

    /// <summary>The checkpoint file, or null when checkpoints are off (--checkpoint none).</summary>
    public string? CheckpointPath => Checkpoint is null ? $"fashion-{Model}.safetensors" : IsNone(Checkpoint) ? null : Checkpoint;

    /// <summary>The plot file, or null when plotting is off (--plot none).</summary>
    public string? PlotPath => Plot is null ? $"fashion-{Model}.png" : IsNone(Plot) ? null : Plot;

    public const string Usage = """
        Trains a CIFAR-style ResNet (He et al. 2015) or its plain twin on Fashion-MNIST.

        usage: dotnet run -c Release --project samples/FashionMnist -- [options]

          --model NAME           resnet20 (default), resnet32, resnet44, resnet56, resnet110,
                                 plain20, plain32, plain44, plain56, plain110
          --epochs N             epochs to train (default 1); with --resume, the total to reach
          --batch N              images per step (default 128)
          --optimizer sgd|adamw  (default sgd)
          --lr X                 base learning rate (default 0.1; try 0.001 with adamw)
          --momentum X           SGD momentum (default 0.9)
          --weight-decay X       L2 penalty for SGD, decoupled decay for AdamW (default 1e-4)
          --nesterov             Nesterov momentum (SGD)
          --schedule NAME        multistep (default: x0.1 at 50% and 75% of the epochs, the paper's
                                 32k/48k-of-64k iterations scaled), cosine (per step, to 0), constant
          --warmup-epochs X      linear warm-up from 10% of the rate over X epochs (default 0)
          --augment              pad 4, random 28x28 crop, random horizontal flip (default off: the
                                 paper's CIFAR augmentation; on Fashion-MNIST it pays off only in long runs)
          --device KIND          auto (default; CUDA, then OpenCL, then CPU), cuda, opencl, cpu (the SIMD
                                 backend), ilgpu-cpu (ILGPU's CPU accelerator: the reference kernels, slow)
          --threads N            CPU threads (default: DSLRESNET_THREADS, else one per processor)
          --seed N               seeds initialisation, data order and augmentation (default 0)
          --data DIR             the four IDX files (default /usr/share/datasets/fashion-mnist)
          --checkpoint PATH      written after every epoch (default fashion-<model>.safetensors; 'none': off)
          --resume               continue from the checkpoint (same batch size and --max-steps)
          --max-steps N          at most N training steps per epoch (short runs on slow devices)
          --benchmark N          time N training steps and N inference batches (after one warm-up
                                 of each, which compiles the kernels) and report images/s; no training run
          --profile              with --benchmark: time per CPU operation (slows the run a little)
          --eval-limit N         evaluate on the first N test images only (0: skip evaluation)
          --plot PATH            loss and accuracy curves as PNG (default fashion-<model>.png; 'none': off)
          -h, --help             this text

        Exit codes: 0 done, 2 bad option / missing or unfit dataset / unusable checkpoint or device, or a
        checkpoint save that failed (training stops; the previous checkpoint is kept), 3 training diverged (a
        non-finite loss, gradient, update or test loss; the last checkpoint this run saved is kept, and no checkpoint
        ever holds NaN or Inf), 130 stopped with Ctrl+C (the last completed epoch's checkpoint is kept).
        """;

    /// <summary>Parses the arguments.</summary>
    /// <exception cref="UsageException">An unknown option, a missing value or a bad value; the message names the option.</exception>
    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        CommandLine result = new();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string name = arg;
            string? inline = null;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                name = arg[..equals];
                inline = arg[(equals + 1)..];
            }

            string Value()
            {
                if (inline is not null)
                {
                    return inline;
                }

                if (i + 1 >= args.Count || (args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2))
                {
                    throw new UsageException($"{name}: a value is required.");
                }

                return args[++i];
            }

            void NoValue()
            {
                if (inline is not null)
                {
                    throw new UsageException($"{name}: takes no value (got '{inline}').");
                }
            }

            result = name switch
            {
                "--model" => result with { Model = ModelName(Value()) },
                "--epochs" => result with { Epochs = Int(name, Value(), min: 1) },
                "--batch" => result with { Batch = Int(name, Value(), min: 1) },
                "--lr" => result with { LearningRate = Number(name, Value(), positive: true) },
                "--momentum" => result with { Momentum = Number(name, Value(), positive: false) },
                "--weight-decay" => result with { WeightDecay = Number(name, Value(), positive: false) },
                "--nesterov" => Flag(NoValue, result with { Nesterov = true }),
                "--optimizer" => result with { Optimizer = Choice(name, Value(), "sgd", "adamw") },
                "--schedule" => result with { Schedule = Choice(name, Value(), "multistep", "cosine", "constant") },
                "--warmup-epochs" => result with { WarmupEpochs = Number(name, Value(), positive: false) },
                "--augment" => Flag(NoValue, result with { Augment = true }),
                "--device" => result with { Device = DeviceKindOf(name, Value()) },
                "--seed" => result with { Seed = Int(name, Value(), min: int.MinValue) },
                "--data" => result with { Data = Text(name, Value()) },
                "--checkpoint" => result with { Checkpoint = Text(name, Value()) },
                "--resume" => Flag(NoValue, result with { Resume = true }),
                "--max-steps" => result with { MaxSteps = Int(name, Value(), min: 1) },
                "--eval-limit" => result with { EvalLimit = Int(name, Value(), min: 0) },
                "--benchmark" => result with { Benchmark = Int(name, Value(), min: 1) },
                "--threads" => result with { Threads = ThreadCount(name, Value()) },
                "--profile" => result with { Profile = true },
                "--plot" => result with { Plot = Text(name, Value()) },
                "--help" or "-h" or "-?" => Flag(NoValue, result with { Help = true }),
                _ => throw new UsageException(arg.StartsWith('-') ? $"{name}: unknown option (see --help)." : $"'{arg}': unexpected argument (options start with --; see --help)."),
            };
        }

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

        return result;
    }

    private static CommandLine Flag(Action check, CommandLine value)
    {
        check();
        return value;
    }

    private static bool IsNone(string text) => string.Equals(text, "none", StringComparison.OrdinalIgnoreCase);

    private static string ModelName(string text) =>
        Models.Find(text)?.Name ?? throw new UsageException($"--model: unknown model '{text}'; expected one of {Models.Names}.");

    private static int Int(string name, string text, int min)
    {
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
        {
            throw new UsageException($"{name}: '{text}' is not a whole number.");
        }

        if (value < min)
        {
            throw new UsageException($"{name}: {value} is too small; it must be at least {min}.");
        }

        return value;
    }

    // More threads than processors is refused: the SIMD backend's threads spin while they wait for each other, so on fewer
    // cores every step becomes many times slower (16 threads on 2 cores: about 100 times).
    private static int ThreadCount(string name, string text)
    {
        int threads = Int(name, text, min: 1);
        if (threads > Environment.ProcessorCount)
        {
            throw new UsageException($"{name}: {threads} is more than the {Environment.ProcessorCount} processors of this machine; use 1 to {Environment.ProcessorCount}.");
        }

        return threads;
    }

    private static double Number(string name, string text, bool positive)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            throw new UsageException($"{name}: '{text}' is not a finite number.");
        }

        if (positive ? value <= 0 : value < 0)
        {
            throw new UsageException($"{name}: {text} must be {(positive ? "above 0" : "at least 0")}.");
        }

        return value;
    }

    private static string Choice(string name, string text, params string[] choices)
    {
        string lower = text.Trim().ToLowerInvariant();
        return Array.IndexOf(choices, lower) >= 0 ? lower : throw new UsageException($"{name}: unknown value '{text}'; expected {string.Join(", ", choices)}.");
    }

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
