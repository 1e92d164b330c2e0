using System;
using System.Collections.Generic;
using DslResNet.Kernels.Ilgpu;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

// ParameterStore's device-resident training state: optimizer buffers in the store's layout, a device snapshot of the
// values, the non-finite check, and the bookkeeping that keeps the host copy exact when it is read.
public sealed partial class ParameterStore
{
    private readonly Dictionary<string, DeviceBuffer<float>> _optimizerState = new(StringComparer.Ordinal);
    private readonly List<Action> _beforeDispose = [];
    private DeviceBuffer<float>? _deviceSnapshot;
    private (long Offset, int Length)[]? _statisticRanges;
    private float[]? _statisticsSnapshot;
    private DeviceBuffer<int>? _flag;
    private readonly int[] _flagHost = new int[1];
    private bool _hostValuesStale;

    /// <summary>Whether the values live on an ILGPU accelerator (CUDA, OpenCL, or ILGPU's CPU accelerator), where copying
    /// them to the host costs a transfer; false on the SIMD CPU device, whose "device" memory is host memory.</summary>
    internal bool OnAccelerator => _device.Kind != DeviceKind.Cpu;

    /// <summary>The device's kernels (ILGPU devices only).</summary>
    internal KernelSet Kernels => _device.Kernels;

    /// <summary>Threads to launch for <paramref name="work"/> items.</summary>
    /// <param name="work">Items.</param>
    /// <returns>The thread count.</returns>
    internal int Threads(long work) => _device.ThreadsFor(work);

    /// <summary>
    /// Floats copied between the store's device buffers and the host so far, either way: whole-store pulls and pushes,
    /// snapshots, parameter reads and optimizer state (tests check that the device step moves none per step).
    /// </summary>
    internal long TransferredFloats { get; private set; }

    /// <summary>Whether the device values are newer than the host copy (an optimizer stepped on the device since the last pull).</summary>
    internal bool HostValuesStale => _hostValuesStale;

    /// <summary>Records that the device values changed and the host copy no longer matches them.</summary>
    internal void MarkHostValuesStale() => _hostValuesStale = true;

    /// <summary>Pulls the values to the host copy if the device's are newer.</summary>
    internal void EnsureHostValues()
    {
        if (_hostValuesStale)
        {
            PullValuesToHost();
        }
    }

    /// <summary>
    /// A device buffer in the store's layout for one kind of optimizer state (<c>momentum_buffer</c>, <c>exp_avg</c>, ...),
    /// zeroed when first asked for and freed with the store; a parameter's state sits at <see cref="OffsetOf"/>.
    /// </summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The whole buffer's view.</returns>
    internal ArrayView<float> OptimizerState(string kind)
    {
        if (!_optimizerState.TryGetValue(kind, out DeviceBuffer<float>? buffer))
        {
            buffer = new DeviceBuffer<float>(_device, Math.Max(1, Elements));
            _optimizerState[kind] = buffer;
        }

        return buffer.View;
    }

    /// <summary>Whether the buffer of an optimizer state kind exists (was asked for).</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>True when it does.</returns>
    internal bool HasOptimizerState(string kind) => _optimizerState.ContainsKey(kind);

    /// <summary>The parameter's slice of an optimizer state buffer.</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="name">The parameter.</param>
    /// <returns>The view.</returns>
    internal ArrayView<float> OptimizerState(string kind, string name)
    {
        (long offset, ParameterInfo info) = Entry(name);
        return OptimizerState(kind).SubView(offset, info.Elements);
    }

    /// <summary>Copies a parameter's optimizer state between the device and a host array.</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="name">The parameter.</param>
    /// <param name="host">The host array, of the parameter's length.</param>
    /// <param name="toDevice">True to write the device from the host, false to read it.</param>
    internal void TransferOptimizerState(string kind, string name, float[] host, bool toDevice)
    {
        ArrayView<float> view = OptimizerState(kind, name);
        TransferredFloats += host.Length;
        if (toDevice)
        {
            _device.Backend.Write(host, view);
        }
        else
        {
            _device.Backend.Read(view, host);
        }
    }

    /// <summary>Runs <paramref name="action"/> when the store is disposed, before its buffers are freed (an optimizer copies its device state out).</summary>
    /// <param name="action">The action.</param>
    internal void BeforeDispose(Action action) => _beforeDispose.Add(action);

    /// <summary>
    /// Copies the values a training step changes before its optimizer step, batch norm's running statistics, into a device
    /// snapshot (no transfer), for <see cref="DeviceStatisticsToHost"/>. The weights change only in the optimizer's step, after
    /// the step's checks, so they need no copy (ResNet-50: 0.2 MiB instead of all 98 MiB of values, resident, and their copy
    /// every step).
    /// </summary>
    internal void SnapshotOnDevice()
    {
        (long Offset, int Length)[] ranges = StatisticRanges;
        long total = 0;
        foreach ((long _, int length) in ranges)
        {
            total += length;
        }

        _deviceSnapshot ??= new DeviceBuffer<float>(_device, Math.Max(1, total));
        long at = 0;
        foreach ((long offset, int length) in ranges)
        {
            Kernels.Copy(Threads(length), SpecializedValue.New(length), _values.View.SubView(offset, length), _deviceSnapshot.View.SubView(at, length), 0, Threads(length));
            at += length;
        }
    }

