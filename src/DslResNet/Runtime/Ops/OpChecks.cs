using System;
using DslResNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

// The run-time steps the generated code strings together (ConvOp, FoldOp, EpilogueOp, PoolOp, ShortcutOp, ChannelScaleOp, CopyOp,
// DropoutOp). Each is built once, for one layer: it checks its arguments, binds its tensors (views into the network's
// arenas and parameter buffers) and asks the device's backend (DslResNet.Kernels.IBackend) for the operation, so a forward
// or backward pass is a fixed sequence of calls with nothing looked up and one interface call per layer. Gradients of
// activations are accumulated (the network zeroes each buffer before the backward that first adds into it), except where
// that first writer overwrites it instead (Kernels.IGradientOverwriter); gradients of parameters are overwritten.

/// <summary>Argument checks shared by the operations.</summary>
internal static class OpChecks
{
    // Raw address of a host-memory view; zero for an empty view.
    public static IntPtr Ptr(ArrayView<float> view) => HostView.Address(view);

    /// <summary>Whether two bound views are the same memory: the same first element and length (host-addressable views only).</summary>
    /// <param name="a">One view.</param>
    /// <param name="b">The other.</param>
    /// <returns>Whether they are.</returns>
    public static bool Same(ArrayView<float> a, ArrayView<float> b) =>
        a.IsValid && b.IsValid && a.Length > 0 && a.Length == b.Length && a.LoadEffectiveAddressAsPtr() == b.LoadEffectiveAddressAsPtr();

    // Whether two views share memory (empty and unbound views share none).
    public static bool Overlap(ArrayView<float> a, ArrayView<float> b)
    {
        if (!a.IsValid || !b.IsValid || a.Length == 0 || b.Length == 0)
        {
            return false;
        }

        long x = a.LoadEffectiveAddressAsPtr().ToInt64(), y = b.LoadEffectiveAddressAsPtr().ToInt64();
        return x < y + (b.Length * sizeof(float)) && y < x + (a.Length * sizeof(float));
    }

    public static void Need(string op, string tensor, ArrayView<float> view, long elements)
    {
        if (view.Length < elements)
        {
            throw new ArgumentException($"{op}: tensor '{tensor}' has {view.Length} elements; {elements} are needed.", tensor);
        }
    }

    // The device's backend, after the null check every operation makes first.
    public static IBackend Backend(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.Backend;
    }
}
