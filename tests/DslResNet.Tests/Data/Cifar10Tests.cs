using System.IO;
using DslResNet.Data;
using Xunit;

namespace DslResNet.Tests.Data;

public sealed class Cifar10Tests
{
    /// A record with label `label`, red plane all `r`, green plane all `g`, blue plane the pixel index mod 256.
    private static byte[] Record(byte label, byte r, byte g)
    {
        var rec = new byte[Cifar10.RecordBytes];
        rec[0] = label;
        for (int i = 0; i < 1024; i++)
        {
            rec[1 + i] = r;
            rec[1 + 1024 + i] = g;
            rec[1 + 2048 + i] = (byte)i;
        }
        return rec;
    }

    private static byte[] Records(params byte[][] records)
    {
        var all = new byte[records.Length * Cifar10.RecordBytes];
        for (int i = 0; i < records.Length; i++)
        {
            records[i].CopyTo(all, i * Cifar10.RecordBytes);
        }
        return all;
    }

    [Fact]
    public void Records_parse_into_channel_planes()
    {
        Dataset ds = Cifar10.Parse(Records(Record(3, 255, 0), Record(9, 0, 128)), "batch.bin");
        Assert.Equal(2, ds.Count);
        Assert.Equal(TensorShape.Image(3, 32, 32), ds.ImageShape);
        Assert.Equal(new[] { 3, 9 }, ds.Labels);

        var img0 = ds.Image(0);
        Assert.Equal((1f - 0.4914f) / 0.2470f, img0[0], 1e-5f);                 // R, (0, 0)
        Assert.Equal((1f - 0.4914f) / 0.2470f, img0[1023], 1e-5f);              // R, (31, 31)
        Assert.Equal(-0.4822f / 0.2435f, img0[1024], 1e-5f);                    // G
        Assert.Equal((5 / 255f - 0.4465f) / 0.2616f, img0[2048 + 5], 1e-5f);    // B, (0, 5)
        Assert.Equal((33 / 255f - 0.4465f) / 0.2616f, img0[2048 + 33], 1e-5f);  // B, (1, 1)

        var img1 = ds.Image(1);
        Assert.Equal(-0.4914f / 0.2470f, img1[7], 1e-5f);
        Assert.Equal((128 / 255f - 0.4822f) / 0.2435f, img1[1024 + 7], 1e-5f);
    }

    [Fact]
    public void Load_reads_all_five_training_batches_in_order()
    {
        using var dir = new TempDir();
        for (int b = 1; b <= 5; b++)
        {
            File.WriteAllBytes(dir.File($"data_batch_{b}.bin"), Records(Record((byte)b, (byte)(10 * b), 0), Record(0, 0, 0)));
        }
        File.WriteAllBytes(dir.File("test_batch.bin"), Records(Record(7, 1, 2)));

        Dataset train = Cifar10.Load(dir.Path, train: true);
        Assert.Equal(10, train.Count);
        Assert.Equal(new[] { 1, 0, 2, 0, 3, 0, 4, 0, 5, 0 }, train.Labels);
        Assert.Equal((50 / 255f - 0.4914f) / 0.2470f, train.Image(8)[0], 1e-5f);

        Dataset test = Cifar10.Load(dir.Path, train: false);
        Assert.Equal(1, test.Count);
        Assert.Equal(7, test.Labels[0]);
    }

    [Fact]
    public void Length_not_a_multiple_of_the_record_is_rejected()
    {
        using var dir = new TempDir();
        string path = dir.File("test_batch.bin");
        File.WriteAllBytes(path, new byte[Cifar10.RecordBytes * 2 + 100]);
        var e = Assert.Throws<DatasetException>(() => Cifar10.Load(dir.Path, train: false));
        Assert.Contains(path, e.Message);
        Assert.Contains("3073", e.Message);
        Assert.Contains("6246 bytes", e.Message);
    }

    [Fact]
    public void Label_out_of_range_is_rejected()
    {
        var e = Assert.Throws<DatasetException>(() => Cifar10.Parse(Records(Record(1, 0, 0), Record(10, 0, 0)), "x.bin"));
        Assert.Contains("x.bin", e.Message);
        Assert.Contains("record 1 has label 10", e.Message);
    }

    [Fact]
    public void Missing_file_is_named()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DatasetException>(() => Cifar10.Load(dir.Path, train: true));
        Assert.Contains(dir.File("data_batch_1.bin"), e.Message);
    }
}
