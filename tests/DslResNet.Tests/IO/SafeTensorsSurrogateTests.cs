using System;
using System.IO;
using DslResNet.IO;
using Xunit;

namespace DslResNet.Tests.IO;

/// <summary>SafeTensors.Read on its own (not through Checkpoint.Load) also reports a lone surrogate as a CheckpointException.</summary>
public sealed class SafeTensorsSurrogateTests
{
    [Theory]
    [InlineData("{\"__metadata__\":{\"note\":\"\\ud800\"}}")]
    [InlineData("{\"__metadata__\":{\"\\udc00\":\"x\"}}")]
    public void Lone_surrogate_is_named_as_such(string json)
    {
        byte[] header = System.Text.Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (long)header.Length);
        header.CopyTo(bytes, 8);
        var e = Assert.Throws<CheckpointException>(() => SafeTensors.Read(new MemoryStream(bytes, writable: false), "s.safetensors"));
        Assert.Contains("surrogate", e.Message);
        Assert.Contains("s.safetensors", e.Message);
    }
}
