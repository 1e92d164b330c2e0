using System;
using ILGPU;

namespace DslResNet.Kernels;

/// <summary>
/// A backend: builds each operation of <see cref="IConvolution"/>, <see cref="IFold"/>, <see cref="IEpilogue"/>,
/// <see cref="IPooling"/>, <see cref="IShortcut"/>, <see cref="IChannelScale"/>, <see cref="ICopy"/> and <see cref="IDropout"/> for one layer's shape and
/// tensors. The shape records (<see cref="ConvShape"/> ...) and the bindings (<see cref="ConvBinding"/> ...) define what an
/// operation reads and writes, once for every backend; the run-time operations (<c>DslResNet.Runtime.ConvOp</c> ...) check
/// the arguments, bind the tensors and call the backend once per layer and pass, so a backend never sees the generated code
/// and adding one touches neither the generator nor the operations. A device holds one backend.
/// </summary>
/// <remarks>
/// Tensors are the device's buffers, in the layout the backend keeps them in (the SIMD backend's maps are NHWC, the ILGPU
/// kernels' NCHW; the network's host copies convert). A binding's empty view means the tensor is absent: no bias, no residual,
/// or no gradients (an inference operation). Backends hold no state shared between networks.
/// </remarks>
internal interface IBackend : IDisposable
{
    /// <summary>A short name for messages, e.g. <c>SIMD</c> or <c>ILGPU</c>.</summary>
    string Name { get; }

    /// <summary>Builds a convolution whose geometry is also given as compile-time constants (what generated code does).</summary>
    /// <typeparam name="TGeometry">The geometry as constants; agrees with <paramref name="shape"/> (checked by the caller).</typeparam>
    /// <param name="shape">The shape, validated.</param>
    /// <param name="tensors">The tensors, of the sizes the shape needs.</param>
    /// <returns>The convolution.</returns>
    IConvolution CreateConvolution<TGeometry>(ConvShape shape, ConvBinding tensors)
        where TGeometry : struct, IConvGeometry;

    /// <summary>Builds a convolution from its shape alone.</summary>
    /// <param name="shape">The shape, validated.</param>
    /// <param name="tensors">The tensors.</param>
    /// <returns>The convolution.</returns>
    /// <exception cref="ArgumentException">The backend compiles convolutions per geometry and needs
    /// <see cref="CreateConvolution{TGeometry}"/>.</exception>
    IConvolution CreateConvolution(ConvShape shape, ConvBinding tensors);

    /// <summary>Builds the folding of evaluation-mode batch norm into a convolution's weights and bias.</summary>
    /// <param name="shape">The convolution's training shape (its Bias says whether <see cref="FoldBinding.B"/> is bound).</param>
    /// <param name="eps">Batch norm epsilon.</param>
    /// <param name="tensors">The tensors.</param>
    /// <returns>The fold.</returns>
    IFold CreateFold(ConvShape shape, float eps, FoldBinding tensors);

    /// <summary>Builds the fused pass <c>y = act2(act1(bn(x)) + r)</c>.</summary>
    /// <param name="shape">The shape, validated.</param>
    /// <param name="tensors">The tensors.</param>
    /// <returns>The pass.</returns>
    IEpilogue CreateEpilogue(EpilogueShape shape, EpilogueBinding tensors);

    /// <summary>Builds a pooling.</summary>
    /// <param name="shape">The shape, validated.</param>
    /// <param name="tensors">The tensors.</param>
    /// <returns>The pooling.</returns>
    IPooling CreatePooling(PoolShape shape, MapBinding tensors);

    /// <summary>Builds an option-A shortcut.</summary>
    /// <param name="shape">The shape, validated.</param>
    /// <param name="tensors">The tensors.</param>
    /// <returns>The shortcut.</returns>
    IShortcut CreateShortcut(ShortcutShape shape, MapBinding tensors);

    /// <summary>Builds a channel-wise scale (squeeze-and-excitation's merge).</summary>
    /// <param name="shape">The shape, validated.</param>
    /// <param name="tensors">The tensors.</param>
    /// <returns>The scale.</returns>
    IChannelScale CreateChannelScale(ChannelScaleShape shape, ChannelScaleBinding tensors);

    /// <summary>Builds a copy (flatten, or dropout in evaluation mode).</summary>
    /// <param name="shape">The shape, validated.</param>
    /// <param name="tensors">The tensors.</param>
    /// <returns>The copy.</returns>
    ICopy CreateCopy(CopyShape shape, MapBinding tensors);

    /// <summary>Builds a training-mode dropout.</summary>
    /// <param name="shape">The shape, validated.</param>
    /// <param name="tensors">The tensors.</param>
    /// <returns>The dropout.</returns>
    IDropout CreateDropout(DropoutShape shape, MapBinding tensors);

    /// <summary>
    /// Lets <paramref name="convolution"/>'s forward pass add up the batch statistics that <paramref name="epilogue"/> (its
    /// training batch norm) needs, where the backend can; otherwise does nothing and the epilogue computes them itself.
    /// </summary>
    /// <param name="convolution">A training convolution this backend built.</param>
    /// <param name="epilogue">The training pass on its output, built by this backend.</param>
    void FuseStatistics(IConvolution convolution, IEpilogue epilogue);

    /// <summary>
    /// Lets an inference convolution apply the inference pass that follows it as it stores its output, where the backend
    /// can. When this returns true the caller skips the pass's own forward.
    /// </summary>
    /// <param name="convolution">The inference convolution, built by this backend.</param>
    /// <param name="convolutionTensors">Its tensors.</param>
    /// <param name="epilogue">The pass, built by this backend.</param>
    /// <param name="shape">The pass's shape.</param>
    /// <param name="epilogueTensors">The pass's tensors.</param>
    /// <returns>Whether the convolution now applies the pass.</returns>
    bool FuseEpilogue(IConvolution convolution, ConvBinding convolutionTensors, IEpilogue epilogue, EpilogueShape shape, EpilogueBinding epilogueTensors);

    /// <summary>Binds a network's traffic with the caller (images, labels, loss, results, clearing, completion).</summary>
    /// <param name="binding">The network's buffers.</param>
    /// <returns>The network's host side.</returns>
    INetworkHost CreateHost(HostBinding binding);

    /// <summary>Copies values from the device (parameters, gradients) to the caller.</summary>
    /// <param name="source">The device's values.</param>
    /// <param name="target">As many values as to copy.</param>
    void Read(ArrayView<float> source, Span<float> target);

    /// <summary>Copies values from the caller to the device.</summary>
    /// <param name="source">The values.</param>
    /// <param name="target">The device's buffer, at least as long.</param>
    void Write(ReadOnlySpan<float> source, ArrayView<float> target);

    /// <summary>Whether calls on one device must not overlap (ILGPU's streams are not thread-safe); the device then serialises network calls.</summary>
    bool SerializesCalls { get; }

    /// <summary>Parameter-sized buffers the backend keeps per network beyond values and gradients (packed weights, per-thread partial sums), for the memory estimate.</summary>
    int ExtraParameterCopies { get; }
}
