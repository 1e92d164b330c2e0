using System;
using System.Globalization;

namespace DslResNet;

/// <summary>The shape of one image's tensor: channels x height x width, or a flat vector of <see cref="Channels"/> features.</summary>
/// <param name="Channels">Channels, or features when <paramref name="IsFlat"/>.</param>
/// <param name="Height">Height (1 when flat).</param>
/// <param name="Width">Width (1 when flat).</param>
/// <param name="IsFlat">True for a vector (after flatten, global pooling or a dense layer).</param>
public readonly record struct TensorShape(int Channels, int Height, int Width, bool IsFlat)
{
    /// <summary>An image-shaped tensor.</summary>
    public static TensorShape Image(int channels, int height, int width) => new(channels, height, width, false);

    /// <summary>A flat vector of features.</summary>
    public static TensorShape Flat(int features) => new(features, 1, 1, true);

    /// <summary>Number of elements per image.</summary>
    public long Elements => (long)Channels * Height * Width;

    /// <summary>The dimensions as PyTorch prints them for one image: <c>[C, H, W]</c> or <c>[F]</c>.</summary>
    public int[] Dimensions => IsFlat ? new[] { Channels } : new[] { Channels, Height, Width };

    /// <inheritdoc />
    public override string ToString() => IsFlat
        ? string.Create(CultureInfo.InvariantCulture, $"({Channels})")
        : string.Create(CultureInfo.InvariantCulture, $"({Channels}, {Height}, {Width})");
}
