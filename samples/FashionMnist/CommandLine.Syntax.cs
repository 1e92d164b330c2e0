using System;
using System.Linq;
using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using DslResNet.Runtime;

namespace FashionMnistSample;

internal sealed partial record CommandLine
{
    /// <summary>
    /// The options as System.CommandLine symbols. Every value is checked as it is parsed, by the same functions as before
    /// (an error names the option); the record's initialisers stay the defaults, shown in --help where they are plain.
    /// </summary>
    internal static class Syntax
    {
        private static readonly CommandLine Defaults = new();

        public static readonly Option<string> ModelOption = Value("--model", "NAME", $"the network: {Models.Names}", ModelName, () => Defaults.Model);
        public static readonly Option<int> EpochsOption = Value("--epochs", "N", "epochs to train; with --resume, the total to reach", Int(min: 1), () => Defaults.Epochs);
        public static readonly Option<int> BatchOption = Value("--batch", "N", "images per step", Int(min: 1), () => Defaults.Batch);
        public static readonly Option<string> OptimizerOption = Value("--optimizer", "sgd|adamw", "the optimizer", Choice("sgd", "adamw"), () => Defaults.Optimizer);
        public static readonly Option<double> LearningRateOption = Value("--lr", "X", "base learning rate (try 0.001 with adamw)", Number(positive: true), () => Defaults.LearningRate);
        public static readonly Option<double> MomentumOption = Value("--momentum", "X", "SGD momentum", Number(positive: false), () => Defaults.Momentum);
        public static readonly Option<double> WeightDecayOption = Value("--weight-decay", "X", "L2 penalty for SGD, decoupled decay for AdamW", Number(positive: false), () => Defaults.WeightDecay);
        public static readonly Option<bool> NesterovOption = Flag("--nesterov", "Nesterov momentum (SGD)");
        public static readonly Option<string> ScheduleOption = Value("--schedule", "NAME",
            "multistep (x0.1 at 50% and 75% of the epochs, the paper's 32k/48k-of-64k iterations scaled), cosine (per step, to 0), constant",
            Choice("multistep", "cosine", "constant"), () => Defaults.Schedule);
        public static readonly Option<double> WarmupEpochsOption = Value("--warmup-epochs", "X", "linear warm-up from 10% of the rate over X epochs", Number(positive: false), () => Defaults.WarmupEpochs);
        public static readonly Option<bool> AugmentOption = Flag("--augment",
            "pad 4, random 28x28 crop, random horizontal flip (default off: the paper's CIFAR augmentation; on Fashion-MNIST it pays off only in long runs)");
        public static readonly Option<DeviceKind> DeviceOption = Value("--device", "KIND",
            "auto (default; CUDA, then OpenCL, then CPU), cuda, opencl, cpu (the SIMD backend), ilgpu-cpu (ILGPU's CPU accelerator: the reference kernels, slow)",
            DeviceKindOf);
        public static readonly Option<int> ThreadsOption = Value("--threads", "N", "CPU threads (default: DSLRESNET_THREADS, else one per processor)", ThreadCount);
        public static readonly Option<int> SeedOption = Value("--seed", "N", "seeds initialisation, data order and augmentation", Int(min: int.MinValue), () => Defaults.Seed);
        public static readonly Option<string> DataOption = Value("--data", "DIR", "the four IDX files", Text, () => Defaults.Data);
        public static readonly Option<string?> CheckpointOption = Value<string?>("--checkpoint", "PATH",
            "written after every epoch (default fashion-<model>.safetensors; 'none': off)", Text);
        public static readonly Option<bool> ResumeOption = Flag("--resume", "continue from the checkpoint (same batch size and --max-steps)");
        public static readonly Option<int?> MaxStepsOption = Value<int?>("--max-steps", "N", "at most N training steps per epoch (short runs on slow devices)", (n, t) => Int(min: 1)(n, t));
        public static readonly Option<int?> BenchmarkOption = Value<int?>("--benchmark", "N",
            "time N training steps and N inference batches (after one warm-up of each, which compiles the kernels) and report images/s; no training run",
            (n, t) => Int(min: 1)(n, t));
        public static readonly Option<bool> ProfileOption = Flag("--profile", "with --benchmark: time per CPU operation (slows the run a little)");
        public static readonly Option<int?> EvalLimitOption = Value<int?>("--eval-limit", "N", "evaluate on the first N test images only (0: skip evaluation)", (n, t) => Int(min: 0)(n, t));
        public static readonly Option<bool> DistributedOption = Flag("--distributed",
            "data-parallel training over MPI (Open MPI): run under mpirun -np N; automatic when started by mpirun; --batch is per process");
        public static readonly Option<bool> SyncBatchNormOption = Flag("--sync-bn",
            "with --distributed: batch norm over all processes' images (as SyncBatchNorm); default: each process's own");
        public static readonly Option<string?> PlotOption = Value<string?>("--plot", "PATH", "loss and accuracy curves as PNG (default fashion-<model>.png; 'none': off)", Text);
        public static readonly HelpOption HelpFlag = new("--help", "-h", "-?") { Description = "this text", Action = new HelpAction { MaxWidth = 110 } };

        /// <summary>The command: no subcommands, no arguments, no directives (a plain <see cref="Command"/>, not a RootCommand).</summary>
        public static readonly Command Root = new("fashion-mnist",
            "Trains a CIFAR-style ResNet (He et al. 2015) or its plain twin on Fashion-MNIST.\n" +
            "Run it with: dotnet run -c Release --project samples/FashionMnist -- [options]")
        {
            ModelOption, EpochsOption, BatchOption, OptimizerOption, LearningRateOption, MomentumOption, WeightDecayOption, NesterovOption,
            ScheduleOption, WarmupEpochsOption, AugmentOption, DeviceOption, ThreadsOption, SeedOption, DataOption, CheckpointOption,
            ResumeOption, MaxStepsOption, BenchmarkOption, ProfileOption, EvalLimitOption, DistributedOption, SyncBatchNormOption, PlotOption, HelpFlag,
        };

