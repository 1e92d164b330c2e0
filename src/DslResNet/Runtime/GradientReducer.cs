using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DslResNet.Kernels;

namespace DslResNet.Runtime;

/// <summary>
/// Averages a network's gradients over the ranks during its backward pass, as DistributedDataParallel does: the store's
/// gradient layout (state-dict order) is cut into buckets from its end, since backward produces the last layers'
/// gradients first; a bucket is copied to the host and its non-blocking all-reduce started as soon as the backward step
/// that writes its earliest parameter has run, so communication overlaps the rest of the backward pass; every later
/// step drives the outstanding reductions, and <see cref="Finish"/> waits for the last and divides by the world size.
/// </summary>
internal sealed class GradientReducer
{
    private readonly ICommunicator _comm;
    private readonly ParameterStore _store;
    private readonly Action _synchronize;
    private readonly Bucket[] _buckets;
    private readonly IntPtr[] _requests;
    private readonly float[] _staging;
    private int _next;

    /// <summary>Plans the buckets.</summary>
    /// <param name="comm">The ranks.</param>
    /// <param name="store">The network's parameters.</param>
    /// <param name="stepOfLayer">The index of the step whose backward writes a layer's parameter gradients.</param>
    /// <param name="synchronize">Waits for the device (ILGPU runs kernels asynchronously).</param>
    /// <param name="bucketFloats">The size a bucket is filled to before the next starts.</param>
    public GradientReducer(ICommunicator comm, ParameterStore store, Func<string, int> stepOfLayer, Action synchronize, int bucketFloats)
    {
        _comm = comm;
        _store = store;
        _synchronize = synchronize;
        var entries = store.Parameters
            .Where(p => p.Role != ParameterRole.BatchesTracked)
            .Select(p => (Offset: store.OffsetOf(p.Name), Count: p.Elements, Step: stepOfLayer(p.Layer)))
            .OrderByDescending(e => e.Offset)
            .ToList();
        var buckets = new List<Bucket>();
        long end = store.Elements;
        long start = end;
        int ready = int.MaxValue;
        foreach ((long offset, long count, int step) in entries)
        {
            start = offset;
            ready = Math.Min(ready, step);
            if (end - start >= bucketFloats)
            {
                buckets.Add(new Bucket(start, (int)(end - start), ready));
                end = start;
                ready = int.MaxValue;
            }
        }

        if (end > start)
        {
            buckets.Add(new Bucket(start, (int)(end - start), ready));
        }

        // Backward runs the steps from the last to the first: a bucket is ready once its earliest step has run, and
        // buckets are started in that order (every rank the same).
        _buckets = [.. buckets.OrderByDescending(b => b.ReadyAfterStep).ThenByDescending(b => b.Offset)];
        _requests = new IntPtr[_buckets.Length];
        _staging = GC.AllocateUninitializedArray<float>(store.HostGradients.Length, pinned: true);
    }

    /// <summary>The buckets, in the order their reductions start.</summary>
    public IReadOnlyList<Bucket> Buckets => _buckets;

    /// <summary>Reductions started during the last backward pass before its end (the overlap achieved).</summary>
    public int StartedDuringBackward { get; private set; }

    /// <summary>Before a backward pass.</summary>
    public void Begin()
    {
        _next = 0;
        StartedDuringBackward = 0;
    }

    /// <summary>After backward step <paramref name="step"/>: starts every bucket now complete, and drives those in flight.</summary>
    public void AfterStep(int step)
    {
        bool synchronized = false;
        while (_next < _buckets.Length && _buckets[_next].ReadyAfterStep >= step)
        {
            if (!synchronized)
            {
                _synchronize();
                synchronized = true;
            }

            Start(_next++);
            StartedDuringBackward++;
        }

        for (int i = 0; i < _next; i++)
        {
            if (_requests[i] != IntPtr.Zero && _comm.IsDone(ref _requests[i]))
            {
                _requests[i] = IntPtr.Zero;
            }
        }
    }

    /// <summary>After the backward pass (device synchronised): starts what is left, waits for all, averages.</summary>
    /// <param name="step">The training step, for a timeout's message.</param>
    public void Finish(long step)
    {
        while (_next < _buckets.Length)
        {
            Start(_next++);
        }

        float scale = 1f / _comm.WorldSize;
        float[] g = _store.HostGradients;
        for (int i = 0; i < _buckets.Length; i++)
        {
            if (_requests[i] != IntPtr.Zero)
            {
                _comm.Wait(ref _requests[i], $"the gradient all-reduce of training step {step} (bucket {i + 1} of {_buckets.Length})");
                _requests[i] = IntPtr.Zero;
            }

            Bucket b = _buckets[i];
            Span<float> span = g.AsSpan((int)b.Offset, b.Count);
            for (int k = 0; k < span.Length; k++)
            {
                span[k] *= scale;
            }
        }

        _store.PushGradients();
    }

    private unsafe void Start(int i)
    {
        Bucket b = _buckets[i];

        // Device gradients into the pinned staging copy, summed over the ranks into the host gradients (also pinned: both
        // live on the pinned object heap, at addresses fixed for their lifetime).
        _store.PullGradientsTo(_staging, b.Offset, b.Count);
        float* send = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_staging));
        float* receive = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_store.HostGradients));
        _requests[i] = _comm.StartAllReduceSum((IntPtr)(send + b.Offset), (IntPtr)(receive + b.Offset), b.Count);
    }

    /// <summary>A contiguous range of the store's gradients, reduced in one call.</summary>
    /// <param name="Offset">Its start in the store's layout.</param>
    /// <param name="Count">Its floats.</param>
    /// <param name="ReadyAfterStep">The backward step after which all of it is written.</param>
    internal readonly record struct Bucket(long Offset, int Count, int ReadyAfterStep);
}
