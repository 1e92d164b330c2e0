using System;
using System.Globalization;
using System.Linq;

namespace Experiments;

/// <summary>The command line: <c>&lt;claim&gt; [--budget tiny|quick|full] [--data DIR] [--out DIR] [--threads N]</c>.</summary>
internal sealed record Options(string Claim, string Budget, string Data, string Out, int Threads, bool Help)
{
    /// <summary>The claims, in the FAQ's order, by command-line name.</summary>
    public static readonly string[] Claims = ["degradation", "learning-rate", "dropout", "placement", "gradients", "transfer"];

    /// <summary>The budgets.</summary>
    public static readonly string[] Budgets = ["tiny", "quick", "full"];

    public const string Usage = """
        usage: dotnet run -c Release --project samples/Experiments -- <claim> [options]
          claims: degradation    1. deeper plain networks train worse; residual ones do not (Plain/ResNet-20..56)
                  learning-rate  2. batch norm allows a higher learning rate and reaches a target in fewer steps
                  dropout        3. batch norm regularises, so dropout can often go
                  placement      4. batch norm before or after ReLU, tanh and the sigmoid
                  gradients      5. per-layer gradient norms, plain against residual at 56 layers
                  transfer       6. pretrained weights transfer (classes 0-4 to classes 5-9)
                  all            every claim in turn
          --budget B     quick (default; under 10 minutes a claim on 2 cores, subsets of the data), full (more data,
                         epochs and seeds: all six took about three hours of a shared 2-core machine; each report
                         states its setup and wall time), or
                         tiny (seconds: checks the plumbing on any IDX data, says nothing about the claim)
          --data DIR     the Fashion-MNIST IDX files (default: /usr/share/datasets/fashion-mnist; apt-get install dataset-fashion-mnist)
          --out DIR      where <claim>.md, its PNG plots and its CSV go (default: docs/experiments)
          --threads N    CPU threads (default: all cores)
          --help         this text
        """;

    /// <summary>Parses the arguments.</summary>
    /// <exception cref="ArgumentException">No claim, an unknown claim or option, a missing or bad value; the message names it.</exception>
    public static Options Parse(string[] args)
    {
        var o = new Options("", "quick", "/usr/share/datasets/fashion-mnist", "docs/experiments", 0, false);
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Value() => i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
                ? args[++i]
                : throw new ArgumentException($"{arg} needs a value; --help lists the options.");

            if (!arg.StartsWith('-'))
            {
                string claim = arg.Trim().ToLowerInvariant();
                if (o.Claim.Length > 0)
                {
                    throw new ArgumentException($"one claim at a time: '{o.Claim}' and '{arg}' were both given (use 'all' for every claim).");
                }

                o = Claims.Contains(claim) || claim == "all"
                    ? o with { Claim = claim }
                    : throw new ArgumentException($"unknown claim '{arg}'; the claims are {string.Join(", ", Claims)} and all.");
                continue;
            }

            o = arg switch
            {
                "--budget" => o with { Budget = Budget(Value()) },
                "--data" => o with { Data = Value() },
                "--out" => o with { Out = Value() },
                "--threads" => o with { Threads = Threads(Value()) },
                "--help" or "-h" => o with { Help = true },
                _ => throw new ArgumentException($"unknown option '{arg}'; --help lists the options."),
            };
        }

        if (!o.Help && o.Claim.Length == 0)
        {
            throw new ArgumentException($"which claim? Name one of {string.Join(", ", Claims)}, or all; --help lists the options.");
        }

        return o;

        static string Budget(string text) => Budgets.Contains(text)
            ? text
            : throw new ArgumentException($"--budget '{text}' is not one of {string.Join(", ", Budgets)}.");

        static int Threads(string text) =>
            int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 1 && n <= Environment.ProcessorCount
                ? n
                : throw new ArgumentException($"--threads '{text}' is not a whole number from 1 to {Environment.ProcessorCount}.");
    }
}
