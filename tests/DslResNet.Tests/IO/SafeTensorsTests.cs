using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using DslResNet.IO;
using Xunit;

namespace DslResNet.Tests.IO;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dslresnet-st-" + Guid.NewGuid().ToString("N"));

    public SafeTensorsTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] WriteBytes(IEnumerable<KeyValuePair<string, TensorData>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using MemoryStream stream = new();
        SafeTensors.Write(stream, tensors, metadata);
        return stream.ToArray();
    }

    private static KeyValuePair<string, TensorData> T(string name, TensorData data) => new(name, data);

    [Fact]
    public void Tiny_file_has_the_hand_computed_bytes()
    {
        byte[] bytes = WriteBytes([T("a", TensorData.Float([2], [1.0f, -2.0f]))]);

        // JSON is 54 bytes, padded with 2 spaces to 56, a multiple of 8.
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        Assert.Equal(54, json.Length);
        byte[] expected =
        [
            56, 0, 0, 0, 0, 0, 0, 0,
            .. Encoding.UTF8.GetBytes(json + "  "),
            0x00, 0x00, 0x80, 0x3f, // 1.0f
            0x00, 0x00, 0x00, 0xc0, // -2.0f
        ];
        Assert.Equal(expected, bytes);
        Assert.Equal(8 + 56 + 8, bytes.Length);
    }

    [Fact]
    public void Metadata_and_int64_scalar_have_the_hand_computed_layout()
    {
        byte[] bytes = WriteBytes(
            [T("w", TensorData.Float([1, 2], [0.5f, 3f])), T("n", TensorData.Int64Scalar(7))],
            new Dictionary<string, string> { ["k"] = "v" });

        string json = "{\"__metadata__\":{\"k\":\"v\"},\"w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
            + "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}}";
        Assert.Equal(134, json.Length);
        byte[] expected =
        [
            136, 0, 0, 0, 0, 0, 0, 0,
            .. Encoding.UTF8.GetBytes(json + "  "),
            .. BitConverter.GetBytes(0.5f),
            .. BitConverter.GetBytes(3f),
            7, 0, 0, 0, 0, 0, 0, 0,
        ];
        Assert.Equal(expected, bytes);
        Assert.Equal(0, (bytes.Length - 16) % 8);
    }

    [Fact]
    public void Header_is_always_padded_to_a_multiple_of_8()
    {
        for (int n = 1; n <= 12; n++)
        {
            byte[] bytes = WriteBytes([T(new string('x', n), TensorData.Float([1], [1f]))]);
            ulong headerLength = BitConverter.ToUInt64(bytes, 0);
            Assert.Equal(0UL, headerLength % 8);
            Assert.Equal((long)(8 + headerLength + 4), bytes.Length);
            string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
            Assert.Equal(header.TrimEnd(' '), header.TrimEnd(' ').Trim());
            Assert.EndsWith("}", header.TrimEnd(' '), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Round_trip_is_bit_exact()
    {
        float[] values = [0f, -0f, 1e-45f, float.MaxValue, float.MinValue, float.Epsilon, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0.1f, BitConverter.Int32BitsToSingle(0x7fc12345)];
        string path = Path.Combine(_dir, "rt.safetensors");
        SafeTensors.Write(path, [T("x", TensorData.Float([values.Length], values)), T("n", TensorData.Int64Scalar(long.MinValue)), T("e", TensorData.Float([0, 3], []))],
            new Dictionary<string, string> { ["name"] = "ünïcode + <tag> \"quote\"" });

        SafeTensorsContent content = SafeTensors.Read(path);
        Assert.Equal(["x", "n", "e"], content.Tensors.Keys);
        float[] read = content.Tensors["x"].Floats!;
        Assert.Equal(values.Select(BitConverter.SingleToInt32Bits), read.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(long.MinValue, content.Tensors["n"].ScalarInt64);
        Assert.Empty(content.Tensors["n"].Shape);
        Assert.Equal([0, 3], content.Tensors["e"].Shape);
        Assert.Equal("ünïcode + <tag> \"quote\"", content.Metadata["name"]);
    }

    [Fact]
    public void Duplicate_or_reserved_names_are_refused_on_write()
    {
        Assert.Throws<ArgumentException>(() => WriteBytes([T("a", TensorData.Int64Scalar(1)), T("a", TensorData.Int64Scalar(2))]));
        Assert.Throws<ArgumentException>(() => WriteBytes([T("__metadata__", TensorData.Int64Scalar(1))]));
        Assert.Throws<ArgumentException>(() => TensorData.Float([2, 2], [1f]));
    }

    // ---- Reader errors ----

    private string WriteFile(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] WithHeader(string json, byte[] data)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        return [.. BitConverter.GetBytes((ulong)header.Length), .. header, .. data];
    }

    private CheckpointException ReadFails(string fileName, byte[] bytes, string expectedFragment)
    {
        string path = WriteFile(fileName, bytes);
        CheckpointException e = Assert.Throws<CheckpointException>(() => SafeTensors.Read(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Equal(path, e.FilePath);
        Assert.Contains(expectedFragment, e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void Empty_and_short_files_are_refused()
    {
        ReadFails("empty.safetensors", [], "0 bytes long");
        ReadFails("short.safetensors", [1, 0, 0], "3 bytes long");
    }

    [Fact]
    public void Missing_file_is_a_checkpoint_exception()
    {
        string path = Path.Combine(_dir, "nope.safetensors");
        CheckpointException e = Assert.Throws<CheckpointException>(() => SafeTensors.Read(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Png_is_refused_as_absurd_header_length()
    {
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0];
        ReadFails("image.png", png, "larger than the 100000000-byte limit");
    }

    [Fact]
    public void Text_file_is_refused()
    {
        ReadFails("notes.txt", Encoding.UTF8.GetBytes("Hello, this is a plain text file, not tensors.\n"), "not a safetensors file");
    }

    [Fact]
    public void Header_length_beyond_the_file_is_refused()
    {
        byte[] bytes = [.. BitConverter.GetBytes(1000UL), .. Encoding.UTF8.GetBytes("{}      ")];
        ReadFails("long-header.safetensors", bytes, "header length 1000 exceeds the 8 bytes");
    }

    [Fact]
    public void Truncated_file_is_refused()
    {
        byte[] good = WriteBytes([T("a", TensorData.Float([4], [1f, 2f, 3f, 4f]))]);
        ReadFails("truncated-data.safetensors", good[..^4], "out of range");
        ReadFails("truncated-header.safetensors", good[..20], "exceeds");
    }

    [Fact]
    public void Invalid_json_is_refused()
    {
        ReadFails("bad-json.safetensors", WithHeader("{\"a\": {\"dtype\": ", []), "not valid JSON");
        ReadFails("array.safetensors", WithHeader("[1, 2, 3]", []), "not a JSON object");
        ReadFails("bad-utf8.safetensors", [.. BitConverter.GetBytes(8UL), (byte)'{', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)':', (byte)'1', (byte)'}'], "not valid JSON");
    }

    [Fact]
    public void Missing_fields_are_refused()
    {
        ReadFails("no-dtype.safetensors", WithHeader("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]), "tensor 'a': the header entry has no 'dtype'");
        ReadFails("no-shape.safetensors", WithHeader("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", new byte[4]), "no 'shape'");
        ReadFails("no-offsets.safetensors", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[4]), "no 'data_offsets'");
        ReadFails("not-object.safetensors", WithHeader("{\"a\":3}", []), "not an object");
        ReadFails("bad-shape.safetensors", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", new byte[4]), "'shape' holds -1");
        ReadFails("bad-offsets.safetensors", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", new byte[4]), "'data_offsets' is not an array of two integers");
        ReadFails("bad-meta.safetensors", WithHeader("{\"__metadata__\":{\"k\":1}}", []), "'k' is not a string");
    }

    [Fact]
    public void Unknown_dtype_is_refused()
    {
        ReadFails("bf16.safetensors", WithHeader("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", new byte[4]), "unknown or unsupported dtype 'BF16'");
    }

    [Fact]
    public void Shape_and_offsets_disagreeing_is_refused()
    {
        ReadFails("mismatch.safetensors", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]), "needs 12 bytes but data_offsets [0, 8] span 8");
        ReadFails("i64-mismatch.safetensors", WithHeader("{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", new byte[4]), "needs 8 bytes");
        ReadFails("reversed.safetensors", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", new byte[4]), "end before they begin");
    }

    [Fact]
    public void Overlapping_offsets_are_refused()
    {
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        ReadFails("overlap.safetensors", WithHeader(json, new byte[12]), "overlap tensor 'a'");
    }

    [Fact]
    public void Gaps_between_tensors_are_refused()
    {
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        ReadFails("gap.safetensors", WithHeader(json, new byte[12]), "covered by no tensor");
    }

    [Fact]
    public void Out_of_range_offsets_are_refused()
    {
        ReadFails("range.safetensors", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[4]), "out of range");
    }

    [Fact]
    public void Trailing_data_is_refused()
    {
        byte[] good = WriteBytes([T("a", TensorData.Float([1], [1f]))]);
        ReadFails("trailing.safetensors", [.. good, 1, 2, 3], "3 bytes of trailing data");
    }

    [Fact]
    public void Duplicate_names_in_header_are_refused()
    {
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        ReadFails("dup.safetensors", WithHeader(json, new byte[8]), "names 'a' twice");
    }

    [Fact]
    public void Tensors_listed_out_of_data_order_are_read_in_data_order()
    {
        string json = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        string path = WriteFile("order.safetensors", WithHeader(json, [.. BitConverter.GetBytes(1f), .. BitConverter.GetBytes(2f)]));
        SafeTensorsContent content = SafeTensors.Read(path);
        Assert.Equal(["a", "b"], content.Tensors.Keys);
        Assert.Equal(2f, content.Tensors["b"].Floats![0]);
    }
}
