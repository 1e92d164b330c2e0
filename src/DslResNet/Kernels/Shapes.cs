using System;
using System.Runtime.CompilerServices;

namespace DslResNet.Kernels;

// Activation is defined in src/DslResNet/Model/Operations.cs, shared with the generator.

/// <summary>
/// A 2-D convolution's shape: N x InChannels x Height x Width input, OutChannels x (InChannels / Groups) x Kernel x Kernel
/// weights, square kernel, equal stride and zero padding on both axes. A dense layer is the 1x1 case on a 1x1 map. Passed to kernels
/// as a <c>SpecializedValue</c>, so each shape compiles to its own kernel with these numbers as constants.
/// </summary>
/// <param name="N">Images.</param>
/// <param name="InChannels">Input channels.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="OutChannels">Output channels.</param>
/// <param name="Kernel">Kernel size.</param>
/// <param name="Stride">Stride.</param>
/// <param name="Padding">Zero padding on each side.</param>
/// <param name="Bias">Whether a bias is added.</param>
/// <param name="Groups">Groups (PyTorch's <c>groups</c>): output channel <c>co</c> reads only the input channels of its group,
/// <c>co / (OutChannels / Groups)</c>; 1 is a dense convolution.</param>
public readonly record struct ConvShape(int N, int InChannels, int Height, int Width, int OutChannels, int Kernel, int Stride, int Padding, bool Bias, int Groups = 1)
{
    // Kernel parameters must be blittable, and bool is not: flags are stored as ints.
    private readonly int _bias = Bias ? 1 : 0;

    /// <summary>Whether a bias is added.</summary>
    public bool Bias => _bias != 0;

    /// <summary>Output height.</summary>
    public int OutHeight { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ((Height + (2 * Padding) - Kernel) / Stride) + 1; }

    /// <summary>Output width.</summary>
    public int OutWidth { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ((Width + (2 * Padding) - Kernel) / Stride) + 1; }

    /// <summary>Input elements.</summary>
    public long InputElements => (long)N * InChannels * Height * Width;

    /// <summary>Output elements.</summary>
    public long OutputElements => (long)N * OutChannels * OutHeight * OutWidth;

    /// <summary>Weight elements.</summary>
    public long WeightElements => (long)OutChannels * InPerGroup * Kernel * Kernel;

    /// <summary>Input channels of one group (the weights' second dimension).</summary>
    public int InPerGroup => Groups > 0 ? InChannels / Groups : InChannels;

    /// <summary>Output channels of one group.</summary>
    public int OutPerGroup => Groups > 0 ? OutChannels / Groups : OutChannels;

    /// <summary>Throws when the shape is impossible or too large for 32-bit indexing.</summary>
    /// <exception cref="ArgumentException">A dimension is out of range.</exception>
    public void Validate()
    {
        if (N < 1 || InChannels < 1 || Height < 1 || Width < 1 || OutChannels < 1 || Kernel < 1 || Stride < 1 || Padding < 0 || OutHeight < 1 || OutWidth < 1)
        {
            throw new ArgumentException($"Invalid convolution shape {this}.");
        }

        if (Groups < 1 || InChannels % Groups != 0 || OutChannels % Groups != 0)
        {
            throw new ArgumentException($"Invalid convolution shape {this}: Groups must be at least 1 and divide InChannels and OutChannels.");
        }

        Limits.Check(InputElements, OutputElements, WeightElements);
    }
}

