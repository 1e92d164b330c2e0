using System;
using System.Globalization;
using System.IO;

namespace DslResNet.Data;

/// <summary>
/// CIFAR-10 in its binary version: data_batch_1.bin to data_batch_5.bin (training) and test_batch.bin, each a sequence
/// of 3073-byte records: one label byte, then the 32 x 32 red, green and blue planes.
/// </summary>
public static class Cifar10
{
    /// <summary>The image side, in pixels.</summary>
    public const int Side = 32;

    /// <summary>The number of classes.</summary>
    public const int ClassCount = 10;

    /// <summary>The bytes of one image (3 x 32 x 32).</summary>
    public const int ImageBytes = 3 * Side * Side;

    /// <summary>The bytes of one record: the label byte and the image.</summary>
    public const int RecordBytes = 1 + ImageBytes;

    /// <summary>Per-channel (R, G, B) mean of the training pixels, scaled to [0, 1].</summary>
    public static readonly float[] Mean = [0.4914f, 0.4822f, 0.4465f];

    /// <summary>Per-channel (R, G, B) standard deviation of the training pixels, scaled to [0, 1].</summary>
    public static readonly float[] Std = [0.2470f, 0.2435f, 0.2616f];

    /// <summary>The class names, by label.</summary>
    public static readonly string[] ClassNames =
    [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ];

    /// <summary>The file names of a split, in order.</summary>
    /// <param name="train">True for the five training batches, false for the test batch.</param>
    /// <returns>The file names.</returns>
    public static string[] FileNames(bool train) => train
        ? ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"]
        : ["test_batch.bin"];

    /// <summary>Loads the training or test split from <paramref name="directory"/> (e.g. cifar-10-batches-bin), normalised with <see cref="Mean"/> and <see cref="Std"/>.</summary>
    /// <param name="directory">The folder holding the .bin files.</param>
    /// <param name="train">True for the 50,000 training images, false for the 10,000 test images.</param>
    /// <returns>The dataset, images 3 x 32 x 32.</returns>
    /// <exception cref="DatasetException">A file is missing or its length is not a whole number of records, or a label is out of range.</exception>
    public static Dataset Load(string directory, bool train = true)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string[] paths = Array.ConvertAll(FileNames(train), name => Path.Combine(directory, name));
        var files = new byte[paths.Length][];
        long total = 0;
        for (int i = 0; i < paths.Length; i++)
        {
            files[i] = ReadFile(paths[i]);
            total += files[i].Length / RecordBytes;
        }

        var pixels = new byte[total * ImageBytes];
        var labels = new byte[total];
        int n = 0;
        for (int i = 0; i < files.Length; i++)
        {
            int records = files[i].Length / RecordBytes;
            Split(files[i], pixels.AsSpan(n * ImageBytes, records * ImageBytes), labels.AsSpan(n, records), paths[i]);
            n += records;
        }
        string source = paths.Length == 1 ? paths[0] : Path.Combine(directory, "data_batch_{1..5}.bin");
        return Dataset.FromOwnedBytes(pixels, n, labels, TensorShape.Image(3, Side, Side), ClassCount, Mean, Std, source, source);
    }

    /// <summary>Parses the bytes of one CIFAR-10 batch file into a dataset, normalised with <see cref="Mean"/> and <see cref="Std"/>.</summary>
    /// <param name="bytes">The file's bytes: whole 3073-byte records.</param>
    /// <param name="path">The file's name, for error messages.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="DatasetException">The length is not a multiple of 3073, or a label is out of range.</exception>
    public static Dataset Parse(byte[] bytes, string path)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(path);
        CheckLength(bytes.Length, path);
        int records = bytes.Length / RecordBytes;
        var pixels = new byte[records * ImageBytes];
        var labels = new byte[records];
        Split(bytes, pixels, labels, path);
        return Dataset.FromOwnedBytes(pixels, records, labels, TensorShape.Image(3, Side, Side), ClassCount, Mean, Std, path, path);
    }

    private static byte[] ReadFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DatasetException(path,
                $"CIFAR-10 file not found: looked for '{path}'. Download the binary version (cifar-10-binary.tar.gz) and pass its cifar-10-batches-bin folder.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException(path, $"CIFAR-10 file '{path}' could not be read: {e.Message}", e);
        }
        CheckLength(bytes.Length, path);
        return bytes;
    }

    private static void CheckLength(long length, string path)
    {
        if (length == 0 || length % RecordBytes != 0)
        {
            throw new DatasetException(path, string.Create(CultureInfo.InvariantCulture,
                $"CIFAR-10 file '{path}' has {length} bytes, not a positive multiple of the record size {RecordBytes} (1 label byte + {ImageBytes} pixel bytes): {length / RecordBytes} whole records and {length % RecordBytes} bytes left over."));
        }
    }

    private static void Split(ReadOnlySpan<byte> file, Span<byte> pixels, Span<byte> labels, string path)
    {
        for (int r = 0; r < labels.Length; r++)
        {
            ReadOnlySpan<byte> record = file.Slice(r * RecordBytes, RecordBytes);
            if (record[0] >= ClassCount)
            {
                throw new DatasetException(path, string.Create(CultureInfo.InvariantCulture,
                    $"CIFAR-10 file '{path}': record {r} has label {record[0]}, outside [0, {ClassCount})."));
            }
            labels[r] = record[0];
            record.Slice(1).CopyTo(pixels.Slice(r * ImageBytes, ImageBytes));
        }
    }
}
