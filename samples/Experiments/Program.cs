using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using DslResNet.Data;
using DslResNet.Runtime;

namespace Experiments;

/// <summary>
/// Runs one of the six claims about residual learning and batch normalisation (or all of them) on Fashion-MNIST and
/// writes its report; see <see cref="Options.Usage"/>.
/// </summary>
internal static class Program
{
    private const int UsageError = 2;

    private static int Main(string[] args)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"experiments: {e.Message}");
            return UsageError;
        }

        if (options.Help)
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }

        Dataset train, test;
        try
        {
            train = FashionMnist.Load(options.Data, train: true);
            test = FashionMnist.Load(options.Data, train: false);
        }
        catch (DatasetException e)
        {
            Console.Error.WriteLine($"experiments: --data '{options.Data}': {e.Message}");
            return UsageError;
        }

        if (train.Count < 640 || test.Count < 64)
        {
            // The tiny budget's smallest run takes ten batches of 64; a smaller set would train on nothing.
            Console.Error.WriteLine($"experiments: --data '{options.Data}': too few images ({train.Count} training, {test.Count} test; at least 640 and 64 are needed).");
            return UsageError;
        }

        try
        {
            Directory.CreateDirectory(options.Out);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"experiments: --out '{options.Out}': {e.Message}");
            return UsageError;
        }

        using Device device = Device.Create(DeviceKind.Cpu, options.Threads);
        Context ctx = new(options, train, test, device);
        foreach (string claim in options.Claim == "all" ? Options.Claims : [options.Claim])
        {
            RunClaim(ctx, claim);
        }

        return 0;
    }

    private static void RunClaim(Context ctx, string claim)
    {
        Stopwatch clock = Stopwatch.StartNew();
        double? loadAtStart = Context.LoadAverage();
        Console.WriteLine($"experiments: {claim}, budget {ctx.Budget}, {ctx.Device.Description}");
        Csv csv = new();
        Report report = claim switch
        {
            "degradation" => Degradation.Run(ctx, clock, csv),
            "learning-rate" => LearningRate.Run(ctx, clock, csv),
            "dropout" => DropoutClaim.Run(ctx, clock, csv),
            "placement" => Placement.Run(ctx, clock, csv),
            "gradients" => GradientPaths.Run(ctx, clock, csv),
            "transfer" => TransferClaim.Run(ctx, clock, csv),
            _ => throw new ArgumentOutOfRangeException(nameof(claim), claim, "unknown claim"),
        };
        string csvFile = claim + ".csv";
        csv.Save(ctx.OutPath(csvFile));
        string path = report.Write(ctx, clock.Elapsed, loadAtStart, Context.LoadAverage(), csvFile);
        Console.WriteLine($"{claim}: {Report.Words(report.Verdict)}. {report.VerdictText}");
        Console.WriteLine($"wrote {path} and {ctx.OutPath(csvFile)} ({clock.Elapsed.TotalMinutes:F1} min)");
    }
}
