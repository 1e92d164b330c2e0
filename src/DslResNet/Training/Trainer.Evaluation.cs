using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Threading;
using DslResNet.Data;
using DslResNet.IO;
using DslResNet.Runtime;

namespace DslResNet.Training;

// Trainer's evaluation: a model over a dataset in batches, and the checks that a dataset fits the model.
public sealed partial class Trainer
{
    /// <summary>
    /// Evaluates a model on the first <paramref name="limit"/> images of a dataset (all when null), in evaluation mode,
    /// in batches of up to <see cref="INetworkModel.BatchSize"/> (the last may be partial); the model is back in training
    /// mode afterwards.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="data">The dataset, in its own order.</param>
    /// <param name="limit">The number of images, or null for all; at least 0.</param>
    /// <param name="cancellationToken">Stops after the current batch.</param>
    /// <returns>Mean loss, accuracy, images and time.</returns>
    /// <exception cref="OperationCanceledException">Cancellation was requested.</exception>
    public static EvaluationResult Evaluate(INetworkModel model, Dataset data, int? limit = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (limit is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "The evaluation limit must be at least 0 (or null for all).");
        }

        CheckData(data, model.Definition.InputShape, model.Definition.OutputShape.Channels, model.Definition.Name, nameof(data));
        EvaluationResult result = EvaluateCore(model, data, limit, null, 0, 0, 0, 0, cancellationToken, out bool cancelled);
        if (cancelled)
        {
            throw new OperationCanceledException(cancellationToken);
        }

        return result;
    }

    private static EvaluationResult EvaluateCore(
        INetworkModel model, Dataset data, int? limit, IProgress<TrainingProgress>? progress, int epoch, int epochs, long globalStep,
        double learningRate, CancellationToken cancellationToken, out bool cancelled, int first = 0)
    {
        cancelled = false;
        int count = Math.Min(data.Count - first, limit ?? int.MaxValue);
        if (count == 0)
        {
            return new EvaluationResult(double.NaN, double.NaN, 0, 0);
        }

        int batchSize = model.BatchSize;
        int size = data.ImageSize;
        int batches = (count + batchSize - 1) / batchSize;
        double lossSum = 0;
        long correct = 0;
        int images = 0;
        // One batch of normalised images at a time (the dataset may hold bytes).
        float[] batchImages = new float[Math.Min(batchSize, count) * size];
        Stopwatch clock = Stopwatch.StartNew();
        model.Eval();
        try
        {
            for (int b = 0; b < batches; b++)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    cancelled = true;
                    return new EvaluationResult(double.NaN, double.NaN, 0, clock.Elapsed.TotalSeconds);
                }

                int start = b * batchSize;
                int n = Math.Min(batchSize, count - start);
                data.CopyImages(first + start, n, batchImages.AsSpan(0, n * size));
                BatchResult result = model.Evaluate(batchImages.AsSpan(0, n * size), data.Labels.AsSpan(first + start, n));
                lossSum += result.Loss * result.Count;
                correct += result.Correct;
                images += result.Count;
                if (progress is not null)
                {
                    TimeSpan elapsed = clock.Elapsed;
                    progress.Report(new TrainingProgress(
                        TrainingPhase.Evaluating, epoch, epochs, b + 1, batches, globalStep, result.Loss, lossSum / images,
                        (double)correct / images, learningRate, Rate(images, elapsed), elapsed, elapsed / (b + 1) * (batches - b - 1)));
                }
            }
        }
        finally
        {
            model.Train();
        }

        return new EvaluationResult(lossSum / images, (double)correct / images, images, clock.Elapsed.TotalSeconds);
    }

    private static void CheckData(Dataset data, TensorShape input, int classes, string network, string argument)
    {
        if (data.ImageShape.Channels != input.Channels || data.ImageShape.Height != input.Height || data.ImageShape.Width != input.Width)
        {
            throw new ArgumentException($"The images are {data.ImageShape} but {network} takes {input}.", argument);
        }

        if (data.ClassCount > classes)
        {
            throw new ArgumentException(Invariant($"The dataset has {data.ClassCount} classes but {network} outputs {classes}."), argument);
        }
    }

    private static double Rate(int images, TimeSpan elapsed) => elapsed.TotalSeconds > 0 ? images / elapsed.TotalSeconds : 0;
}