    /// <summary>Copies the running statistics of the last <see cref="SnapshotOnDevice"/> to the host snapshot that
    /// <see cref="RestoreStatistics"/> writes back (for the divergence diagnosis).</summary>
    internal void DeviceStatisticsToHost()
    {
        float[] statistics = StatisticsSnapshot;
        if (_deviceSnapshot is not null && statistics.Length > 0)
        {
            _device.Backend.Read(_deviceSnapshot.View.SubView(0, statistics.Length), statistics);
            TransferredFloats += statistics.Length;
        }
    }

    /// <summary>
    /// Copies batch norm's running statistics, the only values a training step changes before its optimizer step, to the
    /// host, for <see cref="RestoreStatistics"/>: what the divergence diagnosis needs to rerun the step as it was (a copy of
    /// every value, as before, was 98 MiB a ResNet-50 step, resident and copied every step).
    /// </summary>
    internal void SnapshotStatistics()
    {
        float[] statistics = StatisticsSnapshot;
        int at = 0;
        foreach ((long offset, int length) in StatisticRanges)
        {
            _device.Backend.Read(_values.View.SubView(offset, length), statistics.AsSpan(at, length));
            at += length;
        }

        TransferredFloats += statistics.Length;
    }

    /// <summary>Writes back the running statistics of the last <see cref="SnapshotStatistics"/> (or
    /// <see cref="DeviceStatisticsToHost"/>): the values as they were when the step began.</summary>
    internal void RestoreStatistics()
    {
        float[] statistics = StatisticsSnapshot;
        int at = 0;
        foreach ((long offset, int length) in StatisticRanges)
        {
            _device.Backend.Write(statistics.AsSpan(at, length), _values.View.SubView(offset, length));
            at += length;
        }

        Version.Advance();
    }

    // The host snapshot of the running statistics, in StatisticRanges' order.
    private float[] StatisticsSnapshot
    {
        get
        {
            if (_statisticsSnapshot is null)
            {
                int total = 0;
                foreach ((long _, int length) in StatisticRanges)
                {
                    total += length;
                }

                _statisticsSnapshot = new float[total];
            }

            return _statisticsSnapshot;
        }
    }

    // The running means and variances in the store's layout, adjacent ones merged.
    private (long Offset, int Length)[] StatisticRanges => _statisticRanges ??= MergedStatisticRanges();

    private (long Offset, int Length)[] MergedStatisticRanges()
    {
        List<(long Offset, int Length)> ranges = [];
        foreach (ParameterInfo p in Parameters)
        {
            if (p.Role is not (ParameterRole.RunningMean or ParameterRole.RunningVar))
            {
                continue;
            }

            long offset = OffsetOf(p.Name);
            if (ranges.Count > 0 && ranges[^1].Offset + ranges[^1].Length == offset)
            {
                ranges[^1] = (ranges[^1].Offset, ranges[^1].Length + (int)p.Elements);
            }
            else
            {
                ranges.Add((offset, (int)p.Elements));
            }
        }

        return [.. ranges];
    }

    /// <summary>Whether any value of the given device views is NaN or infinite: one kernel per view, one int read back.</summary>
    /// <param name="views">The views.</param>
    /// <returns>True when one is.</returns>
    internal bool AnyNonFinite(params ReadOnlySpan<ArrayView<float>> views)
    {
        _flag ??= new DeviceBuffer<int>(_device, 1);
        int[] flag = _flagHost;
        flag[0] = 0;
        _flag.View.CopyFromCPU(flag);
        foreach (ArrayView<float> view in views)
        {
            int count = (int)view.Length;
            if (count > 0)
            {
                Kernels.NonFinite(Threads(count), view, _flag.View, count, Threads(count));
            }
        }

        _flag.View.CopyToCPU(flag);
        return flag[0] != 0;
    }

    /// <summary>Every value on the device.</summary>
    internal ArrayView<float> AllValues => _values.View.SubView(0, Elements);

    /// <summary>Every gradient on the device.</summary>
    internal ArrayView<float> AllGradients => _gradients.View.SubView(0, Elements);

    private void RunBeforeDispose()
    {
        foreach (Action action in _beforeDispose)
        {
            action();
        }

        _beforeDispose.Clear();
    }

    private void DisposeDeviceState()
    {
        foreach (DeviceBuffer<float> buffer in _optimizerState.Values)
        {
            buffer.Dispose();
        }

        _optimizerState.Clear();
        _deviceSnapshot?.Dispose();
        _flag?.Dispose();
    }
}
