using System;
using System.Linq;
using DslResNet.Data;
using Xunit;

namespace DslResNet.Tests.Data;

public sealed class AugmentationTests
{
    private static readonly TensorShape Shape = TensorShape.Image(2, 3, 4);

    private static float[] Image() => Enumerable.Range(0, 24).Select(i => (float)i + 1).ToArray();

    private static readonly float[] PadValues = [-7f, -9f];

    [Fact]
    public void Flip_is_an_exact_mirror()
    {
        float[] image = Image();
        Augmentation.FlipHorizontal(image, Shape);
        for (int c = 0; c < 2; c++)
        {
            for (int y = 0; y < 3; y++)
            {
                for (int x = 0; x < 4; x++)
                {
                    Assert.Equal(Image()[(c * 3 + y) * 4 + (3 - x)], image[(c * 3 + y) * 4 + x]);
                }
            }
        }
        Augmentation.FlipHorizontal(image, Shape);
        Assert.Equal(Image(), image);
    }

    [Fact]
    public void Padding_uses_the_per_channel_value()
    {
        float[] padded = Augmentation.Pad(Image(), Shape, 4, PadValues);
        Assert.Equal(2 * 11 * 12, padded.Length);
        for (int c = 0; c < 2; c++)
        {
            for (int y = 0; y < 11; y++)
            {
                for (int x = 0; x < 12; x++)
                {
                    float v = padded[(c * 11 + y) * 12 + x];
                    bool inside = y >= 4 && y < 7 && x >= 4 && x < 8;
                    Assert.Equal(inside ? Image()[(c * 3 + y - 4) * 4 + x - 4] : PadValues[c], v);
                }
            }
        }
    }

    [Fact]
    public void Centre_crop_of_the_padded_image_is_the_original()
    {
        var crop = new float[24];
        Augmentation.CropPadded(Image(), crop, Shape, 4, 4, 4, PadValues);
        Assert.Equal(Image(), crop);
    }

    [Fact]
    public void Every_crop_matches_a_window_of_the_explicitly_padded_image()
    {
        float[] padded = Augmentation.Pad(Image(), Shape, 4, PadValues);
        for (int top = 0; top <= 8; top++)
        {
            for (int left = 0; left <= 8; left++)
            {
                var crop = new float[24];
                Augmentation.CropPadded(Image(), crop, Shape, 4, top, left, PadValues);
                for (int c = 0; c < 2; c++)
                {
                    for (int y = 0; y < 3; y++)
                    {
                        for (int x = 0; x < 4; x++)
                        {
                            Assert.Equal(padded[(c * 11 + y + top) * 12 + x + left], crop[(c * 3 + y) * 4 + x]);
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void Corner_crop_is_all_padding_where_it_leaves_the_image()
    {
        var crop = new float[24];
        Augmentation.CropPadded(Image(), crop, Shape, 4, 0, 0, PadValues);
        Assert.All(crop.Take(12), v => Assert.Equal(-7f, v));
        Assert.All(crop.Skip(12), v => Assert.Equal(-9f, v));
    }

    [Fact]
    public void Pad_value_is_the_normalised_black()
    {
        var ds = new Dataset(new float[3 * 4], [0], TensorShape.Image(3, 2, 2), 10, [0.5f, 0.25f, 0.2f], [0.5f, 0.5f, 0.1f]);
        Assert.Equal(new[] { -1f, -0.5f, -2f }, ds.ZeroValues());
        Assert.Equal(-FashionMnist.Mean / FashionMnist.Std, Dataset.Normalise(0, FashionMnist.Mean, FashionMnist.Std));
    }

    [Fact]
    public void Draws_stay_in_range_and_flip_about_half_the_time()
    {
        var random = new Random(123);
        int flips = 0;
        for (int i = 0; i < 2000; i++)
        {
            var (top, left, flip) = Augmentation.Standard.Draw(random);
            Assert.InRange(top, 0, 8);
            Assert.InRange(left, 0, 8);
            flips += flip ? 1 : 0;
        }
        Assert.InRange(flips, 850, 1150);
        Assert.False(new Augmentation(Flip: false).Draw(random).Flip);
    }

    [Fact]
    public void Wrong_sizes_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Augmentation.Pad(new float[5], Shape, 4, PadValues));
        Assert.Throws<ArgumentException>(() => Augmentation.Pad(Image(), Shape, 4, [0f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Augmentation.CropPadded(Image(), new float[24], Shape, 4, 9, 0, PadValues));
    }
}
