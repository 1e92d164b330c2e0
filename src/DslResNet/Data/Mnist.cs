using System;
using System.Globalization;
using System.IO;

namespace DslResNet.Data;

/// <summary>MNIST handwritten digits: 28 x 28 grey images in 10 classes, read from the four IDX files (raw or gzip).</summary>
public static class Mnist
{
    /// <summary>The mean of MNIST's training pixels, scaled to [0, 1].</summary>
    public const float Mean = 0.1307f;

    /// <summary>The standard deviation of MNIST's training pixels, scaled to [0, 1].</summary>
    public const float Std = 0.3081f;

    /// <summary>The number of classes.</summary>
    public const int ClassCount = 10;

    /// <summary>Loads the training or test split from <paramref name="directory"/>, normalised with <see cref="Mean"/> and <see cref="Std"/>.</summary>
    /// <param name="directory">The folder with train-images-idx3-ubyte(.gz) and the other three files.</param>
    /// <param name="train">True for the 60,000 training images, false for the 10,000 test images.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="DatasetException">A file is missing or malformed, or the files disagree.</exception>
    public static Dataset Load(string directory, bool train = true)
    {
        ArgumentNullException.ThrowIfNull(directory);
        return IdxDataset.Load(directory, train, Mean, Std, ClassCount, installHint: null);
    }
}

/// <summary>Fashion-MNIST (Zalando): 28 x 28 grey images of clothing in 10 classes, in MNIST's IDX file layout.</summary>
public static class FashionMnist
{
    /// <summary>Where the Debian package dataset-fashion-mnist installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The command that installs the dataset on Debian.</summary>
    public const string InstallHint = "sudo apt-get install dataset-fashion-mnist";

    /// <summary>The mean of Fashion-MNIST's training pixels, scaled to [0, 1].</summary>
    public const float Mean = 0.2860f;

    /// <summary>The standard deviation of Fashion-MNIST's training pixels, scaled to [0, 1].</summary>
    public const float Std = 0.3530f;

    /// <summary>The number of classes.</summary>
    public const int ClassCount = 10;

    /// <summary>The class names, by label.</summary>
    public static readonly string[] ClassNames =
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    /// <summary>Loads the training or test split, normalised with <see cref="Mean"/> and <see cref="Std"/>.</summary>
    /// <param name="directory">The folder with the four IDX files; <see cref="DefaultDirectory"/> when null.</param>
    /// <param name="train">True for the 60,000 training images, false for the 10,000 test images.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="DatasetException">A file is missing (the message says how to install it) or malformed, or the files disagree.</exception>
    public static Dataset Load(string? directory = null, bool train = true) =>
        IdxDataset.Load(directory ?? DefaultDirectory, train, Mean, Std, ClassCount, InstallHint);
}

/// <summary>Helpers for datasets in MNIST's four-file IDX layout.</summary>
public static class IdxDataset
{
    /// <summary>The base name of the images file of a split (without .gz).</summary>
    /// <param name="train">True for the training split.</param>
    /// <returns>train-images-idx3-ubyte or t10k-images-idx3-ubyte.</returns>
    public static string ImagesFileName(bool train) => train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";

    /// <summary>The base name of the labels file of a split (without .gz).</summary>
    /// <param name="train">True for the training split.</param>
    /// <returns>train-labels-idx1-ubyte or t10k-labels-idx1-ubyte.</returns>
    public static string LabelsFileName(bool train) => train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";

    /// <summary>
    /// Loads one split of a dataset in MNIST's layout: an N x H x W images file and an N labels file, each either
    /// plain or with a .gz suffix; normalised with <paramref name="mean"/> and <paramref name="std"/>.
    /// </summary>
    /// <param name="directory">The folder holding the files.</param>
    /// <param name="train">True for the train- files, false for the t10k- files.</param>
    /// <param name="mean">Mean of [0, 1] pixel values.</param>
    /// <param name="std">Standard deviation of [0, 1] pixel values.</param>
    /// <param name="classCount">The number of classes.</param>
    /// <param name="installHint">A command that installs the dataset, added to "missing" messages; or null.</param>
    /// <returns>The dataset, with images of shape 1 x H x W.</returns>
    /// <exception cref="DatasetException">A file is missing or malformed, or the files disagree.</exception>
    public static Dataset Load(string directory, bool train, float mean, float std, int classCount, string? installHint)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string imagesPath = Find(directory, ImagesFileName(train), installHint);
        string labelsPath = Find(directory, LabelsFileName(train), installHint);

        IdxFile images = IdxReader.Read(imagesPath);
        IdxFile labels = IdxReader.Read(labelsPath);
        if (images.Dimensions.Length != 3)
        {
            throw new DatasetException(imagesPath, string.Create(CultureInfo.InvariantCulture,
                $"IDX file '{imagesPath}' has {images.Dimensions.Length} dimensions; an images file has 3 (count, rows, columns)."));
        }
        if (labels.Dimensions.Length != 1)
        {
            throw new DatasetException(labelsPath, string.Create(CultureInfo.InvariantCulture,
                $"IDX file '{labelsPath}' has {labels.Dimensions.Length} dimensions; a labels file has 1 (count)."));
        }
        var shape = TensorShape.Image(1, images.Dimensions[1], images.Dimensions[2]);
        return Dataset.FromOwnedBytes(images.Data, images.Dimensions[0], labels.Data, shape, classCount, [mean], [std], imagesPath, labelsPath);
    }

    /// <summary>The path of <paramref name="baseName"/> or <paramref name="baseName"/>.gz in <paramref name="directory"/>, whichever exists (plain first).</summary>
    /// <param name="directory">The folder.</param>
    /// <param name="baseName">The file name without .gz.</param>
    /// <param name="installHint">A command that installs the dataset, added to the message; or null.</param>
    /// <returns>The path of the file found.</returns>
    /// <exception cref="DatasetException">Neither exists; the message names both paths looked for.</exception>
    public static string Find(string directory, string baseName, string? installHint)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(baseName);
        string plain = Path.Combine(directory, baseName);
        string gz = plain + ".gz";
        if (File.Exists(plain))
        {
            return plain;
        }
        if (File.Exists(gz))
        {
            return gz;
        }
        string where = Directory.Exists(directory) ? "" : $" (the directory '{directory}' does not exist)";
        string hint = installHint is null ? "" : $" To install the dataset: {installHint}";
        throw new DatasetException(plain, $"Dataset file not found: looked for '{plain}' and '{gz}'{where}.{hint}");
    }
}
