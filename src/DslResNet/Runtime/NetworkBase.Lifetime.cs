using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

// Ownership and threads. A network owns its device buffers, its parameter store and its operations (the SIMD backend's
// packed weights and partial sums); Dispose frees them all, once. A network is used by one thread at a time: every public
// call marks the network busy for its duration, and a second call that arrives meanwhile (from another thread) throws
// InvalidOperationException naming both calls instead of corrupting the first. Dispose during a call frees nothing under
// it: the call finishes, and the memory is freed as it returns. A network whose device was disposed throws
// ObjectDisposedException.
public abstract partial class NetworkBase
{
    // The call in progress (null when idle), or Disposed once the memory is freed.
    private const string Disposed = "Dispose";
    private readonly List<IDisposable> _owned = [];
    private string? _activeCall;
    private int _activeThread;
    private int _disposeRequested;
    private IOptimizer? _checkedOptimizer;
    private int _checkedOptimizerCount;

    /// <summary>Whether <see cref="Dispose"/> was called.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposeRequested) != 0;

    /// <summary>Takes ownership of operations the generated constructor built: <see cref="Dispose"/> disposes them.</summary>
    /// <param name="operations">The operations.</param>
    protected void Own(params IDisposable[] operations)
    {
        ArgumentNullException.ThrowIfNull(operations);
        _owned.AddRange(operations);
    }

