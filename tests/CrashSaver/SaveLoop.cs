using System;
using System.IO;
using DslResNet.IO;

namespace CrashSaver;

/// <summary>
/// With <c>--save-loop PATH</c> saves checkpoints to PATH forever, printing each epoch once it is saved, for the crash
/// tests to kill mid-save; with <c>--verify PATH</c> checks that PATH is one complete checkpoint and prints its epoch.
/// </summary>
public static class SaveLoop
{
    /// <summary>Elements per tensor: 2 tensors of 1 Mi floats, so one save writes about 8 MB and takes a while.</summary>
    public const int Elements = 1 << 20;

    /// <summary>Runs the save loop when asked to.</summary>
    /// <param name="args">--save-loop PATH, or --verify PATH.</param>
    /// <returns>0; 1 when --verify finds a bad checkpoint; 2 for other arguments.</returns>
    public static int Main(string[] args)
    {
        if (args is ["--verify", string checkpoint])
        {
            try
            {
                Console.Out.WriteLine(Verify(checkpoint));
                return 0;
            }
            catch (Exception e) when (e is CheckpointException or InvalidDataException or IOException)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
        }

        if (args is not ["--save-loop", string path])
        {
            Console.Error.WriteLine("usage: CrashSaver --save-loop PATH | --verify PATH");
            return 2;
        }

        // Continue from the checkpoint on disk, so epochs keep rising across kills.
        int epoch = File.Exists(path) ? Checkpoint.Load(path).Epoch : 0;
        while (true)
        {
            epoch++;
            Make(epoch).Save(path);
            Console.Out.WriteLine(epoch);
            Console.Out.Flush();
        }
    }

    /// <summary>A checkpoint whose every value is its epoch, so a torn or mixed file is seen.</summary>
    /// <param name="epoch">The epoch.</param>
    /// <returns>The checkpoint.</returns>
    public static Checkpoint Make(int epoch)
    {
        Checkpoint c = new() { Epoch = epoch, OptimizerStep = epoch };
        float[] weight = new float[Elements];
        Array.Fill(weight, epoch);
        float[] momentum = new float[Elements];
        Array.Fill(momentum, -epoch);
        c.Model.Add("conv1.weight", TensorData.Float([Elements], weight));
        c.OptimizerBuffers.Add("momentum_buffer.conv1.weight", TensorData.Float([Elements], momentum));
        return c;
    }

    /// <summary>Loads <paramref name="path"/> and checks that it is one complete checkpoint of <see cref="Make"/>.</summary>
    /// <param name="path">The file.</param>
    /// <returns>Its epoch.</returns>
    public static int Verify(string path)
    {
        Checkpoint c = Checkpoint.Load(path);
        float[] weight = c.Model["conv1.weight"].Floats!;
        float[] momentum = c.OptimizerBuffers["momentum_buffer.conv1.weight"].Floats!;
        if (weight.Length != Elements || momentum.Length != Elements || c.OptimizerStep != c.Epoch
            || Array.FindIndex(weight, v => v != c.Epoch) >= 0 || Array.FindIndex(momentum, v => v != -c.Epoch) >= 0)
        {
            throw new InvalidDataException($"'{path}' is not the complete checkpoint of epoch {c.Epoch}.");
        }

        return c.Epoch;
    }
}