        private static readonly Option<bool>[] Switches = [NesterovOption, AugmentOption, ResumeOption, ProfileOption, DistributedOption, SyncBatchNormOption];

        /// <summary>No POSIX bundling (-abc) and no @response files: a value such as '--data @x' is taken as written.</summary>
        public static readonly ParserConfiguration Configuration = new() { EnablePosixBundling = false, ResponseFileTokenReplacer = null };

        /// <summary>The record from a parse without errors; an option not given keeps the record's default.</summary>
        public static CommandLine Read(ParseResult parse) => new()
        {
            Model = parse.GetValue(ModelOption)!,
            Epochs = parse.GetValue(EpochsOption),
            Batch = parse.GetValue(BatchOption),
            Optimizer = parse.GetValue(OptimizerOption)!,
            LearningRate = parse.GetValue(LearningRateOption),
            Momentum = parse.GetValue(MomentumOption),
            WeightDecay = parse.GetValue(WeightDecayOption),
            Nesterov = parse.GetValue(NesterovOption),
            Schedule = parse.GetValue(ScheduleOption)!,
            WarmupEpochs = parse.GetValue(WarmupEpochsOption),
            Augment = parse.GetValue(AugmentOption),
            Device = parse.GetResult(DeviceOption) is null ? Defaults.Device : parse.GetValue(DeviceOption),
            Threads = parse.GetResult(ThreadsOption) is null ? Defaults.Threads : parse.GetValue(ThreadsOption),
            Seed = parse.GetValue(SeedOption),
            Data = parse.GetValue(DataOption)!,
            Checkpoint = parse.GetValue(CheckpointOption),
            Resume = parse.GetValue(ResumeOption),
            MaxSteps = parse.GetValue(MaxStepsOption),
            Benchmark = parse.GetValue(BenchmarkOption),
            Profile = parse.GetValue(ProfileOption),
            EvalLimit = parse.GetValue(EvalLimitOption),
            Plot = parse.GetValue(PlotOption),
            Distributed = parse.GetValue(DistributedOption),
            SyncBatchNorm = parse.GetValue(SyncBatchNormOption),
        };

        /// <summary>One line for the first error, or null when there is none: an option's own error first (a missing
        /// value leaves the next word unmatched, and the option is what was got wrong), then an unknown option or stray word.</summary>
        public static string? FirstError(ParseResult parse)
        {
            foreach (ParseError error in parse.Errors)
            {
                if (error.SymbolResult is OptionResult option)
                {
                    string name = option.Option.Name;
                    return option.Tokens.Count == 0 ? $"{name}: a value is required."
                        : error.Message.StartsWith(name + ":", StringComparison.Ordinal) ? error.Message
                        : $"{name}: {error.Message}";
                }
            }

            if (parse.Tokens.Any(t => t.Type == TokenType.DoubleDash))
            {
                // System.CommandLine takes '--' as the end of the options; this command has no arguments to follow it.
                return "--: unknown option (see --help).";
            }

            if (parse.UnmatchedTokens.Count > 0)
            {
                string word = parse.UnmatchedTokens[0];

                // '--augment=yes' and '--augment yes': System.CommandLine leaves the word unmatched after the switch.
                for (int i = 1; i < parse.Tokens.Count; i++)
                {
                    if (parse.Tokens[i].Value == word && parse.Tokens[i].Type == TokenType.Argument && parse.Tokens[i - 1].Type == TokenType.Option
                        && Array.Exists(Switches, s => s.Name == parse.Tokens[i - 1].Value))
                    {
                        return $"{parse.Tokens[i - 1].Value}: takes no value (got '{word}').";
                    }
                }

                return word.StartsWith('-')
                    ? $"{word}: unknown option (see --help)."
                    : $"'{word}': unexpected argument (options start with --; see --help).";
            }

            return parse.Errors.Count > 0 ? parse.Errors[0].Message : null;
        }

        // An option with a value. One or more occurrences: a repeated option is no error and the last one counts, as
        // before System.CommandLine; each occurrence's value is checked. A value that looks like an option (--x) means
        // the value was left out, as in '--epochs --batch 8'.
        private static Option<T> Value<T>(string name, string helpName, string description, Func<string, string, T> parse, Func<T>? defaultValue = null)
        {
            Option<T> option = new(name)
            {
                HelpName = helpName,
                Description = description,
                Arity = ArgumentArity.OneOrMore,
                CustomParser = result =>
                {
                    T value = default!;
                    foreach (Token token in result.Tokens)
                    {
                        if (token.Value.StartsWith("--", StringComparison.Ordinal) && token.Value.Length > 2)
                        {
                            result.AddError($"{name}: a value is required.");
                            return default!;
                        }

                        try
                        {
                            value = parse(name, token.Value);
                        }
                        catch (UsageException e)
                        {
                            result.AddError(e.Message);
                            return default!;
                        }
                    }

                    return value;
                },
            };
            if (defaultValue is not null)
            {
                option.DefaultValueFactory = _ => defaultValue();
            }

            return option;
        }

        // A switch: no value ('--augment=yes' is an error naming the option).
        private static Option<bool> Flag(string name, string description) => new(name)
        {
            Description = description,
            Arity = ArgumentArity.ZeroOrOne,
            CustomParser = result =>
            {
                if (result.Tokens.Count > 0)
                {
                    result.AddError($"{name}: takes no value (got '{result.Tokens[0].Value}').");
                }

                return true;
            },
        };
    }
}
