using System;

namespace DslResNet.Data;

/// <summary>
/// The training augmentation of He et al. (2015) for CIFAR: pad each side with <see cref="Padding"/> pixels of black,
/// take a random crop of the original size, and mirror it horizontally with probability 1/2. It works on normalised
/// images, so black is the normalised value of 0 in each channel (-mean / std), as when torchvision pads the raw image
/// before normalising.
/// </summary>
/// <param name="Padding">Pixels of padding on each side (4 in the paper); 0 turns the crop off.</param>
/// <param name="Flip">Whether to mirror horizontally with probability 1/2.</param>
public sealed record Augmentation(int Padding = 4, bool Flip = true)
{
    /// <summary>The paper's augmentation: pad 4, random crop, random horizontal flip.</summary>
    public static Augmentation Standard { get; } = new();

    /// <summary>Draws the random choices for one image, in this order: crop row offset, crop column offset, flip.</summary>
    /// <param name="random">The random source.</param>
    /// <returns>Offsets in [0, 2 x <see cref="Padding"/>] into the padded image, and whether to flip.</returns>
    public (int Top, int Left, bool Flip) Draw(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfNegative(Padding);
        int top = random.Next(0, 2 * Padding + 1);
        int left = random.Next(0, 2 * Padding + 1);
        bool flip = Flip && random.NextDouble() < 0.5;
        return (top, left, flip);
    }

    /// <summary>Augments one normalised image into <paramref name="destination"/> with choices drawn from <paramref name="random"/>.</summary>
    /// <param name="source">The image, C x H x W.</param>
    /// <param name="destination">Where the augmented image goes, C x H x W.</param>
    /// <param name="shape">The image's shape.</param>
    /// <param name="padValues">The normalised value of black in each channel.</param>
    /// <param name="random">The random source.</param>
    public void Apply(ReadOnlySpan<float> source, Span<float> destination, TensorShape shape, ReadOnlySpan<float> padValues, Random random)
    {
        var (top, left, flip) = Draw(random);
        CropPadded(source, destination, shape, Padding, top, left, padValues);
        if (flip)
        {
            FlipHorizontal(destination, shape);
        }
    }

    /// <summary>Pads an image with <paramref name="padding"/> pixels of <paramref name="padValues"/> on every side.</summary>
    /// <param name="source">The image, C x H x W.</param>
    /// <param name="shape">The image's shape.</param>
    /// <param name="padding">Pixels added on each side.</param>
    /// <param name="padValues">The value of the new pixels, per channel.</param>
    /// <returns>The padded image, C x (H + 2p) x (W + 2p).</returns>
    public static float[] Pad(ReadOnlySpan<float> source, TensorShape shape, int padding, ReadOnlySpan<float> padValues)
    {
        Check(source.Length, shape, padValues.Length);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        int ph = shape.Height + 2 * padding, pw = shape.Width + 2 * padding;
        var padded = new float[shape.Channels * ph * pw];
        for (int c = 0; c < shape.Channels; c++)
        {
            Span<float> plane = padded.AsSpan(c * ph * pw, ph * pw);
            plane.Fill(padValues[c]);
            for (int y = 0; y < shape.Height; y++)
            {
                source.Slice((c * shape.Height + y) * shape.Width, shape.Width)
                    .CopyTo(plane.Slice((y + padding) * pw + padding, shape.Width));
            }
        }
        return padded;
    }

    /// <summary>
    /// Crops an H x W window at (<paramref name="top"/>, <paramref name="left"/>) from the image as padded with
    /// <paramref name="padding"/> pixels of <paramref name="padValues"/>, without building the padded image.
    /// Offset (padding, padding) gives back the original.
    /// </summary>
    /// <param name="source">The image, C x H x W.</param>
    /// <param name="destination">The crop, C x H x W.</param>
    /// <param name="shape">The image's shape.</param>
    /// <param name="padding">Pixels of padding on each side.</param>
    /// <param name="top">The crop's first row in the padded image, 0 to 2 x padding.</param>
    /// <param name="left">The crop's first column in the padded image, 0 to 2 x padding.</param>
    /// <param name="padValues">The padding's value, per channel.</param>
    public static void CropPadded(ReadOnlySpan<float> source, Span<float> destination, TensorShape shape, int padding, int top, int left, ReadOnlySpan<float> padValues)
    {
        Check(source.Length, shape, padValues.Length);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        ArgumentOutOfRangeException.ThrowIfNotEqual(destination.Length, source.Length);
        ArgumentOutOfRangeException.ThrowIfNegative(top);
        ArgumentOutOfRangeException.ThrowIfNegative(left);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(top, 2 * padding);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(left, 2 * padding);
        int h = shape.Height, w = shape.Width;
        int dy = top - padding, dx = left - padding; // source row = destination row + dy
        for (int c = 0; c < shape.Channels; c++)
        {
            ReadOnlySpan<float> src = source.Slice(c * h * w, h * w);
            Span<float> dst = destination.Slice(c * h * w, h * w);
            float pad = padValues[c];
            int x0 = Math.Max(0, -dx), x1 = Math.Min(w, w - dx); // destination columns that fall inside the source
            for (int y = 0; y < h; y++)
            {
                Span<float> row = dst.Slice(y * w, w);
                int sy = y + dy;
                if (sy < 0 || sy >= h || x0 >= x1)
                {
                    row.Fill(pad);
                    continue;
                }
                row.Slice(0, x0).Fill(pad);
                src.Slice(sy * w + x0 + dx, x1 - x0).CopyTo(row.Slice(x0, x1 - x0));
                row.Slice(x1).Fill(pad);
            }
        }
    }

    /// <summary>Mirrors an image left to right, in place.</summary>
    /// <param name="image">The image, C x H x W.</param>
    /// <param name="shape">The image's shape.</param>
    public static void FlipHorizontal(Span<float> image, TensorShape shape)
    {
        Check(image.Length, shape, shape.Channels);
        for (int r = 0; r < shape.Channels * shape.Height; r++)
        {
            image.Slice(r * shape.Width, shape.Width).Reverse();
        }
    }

    private static void Check(int length, TensorShape shape, int padValueCount)
    {
        if (length != shape.Elements)
        {
            throw new ArgumentException($"An image of shape {shape} has {shape.Elements} values; got {length}.");
        }
        if (padValueCount != shape.Channels)
        {
            throw new ArgumentException($"One pad value per channel is needed ({shape.Channels}); got {padValueCount}.");
        }
    }
}
