using System;
using System.IO;
using System.Linq;
using DslResNet.Runtime;
using FashionMnistSample;
using Xunit;

namespace FashionMnist.Tests;

/// <summary>
/// The main job's command line: every option read into <see cref="CommandLine"/> with its default, and every bad value
/// refused. The expected defaults, names and values are written out here, not read from the parser. The refusals also
/// run the sample as a process: exit 2, one line on standard error naming the option, nothing else.
/// </summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fashion-mnist-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Every option of the main job, as the help before System.CommandLine listed them, each at the start of a
    /// line of the listing (with its value's name).</summary>
    private static readonly string[] AllOptions =
    [
        "--model <NAME>", "--epochs <N>", "--batch <N>", "--optimizer <sgd|adamw>", "--lr <X>", "--momentum <X>", "--weight-decay <X>",
        "--nesterov ", "--schedule <NAME>", "--warmup-epochs <X>", "--augment ", "--device <KIND>", "--threads <N>", "--seed <N>",
        "--data <DIR>", "--checkpoint <PATH>", "--resume ", "--max-steps <N>", "--benchmark <N>", "--profile ", "--eval-limit <N>",
        "--plot <PATH>", "-?, -h, --help ",
    ];

    [Fact]
    public void No_arguments_give_every_default()
    {
        CommandLine c = CommandLine.Parse([]);
        Assert.Equal("resnet20", c.Model);
        Assert.Equal(1, c.Epochs);
        Assert.Equal(128, c.Batch);
        Assert.Equal(0.1, c.LearningRate);
        Assert.Equal(0.9, c.Momentum);
        Assert.Equal(1e-4, c.WeightDecay);
        Assert.False(c.Nesterov);
        Assert.Equal("sgd", c.Optimizer);
        Assert.Equal("multistep", c.Schedule);
        Assert.Equal(0, c.WarmupEpochs);
        Assert.False(c.Augment);
        Assert.Equal(DeviceKind.Auto, c.Device);
        Assert.Equal(0, c.Threads);
        Assert.Equal(0, c.Seed);
        Assert.Equal("/usr/share/datasets/fashion-mnist", c.Data);
        Assert.Null(c.Checkpoint);
        Assert.Equal("fashion-resnet20.safetensors", c.CheckpointPath);
        Assert.False(c.Resume);
        Assert.Null(c.MaxSteps);
        Assert.Null(c.Benchmark);
        Assert.False(c.Profile);
        Assert.Null(c.EvalLimit);
        Assert.Null(c.Plot);
        Assert.Equal("fashion-resnet20.png", c.PlotPath);
        Assert.False(c.Help);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_option_is_read_into_the_record(bool inline)
    {
        string[][] pairs =
        [
            ["--model", "PLAIN56"], ["--epochs", "7"], ["--batch", "32"], ["--optimizer", "SGD"], ["--lr", "0.05"], ["--momentum", "0.8"],
            ["--weight-decay", "5e-4"], ["--schedule", "Cosine"], ["--warmup-epochs", "1.5"], ["--device", "cpu"], ["--threads", "1"],
            ["--seed", "-42"], ["--data", "/tmp/some data"], ["--checkpoint", "/tmp/x.safetensors"], ["--max-steps", "3"],
            ["--benchmark", "4"], ["--eval-limit", "0"], ["--plot", "curves.png"],
        ];
        string[] args = [.. pairs.SelectMany(p => inline ? [$"{p[0]}={p[1]}"] : p), "--nesterov", "--augment", "--resume", "--profile"];
        CommandLine c = CommandLine.Parse(args);
        CommandLine expected = new()
        {
            Model = "plain56", Epochs = 7, Batch = 32, Optimizer = "sgd", LearningRate = 0.05, Momentum = 0.8, WeightDecay = 5e-4,
            Nesterov = true, Schedule = "cosine", WarmupEpochs = 1.5, Augment = true, Device = DeviceKind.Cpu, Threads = 1, Seed = -42,
            Data = "/tmp/some data", Checkpoint = "/tmp/x.safetensors", Resume = true, MaxSteps = 3, Benchmark = 4, Profile = true,
            EvalLimit = 0, Plot = "curves.png",
        };
        Assert.Equal(expected, c);
        Assert.Equal("/tmp/x.safetensors", c.CheckpointPath);
        Assert.Equal("curves.png", c.PlotPath);
    }

    [Fact]
    public void The_defaults_of_checkpoint_and_plot_follow_the_model()
    {
        CommandLine c = CommandLine.Parse(["--model", "resnet110"]);
        Assert.Equal("fashion-resnet110.safetensors", c.CheckpointPath);
        Assert.Equal("fashion-resnet110.png", c.PlotPath);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("NONE")]
    public void None_turns_checkpoint_and_plot_off(string none)
    {
        CommandLine c = CommandLine.Parse(["--checkpoint", none, "--plot", none]);
        Assert.Null(c.CheckpointPath);
        Assert.Null(c.PlotPath);
    }

    [Fact]
    public void Adamw_and_the_other_schedules_and_devices_are_read()
    {
        Assert.Equal("adamw", CommandLine.Parse(["--optimizer", "AdamW"]).Optimizer);
        Assert.Equal("constant", CommandLine.Parse(["--schedule", "constant"]).Schedule);
        Assert.Equal(DeviceKind.IlgpuCpu, CommandLine.Parse(["--device", "ilgpu-cpu"]).Device);
        Assert.Equal(DeviceKind.Cuda, CommandLine.Parse(["--device", "cuda"]).Device);
        Assert.Equal(DeviceKind.OpenCL, CommandLine.Parse(["--device", "opencl"]).Device);
    }

    [Fact]
    public void A_repeated_option_takes_its_last_value()
    {
        Assert.Equal(5, CommandLine.Parse(["--epochs", "3", "--epochs", "5"]).Epochs);
        Assert.Equal("b", CommandLine.Parse(["--data", "a", "--data=b"]).Data);
    }

    [Fact]
    public void A_value_that_starts_with_one_dash_or_an_at_sign_is_taken_as_written()
    {
        Assert.Equal(-7, CommandLine.Parse(["--seed", "-7"]).Seed);
        Assert.Equal("@list", CommandLine.Parse(["--data", "@list"]).Data);
    }

    // Each bad command line (words separated by '|'), and what its one line must mention.
    [Theory]
    [InlineData("--foo", "--foo", "unknown option")]
    [InlineData("--Epochs|3", "--Epochs", "unknown option")]
    [InlineData("stray", "'stray'", "unexpected argument")]
    [InlineData("--", "--:", "unknown option")]
    [InlineData("--epochs", "--epochs", "a value is required")]
    [InlineData("--epochs|--batch|8", "--epochs", "a value is required")]
    [InlineData("--data|--resume", "--data", "a value is required")]
    [InlineData("--epochs=", "--epochs", "a value is required")]
    [InlineData("--epochs|0", "--epochs", "at least 1")]
    [InlineData("--epochs|x", "--epochs", "'x' is not a whole number")]
    [InlineData("--epochs|x|--epochs|3", "--epochs", "'x'")]
    [InlineData("--batch|-3", "--batch", "at least 1")]
    [InlineData("--seed|1.5", "--seed", "'1.5' is not a whole number")]
    [InlineData("--max-steps|0", "--max-steps", "at least 1")]
    [InlineData("--benchmark|0", "--benchmark", "at least 1")]
    [InlineData("--eval-limit|-1", "--eval-limit", "at least 0")]
    [InlineData("--threads|0", "--threads", "at least 1")]
    [InlineData("--threads|999", "--threads", "999 is more than the")]
    [InlineData("--threads|two", "--threads", "'two'")]
    [InlineData("--lr|0", "--lr", "above 0")]
    [InlineData("--lr|-1", "--lr", "above 0")]
    [InlineData("--lr|inf", "--lr", "not a finite number")]
    [InlineData("--lr|NaN", "--lr", "not a finite number")]
    [InlineData("--momentum|-0.1", "--momentum", "at least 0")]
    [InlineData("--weight-decay|-1", "--weight-decay", "at least 0")]
    [InlineData("--warmup-epochs|-1", "--warmup-epochs", "at least 0")]
    [InlineData("--model|resnet18", "--model", "resnet18")]
    [InlineData("--optimizer|adam", "--optimizer", "'adam'")]
    [InlineData("--schedule|linear", "--schedule", "'linear'")]
    [InlineData("--device|tpu", "--device", "'tpu'")]
    [InlineData("--data|", "--data", "empty")]
    [InlineData("--checkpoint| ", "--checkpoint", "empty")]
    [InlineData("--plot|", "--plot", "empty")]
    [InlineData("--nesterov=yes", "--nesterov", "takes no value")]
    [InlineData("--augment|yes", "--augment", "takes no value")]
    [InlineData("--resume=1", "--resume", "takes no value")]
    [InlineData("--benchmark|2|--profile|true", "--profile", "takes no value")]
    [InlineData("--profile", "--profile", "--benchmark")]
    [InlineData("--nesterov|--optimizer|adamw", "--nesterov", "sgd")]
    [InlineData("--nesterov|--momentum|0", "--nesterov", "--momentum")]
    [InlineData("--resume|--checkpoint|none", "--resume", "none")]
    public void A_bad_command_line_is_one_line_naming_the_option_and_exit_2(string words, string option, string detail)
    {
        string[] args = words.Split('|');
        UsageException e = Assert.Throws<UsageException>(() => CommandLine.Parse(args));
        Assert.StartsWith(option, e.Message, StringComparison.Ordinal);
        Assert.Contains(detail, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);

        SampleResult r = SampleProcess.Run(_dir, args);
        r.AssertOneLineError(option, detail);
        Assert.Equal("", r.Out);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("-?")]
    [InlineData("--epochs|x|--help")]
    public void Help_lists_every_option_and_exits_0(string words)
    {
        string[] args = words.Split('|');
        Assert.True(CommandLine.Parse(args).Help);

        SampleResult r = SampleProcess.Run(_dir, args);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Error);
        string[] lines = r.Out.Split('\n');
        foreach (string option in AllOptions)
        {
            Assert.True(lines.Any(l => l.TrimStart().StartsWith(option, StringComparison.Ordinal)), $"'{option}' is not listed. {r}");
        }

        Assert.Contains("Fashion-MNIST", r.Out, StringComparison.Ordinal);
        Assert.Contains("[default: 128]", r.Out, StringComparison.Ordinal);
        Assert.Contains("'none': off", r.Out, StringComparison.Ordinal);
        Assert.Contains("Exit codes: 0 done, 2 bad option", r.Out, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }
}
