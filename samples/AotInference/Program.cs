using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using DslResNet;
using DslResNet.Data;
using DslResNet.IO;
using DslResNet.Models;
using DslResNet.Runtime;

namespace AotInferenceSample;

/// <summary>ResNet-20's layers on a 28x28 grey image with projection shortcuts: the main job's network, so its checkpoint loads.</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet20), Shortcut = ShortcutKind.Projection)]
public partial class FashionResNet20;

/// <summary>
/// Predicts one image on the CPU (SIMD backend) and prints the logits and the time from process start to the first
/// prediction. Usage: <c>AotInference [--checkpoint FILE] [--image FILE] [--seed N] [--threads N] [--export FILE]</c>; without a
/// checkpoint the network keeps its seeded initialisation, without an image it predicts a fixed synthetic one; --export saves
/// the weights used (as safetensors), so another build can be given the same ones.
/// </summary>
public static class Program
{
    private const int Pixels = 28 * 28;

    /// <summary>Runs the sample.</summary>
    /// <param name="args">The command line.</param>
    /// <returns>0, or 2 for a usage or input error.</returns>
    public static int Main(string[] args)
    {
        string? checkpoint = null, image = null, export = null;
        int seed = 42, threads = 1;
        for (int i = 0; i < args.Length; i++)
        {
            string option = args[i];
            if (option is "--help" or "-h")
            {
                Console.WriteLine("usage: AotInference [--checkpoint FILE.safetensors|.pth] [--image FILE (784 bytes, 28x28 grey, row by row)] [--seed N] [--threads N] [--export FILE.safetensors]");
                return 0;
            }

            if (i + 1 >= args.Length)
            {
                return Fail($"{option}: missing value (or unknown option); see --help.");
            }

            string value = args[++i];
            switch (option)
            {
                case "--checkpoint": checkpoint = value; break;
                case "--image": image = value; break;
                case "--export": export = value; break;
                case "--seed" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int s): seed = s; break;
                case "--threads" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int t) && t >= 1: threads = t; break;
                case "--seed" or "--threads": return Fail($"{option}: '{value}' is not a whole number{(option == "--threads" ? " of at least 1" : "")}.");
                default: return Fail($"unknown option '{option}'; see --help.");
            }
        }

        float[] pixels;
        try
        {
            pixels = image is null ? SyntheticImage() : ReadImage(image);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return Fail($"--image '{image}': {e.Message}");
        }

        using Device device = Device.Create(DeviceKind.Cpu, threads);
        using var network = new FashionResNet20(device, 1, new NetworkOptions(Seed: seed));
        if (checkpoint is not null)
        {
            try
            {
                network.ImportCheckpoint(Checkpoint.Load(checkpoint));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CheckpointException)
            {
                return Fail($"--checkpoint '{checkpoint}': {e.Message}");
            }
        }

        network.Eval();
        float[] logits = new float[FashionResNet20.OutputShape.Elements];
        network.Predict(pixels, logits);
        DateTimeOffset predictedAt = DateTimeOffset.UtcNow;
        TimeSpan sinceStart = predictedAt.LocalDateTime - Process.GetCurrentProcess().StartTime;

        int best = 0;
        for (int i = 1; i < logits.Length; i++)
        {
            best = logits[i] > logits[best] ? i : best;
        }

        Console.WriteLine($"device: {device.Description}");
        Console.WriteLine($"weights: {checkpoint ?? $"initialisation, seed {seed}"}");
        Console.WriteLine($"logits: {string.Join(' ', Array.ConvertAll(logits, l => l.ToString("R", CultureInfo.InvariantCulture)))}");
        Console.WriteLine($"class: {best} ({FashionMnist.ClassNames[best]})");
        Console.WriteLine($"first prediction after: {sinceStart.TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture)} ms from process start");

        // The moment of the first prediction on the wall clock (microseconds since 1970), for a script that timed the launch.
        Console.WriteLine($"predicted at: {((predictedAt - DateTimeOffset.UnixEpoch).Ticks / 10).ToString(CultureInfo.InvariantCulture)} us");
        if (export is not null)
        {
            try
            {
                network.ExportCheckpoint().Save(export);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CheckpointException)
            {
                return Fail($"--export '{export}': {e.Message}");
            }

            Console.WriteLine($"exported: {export}");
        }

        return 0;
    }

    // A 784-byte file of grey pixels (0 black .. 255 white), normalised as the Fashion-MNIST loader does.
    private static float[] ReadImage(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length != Pixels)
        {
            throw new InvalidDataException($"{bytes.Length} bytes; expected {Pixels} (28x28 grey pixels, one byte each, row by row).");
        }

        return Array.ConvertAll(bytes, b => (b / 255f - FashionMnist.Mean) / FashionMnist.Std);
    }

    // A fixed image (a bright ring on dark ground), so runs without an image file are comparable.
    private static float[] SyntheticImage()
    {
        float[] pixels = new float[Pixels];
        for (int y = 0; y < 28; y++)
        {
            for (int x = 0; x < 28; x++)
            {
                double r = Math.Sqrt(((x - 13.5) * (x - 13.5)) + ((y - 13.5) * (y - 13.5)));
                float grey = (float)Math.Clamp(1 - (Math.Abs(r - 8) / 3), 0, 1);
                pixels[(y * 28) + x] = (grey - FashionMnist.Mean) / FashionMnist.Std;
            }
        }

        return pixels;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"aot-inference: {message}");
        return 2;
    }
}
