using System;
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
