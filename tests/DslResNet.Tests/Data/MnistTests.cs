using System;
using System.IO;
using DslResNet.Data;
using Xunit;
using Xunit.Abstractions;

namespace DslResNet.Tests.Data;

public sealed class MnistTests
{
    private readonly ITestOutputHelper output;

    public MnistTests(ITestOutputHelper output) => this.output = output;

    /// Writes a small MNIST-layout split: n images of h x w, pixel (i, y, x) = (i + y * w + x) mod 256.
    private static (byte[] Pixels, byte[] Labels) WriteSplit(string dir, bool train, int n, int h, int w, bool gzip, int labelCount = -1, byte labelBoost = 0)
    {
        var pixels = new byte[n * h * w];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)(i * 13);
        }
        if (labelCount < 0)
        {
            labelCount = n;
        }
        var labels = new byte[labelCount];
        for (int i = 0; i < labelCount; i++)
        {
            labels[i] = (byte)(i % 10 + labelBoost);
        }
        string suffix = gzip ? ".gz" : "";
        IdxReader.Write(Path.Combine(dir, IdxDataset.ImagesFileName(train) + suffix), [n, h, w], pixels, gzip);
        IdxReader.Write(Path.Combine(dir, IdxDataset.LabelsFileName(train) + suffix), [labelCount], labels, gzip);
        return (pixels, labels);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(false, true)]
    public void Fashion_mnist_loads_and_normalises(bool train, bool gzip)
    {
        using var dir = new TempDir();
        var (pixels, labels) = WriteSplit(dir.Path, train, 12, 5, 4, gzip);
        Dataset ds = FashionMnist.Load(dir.Path, train);

        Assert.Equal(12, ds.Count);
        Assert.Equal(TensorShape.Image(1, 5, 4), ds.ImageShape);
        Assert.Equal(10, ds.ClassCount);
        Assert.Equal(Array.ConvertAll(labels, b => (int)b), ds.Labels);
        Assert.Equal(12 * 5 * 4, ds.Images.Length);
        for (int i = 0; i < pixels.Length; i++)
        {
            Assert.Equal((pixels[i] / 255f - 0.2860f) / 0.3530f, ds.Images[i], 1e-5f);
        }
    }

    [Fact]
    public void Mnist_uses_its_own_constants()
    {
        using var dir = new TempDir();
        WriteSplit(dir.Path, true, 3, 2, 2, gzip: false);
        Dataset ds = Mnist.Load(dir.Path, train: true);
        Assert.Equal(0.1307f, Mnist.Mean);
        Assert.Equal(0.3081f, Mnist.Std);
        Assert.Equal(new[] { 0.1307f }, ds.Mean);
        Assert.Equal(new[] { 0.3081f }, ds.Std);
        Assert.Equal((0 - 0.1307f) / 0.3081f, ds.Images[0], 1e-6f);
    }

    [Fact]
    public void Normalisation_constants_and_extremes()
    {
        Assert.Equal(0.2860f, FashionMnist.Mean);
        Assert.Equal(0.3530f, FashionMnist.Std);
        Assert.Equal(-0.2860f / 0.3530f, Dataset.Normalise(0, FashionMnist.Mean, FashionMnist.Std), 1e-6f);
        Assert.Equal((1 - 0.2860f) / 0.3530f, Dataset.Normalise(255, FashionMnist.Mean, FashionMnist.Std), 1e-6f);
        Assert.Equal((128 / 255f - 0.1307f) / 0.3081f, Dataset.Normalise(128, Mnist.Mean, Mnist.Std), 1e-6f);
    }

    [Fact]
    public void Image_and_label_count_mismatch_names_both_files()
    {
        using var dir = new TempDir();
        WriteSplit(dir.Path, true, 6, 3, 3, gzip: false, labelCount: 5);
        var e = Assert.Throws<DatasetException>(() => FashionMnist.Load(dir.Path, true));
        Assert.Contains(Path.Combine(dir.Path, "train-images-idx3-ubyte"), e.Message);
        Assert.Contains(Path.Combine(dir.Path, "train-labels-idx1-ubyte"), e.Message);
        Assert.Contains("6 images", e.Message);
        Assert.Contains("5 labels", e.Message);
    }

    [Fact]
    public void Label_out_of_range_is_rejected()
    {
        using var dir = new TempDir();
        WriteSplit(dir.Path, false, 10, 2, 2, gzip: true, labelBoost: 1); // last label becomes 10
        var e = Assert.Throws<DatasetException>(() => Mnist.Load(dir.Path, false));
        Assert.Contains(Path.Combine(dir.Path, "t10k-labels-idx1-ubyte.gz"), e.Message);
        Assert.Contains("label 9 is 10", e.Message);
        Assert.Contains("[0, 10)", e.Message);
    }

    [Fact]
    public void Images_file_with_wrong_rank_is_rejected()
    {
        using var dir = new TempDir();
        WriteSplit(dir.Path, true, 2, 2, 2, gzip: false);
        IdxReader.Write(dir.File("train-images-idx3-ubyte"), [2, 4], new byte[8]);
        var e = Assert.Throws<DatasetException>(() => Mnist.Load(dir.Path, true));
        Assert.Contains("train-images-idx3-ubyte", e.Message);
        Assert.Contains("2 dimensions", e.Message);
    }

    [Fact]
    public void Missing_file_message_names_it_and_the_install_command()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DatasetException>(() => FashionMnist.Load(dir.Path, train: false));
        Assert.Contains(Path.Combine(dir.Path, "t10k-images-idx3-ubyte"), e.Message);
        Assert.Contains(Path.Combine(dir.Path, "t10k-images-idx3-ubyte.gz"), e.Message);
        Assert.Contains("sudo apt-get install dataset-fashion-mnist", e.Message);

        // Images present, labels missing: the labels file is the one named.
        WriteSplit(dir.Path, false, 2, 2, 2, gzip: false);
        File.Delete(dir.File("t10k-labels-idx1-ubyte"));
        e = Assert.Throws<DatasetException>(() => FashionMnist.Load(dir.Path, train: false));
        Assert.Contains(Path.Combine(dir.Path, "t10k-labels-idx1-ubyte"), e.Message);
        Assert.Contains("sudo apt-get install dataset-fashion-mnist", e.Message);
    }

    [Fact]
    public void Missing_directory_message_names_the_file_and_the_install_command()
    {
        using var dir = new TempDir();
        string missing = Path.Combine(dir.Path, "no-such-folder");
        var e = Assert.Throws<DatasetException>(() => FashionMnist.Load(missing, train: true));
        Assert.Contains(Path.Combine(missing, "train-images-idx3-ubyte"), e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.Contains("sudo apt-get install dataset-fashion-mnist", e.Message);
    }

    [Fact]
    public void Installed_fashion_mnist_loads_when_present()
    {
        if (!Directory.Exists(FashionMnist.DefaultDirectory))
        {
            output.WriteLine($"Skipped: {FashionMnist.DefaultDirectory} is absent ({FashionMnist.InstallHint} installs it).");
            return;
        }
        Dataset train = FashionMnist.Load();
        Dataset test = FashionMnist.Load(train: false);
        Assert.Equal(60000, train.Count);
        Assert.Equal(10000, test.Count);
        Assert.Equal(TensorShape.Image(1, 28, 28), train.ImageShape);
        double sum = 0;
        foreach (float v in train.Images)
        {
            sum += v;
        }
        // Normalised with the training set's own mean: the normalised mean is close to 0.
        Assert.InRange(sum / train.Images.Length, -0.01, 0.01);
    }
}
