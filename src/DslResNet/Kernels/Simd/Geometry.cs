using System.Runtime.CompilerServices;

namespace DslResNet.Kernels.Simd;

/// <summary>A 1x1 stride-1 convolution with <typeparamref name="G"/>'s channels over a run of contiguous pixels: the Winograd
/// products (pixels are tiles, see <see cref="Winograd{G, TS, TV, T}"/>) and the 1x1 convolutions' spans of gathered pixels.</summary>
/// <typeparam name="G">The convolution's geometry.</typeparam>
internal readonly struct PointwiseGeometry<G> : IConvGeometry
    where G : struct, IConvGeometry
{
    public static int InChannels => G.InChannels;

    public static int Height => 1;

    public static int Width => 1;

    public static int OutChannels => G.OutChannels;

    public static int Kernel => 1;

    public static int Stride => 1;

    public static int Padding => 0;
}

/// <summary><typeparamref name="G"/> with its forward micro-kernels taking one kernel row (the caller points the input and the
/// weights at the row): a layer whose weight groups outgrow L2 then runs a group's rows one kernel row at a time, each
/// kernel row's third of the group kept in L2 over every output row (see SimdConvolution.KernelRowPasses).</summary>
/// <typeparam name="G">The convolution's geometry.</typeparam>
internal readonly struct KernelRowGeometry<G> : IConvGeometry
    where G : struct, IConvGeometry
{
    public static int InChannels => G.InChannels;

    public static int Height => G.Height;

    public static int Width => G.Width;

    public static int OutChannels => G.OutChannels;

    public static int Kernel => G.Kernel;

    public static int Stride => G.Stride;

    public static int Padding => G.Padding;

    public static bool OneKernelRow => true;
}

/// <summary>The layout of weights packed for the forward micro-kernels: output channels (padded to 16) in the groups the
/// loops take them in (64 wide while 64 remain, then 32, then 16; all 16 wide where the widest group is 16, see
/// <see cref="Blocks{TS, TV}.WidestGroup"/>), each group's weights contiguous as [row][group width], a row being one (tap,
/// input channel). A micro-kernel then reads its weights in order (no 4 KB strides between rows, which alias in the caches
/// and defeat the prefetchers when there are 1024 output channels).</summary>
internal static class PackedGroups
{
    /// <summary>The width of the group that starts at <paramref name="oc0"/>: 64, 32 or 16.</summary>
    /// <param name="oc0">The group's first output channel.</param>
    /// <param name="coutP">Output channels padded to 16.</param>
    /// <param name="widest">The widest group: 64, 32 (a direct forward's narrow packing) or 16.</param>
    /// <returns>The width.</returns>
    public static int Width(int oc0, int coutP, int widest) => widest == 16 ? 16 : (coutP - oc0) >= 64 && widest == 64 ? 64 : (coutP - oc0) >= 32 ? 32 : 16;

    /// <summary>The first channel of the group that holds <paramref name="channel"/>.</summary>
    /// <param name="channel">An output channel.</param>
    /// <param name="coutP">Output channels padded to 16.</param>
    /// <param name="widest">The widest group: 64 or 16.</param>
    /// <returns>The group's first output channel.</returns>
    public static int GroupStart(int channel, int coutP, int widest)
    {
        if (widest == 16)
        {
            return channel & ~15;
        }

        int full = coutP & ~63;
        return channel < full ? channel & ~63 : channel < full + 32 && coutP - full >= 32 ? full : coutP - full >= 32 ? full + 32 : full;
    }

    /// <summary>Where the group that starts at <paramref name="oc0"/> begins.</summary>
    /// <param name="oc0">The group's first output channel.</param>
    /// <param name="rows">Rows (taps times input channels).</param>
    /// <returns>The offset in floats.</returns>
    public static long Start(int oc0, int rows) => (long)oc0 * rows;
}

