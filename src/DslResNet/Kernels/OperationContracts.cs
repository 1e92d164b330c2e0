using System;

namespace DslResNet.Kernels;

// What each backend implements, one interface per operation. A pass over "the first images images" may compute the whole
// batch (the ILGPU kernels do); it never computes fewer. Backward passes accumulate into activation gradients (the network
// clears each right before the backward step that first adds into it) and overwrite parameter gradients. Dispose frees what the backend allocated for the
// operation (packed weights, partial sums), never the bound tensors, which belong to the network; it is idempotent.

/// <summary>A convolution (a dense layer is the 1x1 case on a 1x1 map) over a <see cref="ConvBinding"/>.</summary>
internal interface IConvolution : IDisposable
{
    /// <summary>Reads X, W and B; writes Y: <c>y = conv(x, w) + b</c> for the first <paramref name="images"/> images.</summary>
    /// <param name="images">Images, 1 to the shape's N.</param>
    /// <param name="weightsChanged">Whether W or B may have changed since the last call; a backend that keeps a transformed
    /// copy of the weights rebuilds it only then (training always passes true).</param>
    void Forward(int images, bool weightsChanged);

    /// <summary>Reads Dy, X and W; overwrites Dw and Db when <paramref name="weights"/> and, when <paramref name="data"/> and Dx is bound, adds into Dx.</summary>
    /// <param name="data">Whether to compute the input's gradient.</param>
    /// <param name="weights">Whether to compute the weights' and bias's gradients (false for a frozen layer: Dw and Db are left as they are).</param>
    void Backward(bool data, bool weights = true);
}

/// <summary>Batch norm folded into a convolution, over a <see cref="FoldBinding"/>.</summary>
internal interface IFold : IDisposable
{
    /// <summary>Reads W, B and Bn; writes Wf and Bf.</summary>
    void Run();
}

/// <summary>The fused pass <c>y = act2(act1(bn(x)) + r)</c> over an <see cref="EpilogueBinding"/>.</summary>
internal interface IEpilogue : IDisposable
{
    /// <summary>Reads X, Bn and R; writes Y and, for training-mode batch norm, Stats and the running statistics in Bn.</summary>
    /// <param name="images">Images, 1 to the shape's N.</param>
    void Forward(int images);

    /// <summary>Reads Dy, Y, X, R, Bn and Stats; adds into Dx and Dr; overwrites Dbn.</summary>
    void Backward();

    /// <summary>After a training forward: writes Y again from X and R with the statistics that forward used (bit for bit the
    /// same values); updates no statistics.</summary>
    void Reapply();

    /// <summary>
    /// Training-mode batch norm only: normalise with the running statistics and leave them unchanged, as a PyTorch
    /// <c>BatchNorm2d</c> in <c>eval()</c> inside a network in <c>train()</c> (batch norm of frozen layers). The backward
    /// then has no batch-statistics terms: <c>dx = scale * invstd * g</c>; <c>Dbn</c> is computed as usual.
    /// </summary>
    bool RunningStatistics { get; set; }

    /// <summary>
    /// Training-mode batch norm only: when set, the batch statistics are those of the whole distributed batch (every
    /// rank's sums all-reduced in the forward) and the backward's two reductions are all-reduced too, as PyTorch's
    /// <c>SyncBatchNorm</c>; the scale and shift gradients stay local (the gradient all-reduce averages them).
    /// </summary>
    ICommunicator? Synchronized { get; set; }
}

/// <summary>
/// A backend operation whose inference forward can run on tensors at other addresses than those it was bound to, laid out
/// as the bound ones are (image after image): a network runs its first layers a few images at a time through a small arena
/// (see NetworkBase's inference windows). Each tensor's data is the operation's to read or write for the call only.
/// </summary>
internal interface IRelocatable
{
    /// <summary>The inference forward of <paramref name="images"/> images with the input, the output and the fused residual
    /// (where there is one) at the given addresses.</summary>
    /// <param name="x">The input's first image.</param>
    /// <param name="y">The output's first image.</param>
    /// <param name="residual">The fused residual's first image (zero where there is none).</param>
    /// <param name="images">Images, 1 to the shape's N.</param>
    /// <param name="weightsChanged">As <see cref="IConvolution.Forward"/>'s (ignored by operations without weights).</param>
    void ForwardAt(IntPtr x, IntPtr y, IntPtr residual, int images, bool weightsChanged);
}

/// <summary>A gradient a backward adds into (see <see cref="IGradientOverwriter"/>).</summary>
internal enum GradientTarget
{
    /// <summary>The input's gradient (a convolution's Dx, a fused pass's Dx).</summary>
    Input,

    /// <summary>A fused pass's residual gradient (Dr).</summary>
    Residual,
}

/// <summary>
/// A backend operation whose backward can overwrite a gradient it otherwise adds into, writing every element of it. A
/// network zeroes each gradient buffer right before the backward that first adds into it (buffers share memory by
/// lifetime); where that first writer is such an operation, it overwrites instead, and the buffer is zeroed only in a
/// call where the operation does not run (see NetworkBase's PlanOverwrites).
/// </summary>
internal interface IGradientOverwriter
{
    /// <summary>Makes every later backward overwrite <paramref name="target"/> instead of adding into it.</summary>
    /// <param name="target">The gradient.</param>
    /// <returns>False, with nothing changed, where the backward would not write every element of it (or has none).</returns>
    bool OverwriteGradient(GradientTarget target);
}

/// <summary>Max, average or global-average pooling over a <see cref="MapBinding"/>.</summary>
internal interface IPooling : IDisposable
{
    /// <summary>Reads X; writes Y.</summary>
    /// <param name="images">Images, 1 to the shape's N.</param>
    void Forward(int images);

    /// <summary>Reads X and Dy; adds into Dx.</summary>
    void Backward();
}

/// <summary>The option-A shortcut over a <see cref="MapBinding"/>.</summary>
internal interface IShortcut : IDisposable
{
    /// <summary>Reads X; writes Y.</summary>
    /// <param name="images">Images, 1 to the shape's N.</param>
    void Forward(int images);

    /// <summary>Reads Dy; adds into Dx.</summary>
    void Backward();
}

/// <summary>A copy (flatten, evaluation-mode dropout) over a <see cref="MapBinding"/>.</summary>
internal interface ICopy : IDisposable
{
    /// <summary>Reads X; writes Y.</summary>
    /// <param name="images">Images, 1 to the shape's batch.</param>
    void Forward(int images);

    /// <summary>Reads Dy; adds into Dx.</summary>
    void Backward();
}

/// <summary>Training-mode dropout over a <see cref="MapBinding"/>, its mask from <see cref="DropoutMask.Uniform"/>.</summary>
internal interface IDropout : IDisposable
{
    /// <summary>Reads X; writes Y, every image.</summary>
    /// <param name="step">The mask's counter.</param>
    void Forward(long step);

    /// <summary>Reads Dy; adds into Dx with the same step's mask.</summary>
    /// <param name="step">The step given to <see cref="Forward"/>.</param>
    void Backward(long step);
}

/// <summary>The channel-wise scale <c>y = x * s</c> (s per image and channel) over a <see cref="ChannelScaleBinding"/>.</summary>
internal interface IChannelScale : IDisposable
{
    /// <summary>Reads X and S; writes Y.</summary>
    /// <param name="images">Images, 1 to the shape's N.</param>
    void Forward(int images);

    /// <summary>Reads Dy, X and S; adds <c>dy * s</c> into Dx and <c>sum over pixels of dy * x</c> into Ds.</summary>
    void Backward();
}
