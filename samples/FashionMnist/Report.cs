using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using DslResNet.Data;
using DslResNet.Runtime;
using DslResNet.Training;
using Spectre.Console;

namespace FashionMnistSample;

/// <summary>What the main job prints: the header, the per-epoch lines' formatting, the summary table.</summary>
internal static class Report
{
    /// <summary>The run's settings, before the first epoch.</summary>
    public static void Header(
        CommandLine options, ModelEntry entry, INetworkModel model, Device device, int stepsPerEpoch, string scheduleText, Dataset test, string? checkpointPath,
        string? distributed = null)
    {
        Grid grid = new Grid().AddColumn(new GridColumn().NoWrap().PadRight(2)).AddColumn();
        void Row(string name, string value) => grid.AddRow(new Markup($"[grey]{name}[/]"), new Text(value));

        Row("model", $"{options.Model}: {entry.Info.Name}, {entry.Info.Layers.Count} layers, {entry.Info.ParameterCount:N0} parameters, " +
                     $"{entry.Info.MultiplyAdds / 1e6:F1} M multiply-adds per image");
        Row("device", device.Description);
        MemoryReport memory = model.Memory;
        Row("memory", $"{Mib(memory.TotalBytes)} on the device: parameters {Mib(memory.ParameterBytes)}, training arena {Mib(memory.TrainingArenaBytes)}, " +
                      $"inference arena {Mib(memory.InferenceArenaBytes)} (batch {memory.BatchSize})");
        if (distributed is not null)
        {
            Row("distributed", distributed);
        }

        Row("batch", $"{options.Batch}{(distributed is null ? "" : " per process")}, {stepsPerEpoch} steps per epoch{(options.MaxSteps is { } m ? $" (capped by --max-steps {m})" : "")}");
        Row("optimizer", options.Optimizer == "adamw"
            ? $"AdamW, weight decay {options.WeightDecay:G3}"
            : $"SGD, momentum {options.Momentum:G3}{(options.Nesterov ? " (Nesterov)" : "")}, weight decay {options.WeightDecay:G3}");
        Row("schedule", scheduleText);
        Row("data", $"{options.Data}; augmentation {(options.Augment ? "pad 4 + random crop + flip" : "off")}; " +
                    $"evaluating {Math.Min(test.Count, options.EvalLimit ?? int.MaxValue):N0} of {test.Count:N0} test images");
        Row("checkpoint", checkpointPath is null ? "off" : $"{checkpointPath}{(options.Resume ? " (resuming)" : "")}");
        Row("epochs", $"{options.Epochs}, seed {options.Seed}");
        AnsiConsole.Write(new Rule($"[bold]Fashion-MNIST: {Markup.Escape(options.Model)}[/]").LeftJustified());
        AnsiConsole.Write(grid);
        AnsiConsole.WriteLine();
    }

    /// <summary>The epoch table, where the checkpoint and plot went.</summary>
    public static void Summary(TrainingResult result, CommandLine options, ModelEntry entry, string? checkpointPath, List<(double Epoch, double Loss)> stepLosses)
    {
        if (result.History.Count > 0)
        {
            Table table = new Table().Border(TableBorder.Rounded).Title($"{entry.Info.Name} on Fashion-MNIST");
            table.AddColumns("epoch", "lr", "train loss", "train acc", "test loss", "test acc", "img/s train", "img/s eval", "time");
            foreach (int column in (int[])[0, 1, 2, 3, 4, 5, 6, 7, 8])
            {
                table.Columns[column].RightAligned();
            }

            foreach (EpochMetrics m in result.History)
            {
                bool restored = m.Epoch <= result.ResumedFromEpoch;
                table.AddRow(
                    restored ? $"[grey]{m.Epoch}[/]" : $"{m.Epoch}", $"{m.LearningRate:G3}", $"{m.TrainLoss:F4}", Percent(m.TrainAccuracy),
                    Number(m.TestLoss, "F4"), Percent(m.TestAccuracy), $"{m.TrainImagesPerSecond:F0}", $"{m.EvalImagesPerSecond:F0}", Duration(m.Seconds));
            }

            if (result.ResumedFromEpoch > 0)
            {
                table.Caption($"epochs 1-{result.ResumedFromEpoch} restored from the checkpoint");
            }

            AnsiConsole.Write(table);
        }

        if (result.Cancelled)
        {
            AnsiConsole.MarkupLine($"[yellow]Stopped by Ctrl+C after {result.CompletedEpochs} completed epoch(s).[/]");
        }

        if (result.LastCheckpointPath is { } saved)
        {
            AnsiConsole.MarkupLine($"checkpoint: [bold]{Markup.Escape(Path.GetFullPath(saved))}[/] (epoch {result.CompletedEpochs})");
        }
        else if (checkpointPath is not null && result.ResumedFromEpoch > 0)
        {
            AnsiConsole.MarkupLine($"checkpoint: {Markup.Escape(Path.GetFullPath(checkpointPath))} (unchanged: nothing left to train)");
        }

        if (options.PlotPath is { } plot && result.History.Count > 0)
        {
            try
            {
                Plotting.Save(plot, entry.Info.Name, result.History, stepLosses);
                AnsiConsole.MarkupLine($"plot: [bold]{Markup.Escape(Path.GetFullPath(plot))}[/]");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or TypeInitializationException or DllNotFoundException)
            {
                Console.Error.WriteLine($"fashion-mnist: --plot: could not write '{plot}': {e.Message}");
            }
        }

        if (Startup.Describe() is { } startup)
        {
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape(startup)}[/]");
        }

        if (PeakResidentMiB() is { } peak)
        {
            AnsiConsole.MarkupLine($"[grey]peak resident memory: {peak:F0} MiB[/]");
        }
    }

    // The process's peak resident set (VmHWM), where /proc has it.
    private static double? PeakResidentMiB()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal)
                    && long.TryParse(line["VmHWM:".Length..].Trim().Split(' ')[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long kb))
                {
                    return kb / 1024.0;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>A line of markup: as markup on a terminal, as plain text when redirected.</summary>
    public static void WriteLine(bool interactive, string markup)
    {
        if (interactive)
        {
            AnsiConsole.MarkupLine(markup);
        }
        else
        {
            Console.WriteLine(Markup.Remove(markup));
        }
    }

    internal static string Percent(double share) => double.IsFinite(share) ? $"{100 * share:F2}%" : "-";

    internal static string Number(double value, string format) => double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : "-";

    internal static string Duration(double seconds) => Duration(TimeSpan.FromSeconds(seconds));

    internal static string Duration(TimeSpan time) =>
        time.TotalHours >= 1 ? $"{(int)time.TotalHours}:{time:mm\\:ss}" : time.TotalSeconds >= 10 ? $"{time:m\\:ss}" : $"{time.TotalSeconds:F1}s";

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MiB";

    /// <summary>One line of progress text.</summary>
    internal static string Describe(TrainingProgress p) =>
        $"epoch {p.Epoch}/{p.Epochs} {(p.Phase == TrainingPhase.Training ? "train" : "eval")} {p.Step}/{p.Steps}  loss {p.Loss:F4}  " +
        $"acc {Percent(p.Accuracy)}  {p.ImagesPerSecond:F0} img/s  ETA {Duration(p.Remaining)}";

}
