using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>
/// A network's parameters and batch-norm buffers in one device buffer, in state-dict order (so a batch-norm layer's scale,
/// shift, running mean and running variance are contiguous), their gradients in a second buffer of the same layout, and a
/// host copy of both that optimizers update on the host path (copied from the device before a step and back after). On an
/// ILGPU accelerator, Sgd and AdamW instead update the device buffers in place and keep their state in device buffers of
/// the same layout (ParameterStore.Device.cs); the host copy of the values is then refreshed only when the optimizer reads
/// it. The <c>num_batches_tracked</c> counters are kept on the host.
/// </summary>
public sealed partial class ParameterStore : IDisposable
{
    private readonly Device _device;
    private readonly Dictionary<string, (long Offset, ParameterInfo Info)> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _batchesTracked = new(StringComparer.Ordinal);
    private readonly DeviceBuffer<float> _values;
    private readonly DeviceBuffer<float> _gradients;
    private readonly float[] _hostValues;
    private readonly float[] _hostGradients;
    private readonly bool _shared;            // the host copies are the device buffers (a SIMD device)
    private float[]? _snapshot;
    private List<string>? _counterNames;
    private List<(string Name, int Offset, int Length)>? _trainable;

    /// <summary>Counts changes to these parameters (see <see cref="ParameterVersion"/>).</summary>
    internal ParameterVersion Version { get; } = new();

    /// <summary>Allocates the store for a network's parameters, all zero.</summary>
    /// <param name="device">The device.</param>
    /// <param name="parameters">The network's parameters in state-dict order.</param>
    public ParameterStore(Device device, IReadOnlyList<ParameterInfo> parameters)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(parameters);
        _device = device;
        Parameters = parameters;
        long offset = 0;
        foreach (ParameterInfo p in parameters)
        {
            if (p.Role == ParameterRole.BatchesTracked)
            {
                _batchesTracked[p.Name] = 0;
                continue;
            }

            _entries[p.Name] = (offset, p);
            offset += p.Elements;
        }

