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

// Trainer's metrics history: its JSON form in a checkpoint's metadata.
public sealed partial class Trainer
{
    /// <summary>Reads the metrics history a trainer stored in a checkpoint's metadata.</summary>
    /// <param name="checkpoint">The checkpoint.</param>
    /// <returns>The metrics, by epoch; empty when the checkpoint has none.</returns>
    /// <exception cref="CheckpointException">The history is not valid JSON of the expected form.</exception>
    public static IReadOnlyList<EpochMetrics> ReadHistory(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (!checkpoint.Metadata.TryGetValue(HistoryKey, out string? json))
        {
            return [];
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            List<EpochMetrics> history = [];
            foreach (JsonElement e in document.RootElement.EnumerateArray())
            {
                history.Add(new EpochMetrics(
                    e.GetProperty("epoch").GetInt32(), Number(e, "train_loss"), Number(e, "train_accuracy"), Number(e, "test_loss"),
                    Number(e, "test_accuracy"), Number(e, "lr"), Number(e, "train_images_per_second"), Number(e, "eval_images_per_second"),
                    Number(e, "seconds"), e.GetProperty("train_steps").GetInt32(), e.GetProperty("train_images").GetInt32(),
                    e.GetProperty("test_images").GetInt32()));
            }

            return history;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new CheckpointException($"Checkpoint metadata '{HistoryKey}' is not a valid metrics history: {e.Message}", e);
        }
    }

    /// <summary>Writes a metrics history as the JSON array stored under <see cref="HistoryKey"/> (non-finite numbers as null).</summary>
    /// <param name="history">The metrics.</param>
    /// <returns>The JSON text.</returns>
    public static string HistoryToJson(IEnumerable<EpochMetrics> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        using MemoryStream stream = new();
        using (Utf8JsonWriter writer = new(stream))
        {
            writer.WriteStartArray();
            foreach (EpochMetrics m in history)
            {
                writer.WriteStartObject();
                writer.WriteNumber("epoch", m.Epoch);
                WriteNumber(writer, "train_loss", m.TrainLoss);
                WriteNumber(writer, "train_accuracy", m.TrainAccuracy);
                WriteNumber(writer, "test_loss", m.TestLoss);
                WriteNumber(writer, "test_accuracy", m.TestAccuracy);
                WriteNumber(writer, "lr", m.LearningRate);
                WriteNumber(writer, "train_images_per_second", m.TrainImagesPerSecond);
                WriteNumber(writer, "eval_images_per_second", m.EvalImagesPerSecond);
                WriteNumber(writer, "seconds", m.Seconds);
                writer.WriteNumber("train_steps", m.TrainSteps);
                writer.WriteNumber("train_images", m.TrainImages);
                writer.WriteNumber("test_images", m.TestImages);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static double Number(JsonElement element, string name)
    {
        JsonElement value = element.GetProperty(name);
        return value.ValueKind == JsonValueKind.Null ? double.NaN : value.GetDouble();
    }

    private static void WriteNumber(Utf8JsonWriter writer, string name, double value)
    {
        if (double.IsFinite(value))
        {
            writer.WriteNumber(name, value);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