    /// <summary>
    /// Frees the network's memory: device buffers, parameters and every operation's native memory (not the device). Safe to
    /// call more than once. Called while another thread is inside a call, it lets that call finish and the memory is freed
    /// as the call returns; every later call throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _disposeRequested, 1);
        FreeIfIdle();
        GC.SuppressFinalize(this);
    }

    /// <summary>Marks the network busy with <paramref name="call"/> until the returned scope is disposed.</summary>
    /// <param name="call">The public method's name.</param>
    /// <returns>The scope.</returns>
    /// <exception cref="ObjectDisposedException">The network or its device was disposed.</exception>
    /// <exception cref="InvalidOperationException">Another call is in progress.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private CallScope Enter(string call)
    {
        string? other = Interlocked.CompareExchange(ref _activeCall, call, null);
        if (other is not null)
        {
            if (ReferenceEquals(other, Disposed) || IsDisposed)
            {
                throw new ObjectDisposedException(GetType().Name, $"{Definition.Name}: {call} was called after Dispose.");
            }

            int thread = Volatile.Read(ref _activeThread);
            string where = thread == Environment.CurrentManagedThreadId ? "on this thread" : $"on thread {thread.ToString(CultureInfo.InvariantCulture)}";
            throw new InvalidOperationException(
                $"{Definition.Name}: {call} was called while {other} is running {where}. A network is used by one thread at a time; " +
                "give each thread its own network (networks on one device may run on different threads).");
        }

        Volatile.Write(ref _activeThread, Environment.CurrentManagedThreadId);
        if (IsDisposed)
        {
            Exit();
            throw new ObjectDisposedException(GetType().Name, $"{Definition.Name}: {call} was called after Dispose.");
        }

        try
        {
            Device.EnterCall(Definition.Name, call);
        }
        catch
        {
            Exit();
            throw;
        }

        return new CallScope(this);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Exit()
    {
        Volatile.Write(ref _activeThread, 0);
        Interlocked.Exchange(ref _activeCall, null);
        if (IsDisposed)
        {
            FreeIfIdle();
        }
    }

    // Frees the memory once, and only while no call is running: the Disposed marker is never released, so whoever installs
    // it (Dispose, or the call that was running when Dispose came) is the one that frees.
    private void FreeIfIdle()
    {
        if (Interlocked.CompareExchange(ref _activeCall, Disposed, null) is null)
        {
            FreeBuffers();
        }
    }

    private void FreeBuffers()
    {
        foreach (IDisposable op in _owned)
        {
            op.Dispose();
        }

        _owned.Clear();

        // Each buffer knows whether it is still to be freed (a disposed accelerator has freed its ILGPU buffers; host
        // memory of a SIMD device is always freed here).
        foreach (IDisposable? buffer in new IDisposable?[] { _training, _gradients, _inference, _scratch, _input, _labels, _loss, _correct, _evaluationGradient })
        {
            buffer?.Dispose();
        }

        foreach (DeviceBuffer<float> buffer in _ownOutputs)
        {
            buffer.Dispose();
        }

        _ownOutputs.Clear();

        Store?.Dispose();
    }

    // The memory a network needs is known before it is allocated: refuse a batch that cannot fit instead of dying in the
    // allocator.
    private static void CheckMemory(Device device, int batchSize, NetworkInfo info, NetworkLayout layout)
    {
        long parameters = info.Parameters.Sum(p => p.Elements);
        long perImage = checked(layout.TrainingElementsPerImage + layout.GradientElementsPerImage + layout.InferenceElementsPerImage
            + (2 * info.InputShape.Elements) + info.OutputShape.Elements + 3) * sizeof(float);

        // Values and gradients of the parameters, the scratch (batch statistics, folded weights) and, on the SIMD backend,
        // packed weights and per-thread partial sums of weight gradients.
        long fixedBytes = checked((layout.ScratchElements + (parameters * (2 + device.Backend.ExtraParameterCopies))) * sizeof(float));
        long needed;
        try
        {
            needed = checked((perImage * batchSize) + fixedBytes);
        }
        catch (OverflowException)
        {
            needed = long.MaxValue;
        }

        long available = device.AvailableMemoryBytes;
        if (needed > available)
        {
            long fits = available > fixedBytes ? (available - fixedBytes) / perImage : 0;
            throw new InsufficientMemoryException(
                $"{info.Name}: batch size {batchSize.ToString(CultureInfo.InvariantCulture)} needs {Size(needed)} of memory " +
                $"({Size(perImage)} per image for activations and gradients, {Size(fixedBytes)} for parameters and buffers); " +
                $"{device.Description.Split(':')[0]} has {Size(available)} available. " +
                (fits >= 1 ? $"The largest batch that fits is about {fits.ToString(CultureInfo.InvariantCulture)}." : "Not even one image fits."));
        }
    }

    private static string Size(long bytes) => bytes == long.MaxValue
        ? "more than 8 EiB"
        : bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GiB"
        : (bytes / (double)(1L << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

    // A training step updates what the optimizer holds; one that holds none of this network's parameters would train
    // nothing, silently. Checked once per optimizer (and again when it gains parameters).
    private void CheckOptimizer(IOptimizer optimizer)
    {
        if (ReferenceEquals(optimizer, _checkedOptimizer) && optimizer.Parameters.Count == _checkedOptimizerCount)
        {
            return;
        }

        CheckOptimizerSlowly(optimizer);
    }

    // Apart from the check above, so that its closures are not allocated on every step.
    private void CheckOptimizerSlowly(IOptimizer optimizer)
    {
        if (_frozen.Count > 0 && optimizer.Parameters.FirstOrDefault(slot => _frozen.Contains(slot.Name) && slot.Value.Equals(Store.HostValue(slot.Name))) is { } frozen)
        {
            throw new ArgumentException(
                $"{Definition.Name}: the optimizer holds '{frozen.Name}', which is frozen: its gradient is no longer computed, so a step would " +
                "move it by momentum and weight decay alone. Give the optimizer only unfrozen parameters (AddParametersTo leaves frozen ones out).",
                nameof(optimizer));
        }

        HashSet<string> trainable = new(Definition.Parameters.Where(p => p.IsTrainable).Select(p => p.Name), StringComparer.Ordinal);
        bool holdsOne = optimizer.Parameters.Any(slot => trainable.Contains(slot.Name) && slot.Value.Equals(Store.HostValue(slot.Name)));
        if (!holdsOne)
        {
            throw new ArgumentException(
                $"{Definition.Name}: the optimizer holds none of this network's parameters ({optimizer.Parameters.Count.ToString(CultureInfo.InvariantCulture)} " +
                "parameters of something else), so a training step would change nothing. Call AddParametersTo(optimizer) first.",
                nameof(optimizer));
        }

        _checkedOptimizer = optimizer;
        _checkedOptimizerCount = optimizer.Parameters.Count;
        _checkedOptimizerOnStore = optimizer.Parameters.All(slot =>
            Store.Contains(slot.Name) && slot.Value.Equals(Store.HostValue(slot.Name)) && slot.Gradient.Equals(Store.HostGradient(slot.Name)));
    }

    /// <summary>The span of one public call: leaving it marks the network idle again (and the device).</summary>
    private readonly ref struct CallScope(NetworkBase network)
    {
        public void Dispose()
        {
            network.Device.ExitCall();
            network.Exit();
        }
    }
}
