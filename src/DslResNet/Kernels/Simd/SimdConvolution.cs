using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DslResNet.Kernels.Simd;

/// <summary>A convolution on the SIMD backend, tensors in NHWC order; built through <see cref="Create{G}"/>.</summary>
public abstract unsafe class SimdConvolution : IDisposable, IConvolution
{
    // Only this assembly's convolutions derive from it.
    private protected SimdConvolution()
    {
    }

    /// <summary>Builds the convolution for geometry <typeparamref name="G"/> at the widest vector width asked for and available.</summary>
    /// <typeparam name="G">The geometry (constants).</typeparam>
    /// <param name="pool">Threads.</param>
    /// <param name="width">Vector width.</param>
    /// <param name="batch">Images the tensors hold.</param>
    /// <param name="bias">Whether there is a bias.</param>
    /// <param name="tensors">The tensors.</param>
    /// <param name="winograd">Whether 3x3 stride-1 passes without batch statistics may use Winograd.</param>
    /// <param name="largeTiles">Whether inference uses F(4x4, 3x3) tiles (input gradients always F(2x2, 3x3)).</param>
    /// <returns>The convolution.</returns>
    internal static SimdConvolution Create<G>(SimdPool pool, SimdWidth width, int batch, bool bias, ConvTensors tensors, bool winograd = true, bool largeTiles = true)
        where G : struct, IConvGeometry => width switch
        {
            SimdWidth.Vector512 => SimdConvolution<G, Simd512, System.Runtime.Intrinsics.Vector512<float>>.Create(pool, batch, bias, tensors, winograd, largeTiles),
            SimdWidth.Vector256 => SimdConvolution<G, Simd256, V256>.Create(pool, batch, bias, tensors, winograd, largeTiles),
            _ => SimdConvolution<G, SimdScalar, VScalar>.Create(pool, batch, bias, tensors, winograd, largeTiles),
        };

    /// <summary>Whether the last forward pass ran as Winograd (with <see cref="WinogradTile"/>).</summary>
    public bool UsedWinograd { get; private protected set; }

    /// <summary>The Winograd tile, set when a forward pass first runs as Winograd: 2 for F(2x2, 3x3), 4 for F(4x4, 3x3);
    /// 0 before.</summary>
    public int WinogradTile { get; private protected set; }

    /// <summary>Whether the last forward pass stored its output past the caches (non-temporal stores, see StreamOutput).</summary>
    public bool StreamedOutput { get; private protected set; }

    /// <summary>Whether the last forward pass ran its weight groups a kernel row at a time (see KernelRowPasses).</summary>
    public bool UsedKernelRows { get; private protected set; }

    /// <summary>Whether the last backward pass computed the input gradient with Winograd's F(2x2, 3x3).</summary>
    public bool UsedWinogradForInputGradient { get; private protected set; }

    /// <summary>Statistics the forward pass adds up for the batch norm that follows (null: none).</summary>
    internal StatisticsSink? Statistics { get; set; }

    /// <summary>Whether the forward pass applies <c>y = act2(act1(conv + b) + r)</c> as it stores (see <see cref="FuseEpilogue"/>).</summary>
    public bool HasEpilogue { get; private set; }

    /// <summary>ReLU after the bias.</summary>
    private protected bool EpilogueRelu1 { get; private set; }

    /// <summary>Residual added after it (NHWC, shaped as the output), or null.</summary>
    private protected float* EpilogueResidual { get; private set; }

    /// <summary>ReLU after the add.</summary>
    private protected bool EpilogueRelu2 { get; private set; }

    /// <summary>Makes the forward pass (inference) finish each output with ReLUs and a residual add as it stores it, instead of a
    /// separate pass over the output.</summary>
    /// <param name="relu1">ReLU after the bias.</param>
    /// <param name="residual">Residual, or zero.</param>
    /// <param name="relu2">ReLU after the add.</param>
    internal void FuseEpilogue(bool relu1, IntPtr residual, bool relu2)
    {
        HasEpilogue = true;
        EpilogueRelu1 = relu1;
        EpilogueResidual = (float*)residual;
        EpilogueRelu2 = relu2;
    }

    /// <summary>Points the fused residual elsewhere (for one call: see <see cref="IRelocatable"/>).</summary>
    /// <param name="residual">The residual.</param>
    private protected void MoveEpilogueResidual(float* residual) => EpilogueResidual = residual;

    /// <summary>Forward: <c>y = conv(x, w) + b</c> for the first <paramref name="images"/> images, statistics into <see cref="Statistics"/>.</summary>
    /// <param name="images">Images.</param>
    /// <param name="repack">Whether the weights changed since the last call (training always passes true).</param>
    public abstract void Forward(int images, bool repack);

    /// <summary>Weight and bias gradients (overwritten), then, when <paramref name="data"/>, the input gradient (accumulated).</summary>
    /// <param name="data">Whether to compute the input gradient.</param>
    /// <param name="weights">Whether to compute the weight and bias gradients.</param>
    public abstract void Backward(bool data, bool weights = true);

    /// <summary>Releases the packed weights and partials.</summary>
    public abstract void Dispose();
}

/// <summary>Raw pointers to a convolution's tensors (null where absent).</summary>
/// <param name="X">Input, NHWC.</param>
/// <param name="W">Weights, OIHW (PyTorch's order).</param>
/// <param name="B">Bias.</param>
/// <param name="Y">Output, NHWC.</param>
/// <param name="Dy">Output gradient.</param>
/// <param name="Dx">Input gradient (accumulated into).</param>
/// <param name="Dw">Weight gradient, OIHW (overwritten).</param>
/// <param name="Db">Bias gradient (overwritten).</param>
internal readonly unsafe record struct ConvTensors(IntPtr X, IntPtr W, IntPtr B, IntPtr Y, IntPtr Dy, IntPtr Dx, IntPtr Dw, IntPtr Db);

/// <summary>The geometry of the backward-to-input pass of a stride-1 convolution seen as a forward convolution: from the output
/// gradient (out channels, output size) to the input gradient, same kernel, padding K - 1 - P.</summary>
/// <typeparam name="G">The convolution's geometry.</typeparam>
internal readonly struct TransposedGeometry<G> : IConvGeometry
    where G : struct, IConvGeometry
{
    public static int InChannels { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.OutChannels; }

    public static int Height { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ((G.Height + (2 * G.Padding) - G.Kernel) / G.Stride) + 1; }

    public static int Width { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ((G.Width + (2 * G.Padding) - G.Kernel) / G.Stride) + 1; }

    public static int OutChannels { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.InChannels; }

    public static int Kernel { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Kernel; }

    public static int Stride { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => 1; }

    public static int Padding { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => G.Kernel - 1 - G.Padding; }
}
