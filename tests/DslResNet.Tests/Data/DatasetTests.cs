using System;
using System.Linq;
using DslResNet.Data;
using Xunit;

namespace DslResNet.Tests.Data;

public sealed class DatasetTests
{
    [Fact]
    public void From_bytes_normalises_per_channel()
    {
        byte[] pixels = [0, 255, 51, 102, 0, 255, 51, 102]; // 2 images of 2 x 1 x 2
        var ds = Dataset.FromBytes(pixels, 2, [1, 0], TensorShape.Image(2, 1, 2), 2, [0.5f, 0.2f], [0.5f, 0.4f], "i", "l");
        Assert.Equal(2, ds.Count);
        Assert.Equal(2, ds.ClassCount);
        Assert.Equal(4, ds.ImageSize);
        Assert.Equal(new[] { 1, 0 }, ds.Labels);
        float g51 = (51 / 255f - 0.2f) / 0.4f, g102 = (102 / 255f - 0.2f) / 0.4f;
        float[] expected = [-1f, 1f, g51, g102, -1f, 1f, g51, g102];
        Assert.Equal(expected.Length, ds.Images.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], ds.Images[i], 1e-6f);
        }
    }

    [Fact]
    public void From_bytes_keeps_bytes_and_normalises_while_copying()
    {
        byte[] pixels = [0, 255, 51, 102, 0, 255, 51, 102, 7, 8, 9, 10]; // 3 images of 2 x 1 x 2
        var ds = Dataset.FromBytes(pixels, 3, [1, 0, 1], TensorShape.Image(2, 1, 2), 2, [0.5f, 0.2f], [0.5f, 0.4f], "i", "l");
        Assert.True(ds.IsByteBacked);
        Assert.Equal(12, ds.ImageBytes);
        float[] two = new float[8];
        ds.CopyImages(1, 2, two);
        float[] expected = new float[8];
        for (int i = 0; i < 8; i++)
        {
            float mean = (i / 2 % 2) == 0 ? 0.5f : 0.2f, std = (i / 2 % 2) == 0 ? 0.5f : 0.4f;
            expected[i] = Dataset.Normalise(pixels[4 + i], mean, std);
        }

        Assert.Equal(expected, two);
        // Copying built no float array; Images builds it once, with the same values.
        Assert.Equal(12, ds.ImageBytes);
        Assert.Equal(expected, ds.Images.AsSpan(4, 8).ToArray());
        Assert.Same(ds.Images, ds.Images);
        Assert.Equal(12 + (12 * 4), ds.ImageBytes);
        float[] one = new float[4];
        ds.CopyImage(2, one);
        Assert.Equal(expected.AsSpan(4).ToArray(), one);
    }

    [Fact]
    public void Copy_errors_name_the_range_and_sizes()
    {
        var ds = Dataset.FromBytes(new byte[12], 3, [0, 0, 0], TensorShape.Image(1, 2, 2), 2, [0f], [1f], "i", "l");
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => ds.CopyImages(2, 2, new float[8]));
        Assert.Contains("Images 2 to 3 are asked for; the dataset has 3", range.Message);
        var small = Assert.Throws<ArgumentException>(() => ds.CopyImages(0, 2, new float[7]));
        Assert.Contains("2 images of (1, 2, 2) need 8 values; the target holds 7", small.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.CopyImage(3, new float[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.CopyImages(-1, 1, new float[4]));
    }

    [Fact]
    public void Byte_and_float_datasets_give_the_same_batches_with_augmentation()
    {
        var random = new Random(3);
        byte[] pixels = new byte[20 * 3 * 6 * 6];
        random.NextBytes(pixels);
        byte[] labels = new byte[20];
        var shape = TensorShape.Image(3, 6, 6);
        var bytes = Dataset.FromBytes(pixels, 20, labels, shape, 10, [0.4f, 0.5f, 0.6f], [0.2f, 0.25f, 0.3f], "i", "l");
        var floats = new Dataset((float[])bytes.Images.Clone(), new int[20], shape, 10, [0.4f, 0.5f, 0.6f], [0.2f, 0.25f, 0.3f]);
        var fresh = Dataset.FromBytes(pixels, 20, labels, shape, 10, [0.4f, 0.5f, 0.6f], [0.2f, 0.25f, 0.3f], "i", "l");
        var a = new BatchLoader(fresh, 6, seed: 5, augmentation: Augmentation.Standard);
        var b = new BatchLoader(floats, 6, seed: 5, augmentation: Augmentation.Standard);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            Assert.Equal(b.Epoch(epoch).SelectMany(x => x.Images), a.Epoch(epoch).SelectMany(x => x.Images));
        }

        Assert.Equal(pixels.Length, fresh.ImageBytes); // the loader copied from the bytes
    }

    [Fact]
    public void Count_mismatch_names_both_sources()
    {
        var e = Assert.Throws<DatasetException>(() =>
            Dataset.FromBytes(new byte[8], 2, [0, 1, 2], TensorShape.Image(1, 2, 2), 10, [0f], [1f], "imgs.idx", "labs.idx"));
        Assert.Contains("imgs.idx", e.Message);
        Assert.Contains("labs.idx", e.Message);
    }

    [Fact]
    public void Constructor_validates()
    {
        var shape = TensorShape.Image(1, 2, 2);
        Assert.Throws<ArgumentException>(() => new Dataset(new float[8], [0, 3], shape, 3, [0f], [1f]));  // label 3 of 3 classes
        Assert.Throws<ArgumentException>(() => new Dataset(new float[7], [0, 1], shape, 3, [0f], [1f]));  // wrong size
        Assert.Throws<ArgumentException>(() => new Dataset(new float[8], [0, 1], shape, 3, [0f, 0f], [1f, 1f]));
        Assert.Throws<ArgumentException>(() => new Dataset(new float[8], [0, 1], shape, 3, [0f], [0f]));
        Assert.Throws<ArgumentException>(() => new Dataset(new float[8], [0, -1], shape, 3, [0f], [1f]));
    }
}
