using System;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Kernels;

/// <summary>A convolution's tensors (empty where absent). Shapes: X is N x InChannels x H x W, W OutChannels x InChannels / Groups x
/// K x K (PyTorch's order), B OutChannels, Y N x OutChannels x OH x OW; each gradient is shaped as its tensor.</summary>
/// <param name="X">Input.</param>
/// <param name="W">Weights.</param>
/// <param name="B">Bias.</param>
/// <param name="Y">Output.</param>
/// <param name="Dy">Gradient of the output (empty for inference).</param>
/// <param name="Dx">Gradient of the input (accumulated into; empty when not needed).</param>
/// <param name="Dw">Gradient of the weights (overwritten).</param>
/// <param name="Db">Gradient of the bias (overwritten).</param>
internal readonly record struct ConvBinding(
    ArrayView<float> X, ArrayView<float> W, ArrayView<float> B, ArrayView<float> Y,
    ArrayView<float> Dy, ArrayView<float> Dx, ArrayView<float> Dw, ArrayView<float> Db)
{
    /// <summary>Whether the convolution trains (its output gradient is bound).</summary>
    public bool Training => HostView.Bound(Dy);
}

/// <summary>The tensors of batch norm folded into a convolution.</summary>
/// <param name="W">The convolution's weights.</param>
/// <param name="B">Its bias (empty without one).</param>
/// <param name="Bn">Batch norm's scale, shift, running mean and running variance, OutChannels each.</param>
/// <param name="Wf">Folded weights.</param>
/// <param name="Bf">Folded bias.</param>
internal readonly record struct FoldBinding(ArrayView<float> W, ArrayView<float> B, ArrayView<float> Bn, ArrayView<float> Wf, ArrayView<float> Bf);

/// <summary>The fused pass's tensors (empty where absent).</summary>
/// <param name="X">Input.</param>
/// <param name="Bn">Batch norm's scale, shift, running mean and running variance.</param>
/// <param name="Stats">4 x channels of scratch for batch statistics (training-mode batch norm).</param>
/// <param name="R">Residual.</param>
/// <param name="Y">Output (may be X for inference).</param>
/// <param name="Dy">Gradient of the output.</param>
/// <param name="Dx">Gradient of the input.</param>
/// <param name="Dr">Gradient of the residual.</param>
/// <param name="Dbn">Gradient of batch norm's scale and shift.</param>
internal readonly record struct EpilogueBinding(
    ArrayView<float> X, ArrayView<float> Bn, ArrayView<float> Stats, ArrayView<float> R, ArrayView<float> Y,
    ArrayView<float> Dy, ArrayView<float> Dx, ArrayView<float> Dr, ArrayView<float> Dbn);

/// <summary>The tensors of a one-input, one-output operation (pooling, shortcut, copy, dropout).</summary>
/// <param name="X">Input.</param>
/// <param name="Y">Output.</param>
/// <param name="Dy">Gradient of the output.</param>
/// <param name="Dx">Gradient of the input.</param>
internal readonly record struct MapBinding(ArrayView<float> X, ArrayView<float> Y, ArrayView<float> Dy, ArrayView<float> Dx);

/// <summary>A channel-wise scale's tensors (gradients empty for inference).</summary>
/// <param name="X">The map, N x C x H x W in the backend's layout.</param>
/// <param name="S">The scale, N x C (the same in every layout).</param>
/// <param name="Y">Output, shaped as X.</param>
/// <param name="Dy">Gradient of the output.</param>
/// <param name="Dx">Gradient of the map (accumulated into).</param>
/// <param name="Ds">Gradient of the scale (accumulated into).</param>
internal readonly record struct ChannelScaleBinding(
    ArrayView<float> X, ArrayView<float> S, ArrayView<float> Y, ArrayView<float> Dy, ArrayView<float> Dx, ArrayView<float> Ds);

/// <summary>Views of host memory (the CPU accelerator's buffers) as addresses.</summary>
internal static class HostView
{
    /// <summary>Whether the view is bound (valid and not empty).</summary>
    /// <param name="view">The view.</param>
    /// <returns>True when bound.</returns>
    public static bool Bound(ArrayView<float> view) => view.IsValid && view.Length > 0;

    /// <summary>The view's raw address; zero for an empty view.</summary>
    /// <param name="view">The view, in host memory.</param>
    /// <returns>The address.</returns>
    public static IntPtr Address(ArrayView<float> view) => Bound(view) ? view.LoadEffectiveAddressAsPtr() : IntPtr.Zero;
}
