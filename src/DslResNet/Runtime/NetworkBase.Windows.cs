using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.Kernels;
using ILGPU;

namespace DslResNet.Runtime;

// Inference windows: on the SIMD device, the first steps of the inference pass (those whose input and output maps have
// at least WindowPixels pixels: ResNet's stem, max pool and 56x56 stage at 224x224) run a window of images at a time, as many as the
// device has threads, each window through all of them before the next, and only then the rest of the network over the
// whole batch. At batch 8 the 56x56 stage's tensors are 25.7 MB each and come from memory; a window's fit the caches.
// `profile resnet50-224 infer 2 N batch=2` against batch 8: that stage's layers took 0.77-0.94 of their time per image at
// batch 2, the later stages (large weights, small maps) 1.03-1.53.
//
// The plan places each tensor a windowed step touches: the network input, and the tensors the later steps read, where
// the arena has them (image `first` of the window at its place: the windows fill them image by image); every other tensor
// in a small arena of its own laid out as the generator's plan at a batch of one window (its per-image offsets times the
// window), where a window's intermediate tensors may share memory as the plan lets them. In the arena they could not:
// there the plan shares memory between tensors whose lifetimes do not overlap over the whole batch, and a later window
// writing an intermediate tensor would overwrite part of an earlier window's output of another shape.
public abstract partial class NetworkBase
{
    // Steps whose input and output maps have at least this many pixels (56x56) run a window at a time.
    private const long WindowPixels = 56 * 56;

    private WindowPlan? _windowPlan;
    private bool _windowsPlanned;

    /// <summary>Whether inference runs its first steps a window of images at a time where the plan allows it (the default;
    /// tests compare both ways, which give the same result bit for bit).</summary>
    internal bool InferenceWindows { get; set; } = true;

    /// <summary>How many of the first steps the inference pass runs in windows (0: none, or not planned yet: the first
    /// inference call plans them).</summary>
    internal int WindowedSteps => _windowPlan?.Steps ?? 0;

    // The first Steps steps run Images images at a time.
    private sealed record WindowPlan(int Steps, int Images);

    private WindowPlan? Windows()
    {
        if (!_windowsPlanned)
        {
            _windowPlan = PlanWindows();
            _windowsPlanned = true;
        }

        return _windowPlan;
    }

    private WindowPlan? PlanWindows()
    {
        int window = Device.Pool?.Threads ?? 0;
        if (!Device.IsSimd || window < 1 || BatchSize <= window)
        {
            return null;
        }

        int steps = 0;
        while (steps < _steps.Count && _steps[steps].Relocatable(out long pixels) && pixels >= WindowPixels)
        {
            steps++;
        }

        if (steps == 0)
        {
            return null;
        }

        // The windowed steps' outputs that later steps read before anything overwrites them: each such read must be of
        // one of them whole, as a windowed step wrote it (part of one, or several together, would see the arena's plan
        // across images: no windows then). Other tensors that share its memory in the plan hold intermediate values, in
        // the window's arena.
        List<(long Start, long Length)> produced = _steps.Take(steps).SelectMany(s => s.InferenceWrites).Where(HostView.Bound).Select(Extent).Distinct().ToList();
        HashSet<(long Start, long Length)> kept = [];
        foreach (GroupStep later in _steps.Skip(steps))
        {
            foreach (ArrayView<float> read in later.InferenceReads.Where(HostView.Bound))
            {
                (long start, long length) = Extent(read);
                if (produced.Any(e => Overlap(e, (start, length))))
                {
                    if (!produced.Contains((start, length)))
                    {
                        return null;
                    }

                    kept.Add((start, length));
                }
            }

            foreach (ArrayView<float> write in later.InferenceWrites.Where(HostView.Bound))
            {
                produced.RemoveAll(e => Overlap(e, Extent(write)));
            }
        }

        long arena = Extent(_inference.View).Start;
        long input = Extent(_input.View).Start;
        var placements = new WindowPlacement[steps][];
        for (int i = 0; i < steps; i++)
        {
            ArrayView<float>[] tensors = _steps[i].RelocatedTensors;
            placements[i] = new WindowPlacement[tensors.Length];
            for (int t = 0; t < tensors.Length; t++)
            {
                if (!HostView.Bound(tensors[t]))
                {
                    continue;
                }

                (long start, long length) = Extent(tensors[t]);
                long offset = (start - arena) / sizeof(float);
                bool whole = length % BatchSize == 0 && start >= arena && (start - arena) % sizeof(float) == 0 && offset % BatchSize == 0
                    && start + length <= arena + (_inference.View.Length * sizeof(float));
                if ((start == input && length == _input.View.Length * sizeof(float)) || kept.Contains((start, length)))
                {
                    // At its own place: a window's first image `first` images on.
                    placements[i][t] = new WindowPlacement((IntPtr)start, length / BatchSize);
                }
                else if (whole)
                {
                    // In the window's arena, at the plan's per-image offset for a batch of one window (set below).
                    placements[i][t] = new WindowPlacement((IntPtr)(offset / BatchSize * window * sizeof(float)), 0, Windowed: true);
                }
                else
                {
                    return null;
                }
            }
        }

        var own = new DeviceBuffer<float>(Device, Math.Max(1, Layout.InferenceElementsPerImage * window));
        _ownOutputs.Add(own);
        IntPtr windowArena = HostView.Address(own.View);
        for (int i = 0; i < steps; i++)
        {
            _steps[i].Placements = placements[i].Select(p => p.Windowed ? new WindowPlacement(windowArena + p.Start, 0) : p).ToArray();
        }

        return new WindowPlan(steps, window);
    }

    private static bool Overlap((long Start, long Length) a, (long Start, long Length) b) => a.Start < b.Start + b.Length && b.Start < a.Start + a.Length;

    // A bound view's first byte's address and its length in bytes.
    private static (long Start, long Length) Extent(ArrayView<float> view) => ((long)HostView.Address(view), view.Length * sizeof(float));
}

/// <summary>Where a windowed inference step finds a tensor (see NetworkBase's inference windows): the window's first image
/// at <see cref="Start"/> plus the window's first index times <see cref="ImageBytes"/> (0 in the window's own arena).</summary>
/// <param name="Start">Image 0's address (zero: no tensor).</param>
/// <param name="ImageBytes">Bytes an image.</param>
/// <param name="Windowed">While planning: <see cref="Start"/> is an offset in the window's arena.</param>
internal readonly record struct WindowPlacement(IntPtr Start, long ImageBytes, bool Windowed = false)
{
    /// <summary>The address of image <paramref name="first"/>'s data.</summary>
    /// <param name="first">The window's first image.</param>
    /// <returns>The address (zero for no tensor).</returns>
    public IntPtr At(int first) => Start == IntPtr.Zero ? IntPtr.Zero : Start + (IntPtr)(first * ImageBytes);
}
