using System;
using System.Globalization;

namespace TransferSample;

/// <summary>The command line: <c>[--quick] [--out DIR] [--data DIR] [--seed N] [--threads N]</c>.</summary>
internal sealed record Options(bool Quick, string Out, string Data, int Seed, int Threads, bool Help)
{
    public const string Usage = """
        usage: dotnet run -c Release --project samples/Transfer -- [options]
          --quick        one pretraining epoch and 120 fine-tuning steps instead of 3 and 600
          --out DIR      where the checkpoints, transfer.md and transfer.png go (default: transfer-out)
          --data DIR     the Fashion-MNIST IDX files (default: /usr/share/datasets/fashion-mnist; apt-get install dataset-fashion-mnist)
          --seed N       seeds initialisation, data order and the 1% sample (default: 1)
          --threads N    CPU threads (default: all cores)
          --help         this text
        """;

    /// <summary>Parses the arguments.</summary>
    /// <exception cref="ArgumentException">An unknown option, a missing or bad value; the message names it.</exception>
    public static Options Parse(string[] args)
    {
        var o = new Options(false, "transfer-out", "/usr/share/datasets/fashion-mnist", 1, 0, false);
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value; --help lists the options.");
            int Number(int min, int max)
            {
                string text = Value();
                return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
                    ? n
                    : throw new ArgumentException($"{arg} '{text}' is not a whole number from {min} to {max}.");
            }

            o = arg switch
            {
                "--quick" => o with { Quick = true },
                "--out" => o with { Out = Value() },
                "--data" => o with { Data = Value() },
                "--seed" => o with { Seed = Number(int.MinValue + 1, int.MaxValue - 1) },
                "--threads" => o with { Threads = Number(1, Environment.ProcessorCount) },
                "--help" or "-h" => o with { Help = true },
                _ => throw new ArgumentException($"unknown option '{arg}'; --help lists the options."),
            };
        }

        return o;
    }
}
