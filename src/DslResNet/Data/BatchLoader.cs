using System;
using System.Collections.Generic;

namespace DslResNet.Data;

/// <summary>One mini-batch: <see cref="Count"/> images (B x C x H x W) and their labels.</summary>
/// <param name="Images">The images, B x C x H x W, normalised (and augmented when the loader augments).</param>
/// <param name="Labels">The labels, one per image.</param>
/// <param name="Indices">The dataset index of each image.</param>
public sealed record Batch(float[] Images, int[] Labels, int[] Indices)
{
    /// <summary>The number of images in the batch.</summary>
    public int Count => Labels.Length;
}

/// <summary>
/// Iterates over a dataset in mini-batches, epoch by epoch. The order is a permutation drawn by
/// <see cref="System.Random"/> seeded from (seed, epoch), so an epoch's order is reproducible and differs between
/// epochs; augmentation draws from a second generator seeded the same way.
/// </summary>
public sealed class BatchLoader
{
    /// <summary>Creates a loader.</summary>
    /// <param name="dataset">The dataset.</param>
    /// <param name="batchSize">Images per batch.</param>
    /// <param name="seed">The seed from which each epoch's order and augmentation are derived.</param>
    /// <param name="shuffle">Whether to shuffle each epoch; when false, images come in dataset order.</param>
    /// <param name="dropLast">Whether to leave out the last batch when it is smaller than <paramref name="batchSize"/>.</param>
    /// <param name="augmentation">The augmentation to apply to every image, or null for none.</param>
    public BatchLoader(Dataset dataset, int batchSize, int seed = 0, bool shuffle = true, bool dropLast = false, Augmentation? augmentation = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (augmentation is not null)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(augmentation.Padding, nameof(augmentation));
        }
        Dataset = dataset;
        BatchSize = batchSize;
        Seed = seed;
        Shuffle = shuffle;
        DropLast = dropLast;
        Augmentation = augmentation;
    }

    /// <summary>The dataset.</summary>
    public Dataset Dataset { get; }

    /// <summary>Images per batch.</summary>
    public int BatchSize { get; }

    /// <summary>The seed from which each epoch's order and augmentation are derived.</summary>
    public int Seed { get; }

    /// <summary>Whether each epoch is shuffled.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether the last, smaller batch is left out.</summary>
    public bool DropLast { get; }

    /// <summary>The augmentation, or null.</summary>
    public Augmentation? Augmentation { get; }

    /// <summary>This loader's rank in a sharded (distributed) loader, 0 otherwise.</summary>
    public int Rank { get; private init; }

    /// <summary>The number of ranks sharing each epoch (1 when not sharded).</summary>
    public int WorldSize { get; private init; } = 1;

    /// <summary>The images of one step over all ranks: <see cref="BatchSize"/> x <see cref="WorldSize"/>.</summary>
    public int GlobalBatchSize => BatchSize * WorldSize;

    /// <summary>The number of batches in an epoch (per rank, for a sharded loader).</summary>
    public int BatchCount => DropLast ? Dataset.Count / GlobalBatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>
    /// Rank <paramref name="rank"/>'s shard for data-parallel training: every rank computes the same epoch order as one
    /// process would, cuts it into global batches of <see cref="BatchSize"/> x <paramref name="worldSize"/> images, and
    /// takes its own contiguous <see cref="BatchSize"/> of each; so a step of all ranks together sees exactly the batch one
    /// process with batch size <see cref="BatchSize"/> x <paramref name="worldSize"/> would. The last global batch, when
    /// incomplete, is dropped (no padding, so every rank takes the same number of equal steps). Augmentation draws from a
    /// generator per rank (the same distribution as one process, not the same draws).
    /// </summary>
    /// <param name="rank">The rank, 0 to <paramref name="worldSize"/> - 1.</param>
    /// <param name="worldSize">The number of ranks, at least 1.</param>
    /// <returns>The sharded loader.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A bad rank or world size.</exception>
    /// <exception cref="InvalidOperationException">This loader is sharded already.</exception>
    public BatchLoader Shard(int rank, int worldSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        if (rank < 0 || rank >= worldSize)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"The rank must be from 0 to {worldSize - 1} (the world size less one).");
        }

        if (WorldSize != 1)
        {
            throw new InvalidOperationException($"This loader is already rank {Rank}'s shard of {WorldSize}; shard the unsharded loader.");
        }

        return new BatchLoader(Dataset, BatchSize, Seed, Shuffle, dropLast: true, Augmentation) { Rank = rank, WorldSize = worldSize };
    }

    /// <summary>The order in which an epoch visits the dataset.</summary>
    /// <param name="epoch">The epoch, from 0.</param>
    /// <returns>A permutation of 0 .. Count - 1 (the identity when not shuffling).</returns>
    public int[] Order(int epoch) => Shuffle ? Permutation(Dataset.Count, Seed, epoch) : Identity(Dataset.Count);

    /// <summary>The batches of one epoch. Each batch's arrays are new.</summary>
    /// <param name="epoch">The epoch, from 0.</param>
    /// <returns>The batches, in order.</returns>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        int[] order = Order(epoch);
        var random = Augmentation is null ? null : new Random(DeriveSeed(Seed, epoch, stream: 1 + Rank));
        float[] padValues = Dataset.ZeroValues();
        int size = Dataset.ImageSize;
        // One image, normalised, for the augmentation to read (the dataset may hold bytes).
        float[] scratch = Augmentation is null ? [] : new float[size];
        for (int b = 0; b < BatchCount; b++)
        {
            int start = (b * GlobalBatchSize) + (Rank * BatchSize);
            int count = Math.Min(BatchSize, order.Length - start);
            var images = new float[count * size];
            var labels = new int[count];
            var indices = new int[count];
            for (int i = 0; i < count; i++)
            {
                int index = order[start + i];
                indices[i] = index;
                labels[i] = Dataset.Labels[index];
                Span<float> destination = images.AsSpan(i * size, size);
                if (Augmentation is null)
                {
                    Dataset.CopyImage(index, destination);
                }
                else
                {
                    Dataset.CopyImage(index, scratch);
                    Augmentation.Apply(scratch, destination, Dataset.ImageShape, padValues, random!);
                }
            }
            yield return new Batch(images, labels, indices);
        }
    }

    /// <summary>A random permutation of 0 .. <paramref name="count"/> - 1 (Fisher-Yates), determined by (seed, epoch).</summary>
    /// <param name="count">The number of items.</param>
    /// <param name="seed">The base seed.</param>
    /// <param name="epoch">The epoch.</param>
    /// <returns>The permutation.</returns>
    public static int[] Permutation(int count, int seed, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int[] order = Identity(count);
        var random = new Random(DeriveSeed(seed, epoch, stream: 0));
        for (int i = count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>
    /// A seed for <see cref="System.Random"/> derived from (seed, epoch, stream) by SplitMix64 finalisation; the same on
    /// every run and platform (unlike <see cref="HashCode"/>).
    /// </summary>
    /// <param name="seed">The base seed.</param>
    /// <param name="epoch">The epoch.</param>
    /// <param name="stream">Which generator: 0 for the order, 1 for augmentation.</param>
    /// <returns>A non-negative seed.</returns>
    public static int DeriveSeed(int seed, int epoch, int stream)
    {
        unchecked
        {
            ulong z = ((ulong)(uint)seed << 32 | (uint)epoch) + 0x9E3779B97F4A7C15UL * (ulong)(stream + 1);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (int)(z & 0x7FFFFFFF);
        }
    }

    private static int[] Identity(int count)
    {
        var order = new int[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
        }
        return order;
    }
}
