using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.Data;
using Xunit;

namespace DslResNet.Tests.Data;

public sealed class BatchLoaderTests
{
    /// n single-channel h x w images; image i has value i * 1000 + y * w + x (already "normalised").
    private static Dataset Synthetic(int n, int channels = 1, int h = 4, int w = 5, float mean = 0.5f, float std = 0.25f)
    {
        var shape = TensorShape.Image(channels, h, w);
        int size = (int)shape.Elements;
        var images = new float[n * size];
        for (int i = 0; i < images.Length; i++)
        {
            images[i] = i / size * 1000 + i % size;
        }
        var labels = Enumerable.Range(0, n).Select(i => i % 10).ToArray();
        return new Dataset(images, labels, shape, 10, Enumerable.Repeat(mean, channels).ToArray(), Enumerable.Repeat(std, channels).ToArray());
    }

    private static int[] Visited(BatchLoader loader, int epoch) => loader.Epoch(epoch).SelectMany(b => b.Indices).ToArray();

    [Fact]
    public void Same_seed_and_epoch_give_the_same_order()
    {
        var ds = Synthetic(100);
        Assert.Equal(Visited(new BatchLoader(ds, 8, seed: 42), 3), Visited(new BatchLoader(ds, 8, seed: 42), 3));
        Assert.Equal(BatchLoader.Permutation(100, 42, 3), BatchLoader.Permutation(100, 42, 3));
    }

    [Fact]
    public void Different_epochs_and_seeds_give_different_orders()
    {
        var ds = Synthetic(100);
        var loader = new BatchLoader(ds, 8, seed: 42);
        Assert.NotEqual(Visited(loader, 0), Visited(loader, 1));
        Assert.NotEqual(Visited(loader, 0), Visited(new BatchLoader(ds, 8, seed: 43), 0));
        Assert.NotEqual(Enumerable.Range(0, 100).ToArray(), Visited(loader, 0));
    }

    [Fact]
    public void Every_index_appears_exactly_once_per_epoch()
    {
        var ds = Synthetic(103);
        var loader = new BatchLoader(ds, 10, seed: 7);
        for (int epoch = 0; epoch < 5; epoch++)
        {
            int[] visited = Visited(loader, epoch);
            Assert.Equal(Enumerable.Range(0, 103), visited.OrderBy(i => i));
        }
        Assert.Equal(11, loader.BatchCount);
        Assert.Equal(3, loader.Epoch(0).Last().Count);
    }

    [Fact]
    public void Batches_carry_the_images_and_labels_of_their_indices()
    {
        var ds = Synthetic(23);
        foreach (Batch batch in new BatchLoader(ds, 6, seed: 1).Epoch(2))
        {
            for (int i = 0; i < batch.Count; i++)
            {
                Assert.Equal(ds.Labels[batch.Indices[i]], batch.Labels[i]);
                Assert.Equal(ds.Image(batch.Indices[i]).ToArray(), batch.Images.AsSpan(i * ds.ImageSize, ds.ImageSize).ToArray());
            }
        }
    }

    [Fact]
    public void Drop_last_leaves_out_the_partial_batch()
    {
        var ds = Synthetic(23);
        var loader = new BatchLoader(ds, 5, seed: 1, dropLast: true);
        List<Batch> batches = loader.Epoch(0).ToList();
        Assert.Equal(4, loader.BatchCount);
        Assert.Equal(4, batches.Count);
        Assert.All(batches, b => Assert.Equal(5, b.Count));
        Assert.All(batches, b => Assert.Equal(5 * ds.ImageSize, b.Images.Length));
        Assert.Equal(20, batches.SelectMany(b => b.Indices).Distinct().Count());
    }

    [Fact]
    public void Without_shuffle_the_order_is_the_dataset_order()
    {
        var loader = new BatchLoader(Synthetic(12), 5, seed: 9, shuffle: false);
        Assert.Equal(Enumerable.Range(0, 12), Visited(loader, 4));
    }

    [Fact]
    public void Derived_seeds_are_stable_constants()
    {
        // The derivation is a pure function (no HashCode randomisation), and its inputs are not interchangeable.
        Assert.Equal(BatchLoader.DeriveSeed(1, 2, 0), BatchLoader.DeriveSeed(1, 2, 0));
        Assert.NotEqual(BatchLoader.DeriveSeed(1, 2, 0), BatchLoader.DeriveSeed(2, 1, 0));
        Assert.NotEqual(BatchLoader.DeriveSeed(1, 2, 0), BatchLoader.DeriveSeed(1, 2, 1));
        Assert.True(BatchLoader.DeriveSeed(int.MinValue, -1, 1) >= 0);
    }

    [Fact]
    public void Augmented_epochs_are_reproducible()
    {
        var ds = Synthetic(20, channels: 3, h: 8, w: 8);
        var a = new BatchLoader(ds, 7, seed: 5, augmentation: Augmentation.Standard);
        var b = new BatchLoader(ds, 7, seed: 5, augmentation: Augmentation.Standard);
        Assert.Equal(a.Epoch(1).SelectMany(x => x.Images), b.Epoch(1).SelectMany(x => x.Images));
        Assert.NotEqual(a.Epoch(1).SelectMany(x => x.Images), a.Epoch(2).SelectMany(x => x.Images));
    }

    [Fact]
    public void Augmentation_with_no_padding_and_no_flip_is_the_identity()
    {
        var ds = Synthetic(9, channels: 2);
        var plain = new BatchLoader(ds, 4, seed: 3);
        var augmented = new BatchLoader(ds, 4, seed: 3, augmentation: new Augmentation(Padding: 0, Flip: false));
        Assert.Equal(plain.Epoch(0).SelectMany(x => x.Images), augmented.Epoch(0).SelectMany(x => x.Images));
    }

    [Fact]
    public void Augmented_images_are_crops_of_the_padded_image_possibly_mirrored()
    {
        var ds = Synthetic(30, channels: 2, h: 6, w: 7, mean: 0.4f, std: 0.2f);
        float[] zero = ds.ZeroValues();
        var shape = ds.ImageShape;
        int size = ds.ImageSize;
        int flips = 0;
        var offsets = new HashSet<(int, int)>();
        foreach (Batch batch in new BatchLoader(ds, 8, seed: 11, augmentation: Augmentation.Standard).Epoch(0))
        {
            for (int i = 0; i < batch.Count; i++)
            {
                float[] got = batch.Images.AsSpan(i * size, size).ToArray();
                bool found = false;
                for (int top = 0; top <= 8 && !found; top++)
                {
                    for (int left = 0; left <= 8 && !found; left++)
                    {
                        foreach (bool flip in new[] { false, true })
                        {
                            var expected = new float[size];
                            Augmentation.CropPadded(ds.Image(batch.Indices[i]), expected, shape, 4, top, left, zero);
                            if (flip)
                            {
                                Augmentation.FlipHorizontal(expected, shape);
                            }
                            if (expected.AsSpan().SequenceEqual(got))
                            {
                                found = true;
                                flips += flip ? 1 : 0;
                                offsets.Add((top, left));
                                break;
                            }
                        }
                    }
                }
                Assert.True(found, $"image {batch.Indices[i]} is no crop of its padded original");
            }
        }
        Assert.InRange(flips, 1, 29);
        Assert.True(offsets.Count > 5);
    }
}