/// <summary>
/// The fused pass after a convolution (or on its own): optional batch norm, activation, residual add and a second
/// activation, over N x Channels x Spatial elements: <c>y = act2(act1(bn(x)) + r)</c>.
/// </summary>
/// <param name="N">Images.</param>
/// <param name="Channels">Channels.</param>
/// <param name="Spatial">Elements per channel per image (H x W; 1 for a flat tensor).</param>
/// <param name="Norm">Whether batch norm is applied.</param>
/// <param name="Training">Batch statistics (and running-statistics update) when true; running statistics when false.</param>
/// <param name="Act1">Activation after batch norm.</param>
/// <param name="Add">Whether a residual is added.</param>
/// <param name="Act2">Activation after the add.</param>
/// <param name="Eps">Batch norm epsilon.</param>
/// <param name="Momentum">Running-statistics momentum (PyTorch convention: new = (1 - m) old + m batch).</param>
public readonly record struct EpilogueShape(
    int N, int Channels, int Spatial, bool Norm, bool Training, Activation Act1, bool Add, Activation Act2, float Eps, float Momentum)
{
    // Kernel parameters must be blittable, and bool is not: flags are stored as ints.
    private readonly int _norm = Norm ? 1 : 0;
    private readonly int _training = Training ? 1 : 0;
    private readonly int _add = Add ? 1 : 0;
    private readonly int _overwrite;

    /// <summary>Backward writes the input gradient instead of adding into it: the plan lets it share the output gradient's
    /// memory (each element's output gradient is read before its input gradient is written, and nothing else adds into
    /// it). Set by <c>EpilogueOp</c> when the two views are the same.</summary>
    public bool OverwritesInputGradient
    {
        get => _overwrite != 0;
        init => _overwrite = value ? 1 : 0;
    }

    /// <summary>Whether batch norm is applied.</summary>
    public bool Norm => _norm != 0;

    /// <summary>Batch statistics when true; running statistics when false.</summary>
    public bool Training => _training != 0;

    /// <summary>Whether a residual is added.</summary>
    public bool Add => _add != 0;

    /// <summary>Elements.</summary>
    public long Elements => (long)N * Channels * Spatial;

    /// <summary>Elements per channel over the batch: the count batch statistics are taken over.</summary>
    public long PerChannel => (long)N * Spatial;

    /// <summary>Throws when the shape is impossible.</summary>
    /// <exception cref="ArgumentException">A dimension is out of range.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Act1) || !Enum.IsDefined(Act2))
        {
            throw new ArgumentException($"Unknown activation in fused pass shape {this} (defined: {string.Join(", ", Enum.GetNames<Activation>())}).");
        }

        if (N < 1 || Channels < 1 || Spatial < 1 || (Norm && !(Eps > 0)) || (Norm && Training && PerChannel < 2))
        {
            throw new ArgumentException(
                Norm && Training && PerChannel < 2
                    ? $"Batch norm in training mode needs more than one value per channel; got {PerChannel} ({this})."
                    : $"Invalid fused pass shape {this}.");
        }

        Limits.Check(Elements);
    }
}

/// <summary>Which pooling.</summary>
public enum PoolKind
{
    /// <summary>Maximum over the window (padding never wins).</summary>
    Max = 0,

    /// <summary>Average over the window, padding counted as zeros (PyTorch's <c>count_include_pad=True</c>).</summary>
    Average = 1,

    /// <summary>Average over the whole map: N x C x H x W to N x C.</summary>
    GlobalAverage = 2,
}

/// <summary>A pooling's shape.</summary>
/// <param name="N">Images.</param>
/// <param name="Channels">Channels.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="Kernel">Window size (ignored for global pooling).</param>
/// <param name="Stride">Stride.</param>
/// <param name="Padding">Padding.</param>
/// <param name="Kind">Max, average or global average.</param>
public readonly record struct PoolShape(int N, int Channels, int Height, int Width, int Kernel, int Stride, int Padding, PoolKind Kind)
{
    /// <summary>Output height.</summary>
    public int OutHeight { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Kind == PoolKind.GlobalAverage ? 1 : ((Height + (2 * Padding) - Kernel) / Stride) + 1; }

    /// <summary>Output width.</summary>
    public int OutWidth { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Kind == PoolKind.GlobalAverage ? 1 : ((Width + (2 * Padding) - Kernel) / Stride) + 1; }

    /// <summary>Input elements.</summary>
    public long InputElements => (long)N * Channels * Height * Width;

    /// <summary>Output elements.</summary>
    public long OutputElements => (long)N * Channels * OutHeight * OutWidth;

    /// <summary>Throws when the shape is impossible.</summary>
    /// <exception cref="ArgumentException">A dimension is out of range.</exception>
    public void Validate()
    {
        if (N < 1 || Channels < 1 || Height < 1 || Width < 1 || OutHeight < 1 || OutWidth < 1
            || (Kind != PoolKind.GlobalAverage && (Kernel < 1 || Stride < 1 || Padding < 0 || Padding > Kernel / 2)))
        {
            throw new ArgumentException($"Invalid pooling shape {this}.");
        }

        Limits.Check(InputElements);
    }
}

/// <summary>
/// The ResNet paper's option-A shortcut: subsample by <see cref="Stride"/> and pad channels with zeros, (Out - In) / 2 before
/// and the rest after.
/// </summary>
/// <param name="N">Images.</param>
/// <param name="InChannels">Input channels.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="OutChannels">Output channels, at least the input's.</param>
/// <param name="Stride">Subsampling step.</param>
public readonly record struct ShortcutShape(int N, int InChannels, int Height, int Width, int OutChannels, int Stride)
{
    /// <summary>Output height: ceil(H / stride).</summary>
    public int OutHeight { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ((Height - 1) / Stride) + 1; }

    /// <summary>Output width: ceil(W / stride).</summary>
    public int OutWidth { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ((Width - 1) / Stride) + 1; }

    /// <summary>Zero channels before the copied ones.</summary>
    public int PadBefore => (OutChannels - InChannels) / 2;

    /// <summary>Input elements.</summary>
    public long InputElements => (long)N * InChannels * Height * Width;

    /// <summary>Output elements.</summary>
    public long OutputElements => (long)N * OutChannels * OutHeight * OutWidth;

    /// <summary>Throws when the shape is impossible.</summary>
    /// <exception cref="ArgumentException">A dimension is out of range.</exception>
    public void Validate()
    {
        if (N < 1 || InChannels < 1 || Height < 1 || Width < 1 || OutChannels < InChannels || Stride < 1)
        {
            throw new ArgumentException($"Invalid shortcut shape {this}.");
        }

        Limits.Check(InputElements, OutputElements);
    }
}