        Elements = offset;
        if (device.IsSimd)
        {
            // The SIMD device's memory is host memory: the host copies are the device buffers (pinned, so that the kernels
            // can hold their addresses), and pulling or pushing them copies nothing. Before, a ResNet-50 training step
            // copied its 98 MiB of values out and back and its gradients out, and held both twice.
            _hostValues = GC.AllocateArray<float>((int)Math.Max(1, offset), pinned: true);
            _hostGradients = GC.AllocateArray<float>((int)Math.Max(1, offset), pinned: true);
            _values = DeviceBuffer<float>.Over(device, _hostValues);
            _gradients = DeviceBuffer<float>.Over(device, _hostGradients);
            _shared = true;
        }
        else
        {
            _values = new DeviceBuffer<float>(device, Math.Max(1, offset));
            _gradients = new DeviceBuffer<float>(device, Math.Max(1, offset));
            _hostValues = new float[offset];

            // Pinned: distributed training's non-blocking MPI all-reduce writes into it.
            _hostGradients = GC.AllocateArray<float>((int)offset, pinned: true);
        }
    }

    /// <summary>The parameters, in state-dict order.</summary>
    public IReadOnlyList<ParameterInfo> Parameters { get; }

    /// <summary>Float elements held (values; the gradients are as many again).</summary>
    public long Elements { get; }

    /// <summary>Device bytes held: values and gradients.</summary>
    public long Bytes => 2 * Elements * sizeof(float);

    /// <summary>A parameter's values on the device.</summary>
    /// <param name="name">The torchvision name.</param>
    /// <returns>The view.</returns>
    public ArrayView<float> Value(string name) => Slice(_values, name);

    /// <summary>A parameter's gradient on the device.</summary>
    /// <param name="name">The torchvision name.</param>
    /// <returns>The view.</returns>
    public ArrayView<float> Gradient(string name) => Slice(_gradients, name);

    /// <summary>A batch-norm layer's scale, shift, running mean and running variance as one view of 4 x C.</summary>
    /// <param name="layer">The layer's name.</param>
    /// <returns>The view.</returns>
    public ArrayView<float> BatchNorm(string layer) => BatchNormSlice(_values, layer, 4);

    /// <summary>The gradients of a batch-norm layer's scale and shift as one view of 2 x C.</summary>
    /// <param name="layer">The layer's name.</param>
    /// <returns>The view.</returns>
    public ArrayView<float> BatchNormGradient(string layer) => BatchNormSlice(_gradients, layer, 2);

    /// <summary>Copies a parameter's values to the host.</summary>
    /// <param name="name">The torchvision name.</param>
    /// <returns>A new array.</returns>
    public float[] Get(string name)
    {
        float[] result = new float[Entry(name).Info.Elements];
        CopyOut(Value(name), result);
        return result;
    }

    /// <summary>Copies a parameter's gradient to the host.</summary>
    /// <param name="name">The torchvision name.</param>
    /// <returns>A new array.</returns>
    public float[] GetGradient(string name)
    {
        float[] result = new float[Entry(name).Info.Elements];
        CopyOut(Gradient(name), result);
        return result;
    }

    /// <summary>Sets a parameter's values.</summary>
    /// <param name="name">The torchvision name.</param>
    /// <param name="values">As many values as the parameter has elements.</param>
    /// <exception cref="ArgumentException">The length differs.</exception>
    public void Set(string name, ReadOnlySpan<float> values)
    {
        (long _, ParameterInfo info) = Entry(name);
        if (values.Length != info.Elements)
        {
            throw new ArgumentException($"Parameter '{name}' {info.ShapeText} has {info.Elements} elements; {values.Length} values were given.", nameof(values));
        }

        _device.Backend.Write(values, Value(name));
        Version.Advance();
    }

    /// <summary>Whether the store holds a float tensor of that name.</summary>
    /// <param name="name">The name.</param>
    /// <returns>True when present.</returns>
    public bool Contains(string name) => _entries.ContainsKey(name);

    /// <summary>A <c>num_batches_tracked</c> counter.</summary>
    /// <param name="name">Its full name.</param>
    /// <returns>The count.</returns>
    public long BatchesTracked(string name) => _batchesTracked[name];

    /// <summary>Sets a <c>num_batches_tracked</c> counter.</summary>
    /// <param name="name">Its full name.</param>
    /// <param name="value">The count.</param>
    public void SetBatchesTracked(string name, long value)
    {
        if (!_batchesTracked.ContainsKey(name))
        {
            throw new KeyNotFoundException($"No counter named '{name}'.");
        }

        _batchesTracked[name] = value;
    }

    /// <summary>
    /// Leaves the named <c>num_batches_tracked</c> counters out of <see cref="CountBatch"/> (batch norm in eval mode, as
    /// PyTorch counts only batches a training-mode batch norm saw); the others count again.
    /// </summary>
    /// <param name="names">Counter names to hold still.</param>
    public void HoldCounters(IReadOnlyCollection<string> names)
    {
        _counterNames = [.. _batchesTracked.Keys.Where(n => !names.Contains(n))];
    }

    /// <summary>Adds one to every <c>num_batches_tracked</c> counter (after a training forward) not held still.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void CountBatch()
    {
        // Over a list made once: a training step allocates nothing.
        _counterNames ??= [.. _batchesTracked.Keys];
        foreach (string name in _counterNames)
        {
            _batchesTracked[name]++;
        }
    }

    /// <summary>The host copy of a parameter's values (what an optimizer updates).</summary>
    /// <param name="name">The name.</param>
    /// <returns>The slice.</returns>
    public Memory<float> HostValue(string name)
    {
        (long offset, ParameterInfo info) = Entry(name);
        return _hostValues.AsMemory((int)offset, (int)info.Elements);
    }

    /// <summary>The host copy of a parameter's gradient.</summary>
    /// <param name="name">The name.</param>
    /// <returns>The slice.</returns>
    public Memory<float> HostGradient(string name)
    {
        (long offset, ParameterInfo info) = Entry(name);
        return _hostGradients.AsMemory((int)offset, (int)info.Elements);
    }

    /// <summary>Copies values and gradients from the device to the host copy (before an optimizer step).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void PullToHost()
    {
        _hostValuesStale = false;
        if (!_shared)
        {
            CopyOut(_values.View, _hostValues);
            CopyOut(_gradients.View, _hostGradients);
        }
    }

    /// <summary>Copies the values alone from the device to the host copy (distributed training pulls the gradients bucket by bucket).</summary>
    internal void PullValuesToHost()
    {
        if (!_shared)
        {
            CopyOut(_values.View, _hostValues);
        }

        _hostValuesStale = false;
    }

    /// <summary>Copies the gradients <c>[offset, offset + count)</c> of the store's layout from the device into the same range of <paramref name="target"/>.</summary>
    internal void PullGradientsTo(float[] target, long offset, int count) =>
        _device.Backend.Read(_gradients.View.SubView(offset, count), target.AsSpan((int)offset, count));

    /// <summary>Copies the host gradients to the device (after distributed training has averaged them), so that
    /// <see cref="GetGradient"/> reads what the optimizer uses.</summary>
    internal void PushGradients()
    {
        if (!_shared)
        {
            CopyIn(_hostGradients, _gradients.View);
        }
    }

    /// <summary>The host gradients, in the store's layout (pinned).</summary>
    internal float[] HostGradients => _hostGradients;

    /// <summary>The host values, in the store's layout.</summary>
    internal float[] HostValues => _hostValues;

    /// <summary>Where a parameter or batch-norm buffer starts in the store's layout.</summary>
    internal long OffsetOf(string name) => Entry(name).Offset;

    /// <summary>A copy of every value on the device, in the store's layout (for <see cref="RestoreValues"/>).</summary>
    /// <returns>The store's snapshot buffer, overwritten by the next call.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public float[] SnapshotValues()
    {
        // One buffer, reused: a training step allocates nothing here after the first.
        float[] snapshot = _snapshot ??= new float[Elements];
        CopyOut(_values.View, snapshot);
        return snapshot;
    }

    /// <summary>Writes back values taken by <see cref="SnapshotValues"/>.</summary>
    /// <param name="snapshot">The snapshot.</param>
    public void RestoreValues(float[] snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        CopyIn(snapshot, _values.View);
        Version.Advance();
    }

    /// <summary>Copies the host values to the device (after an optimizer step).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void PushValues()
    {
        if (!_shared)
        {
            CopyIn(_hostValues, _values.View);
        }

        Version.Advance();
    }

    /// <summary>The first non-finite gradient among the trainable parameters in the host copy, in reverse state-dict order (the order backward produces them), or null.</summary>
    /// <returns>The parameter's name, or null.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string? FirstNonFiniteGradient() => FirstNonFiniteGradient(null);

    /// <summary>As <see cref="FirstNonFiniteGradient()"/>, the check shared among the SIMD backend's threads (the parameters
    /// in runs of about equal elements); the one to name is then looked for in order only if a run found one.</summary>
    /// <param name="pool">The network's SIMD threads, or null.</param>
    /// <returns>The parameter's name, or null.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal string? FirstNonFiniteGradient(Kernels.Simd.SimdPool? pool)
    {
        // Over ranges listed once: a training step allocates nothing here.
        _trainable ??= [.. Parameters.Where(p => p.IsTrainable).Select(p => (p.Name, (int)Entry(p.Name).Offset, (int)p.Elements))];
        if (pool is { Threads: > 1 } && _trainable.Count > 1 && (_finiteCheck ??= new FiniteCheck(this, _trainable, pool.Threads)).AllFinite(pool))
        {
            return null;
        }

        for (int i = _trainable.Count - 1; i >= 0; i--)
        {
            (string name, int offset, int length) = _trainable[i];
            if (!AllFinite(_hostGradients.AsSpan(offset, length)))
            {
                return name;
            }
        }

        return null;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void CopyOut(ArrayView<float> source, float[] target)
    {
        _device.Backend.Read(source, target);
        TransferredFloats += target.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void CopyIn(float[] source, ArrayView<float> target)
    {
        _device.Backend.Write(source, target);
        TransferredFloats += source.Length;
    }

    private FiniteCheck? _finiteCheck;

    // The trainable parameters' gradients checked in runs of about equal elements, each run's verdict kept apart.
    private sealed class FiniteCheck : Kernels.Simd.IParallelWork
    {
        private readonly ParameterStore _store;
        private readonly List<(string Name, int Offset, int Length)> _ranges;
        private readonly int[] _bounds;
        private readonly bool[] _finite;

        public FiniteCheck(ParameterStore store, List<(string Name, int Offset, int Length)> ranges, int threads)
        {
            _store = store;
            _ranges = ranges;
            _bounds = ElementRuns.Split(ranges.Count, i => ranges[i].Length, 4 * threads);
            _finite = new bool[_bounds.Length - 1];
        }

        public bool AllFinite(Kernels.Simd.SimdPool pool)
        {
            pool.Run(this, _finite.Length, balanced: true);
            return Array.TrueForAll(_finite, f => f);
        }

        public void Run(int start, int end, int thread)
        {
            for (int u = start; u < end; u++)
            {
                bool finite = true;
                for (int i = _bounds[u]; finite && i < _bounds[u + 1]; i++)
                {
                    finite = ParameterStore.AllFinite(_store._hostGradients.AsSpan(_ranges[i].Offset, _ranges[i].Length));
                }

                _finite[u] = finite;
            }
        }

        public override string ToString() => "gradient check";
    }

    /// <summary>Whether every value is finite.</summary>
    /// <param name="values">The values.</param>
    /// <returns>True when none is NaN or infinite.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool AllFinite(ReadOnlySpan<float> values)
    {
        // v - v is 0 for a finite v and NaN for an infinity or a NaN, and a NaN stays in the sum: one test per vector.
        int lanes = System.Numerics.Vector<float>.Count;
        int i = 0;
        System.Numerics.Vector<float> sum = System.Numerics.Vector<float>.Zero;
        for (; i + lanes <= values.Length; i += lanes)
        {
            System.Numerics.Vector<float> v = new(values.Slice(i, lanes));
            sum += v - v;
        }

        if (!System.Numerics.Vector.EqualsAll(sum, System.Numerics.Vector<float>.Zero))
        {
            return false;
        }

        for (; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return false;
            }
        }

        return true;
    }

    private (long Offset, ParameterInfo Info) Entry(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_entries.TryGetValue(name, out (long, ParameterInfo) entry))
        {
            return entry;
        }

        string[] near = _entries.Keys.Where(k => k.Split('.')[0] == name.Split('.')[0]).Take(6).ToArray();
        throw new KeyNotFoundException($"No parameter named '{name}'." + (near.Length > 0 ? " Did you mean: " + string.Join(", ", near) + "?" : ""));
    }

    private ArrayView<float> Slice(DeviceBuffer<float> buffer, string name)
    {
        (long offset, ParameterInfo info) = Entry(name);
        return buffer.View.SubView(offset, info.Elements);
    }

    private ArrayView<float> BatchNormSlice(DeviceBuffer<float> buffer, string layer, int parts)
    {
        (long offset, ParameterInfo scale) = Entry(layer + ".weight");
        string[] order = [".weight", ".bias", ".running_mean", ".running_var"];
        for (int k = 0; k < order.Length; k++)
        {
            (long o, ParameterInfo p) = Entry(layer + order[k]);
            if (o != offset + (k * scale.Elements) || p.Elements != scale.Elements)
            {
                throw new InvalidOperationException($"Batch norm '{layer}': its tensors are not contiguous in state-dict order.");
            }
        }

        return buffer.View.SubView(offset, parts * scale.Elements);
    }

    /// <summary>Frees the device buffers, after letting an optimizer that keeps its state in them copy it to the host.</summary>
    public void Dispose()
    {
        RunBeforeDispose();
        _values.Dispose();
        _gradients.Dispose();
        DisposeDeviceState();
    }
}
