using System;
using System.Globalization;

namespace DslResNet.Data;

/// <summary>
/// An in-memory image classification dataset: <see cref="Count"/> images of shape <see cref="ImageShape"/> in
/// N x C x H x W order, scaled to [0, 1] and normalised per channel with <see cref="Mean"/> and <see cref="Std"/>; and
/// one label per image in [0, <see cref="ClassCount"/>).
/// </summary>
/// <remarks>
/// A dataset built from byte pixels (<see cref="FromBytes"/>, the IDX and CIFAR loaders) keeps the bytes, a quarter of
/// the memory of floats, and normalises while copying (<see cref="CopyImages"/>, which the batch loader and the trainer
/// use); <see cref="Images"/> then builds the float array on first use and keeps it. A dataset built from floats keeps
/// them as given.
/// </remarks>
public sealed class Dataset
{
    /// <summary>Creates a dataset from normalised images and labels, checking that they agree.</summary>
    /// <param name="images">The images, N x C x H x W, normalised.</param>
    /// <param name="labels">The labels, one per image.</param>
    /// <param name="imageShape">The shape of one image.</param>
    /// <param name="classCount">The number of classes.</param>
    /// <param name="mean">The per-channel mean that was subtracted (one value per channel).</param>
    /// <param name="std">The per-channel standard deviation that was divided by (one value per channel).</param>
    public Dataset(float[] images, int[] labels, TensorShape imageShape, int classCount, float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        CheckShape(imageShape);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        CheckNormalisation(imageShape, mean, std);
        if (images.LongLength != (long)labels.Length * imageShape.Elements)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{labels.Length} labels of images {imageShape} need {(long)labels.Length * imageShape.Elements} values; there are {images.LongLength}."),
                nameof(images));
        }
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"Label {i} is {labels[i]}, outside [0, {classCount})."), nameof(labels));
            }
        }
        _images = images;
        Labels = labels;
        ImageShape = imageShape;
        ClassCount = classCount;
        Mean = (float[])mean.Clone();
        Std = (float[])std.Clone();
    }

    // Byte-backed: the pixels and one table of 256 normalised values per channel.
    private Dataset(byte[] pixels, float[][] tables, int[] labels, TensorShape imageShape, int classCount, float[] mean, float[] std)
    {
        _pixels = pixels;
        _tables = tables;
        Labels = labels;
        ImageShape = imageShape;
        ClassCount = classCount;
        Mean = (float[])mean.Clone();
        Std = (float[])std.Clone();
    }

    private readonly byte[]? _pixels;
    private readonly float[][]? _tables;
    private float[]? _images;

    /// <summary>
    /// The images, N x C x H x W, scaled to [0, 1] and normalised per channel. For a byte-backed dataset (see the
    /// remarks) the first call builds this array (4 bytes a value) and keeps it; <see cref="CopyImages"/> does not.
    /// </summary>
    public float[] Images
    {
        get
        {
            if (_images is null)
            {
                float[] images = new float[_pixels!.Length];
                CopyImages(0, Count, images);
                System.Threading.Interlocked.CompareExchange(ref _images, images, null);
            }

            return _images;
        }
    }

    /// <summary>Whether the dataset holds byte pixels (normalised while copying) rather than floats.</summary>
    public bool IsByteBacked => _pixels is not null;

    /// <summary>The bytes the images take in memory (bytes or floats, plus the float array if <see cref="Images"/> built it).</summary>
    public long ImageBytes => (_pixels?.LongLength ?? 0) + (4L * (_images?.LongLength ?? 0));

    /// <summary>Copies the normalised values of <paramref name="count"/> images from <paramref name="first"/> on.</summary>
    /// <param name="first">The first image's index.</param>
    /// <param name="count">How many images.</param>
    /// <param name="target">At least <paramref name="count"/> x <see cref="ImageSize"/> values.</param>
    public void CopyImages(int first, int count, Span<float> target)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if ((long)first + count > Count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, string.Create(CultureInfo.InvariantCulture,
                $"Images {first} to {(long)first + count - 1} are asked for; the dataset has {Count} (0 to {Count - 1})."));
        }

        int size = ImageSize;
        long values = (long)count * size;
        if (target.Length < values)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{count} images of {ImageShape} need {values} values; the target holds {target.Length}."), nameof(target));
        }

        if (_pixels is null)
        {
            _images.AsSpan(first * size, (int)values).CopyTo(target);
            return;
        }

        int plane = ImageShape.Height * ImageShape.Width;
        ReadOnlySpan<byte> source = _pixels.AsSpan(first * size, (int)values);
        for (int start = 0; start < values; start += plane)
        {
            // Planes are whole: one channel's table for each.
            float[] table = _tables![start / plane % _tables.Length];
            ReadOnlySpan<byte> row = source.Slice(start, plane);
            Span<float> to = target.Slice(start, plane);
            for (int i = 0; i < row.Length; i++)
            {
                to[i] = table[row[i]];
            }
        }
    }

    /// <summary>Copies the normalised values of image <paramref name="index"/>.</summary>
    /// <param name="index">The image's index.</param>
    /// <param name="target">At least <see cref="ImageSize"/> values.</param>
    public void CopyImage(int index, Span<float> target)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        CopyImages(index, 1, target);
    }

    /// <summary>The labels, one per image, each in [0, <see cref="ClassCount"/>).</summary>
    public int[] Labels { get; }

    /// <summary>The number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>The shape of one image.</summary>
    public TensorShape ImageShape { get; }

    /// <summary>The number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>The per-channel mean subtracted from the [0, 1] pixel values.</summary>
    public float[] Mean { get; }

    /// <summary>The per-channel standard deviation the centred pixel values were divided by.</summary>
    public float[] Std { get; }

    /// <summary>The number of values in one image (C x H x W).</summary>
    public int ImageSize => (int)ImageShape.Elements;

    /// <summary>The normalised values of image <paramref name="index"/> (for a byte-backed dataset this builds <see cref="Images"/>; <see cref="CopyImage"/> does not).</summary>
    /// <param name="index">The image's index.</param>
    /// <returns>A view of C x H x W values.</returns>
    public ReadOnlySpan<float> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Images.AsSpan(index * ImageSize, ImageSize);
    }

    /// <summary>The normalised value of a black (zero) pixel in each channel: -mean / std. Used as the padding value.</summary>
    /// <returns>One value per channel.</returns>
    public float[] ZeroValues()
    {
        var values = new float[Mean.Length];
        for (int c = 0; c < values.Length; c++)
        {
            values[c] = Normalise(0, Mean[c], Std[c]);
        }
        return values;
    }

    /// <summary>The normalised value of one byte pixel: (pixel / 255 - mean) / std.</summary>
    /// <param name="pixel">The pixel, 0 to 255.</param>
    /// <param name="mean">The channel's mean (of values in [0, 1]).</param>
    /// <param name="std">The channel's standard deviation.</param>
    /// <returns>The normalised value.</returns>
    public static float Normalise(byte pixel, float mean, float std) => (pixel / 255f - mean) / std;

    /// <summary>
    /// Builds a dataset from byte pixels (N x C x H x W, 0 to 255) and byte labels, checking that the image and label
    /// counts agree and that every label is a class. Error messages name <paramref name="imagesFile"/> and
    /// <paramref name="labelsFile"/>.
    /// </summary>
    /// <param name="pixels">The pixels, N x C x H x W.</param>
    /// <param name="imageCount">N, the number of images in <paramref name="pixels"/>.</param>
    /// <param name="labels">The labels, one per image.</param>
    /// <param name="imageShape">The shape of one image.</param>
    /// <param name="classCount">The number of classes.</param>
    /// <param name="mean">Per-channel mean of [0, 1] values.</param>
    /// <param name="std">Per-channel standard deviation of [0, 1] values.</param>
    /// <param name="imagesFile">Where the images came from, for error messages.</param>
    /// <param name="labelsFile">Where the labels came from, for error messages.</param>
    /// <returns>The dataset, byte-backed (it keeps a copy of <paramref name="pixels"/>).</returns>
    /// <exception cref="DatasetException">The counts disagree or a label is out of range.</exception>
    public static Dataset FromBytes(
        ReadOnlySpan<byte> pixels, int imageCount, ReadOnlySpan<byte> labels, TensorShape imageShape, int classCount,
        float[] mean, float[] std, string imagesFile, string labelsFile)
    {
        Check(pixels, imageCount, labels, imageShape, classCount, mean, std, imagesFile, labelsFile);
        return Owning(pixels.ToArray(), labels, imageShape, classCount, mean, std);
    }

    /// <summary>As <see cref="FromBytes"/>, keeping <paramref name="pixels"/> itself (the loaders' freshly read array) rather than a copy.</summary>
    internal static Dataset FromOwnedBytes(
        byte[] pixels, int imageCount, ReadOnlySpan<byte> labels, TensorShape imageShape, int classCount,
        float[] mean, float[] std, string imagesFile, string labelsFile)
    {
        Check(pixels, imageCount, labels, imageShape, classCount, mean, std, imagesFile, labelsFile);
        return Owning(pixels, labels, imageShape, classCount, mean, std);
    }

    private static void Check(
        ReadOnlySpan<byte> pixels, int imageCount, ReadOnlySpan<byte> labels, TensorShape imageShape, int classCount,
        float[] mean, float[] std, string imagesFile, string labelsFile)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        CheckShape(imageShape);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        CheckNormalisation(imageShape, mean, std);
        if (imageCount != labels.Length)
        {
            throw new DatasetException(imagesFile, string.Create(CultureInfo.InvariantCulture,
                $"Image and label counts differ: '{imagesFile}' holds {imageCount} images, '{labelsFile}' holds {labels.Length} labels."));
        }
        long size = imageShape.Elements;
        if (pixels.Length != imageCount * size)
        {
            throw new DatasetException(imagesFile, string.Create(CultureInfo.InvariantCulture,
                $"'{imagesFile}': {imageCount} images of {imageShape} need {imageCount * size} bytes, there are {pixels.Length}."));
        }

        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classCount)
            {
                throw new DatasetException(labelsFile, string.Create(CultureInfo.InvariantCulture,
                    $"'{labelsFile}': label {i} is {labels[i]}, outside [0, {classCount})."));
            }
        }
    }

    private static Dataset Owning(byte[] pixels, ReadOnlySpan<byte> labels, TensorShape imageShape, int classCount, float[] mean, float[] std)
    {
        var intLabels = new int[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            intLabels[i] = labels[i];
        }

        // One lookup table per channel: 256 normalised values.
        int channels = imageShape.Channels;
        var tables = new float[channels][];
        for (int c = 0; c < channels; c++)
        {
            tables[c] = new float[256];
            for (int p = 0; p < 256; p++)
            {
                tables[c][p] = Normalise((byte)p, mean[c], std[c]);
            }
        }

        return new Dataset(pixels, tables, intLabels, imageShape, classCount, mean, std);
    }

    private static void CheckShape(TensorShape shape)
    {
        if (shape.IsFlat || shape.Channels < 1 || shape.Height < 1 || shape.Width < 1)
        {
            throw new ArgumentException($"The image shape {shape} must be C x H x W with positive sizes.", nameof(shape));
        }
    }

    private static void CheckNormalisation(TensorShape shape, float[] mean, float[] std)
    {
        if (mean.Length != shape.Channels || std.Length != shape.Channels)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Normalisation needs one mean and one std per channel ({shape.Channels}); got {mean.Length} and {std.Length}."));
        }
        foreach (float s in std)
        {
            if (!(s > 0) || float.IsInfinity(s))
            {
                throw new ArgumentException("Every standard deviation must be positive and finite.", nameof(std));
            }
        }
    }
}
