using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using DslResNet.Data;
using DslResNet.Distributed;
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
        Startup.MainEntered();
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

        if (!options.Distributed && !DistributedTraining.LaunchedByMpirun)
        {
            return Run(options, null);
        }

        // Data-parallel: every rank runs this program; rank 0 alone prints and writes files.
        DistributedTraining dist;
        try
        {
            dist = DistributedTraining.Start();
        }
        catch (DistributedException e)
        {
            Console.Error.WriteLine($"fashion-mnist: --distributed: {e.Message}");
            return UsageError;
        }

        // mpirun forwards each rank's output line by line (through a pseudo-terminal): plain text, no live display.
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(dist.IsRoot ? Console.Out : TextWriter.Null),
            // ANSI on with no colours writes plain text; ANSI off would fall back to System.Console's colour calls,
            // which emit escape codes into mpirun's pseudo-terminal.
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        AnsiConsole.Profile.Width = 120;
        if (!dist.IsRoot)
        {
            Console.SetOut(TextWriter.Null);
        }

        int code;
        try
        {
            code = Run(options, dist);
        }
        catch (DistributedException e)
        {
            // Another rank stopped, crashed or hangs, or the ranks disagree: end the whole job, saying why.
            Console.Out.Flush();
            dist.Abort($"fashion-mnist: {e.Message}");
            return 1;
        }

        if (code is not 0 and not Interrupted)
        {
            // This rank's error is printed; the others may be waiting for it in a collective: end the job now.
            Console.Out.Flush();
            dist.Abort($"fashion-mnist: stopping every process (exit {code}).", code);
            return code;
        }

        dist.Dispose();
        return code;
    }

    private static int Run(CommandLine options, DistributedTraining? dist)
    {
        bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && dist is null;
        if (Console.IsOutputRedirected && dist is null)
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

        if (DatasetSetup.OfferIfMissing(options.Data) is { } installError)
        {
            Console.Error.WriteLine($"fashion-mnist: {installError}");
            return UsageError;
        }

        Startup.Mark("arguments");

        // The dataset is decoded (about 0.3 s) on another thread while the device and the network are created, which
        // takes about as long on this one: the two used to run one after the other before the first step. Errors keep
        // their order: a dataset that cannot be read, then a batch larger than it, then the device's and the network's.
        System.Threading.Tasks.Task<(Dataset Train, Dataset Test)> loading = System.Threading.Tasks.Task.Run(
            () => (FashionMnist.Load(options.Data, train: true), FashionMnist.Load(options.Data, train: false)));
        string? DatasetProblem()
        {
            try
            {
                (Dataset trainSet, _) = loading.GetAwaiter().GetResult();
                return options.Batch > trainSet.Count ? $"--batch: {options.Batch} is larger than the {trainSet.Count} training images." : null;
            }
            catch (DatasetException e)
            {
                return e.Message;
            }
        }

        Device device;
        try
        {
            device = Device.Create(options.Device, dist is null ? options.Threads : ThreadsPerRank(options.Threads));
        }
        catch (ArgumentOutOfRangeException e)
        {
            // Threads from DSLRESNET_THREADS (the option is checked as it is parsed); the message names the source.
            Console.Error.WriteLine($"fashion-mnist: {DatasetProblem() ?? e.Message.Split(" (Parameter", 2)[0]}");
            return UsageError;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            Console.Error.WriteLine($"fashion-mnist: {DatasetProblem() ?? "--device: " + e.Message}");
            return UsageError;
        }

        Startup.Mark("device");
        INetworkModel model;
        try
        {
            model = entry.Create(device, options.Batch, new NetworkOptions(Seed: options.Seed));
        }
        catch (InsufficientMemoryException e)
        {
            // Known before anything is allocated: the message names the batch, the bytes needed and the bytes available.
            Console.Error.WriteLine($"fashion-mnist: {DatasetProblem() ?? "--batch: " + e.Message}");
            device.Dispose();
            return UsageError;
        }

        Startup.Mark("network");
        if (DatasetProblem() is { } problem)
        {
            Console.Error.WriteLine($"fashion-mnist: {problem}");
            model.Dispose();
            device.Dispose();
            return UsageError;
        }

        (Dataset train, Dataset test) = loading.Result;
        Startup.Mark("dataset wait");
        using (device)
        using (model)
        {
            Optimizer optimizer = options.Optimizer == "adamw"
                ? new AdamW(options.LearningRate, weightDecay: options.WeightDecay)
                : new Sgd(options.LearningRate, options.Momentum, weightDecay: options.WeightDecay, nesterov: options.Nesterov);
            model.AddParametersTo(optimizer);

            BatchLoader loader = new(train, options.Batch, options.Seed, shuffle: true, dropLast: true,
                augmentation: options.Augment ? Augmentation.Standard : null);
            string? distributedText = null;
            if (dist is not null)
            {
                if (train.Count < options.Batch * dist.WorldSize)
                {
                    Console.Error.WriteLine($"fashion-mnist: --batch: {options.Batch} per process x {dist.WorldSize} processes is more than the {train.Count} training images.");
                    return UsageError;
                }

                dist.Attach(model, options.SyncBatchNorm);

                loader = dist.Shard(loader);
                distributedText = $"{dist.WorldSize} processes (MPI), {options.Batch} x {dist.WorldSize} = {options.Batch * dist.WorldSize} images per step; " +
                                  $"batch norm {(options.SyncBatchNorm ? "synchronised over all processes" : "per process (local statistics)")}";
            }

            if (options.Benchmark is { } repeats)
            {
                return Benchmark.Run(options, entry, model, device, optimizer, loader, test, repeats);
            }
            int stepsPerEpoch = Trainer.StepsPerEpochFor(loader, options.MaxSteps);
            (ILearningRateSchedule schedule, string scheduleText) = Schedules.For(options, stepsPerEpoch);
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
                    Distributed = dist,
                });
            }
            catch (ArgumentException e)
            {
                // The dataset does not fit the network (image size, classes): a user error, not a crash.
                Console.Error.WriteLine($"fashion-mnist: --data '{options.Data}': {FirstSentence(e)}");
                return UsageError;
            }

            Report.Header(options, entry, model, device, stepsPerEpoch, scheduleText, test, checkpointPath, distributedText);
            Startup.Mark("set-up");

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
                    Report.WriteLine(interactive,
                        $"[bold]epoch {m.Epoch}/{options.Epochs}[/]  lr {m.LearningRate:G3}  train loss {m.TrainLoss:F4} acc {Report.Percent(m.TrainAccuracy)}  " +
                        $"test loss {Report.Number(m.TestLoss, "F4")} acc {Report.Percent(m.TestAccuracy)}  {m.TrainImagesPerSecond:F0} img/s  {Report.Duration(m.Seconds)}");
                };
                trainer.CheckpointSaved = (path, m) =>
                {
                    lastSavedEpoch = m.Epoch;
                    Report.WriteLine(interactive, $"[grey]checkpoint saved: {Markup.Escape(path)} (epoch {m.Epoch})[/]");
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

            if (dist is { IsRoot: false })
            {
                return result!.Cancelled ? Interrupted : 0;
            }

            Report.Summary(result!, options, entry, checkpointPath, stepLosses);
            return result!.Cancelled ? Interrupted : 0;
        }
    }

    // Under mpirun, without --threads or DSLRESNET_THREADS: the cores shared between the ranks on this machine.
    private static int ThreadsPerRank(int threads)
    {
        if (threads > 0 || Environment.GetEnvironmentVariable("DSLRESNET_THREADS") is not null)
        {
            return threads;
        }

        int local = int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : 1;
        return Math.Max(1, Environment.ProcessorCount / local);
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
}