/// <summary>
/// A channel-wise scale (squeeze-and-excitation's merge): <c>y[n, c, i, j] = x[n, c, i, j] * s[n, c]</c>, the scale broadcast over
/// the <see cref="Spatial"/> pixels of each channel. Backward: <c>dx += dy * s</c> and <c>ds[n, c] += sum over pixels of dy * x</c>.
/// </summary>
/// <param name="N">Batch size.</param>
/// <param name="Channels">Channels of the map and length of each image's scale.</param>
/// <param name="Spatial">Pixels per channel (height times width).</param>
public readonly record struct ChannelScaleShape(int N, int Channels, int Spatial)
{
    /// <summary>Elements of the map (x, y, dx, dy).</summary>
    public long Elements => (long)N * Channels * Spatial;

    /// <summary>Elements of the scale (s, ds): N x Channels.</summary>
    public long ScaleElements => (long)N * Channels;

    /// <summary>Throws when a size is not positive or the map is too large for one kernel.</summary>
    /// <exception cref="ArgumentException">Invalid shape.</exception>
    public void Validate()
    {
        if (N < 1 || Channels < 1 || Spatial < 1)
        {
            throw new ArgumentException($"Invalid channel scale shape {this}: the batch, channels and pixels must be at least 1.");
        }

        Limits.Check(Elements);
    }
}

/// <summary>
/// A copy's shape: <see cref="Count"/> values, seen as images of <see cref="Channels"/> x <see cref="Spatial"/> (or one flat
/// image when <see cref="Channels"/> is 0), optionally flattened into PyTorch's channel-major order.
/// </summary>
/// <param name="Count">Elements.</param>
/// <param name="Channels">Channels of the input map per image (0: one flat image).</param>
/// <param name="Spatial">Pixels of the input map.</param>
/// <param name="Flatten">Whether the output is flat, in channel-major order.</param>
internal readonly record struct CopyShape(long Count, int Channels, int Spatial, bool Flatten)
{
    /// <summary>The values as images: batch, channels, pixels.</summary>
    /// <param name="op">The operation, for the error message.</param>
    /// <returns>The layout.</returns>
    /// <exception cref="ArgumentException">The count is not whole images.</exception>
    public (int Batch, int Channels, int Spatial) Images(string op) => ImageLayout.Of(Count, Channels, Spatial, op);
}

/// <summary>A training-mode dropout's shape.</summary>
/// <param name="Count">Elements.</param>
/// <param name="Rate">Drop probability, 0 to below 1.</param>
/// <param name="Seed">The network's seed mixed with the layer's index.</param>
/// <param name="Channels">Channels per image (0: one flat image); masks follow the channel-major element index.</param>
/// <param name="Spatial">Pixels per channel.</param>
internal readonly record struct DropoutShape(long Count, float Rate, int Seed, int Channels, int Spatial)
{
    /// <summary>The values as images: batch, channels, pixels.</summary>
    /// <param name="op">The operation, for the error message.</param>
    /// <returns>The layout.</returns>
    /// <exception cref="ArgumentException">The count is not whole images.</exception>
    public (int Batch, int Channels, int Spatial) Images(string op) => ImageLayout.Of(Count, Channels, Spatial, op);
}

/// <summary>How a flat count splits into images of channels x pixels.</summary>
internal static class ImageLayout
{
    public static (int Batch, int Channels, int Spatial) Of(long count, int channels, int spatial, string op)
    {
        if (channels <= 0)
        {
            return (1, 1, (int)count);
        }

        long perImage = (long)channels * Math.Max(1, spatial);
        if (count % perImage != 0)
        {
            throw new ArgumentException($"{op}: {count} elements are not whole images of {channels} x {spatial} values.", nameof(count));
        }

        return ((int)(count / perImage), channels, Math.Max(1, spatial));
    }
}

/// <summary>Element counts kernels index with 32-bit integers.</summary>
internal static class Limits
{
    public static void Check(params long[] counts)
    {
        foreach (long count in counts)
        {
            if (count > int.MaxValue)
            {
                throw new ArgumentException(
                    $"A tensor of {count:N0} elements is too large for one kernel (at most {int.MaxValue:N0}); use a smaller batch size.");
            }
        }
    }
}
