using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using DslResNet.IO;
using DslResNet.IO.Pth;
using Xunit;

namespace DslResNet.Tests.IO.Pth;

/// Hostile and damaged .pth content: each is refused with a CheckpointException that names the file and says what
/// and where, never another exception, a crash or a hang. Nothing in a pickle is ever executed.
public sealed class PthHostileTests
{
    private const string Source = "hostile.pth";

    private static CheckpointException Refused(byte[] file)
    {
        CheckpointException e = Assert.Throws<CheckpointException>(() => PthReader.Read(new MemoryStream(file), Source));
        Assert.StartsWith($"'{Source}': ", e.Message);
        // Checkpoint.Load gives the same refusal.
        CheckpointException viaCheckpoint = Assert.Throws<CheckpointException>(() => Checkpoint.Load(new MemoryStream(file), Source));
        Assert.Equal(e.Message, viaCheckpoint.Message);
        return e;
    }

    private static CheckpointException RefusedPickle(byte[] pickle, params (string, byte[])[] records) => Refused(PthTestData.Zip(pickle, records));

    private static byte[] Floats(int n) => new byte[n * 4];

    [Theory]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("posix", "system")]
    [InlineData("__builtin__", "exec")]
    [InlineData("torch", "load")]
    public void CodeExecutingGlobal_IsRefusedAtTheGlobal(string module, string name)
    {
        byte[] pickle = new PickleBuilder().Global(module, name).Text("echo pwned").Op(0x85).Op('R').Op('.').ToArray();
        CheckpointException e = RefusedPickle(pickle);
        Assert.Contains($"archive/data.pkl at byte 2: global '{module}.{name}' is not allowed", e.Message);
    }

    [Fact]
    public void ReduceOfANonCallable_IsRefused()
    {
        // An allowed global that is not a function (a storage type), and a string, each used as a callable.
        CheckpointException storage = RefusedPickle(new PickleBuilder().Global("torch", "FloatStorage").Op(')').Op('R').Op('.').ToArray());
        Assert.Contains("REDUCE calls torch.FloatStorage", storage.Message);
        CheckpointException text = RefusedPickle(new PickleBuilder().Text("os.system").Op(')').Op('R').Op('.').ToArray());
        Assert.Contains("REDUCE calls 'os.system'; only allowed globals can be called", text.Message);
    }

    [Theory]
    [InlineData((byte)'i', "INST")]
    [InlineData((byte)0x93, "STACK_GLOBAL")]
    [InlineData((byte)0x81, "NEWOBJ")]
    [InlineData((byte)'o', "OBJ")]
    [InlineData((byte)'P', "PERSID")]
    public void OpcodeOutsideTheAllowList_IsRefused(byte op, string name)
    {
        CheckpointException e = RefusedPickle(new PickleBuilder().Op(op).Raw("os\nsystem\n"u8.ToArray()).Op('.').ToArray());
        Assert.Contains($"at byte 2: opcode {name} (0x{op:x2}) is not allowed", e.Message);
    }

    [Fact]
    public void BackwardHooks_AreRefused()
    {
        PickleBuilder p = new();
        p.Global("collections", "OrderedDict").Op(')').Op('R').Text("w");
        p.Global("torch._utils", "_rebuild_tensor_v2").Op('(');
        p.Op('(').Text("storage").Global("torch", "FloatStorage").Text("0").Text("cpu").Int(1).Op('t').Op('Q');
        p.Int(0).Ints([1]).Ints([1]).Op(0x89).Op('}').Text("hook").Op(0x88).Op('s').Op('t').Op('R').Op('s').Op('.');
        Assert.Contains("backward hooks", RefusedPickle(p.ToArray(), ("data/0", Floats(1))).Message);
    }

    [Fact]
    public void TruncatedZip_IsRefusedAtEveryLength()
    {
        byte[] file = File.ReadAllBytes(PthTestData.Fixture("tiny.pth"));
        Assert.Contains("is not a valid zip archive", Refused(file[..(file.Length / 2)]).Message);
        for (int length = 4; length < file.Length; length += 61)
        {
            Refused(file[..length]);
        }
    }

    [Fact]
    public void TruncatedLegacyFile_IsRefusedAtEveryLength()
    {
        byte[] file = File.ReadAllBytes(PthTestData.Fixture("tiny_legacy.pth"));
        for (int length = 14; length < file.Length; length += 37)
        {
            Refused(file[..length]);
        }
    }

    [Fact]
    public void StorageRecordShorterThanDeclared_IsRefused()
    {
        byte[] pickle = PickleBuilder.StateDict("w", p => p.Tensor("0", 4, 0, [4], [1]));
        CheckpointException e = RefusedPickle(pickle, ("data/0", Floats(2)));
        Assert.Contains("record 'archive/data/0' holds 8 bytes, but archive/data.pkl declares storage '0' as 4 Float32 elements (16 bytes)", e.Message);
    }

    [Theory]
    [InlineData(0L, new long[] { 5 }, new long[] { 1 }, "reaches element 4 of storage '0', which holds 4 elements")]
    [InlineData(2L, new long[] { 2, 2 }, new long[] { 1, 1 }, "reaches element 4 of storage '0'")]
    [InlineData(0L, new long[] { 2, 2 }, new long[] { 3, 1 }, "reaches element 4 of storage '0'")]
    [InlineData(5L, new long[] { 0 }, new long[] { 1 }, "at offset 5 reaches element 5")]
    public void TensorOutsideItsStorage_IsRefused(long offset, long[] size, long[] stride, string expected)
    {
        byte[] pickle = PickleBuilder.StateDict("w", p => p.Tensor("0", 4, offset, size, stride));
        CheckpointException e = RefusedPickle(pickle, ("data/0", Floats(4)));
        Assert.Contains("out of range", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData(new long[] { -1 }, new long[] { 1 }, "sizes must be between 0 and 2147483647 and strides non-negative")]
    [InlineData(new long[] { 3 }, new long[] { -1 }, "sizes must be between 0 and 2147483647 and strides non-negative")]
    [InlineData(new long[] { 1L << 40 }, new long[] { 0 }, "sizes must be between 0 and 2147483647")]
    [InlineData(new long[] { int.MaxValue, int.MaxValue, int.MaxValue }, new long[] { 0, 0, 0 }, "overflows 64-bit element counts")]
    [InlineData(new long[] { int.MaxValue, 4 }, new long[] { 0, 0 }, "more than one array can hold")]
    [InlineData(new long[] { 2 }, new long[] { 1, 1 }, "has 1 sizes but 2 strides")]
    public void NegativeOrHugeShape_IsRefused(long[] size, long[] stride, string expected)
    {
        byte[] pickle = PickleBuilder.StateDict("w", p => p.Tensor("0", 4, 0, size, stride));
        Assert.Contains(expected, RefusedPickle(pickle, ("data/0", Floats(4))).Message);
    }

    [Fact]
    public void StorageClaimingHugeNumel_IsRefused()
    {
        byte[] pickle = PickleBuilder.StateDict("w", p => p.Tensor("0", long.MaxValue, 0, [1], [1]));
        Assert.Contains($"storage '0' claims {long.MaxValue} elements", RefusedPickle(pickle, ("data/0", Floats(1))).Message);
    }

    [Fact]
    public void MemoGetOfAMissingKey_IsRefused()
    {
        CheckpointException e = RefusedPickle(new PickleBuilder().Op('h').Raw(5).Op('.').ToArray());
        Assert.Contains("at byte 2: memo GET of key 5, which was never PUT", e.Message);
        CheckpointException longGet = RefusedPickle(new PickleBuilder().Op(')').Op('q').Raw(0).Op('j').Raw(0xff, 0xff, 0xff, 0xff).Op('.').ToArray());
        Assert.Contains("memo GET of key 4294967295", longGet.Message);
    }

    [Fact]
    public void DeepNesting_IsRefused()
    {
        PickleBuilder marks = new();
        for (int i = 0; i < 100_000; i++)
        {
            marks.Op('(');
        }

        Assert.Contains("MARKs nested deeper than 64", RefusedPickle(marks.Op('.').ToArray()).Message);

        PickleBuilder tuples = new PickleBuilder().Op(')');
        for (int i = 0; i < 100_000; i++)
        {
            tuples.Op(0x85); // TUPLE1: a tuple of the tuple below
        }

        Assert.Contains("containers nested deeper than 64", RefusedPickle(tuples.Op('.').ToArray()).Message);

        PickleBuilder lists = new PickleBuilder().Op(']').Op('q').Raw(0);
        for (int i = 0; i < 100; i++)
        {
            lists.Op(']').Op('h').Raw(0).Op('a').Op('q').Raw(0); // a list holding the previous one
        }

        Assert.Contains("containers nested deeper than 64", RefusedPickle(lists.Op('.').ToArray()).Message);
    }

    [Fact]
    public void PersistentIdOfAMissingRecord_IsRefused()
    {
        byte[] pickle = PickleBuilder.StateDict("w", p => p.Tensor("7", 1, 0, [1], [1]));
        Assert.Contains("archive/data.pkl names storage '7', but the archive has no record 'archive/data/7'", RefusedPickle(pickle, ("data/0", Floats(1))).Message);
    }

    [Fact]
    public void MalformedPersistentId_IsRefused()
    {
        byte[] pickle = new PickleBuilder().Text("storage").Global("os", "system").Op(0x86).Op('Q').Op('.').ToArray();
        Assert.Contains("global 'os.system' is not allowed", RefusedPickle(pickle).Message);
        byte[] shortId = new PickleBuilder().Text("storage").Op(0x85).Op('Q').Op('.').ToArray();
        Assert.Contains("is not ('storage', storage type, key, location, numel)", RefusedPickle(shortId).Message);
    }

    [Fact]
    public void CompressedEntry_IsRefused()
    {
        byte[] pickle = PickleBuilder.StateDict(new string('w', 4000), p => p.Tensor("0", 1, 0, [1], [1]));
        using MemoryStream stream = new();
        using (ZipArchive zip = new(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (Stream s = zip.CreateEntry("archive/data.pkl", CompressionLevel.Optimal).Open())
            {
                s.Write(pickle);
            }

            using (Stream s = zip.CreateEntry("archive/data/0", CompressionLevel.NoCompression).Open())
            {
                s.Write(Floats(1));
            }
        }

        Assert.Contains("the zip entry 'archive/data.pkl' is compressed", Refused(stream.ToArray()).Message);
    }

    [Fact]
    public void TruncatedPickleAndLyingLengths_AreRefused()
    {
        byte[] pickle = PickleBuilder.StateDict("w", p => p.Tensor("0", 1, 0, [1], [1]));
        Assert.Contains("ends before its STOP opcode", RefusedPickle(pickle[..^1], ("data/0", Floats(1))).Message);
        byte[] lying = new PickleBuilder().Op('X').Raw(0xff, 0xff, 0xff, 0x7f).Op('.').ToArray();
        Assert.Contains("at byte 2: an argument of 2147483647 bytes runs past the end", RefusedPickle(lying).Message);
    }

    [Fact]
    public void ContentThatIsNotAStateDict_IsRefused()
    {
        Assert.Contains("holds a list of 0, not a state_dict", RefusedPickle(new PickleBuilder().Op(']').Op('.').ToArray()).Message);
        byte[] nested = new PickleBuilder().Op('}').Text("optimizer").Op('}').Op('s').Op('.').ToArray();
        Assert.Contains("state_dict entry 'optimizer' is a dict of 0, not a tensor", RefusedPickle(nested).Message);
        Assert.Contains("no NAME/data.pkl", Refused(ZipWithout()).Message);
    }

    private static byte[] ZipWithout()
    {
        using MemoryStream stream = new();
        ZipStoreWriter zip = new(stream);
        zip.Add("archive/other.pkl", "x"u8);
        zip.Finish();
        return stream.ToArray();
    }

    [Fact]
    public void EveryFlippedByte_GivesATensorDictOrACheckpointException()
    {
        foreach (string name in new[] { "tiny.pth", "tiny_legacy.pth" })
        {
            byte[] file = File.ReadAllBytes(PthTestData.Fixture(name));
            for (int i = 0; i < file.Length; i++)
            {
                byte[] damaged = (byte[])file.Clone();
                damaged[i] ^= 0x5a;
                try
                {
                    PthReader.Read(new MemoryStream(damaged), Source);
                }
                catch (CheckpointException)
                {
                }
            }
        }
    }
}
