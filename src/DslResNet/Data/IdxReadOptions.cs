using System;

namespace DslResNet.Data;

/// <summary>Limits on what an IDX file may declare, checked against its header before any data is read.</summary>
public sealed record IdxReadOptions
{
    /// <summary>The default limit on decoded data: 1 GiB (MNIST's largest file holds 47 MB).</summary>
    public const long DefaultMaxDataBytes = 1L << 30;

    /// <summary>The default options: at most <see cref="DefaultMaxDataBytes"/> of decoded data.</summary>
    public static IdxReadOptions Default { get; } = new();

    /// <summary>
    /// The most data bytes (the product of the dimensions) a file may declare; a file declaring more is refused
    /// before its data is read or decompressed. Between 1 and <see cref="Array.MaxLength"/>; default
    /// <see cref="DefaultMaxDataBytes"/>.
    /// </summary>
    public long MaxDataBytes
    {
        get => _maxDataBytes;
        init
        {
            if (value < 1 || value > Array.MaxLength)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxDataBytes), value, $"MaxDataBytes must be between 1 and {Array.MaxLength}.");
            }
            _maxDataBytes = value;
        }
    }

    private readonly long _maxDataBytes = DefaultMaxDataBytes;
}