/// <summary>
/// The micro-kernels' register blocks for a vector width. With 32 vector registers (AVX-512's zmm) the forward kernels take
/// up to 64 output channels (4 vectors) by 6 pixels, 32 by 14 or 16 by 28; with 8 (AVX2's 16 ymm registers, two a
/// 16-float vector) one vector of 16 channels by 6 pixels, 12 ymm accumulators beside the weights and the broadcast (the
/// AVX-512 blocks would need 48 to 56 ymm accumulators and spill them to the stack on every step).
/// </summary>
/// <typeparam name="TS">The vector operations.</typeparam>
/// <typeparam name="TV">The vector type.</typeparam>
internal static class Blocks<TS, TV>
    where TS : struct, ISimd<TV>
    where TV : struct
{
    /// <summary>Whether the register file holds 32 vectors.</summary>
    public static bool Wide
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => TS.Registers >= 32;
    }

    /// <summary>The widest packed output-channel group (see <see cref="PackedGroups"/>): 64, or 16 on narrow registers.</summary>
    public static int WidestGroup
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Wide ? 64 : 16;
    }

    /// <summary>Vectors (of 16 channels) a block takes when <paramref name="remaining"/> channels are left: 4, 2 or 1.</summary>
    /// <param name="remaining">Channels left (padded to 16).</param>
    /// <returns>The vectors.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Vectors(int remaining) => !Wide ? 1 : remaining >= 64 ? 4 : remaining >= 32 ? 2 : 1;

    /// <summary>Most pixels of a forward block (Forward1, 2, 4) of <paramref name="vectors"/> vectors.</summary>
    /// <param name="vectors">Vectors of output channels.</param>
    /// <returns>The pixels.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ForwardPixels(int vectors) => !Wide ? 6 : vectors == 4 ? 6 : vectors == 2 ? 14 : 28;

    /// <summary>Vectors of a sliding forward block (ForwardSlide1, 2) when <paramref name="remaining"/> channels are left.</summary>
    /// <param name="remaining">Channels left (padded to 16).</param>
    /// <returns>The vectors.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SlideVectors(int remaining) => Wide && remaining >= 32 ? 2 : 1;

    /// <summary>Most pixels of a sliding forward block: its accumulators beside one weight vector per kernel column.</summary>
    /// <param name="vectors">Vectors of output channels.</param>
    /// <returns>The pixels.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SlidePixels(int vectors) => !Wide ? 4 : vectors == 1 ? 14 : 7;

    /// <summary>Most output pixels of a backward-to-the-input block (BackwardData1, 2, 4).</summary>
    /// <param name="vectors">Vectors of input channels.</param>
    /// <returns>The pixels.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int DataPixels(int vectors) => !Wide ? 6 : vectors == 4 ? 6 : 14;

    /// <summary>Most input channels of a backward-to-the-weights block (BackwardWeightsPacked1, 2, 4).</summary>
    /// <param name="vectors">Vectors of output channels.</param>
    /// <returns>The input channels.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WeightRows(int vectors) => !Wide ? 6 : vectors == 1 ? 16 : vectors == 2 ? 12 : 6;
}

/// <summary>Which edge columns of a sliding forward block lie outside the image, read as zero and not loaded.</summary>
internal interface IEdges
{
    /// <summary>Bit 0: the block's first input column; bit 1: its last.</summary>
    static abstract int Outside { get; }
}

/// <summary>A block inside the image (or a padded input).</summary>
internal readonly struct Inside : IEdges
{
    /// <inheritdoc />
    public static int Outside => 0;
}

/// <summary>A block at the image's left edge.</summary>
internal readonly struct LeftEdge : IEdges
{
    /// <inheritdoc />
    public static int Outside => 1;
}

/// <summary>A block at the image's right edge.</summary>
internal readonly struct RightEdge : IEdges
{
    /// <inheritdoc />
    public static int Outside => 2;
}

/// <summary>A block as wide as the image.</summary>
internal readonly struct BothEdges : IEdges
{
    /// <inheritdoc />
    public static int Outside => 3;
}
