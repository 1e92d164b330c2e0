using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using DslResNet.Data;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;
using Spectre.Console;

namespace FashionMnistSample;

/// <summary>Trains a ResNet (or its plain twin) on Fashion-MNIST; see <see cref="CommandLine.Usage"/>.</summary>
internal static class Program
{
    private const int UsageError = 2;
    private const int Diverged = 3;
    private const int Interrupted = 130;

    private static int Main(string[] args)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        CommandLine options;
        try
        {
            options = CommandLine.Parse(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"fashion-mnist: {e.Message}");
            return UsageError;
        }

        if (options.Help)
        {
            Console.WriteLine(CommandLine.Usage);
            return 0;
        }

        return Run(options);
    }

    private static int Run(CommandLine options)
    {
        bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (Console.IsOutputRedirected)
        {
            // Spectre assumes 80 columns when it cannot ask a terminal; the epoch table needs more.
            AnsiConsole.Profile.Width = 120;
        }

        ModelEntry entry = Models.Find(options.Model)!;
        string? checkpointPath = options.CheckpointPath;
        if (options.Resume && !File.Exists(checkpointPath))
        {
            Console.Error.WriteLine($"fashion-mnist: --resume: there is no checkpoint at '{checkpointPath}'.");
            return UsageError;
        }

        if (CheckPaths(options) is { } pathError)
        {
            Console.Error.WriteLine($"fashion-mnist: {pathError}");
            return UsageError;
        }

        Dataset train, test;
        try
        {
            train = FashionMnist.Load(options.Data, train: true);
            test = FashionMnist.Load(options.Data, train: false);
        }
        catch (DatasetException e)
        {
            Console.Error.WriteLine($"fashion-mnist: {e.Message}");
            return UsageError;
        }

        if (options.Batch > train.Count)
        {
            Console.Error.WriteLine($"fashion-mnist: --batch: {options.Batch} is larger than the {train.Count} training images.");
            return UsageError;
        }

        Device device;
        try
        {
            device = Device.Create(options.Device, options.Threads);
        }
        catch (ArgumentOutOfRangeException e)
        {
            // Threads from DSLRESNET_THREADS (the option is checked as it is parsed); the message names the source.
            Console.Error.WriteLine($"fashion-mnist: {e.Message.Split(" (Parameter", 2)[0]}");
            return UsageError;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            Console.Error.WriteLine($"fashion-mnist: --device: {e.Message}");
            return UsageError;
        }

        INetworkModel model;
        try
        {
            model = entry.Create(device, options.Batch, new NetworkOptions(Seed: options.Seed));
        }
        catch (InsufficientMemoryException e)
        {
            // Known before anything is allocated: the message names the batch, the bytes needed and the bytes available.
            Console.Error.WriteLine($"fashion-mnist: --batch: {e.Message}");
            device.Dispose();
            return UsageError;
        }

        using (device)
        using (model)
        {
            Optimizer optimizer = options.Optimizer == "adamw"
                ? new AdamW(options.LearningRate, weightDecay: options.WeightDecay)
                : new Sgd(options.LearningRate, options.Momentum, weightDecay: options.WeightDecay, nesterov: options.Nesterov);
            model.AddParametersTo(optimizer);

            BatchLoader loader = new(train, options.Batch, options.Seed, shuffle: true, dropLast: true,
                augmentation: options.Augment ? Augmentation.Standard : null);
            if (options.Benchmark is { } repeats)
            {
                return RunBenchmark(options, entry, model, device, optimizer, loader, test, repeats);
            }
            int stepsPerEpoch = Trainer.StepsPerEpochFor(loader, options.MaxSteps);
            (ILearningRateSchedule schedule, string scheduleText) = Schedule(options, stepsPerEpoch);
            Trainer trainer;
            try
            {
                trainer = new(model, optimizer, schedule, loader, test, new TrainerOptions
                {
                    Epochs = options.Epochs,
                    MaxStepsPerEpoch = options.MaxSteps,
                    EvaluationLimit = options.EvalLimit,
                    CheckpointPath = checkpointPath,
                    Resume = options.Resume,
                });
            }
            catch (ArgumentException e)
            {
                // The dataset does not fit the network (image size, classes): a user error, not a crash.
                Console.Error.WriteLine($"fashion-mnist: --data '{options.Data}': {FirstSentence(e)}");
                return UsageError;
            }

            PrintHeader(options, entry, model, device, stepsPerEpoch, scheduleText, test, checkpointPath);

            using CancellationTokenSource stop = new();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (!stop.IsCancellationRequested)
                {
                    e.Cancel = true; // the first Ctrl+C stops after the current step; a second one kills the process
                    stop.Cancel();
                }
            };
            Console.CancelKeyPress += onCancel;

            List<EpochMetrics> thisRun = [];
            List<(double Epoch, double Loss)> stepLosses = [];
            int lastSavedEpoch = 0;
            TrainingResult? result = null;
            try
            {
                trainer.EpochCompleted = m =>
                {
                    thisRun.Add(m);
                    WriteLine(interactive,
                        $"[bold]epoch {m.Epoch}/{options.Epochs}[/]  lr {m.LearningRate:G3}  train loss {m.TrainLoss:F4} acc {Percent(m.TrainAccuracy)}  " +
                        $"test loss {Number(m.TestLoss, "F4")} acc {Percent(m.TestAccuracy)}  {m.TrainImagesPerSecond:F0} img/s  {Duration(m.Seconds)}");
                };
                trainer.CheckpointSaved = (path, m) =>
                {
                    lastSavedEpoch = m.Epoch;
                    WriteLine(interactive, $"[grey]checkpoint saved: {Markup.Escape(path)} (epoch {m.Epoch})[/]");
                };

                if (interactive)
                {
                    AnsiConsole.Progress()
                        .AutoClear(false)
                        .HideCompleted(false)
                        .Columns(new ProgressBarColumn { Width = 24 }, new PercentageColumn(), new TaskDescriptionColumn { Alignment = Justify.Left })
                        .Start(context =>
                        {
                            trainer.Progress = new LiveProgress(context, stepLosses, stepsPerEpoch, stop.Token);
                            result = trainer.Run(stop.Token);
                        });
                }
                else
                {
                    trainer.Progress = new PlainProgress(stepLosses, stepsPerEpoch);
                    result = trainer.Run(stop.Token);
                }
            }
            catch (TrainingDivergedException e)
            {
                Console.Out.Flush();
                Console.Error.WriteLine($"fashion-mnist: {e.Message}");
                // Only a checkpoint this run wrote is vouched for: saves refuse non-finite tensors, and a non-finite
                // update or evaluation loss stops the run before its epoch is saved.
                if (checkpointPath is not null && lastSavedEpoch > 0)
                {
                    Console.Error.WriteLine($"fashion-mnist: the checkpoint of epoch {lastSavedEpoch} is kept at '{checkpointPath}' (all its values are finite).");
                }
                else if (checkpointPath is not null)
                {
                    Console.Error.WriteLine($"fashion-mnist: this run saved no checkpoint; '{checkpointPath}' was not written.");
                }

                return Diverged;
            }
            catch (CheckpointException e)
            {
                // Resuming found a bad checkpoint, or a save failed: training stops (exit 2), the previous file is kept.
                Console.Out.Flush();
                Console.Error.WriteLine($"fashion-mnist: {(thisRun.Count == 0 ? "--resume" : "--checkpoint")}: {e.Message}");
                if (lastSavedEpoch > 0)
                {
                    Console.Error.WriteLine($"fashion-mnist: the checkpoint of epoch {lastSavedEpoch} is kept at '{checkpointPath}'.");
                }

                return UsageError;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }

            PrintSummary(result!, options, entry, checkpointPath, stepLosses);
            return result!.Cancelled ? Interrupted : 0;
        }
    }

    // Checked before anything is trained: a checkpoint path that cannot be written would otherwise fail after the
    // first epoch, and a FIFO or device given as a file would block the first read forever.
    private static string? CheckPaths(CommandLine options)
    {
        if (options.CheckpointPath is { } checkpoint)
        {
            if (options.Resume && UnixFileType.IsSpecial(checkpoint))
            {
                return $"--resume: '{checkpoint}' is not a regular file (a FIFO, socket or device).";
            }

            try
            {
                Checkpoint.CheckWritable(checkpoint);
            }
            catch (CheckpointException e)
            {
                return $"--checkpoint: {e.Message}";
            }
        }

        string data = options.Data;
        if (Directory.Exists(data))
        {
            foreach (string file in Directory.GetFiles(data))
            {
                if (UnixFileType.IsSpecial(file))
                {
                    return $"--data: '{file}' is not a regular file (a FIFO, socket or device).";
                }
            }
        }

        return null;
    }

    private static string FirstSentence(ArgumentException e) => e.Message.Split(" (Parameter '")[0];

    private static (ILearningRateSchedule Schedule, string Text) Schedule(CommandLine options, int stepsPerEpoch)
    {
        double lr = options.LearningRate;
        ILearningRateSchedule schedule;
        string text;
        switch (options.Schedule)
        {
            case "cosine":
                schedule = new CosineAnnealingSchedule(lr, (long)options.Epochs * stepsPerEpoch);
                text = $"cosine from {lr:G3} to 0 over {options.Epochs} epochs";
                break;
            case "multistep":
                // The paper divides the rate by 10 at 32k and 48k of 64k iterations: at 50% and 75% of training.
                List<long> milestones = [];
                foreach (double fraction in (double[])[0.5, 0.75])
                {
                    long epoch = (long)Math.Round(options.Epochs * fraction, MidpointRounding.AwayFromZero);
                    if (epoch >= 1 && epoch < options.Epochs && (milestones.Count == 0 || epoch > milestones[^1]))
                    {
                        milestones.Add(epoch);
                    }
                }

                schedule = new MultiStepSchedule(lr, milestones, 0.1, stepsPerEpoch);
                text = milestones.Count == 0
                    ? $"{lr:G3} (multistep: too few epochs for a decay)"
                    : $"{lr:G3}, x0.1 after epoch{(milestones.Count > 1 ? "s" : "")} {string.Join(" and ", milestones)}";
                break;
            default:
                schedule = new ConstantSchedule(lr);
                text = $"constant {lr:G3}";
                break;
        }

        if (options.WarmupEpochs > 0)
        {
            long warmupSteps = Math.Max(1, (long)Math.Round(options.WarmupEpochs * stepsPerEpoch));
            schedule = new LinearWarmupSchedule(schedule, warmupSteps, startFactor: 0.1);
            text += $"; linear warm-up from 10% over {warmupSteps} steps";
        }

        return (schedule, text);
    }

    // Times steady-state training steps and inference batches on real data: one warm-up of each (it compiles the
    // specialised kernels), then the median of the timed repeats.
    private static int RunBenchmark(
        CommandLine options, ModelEntry entry, INetworkModel model, Device device, Optimizer optimizer, BatchLoader loader, Dataset test, int repeats)
    {
        Console.WriteLine($"benchmark: {entry.Info.Name} ({options.Model}), batch {options.Batch}, {device.Description}, {Environment.ProcessorCount} cores");
        IEnumerator<Batch> batches = loader.Epoch(0).GetEnumerator();
        Batch Next()
        {
            if (!batches.MoveNext())
            {
                batches = loader.Epoch(1).GetEnumerator();
                batches.MoveNext();
            }

            return batches.Current;
        }

        Stopwatch watch = Stopwatch.StartNew();
        Batch first = Next();
        model.TrainStep(first.Images, first.Labels, optimizer);
        Console.WriteLine($"  warm-up training step (compiles the kernels): {watch.Elapsed.TotalSeconds:F1} s");
        List<double> trainSeconds = [];
        for (int i = 0; i < repeats; i++)
        {
            Batch batch = Next();
            watch.Restart();
            model.TrainStep(batch.Images, batch.Labels, optimizer);
            trainSeconds.Add(watch.Elapsed.TotalSeconds);
        }

        model.Eval();
        int imageSize = test.ImageSize;
        float[] images = test.Images.AsSpan(0, options.Batch * imageSize).ToArray();
        float[] logits = new float[options.Batch * (int)entry.Info.OutputShape.Elements];
        watch.Restart();
        model.Predict(images, logits);
        Console.WriteLine($"  warm-up inference batch: {watch.Elapsed.TotalSeconds:F1} s");
        List<double> inferSeconds = [];
        for (int i = 0; i < repeats; i++)
        {
            watch.Restart();
            model.Predict(images, logits);
            inferSeconds.Add(watch.Elapsed.TotalSeconds);
        }

        if (options.Profile && device.Pool is not null)
        {
            // One more training step and inference batch with every operation timed.
            device.Pool.Profile = new DslResNet.Kernels.Simd.SimdProfile();
            model.Train();
            Batch batch = Next();
            watch.Restart();
            model.TrainStep(batch.Images, batch.Labels, optimizer);
            double step = watch.Elapsed.TotalMilliseconds;
            Console.WriteLine($"  profile of one training step ({step:F1} ms wall):");
            double accounted = 0;
            double convMs = 0;
            long convFlops = 0;
            foreach ((string name, double ms, int calls, long flops) in device.Pool.Profile.Rows())
            {
                accounted += ms;
                convMs += flops > 0 ? ms : 0;
                convFlops += flops;
                string rate = flops > 0 ? $"  {flops / ms / 1e6,6:F1} GFLOP/s" : "";
                Console.WriteLine($"    {ms,8:F2} ms {100 * ms / step,5:F1}%  {calls,3}x  {name}{rate}");
            }

            Console.WriteLine($"    {step - accounted,8:F2} ms {100 * (step - accounted) / step,5:F1}%       outside the pool (loss, optimizer, copies)");
            Console.WriteLine($"  convolutions alone: {convFlops / 1e9:F2} GFLOP in {convMs:F1} ms = {convFlops / convMs / 1e6:F1} GFLOP/s");
            device.Pool.Profile = null;
            model.Eval();
            model.Predict(images, logits); // folds batch norm into the new weights: not part of a steady-state batch
            device.Pool.Profile = new DslResNet.Kernels.Simd.SimdProfile();
            watch.Restart();
            model.Predict(images, logits);
            double batchMs = watch.Elapsed.TotalMilliseconds;
            Console.WriteLine($"  profile of one inference batch ({batchMs:F1} ms wall):");
            convMs = 0;
            convFlops = 0;
            foreach ((string name, double ms, int calls, long flops) in device.Pool.Profile.Rows())
            {
                convMs += flops > 0 ? ms : 0;
                convFlops += flops;
                string rate = flops > 0 ? $"  {flops / ms / 1e6,6:F1} GFLOP/s" : "";
                Console.WriteLine($"    {ms,8:F2} ms {100 * ms / batchMs,5:F1}%  {calls,3}x  {name}{rate}");
            }

            Console.WriteLine($"  convolutions alone: {convFlops / 1e9:F2} GFLOP in {convMs:F1} ms = {convFlops / convMs / 1e6:F1} GFLOP/s");

            device.Pool.Profile = null;
        }

        double train = Median(trainSeconds);
        double infer = Median(inferSeconds);
        int stepsPerEpoch = loader.Dataset.Count / options.Batch;
        Console.WriteLine($"  training:  median {train:F2} s per step of {options.Batch} ({repeats} steps, min {Min(trainSeconds):F2}, max {Max(trainSeconds):F2}): {options.Batch / train:F1} images/s");
        Console.WriteLine($"  inference: median {infer:F2} s per batch of {options.Batch} ({repeats} batches, min {Min(inferSeconds):F2}, max {Max(inferSeconds):F2}): {options.Batch / infer:F1} images/s");
        Console.WriteLine($"  a full epoch ({stepsPerEpoch} steps) would take about {TimeSpan.FromSeconds(stepsPerEpoch * train):h\\:mm\\:ss}, evaluating the 10,000 test images {TimeSpan.FromSeconds(test.Count / (options.Batch / infer)):h\\:mm\\:ss}");
        return 0;
    }

    private static double Median(List<double> values)
    {
        List<double> sorted = [.. values];
        sorted.Sort();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static double Min(List<double> values) => values.Count == 0 ? 0 : System.Linq.Enumerable.Min(values);

    private static double Max(List<double> values) => values.Count == 0 ? 0 : System.Linq.Enumerable.Max(values);

    private static void PrintHeader(
        CommandLine options, ModelEntry entry, INetworkModel model, Device device, int stepsPerEpoch, string scheduleText, Dataset test, string? checkpointPath)
    {
        Grid grid = new Grid().AddColumn(new GridColumn().NoWrap().PadRight(2)).AddColumn();
        void Row(string name, string value) => grid.AddRow(new Markup($"[grey]{name}[/]"), new Text(value));

        Row("model", $"{options.Model}: {entry.Info.Name}, {entry.Info.Layers.Count} layers, {entry.Info.ParameterCount:N0} parameters, " +
                     $"{entry.Info.MultiplyAdds / 1e6:F1} M multiply-adds per image");
        Row("device", device.Description);
        MemoryReport memory = model.Memory;
        Row("memory", $"{Mib(memory.TotalBytes)} on the device: parameters {Mib(memory.ParameterBytes)}, training arena {Mib(memory.TrainingArenaBytes)}, " +
                      $"inference arena {Mib(memory.InferenceArenaBytes)} (batch {memory.BatchSize})");
        Row("batch", $"{options.Batch}, {stepsPerEpoch} steps per epoch{(options.MaxSteps is { } m ? $" (capped by --max-steps {m})" : "")}");
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

    private static void PrintSummary(TrainingResult result, CommandLine options, ModelEntry entry, string? checkpointPath, List<(double Epoch, double Loss)> stepLosses)
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
    }

    private static void WriteLine(bool interactive, string markup)
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

    /// <summary>Spectre.Console progress bars: one per epoch's training, one per evaluation.</summary>
    private sealed class LiveProgress(ProgressContext context, List<(double Epoch, double Loss)> stepLosses, int stepsPerEpoch, CancellationToken stop)
        : IProgress<TrainingProgress>
    {
        private ProgressTask? _task;

        public void Report(TrainingProgress p)
        {
            if (p.Phase == TrainingPhase.Training)
            {
                stepLosses.Add((p.GlobalStep / (double)stepsPerEpoch, p.BatchLoss));
            }

            if (p.Step == 1 || _task is null)
            {
                _task?.StopTask();
                _task = context.AddTask(Markup.Escape(Describe(p)), maxValue: p.Steps);
            }

            _task.Value = p.Step;
            _task.Description = Markup.Escape(Describe(p)) + (stop.IsCancellationRequested ? " [yellow](stopping after this step)[/]" : "");
            if (p.Step == p.Steps)
            {
                _task.StopTask();
            }
        }
    }

    /// <summary>Plain lines for redirected output: the first step, then every 10 seconds, and the last step of each phase.</summary>
    private sealed class PlainProgress(List<(double Epoch, double Loss)> stepLosses, int stepsPerEpoch) : IProgress<TrainingProgress>
    {
        private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
        private readonly Stopwatch _sinceLine = Stopwatch.StartNew();

        public void Report(TrainingProgress p)
        {
            if (p.Phase == TrainingPhase.Training)
            {
                stepLosses.Add((p.GlobalStep / (double)stepsPerEpoch, p.BatchLoss));
            }

            if (p.Step == 1 || p.Step == p.Steps || _sinceLine.Elapsed >= Interval)
            {
                Console.WriteLine(Describe(p));
                _sinceLine.Restart();
            }
        }
    }
}
