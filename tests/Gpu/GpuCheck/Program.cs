using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DslResNet.Runtime;

namespace GpuCheck;

/// <summary>
/// gpucheck parity|bench: the .NET half of tests/Gpu/run.sh. Usage errors exit 2 with one line naming the bad input;
/// a failure while running exits 1 with one line (no stack trace).
/// </summary>
internal static class Program
{
    public const string Usage =
        "usage: gpucheck parity --device <auto|cuda|ilgpu-cpu|cpu> --dir <folder> [--nets resnet20,resnet50]\n" +
        "       gpucheck bench  --device <auto|cuda|ilgpu-cpu|cpu> --out <file.json> [--quick] [--nets resnet20,resnet50]\n" +
        "                       [--warmup N] [--repeats N] [--only id,id]";

    private static int Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"gpucheck: {e.Message}");
            Console.Error.WriteLine(Usage);
            return 2;
        }

        try
        {
            return options.Command == "parity" ? Parity.Run(options) : Bench.Run(options);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException or UnauthorizedAccessException or PlatformNotSupportedException or NotSupportedException)
        {
            Console.Error.WriteLine($"gpucheck {options.Command}: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }
}

/// <summary>A usage error: the message names the argument.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The parsed command line.</summary>
internal sealed record Options(
    string Command, DeviceKind Device, string? Dir, string? Out, bool Quick, IReadOnlyList<string> Nets, int? Warmup, int? Repeats, IReadOnlyList<string>? Only)
{
    public static readonly string[] KnownNets = ["resnet20", "resnet50"];

    public static Options Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("parity" or "bench"))
        {
            throw new UsageException(args.Length == 0 ? "no command given" : $"unknown command '{args[0]}'; expected parity or bench");
        }

        string command = args[0];
        DeviceKind? device = null;
        string? dir = null, output = null;
        bool quick = false;
        IReadOnlyList<string> nets = KnownNets;
        int? warmup = null, repeats = null;
        IReadOnlyList<string>? only = null;
        for (int i = 1; i < args.Length; i++)
        {
            string a = args[i];
            string Value()
            {
                if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new UsageException($"{a} needs a value");
                }

                return args[++i];
            }

            switch (a)
            {
                case "--device":
                    string text = Value();
                    try
                    {
                        device = DslResNet.Runtime.Device.Parse(text, "--device");
                    }
                    catch (ArgumentException e)
                    {
                        throw new UsageException(e.Message.Split(" (Parameter", 2)[0]);
                    }

                    break;
                case "--dir" when command == "parity":
                    dir = Value();
                    break;
                case "--out" when command == "bench":
                    output = Value();
                    break;
                case "--quick" when command == "bench":
                    quick = true;
                    break;
                case "--nets":
                    nets = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => n.ToLowerInvariant()).ToArray();
                    if (nets.Count == 0)
                    {
                        throw new UsageException($"--nets: no network named; expected a comma list of {string.Join(", ", KnownNets)}");
                    }

                    if (nets.FirstOrDefault(n => !KnownNets.Contains(n)) is { } unknown)
                    {
                        throw new UsageException($"--nets: unknown network '{unknown}'; expected a comma list of {string.Join(", ", KnownNets)}");
                    }

                    break;
                case "--warmup" when command == "bench":
                    warmup = Count(a, Value(), 0);
                    break;
                case "--repeats" when command == "bench":
                    repeats = Count(a, Value(), 1);
                    break;
                case "--only" when command == "bench":
                    only = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (only.FirstOrDefault(id => !Bench.MeasureIds.Contains(id)) is { } bad)
                    {
                        throw new UsageException($"--only: unknown measure '{bad}'; expected some of {string.Join(", ", Bench.MeasureIds)}");
                    }

                    break;
                default:
                    throw new UsageException($"unknown option '{a}' for {command}");
            }
        }

        if (device is null)
        {
            throw new UsageException("--device is required");
        }

        if (command == "parity" && string.IsNullOrWhiteSpace(dir))
        {
            throw new UsageException("parity needs --dir <folder>");
        }

        if (command == "bench" && string.IsNullOrWhiteSpace(output))
        {
            throw new UsageException("bench needs --out <file.json>");
        }

        return new Options(command, device.Value, dir, output, quick, nets, warmup, repeats, only);
    }

    private static int Count(string option, string text, int least) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= least && n <= 10_000
            ? n
            : throw new UsageException($"{option}: '{text}' is not a whole number from {least} to 10000");
}
