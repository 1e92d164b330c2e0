using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace DslResNet.Kernels.Simd;

/// <summary>Work the pool splits: units handed out in contiguous ranges, one range per thread.</summary>
internal interface IParallelWork
{
    /// <summary>Runs units [<paramref name="start"/>, <paramref name="end"/>) on pool thread <paramref name="thread"/>.</summary>
    /// <param name="start">First unit.</param>
    /// <param name="end">One past the last unit.</param>
    /// <param name="thread">The pool thread, 0 to <see cref="SimdPool.Threads"/> - 1 (0 is the caller).</param>
    void Run(int start, int end, int thread);
}

/// <summary>Work that knows how many floating-point operations its current run does (for profiles).</summary>
internal interface ICountsFlops
{
    /// <summary>Floating-point operations (a multiply-add counts two) of the run about to start.</summary>
    long Flops { get; }
}

/// <summary>
/// Persistent worker threads for the SIMD backend. The caller is thread 0 and works too; the others spin briefly for the
/// next job, then sleep on an event. A job is an object the caller already holds, so running one allocates nothing, and
/// each thread has a 64-byte-aligned scratch area that grows only when an operation is built.
/// </summary>
public sealed unsafe class SimdPool : IDisposable
{
    // Waits poll in short spins: Thread.SpinWait(20) took about 1.3 microseconds here (Zen 5), so a worker noticed a new
    // run 0.65 microseconds late on average, and an empty run of 2 units cost 0.98 microseconds end to end; polling every
    // SpinWait(4) in the workers and SpinWait(1) in the caller, 0.23 (`poolprobe`). ResNet-20 at batch 1 runs about 25
    // operations a call: `profile resnet20 latency 2 8000 ab`, twice, the call 0.952 of its time; ResNet-50 at batch 1, at
    // batch 128 ResNet-20 inference and training unchanged (1.000, 0.992, 1.009). The iterations before a wait yields or
    // sleeps keep the spin's length (about 26 ms for a worker).
    private const int WorkerSpin = 4;
    private const int WorkerSpinIterations = 100_000;
    private const int CallerSpin = 1;
    private const int CallerSpinIterations = 80_000;
    private readonly Thread[] _workers;
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly float*[] _scratch;
    private readonly long[] _scratchFloats;
    private float* _partials;
    private long _partialsFloats;
    private readonly object _partialsLock = new();
    private float* _transformed;
    private long _transformedFloats;
    private readonly object _transformedLock = new();
    private readonly object _runLock = new();
    private IParallelWork? _work;
    private int _units;
    private long _generation;
    private int _pending;
    private int _chunk;              // balanced runs: units per take (0: fixed shares)
    private readonly long[] _ranges; // balanced runs: per thread, the units of its share not yet taken, (first << 32) | end
    private readonly long[] _allocated; // per worker: managed bytes it had allocated when it last finished a run
    private readonly long[] _busy;      // profiled runs: per thread, Stopwatch ticks from the run's start to its last unit
    private long _started;              // profiled runs: the run's start (0: not profiled)
    private volatile bool _stopping;
    private Exception? _failure;

    /// <summary>Starts <paramref name="threads"/> - 1 workers.</summary>
    /// <param name="threads">Threads including the caller, at least 1.</param>
    internal SimdPool(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "The SIMD backend needs at least one thread.");
        }

        Threads = threads;
        _scratch = new float*[threads];
        _scratchFloats = new long[threads];
        _ranges = new long[threads * 8]; // one cache line per thread
        _allocated = new long[threads * 8];
        _busy = new long[threads * 8];
        _workers = new Thread[threads - 1];
        for (int t = 1; t < threads; t++)
        {
            int index = t;
            _workers[t - 1] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"DslResNet SIMD {t}" };
            _workers[t - 1].Start();
        }

        // A wait creates the event's lock object; create it now, so that a worker's first sleep allocates nothing later.
        _wake.Wait(1);
    }

    /// <summary>
    /// A development switch for in-process A/B profiles (<c>profile NETWORK TASK THREADS CALLS ab</c> alternates it between 0
    /// and 1 call by call): code under trial reads it to choose between two ways, and no committed code reads it once the
    /// trial is decided. A process-wide value, never set by the library.
    /// </summary>
    internal static int Experiment { get; set; }

    /// <summary>Threads, the caller included.</summary>
    public int Threads { get; }

    /// <summary>Makes every thread's scratch at least <paramref name="floats"/> long (done when operations are built).</summary>
    /// <param name="floats">Floats.</param>
    internal void EnsureScratch(long floats)
    {
        lock (_runLock)
        {
            for (int t = 0; t < Threads; t++)
            {
                if (_scratchFloats[t] < floats)
                {
                    NativeBlocks.Free(_scratch[t]);
                    _scratch[t] = null;
                    _scratch[t] = NativeBlocks.Allocate<float>(floats);
                    _scratchFloats[t] = floats;
                }
            }
        }
    }

    /// <summary>
    /// Makes the weight-gradient partial sums at least <paramref name="floats"/> long (done when operations are built). One
    /// block serves every convolution of the pool's networks: a convolution fills and reduces it within its own backward,
    /// under <see cref="PartialsLock"/> from clearing it to reducing it (networks on other threads share the pool). Read
    /// <see cref="Partials"/> under the lock, not when built (a later, larger request moves it).
    /// </summary>
    /// <param name="floats">Floats, every thread's share together.</param>
    internal void EnsurePartials(long floats)
    {
        lock (_partialsLock)
        {
            if (_partialsFloats < floats)
            {
                NativeBlocks.Free(_partials);
                _partials = null;
                _partials = NativeBlocks.Allocate<float>(floats);
                _partialsFloats = floats;
            }
        }
    }

    /// <summary>The weight-gradient partial sums (as long as the largest <see cref="EnsurePartials"/>).</summary>
    internal float* Partials => _partials;

    /// <summary>Held by a convolution from clearing <see cref="Partials"/> to reducing them, and by <see cref="EnsurePartials"/>.</summary>
    internal object PartialsLock => _partialsLock;

    /// <summary>
    /// Makes the shared Winograd weights at least <paramref name="floats"/> long. Training passes transform their weights every
    /// step (the step changes them), so one block serves every such convolution of the pool's networks instead of one block
    /// each (ResNet-50: about 60 MB for the input gradients alone): a convolution holds <see cref="TransformedLock"/> from
    /// transforming into it to the end of its pass, and transforms again unless it is still <see cref="TransformedOwner"/>.
    /// Call under the lock; a larger request moves the block, and then no convolution owns its contents.
    /// </summary>
    /// <param name="floats">Floats.</param>
    internal void EnsureTransformed(long floats)
    {
        if (_transformedFloats < floats)
        {
            NativeBlocks.Free(_transformed);
            _transformed = null;
            TransformedOwner = null;
            _transformed = NativeBlocks.Allocate<float>(floats);
            _transformedFloats = floats;
        }
    }

    /// <summary>The shared Winograd weights (as long as the largest <see cref="EnsureTransformed"/>).</summary>
    internal float* Transformed => _transformed;

    /// <summary>The convolution whose weights <see cref="Transformed"/> holds (null: none).</summary>
    internal object? TransformedOwner { get; set; }

    /// <summary>Held by a convolution from transforming into <see cref="Transformed"/> to the end of the pass that reads it.</summary>
    internal object TransformedLock => _transformedLock;

    /// <summary>Thread <paramref name="thread"/>'s scratch (as long as the largest <see cref="EnsureScratch"/>).</summary>
    /// <param name="thread">The thread.</param>
    /// <returns>64-byte aligned memory.</returns>
    internal float* Scratch(int thread) => _scratch[thread];

    /// <summary>Runs <paramref name="units"/> units of <paramref name="work"/> over the threads and returns when all are done.</summary>
    /// <param name="work">The work.</param>
    /// <param name="units">Units; a thread gets a contiguous range.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Run(IParallelWork work, int units) => Run(work, units, balanced: false);

    /// <summary>
    /// Runs <paramref name="work"/> over units [0, <paramref name="units"/>). Balanced: the threads take chunks of units as
    /// they finish (a core slowed by anything else gets fewer), for work whose result does not depend on which thread runs
    /// a unit. Otherwise each thread gets a fixed contiguous share, as work with per-thread partial sums needs to give the
    /// same result every time.
    /// </summary>
    /// <param name="work">The work.</param>
    /// <param name="units">Units of work.</param>
    /// <param name="balanced">Whether threads may take any unit.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Run(IParallelWork work, int units, bool balanced)
    {
        if (units <= 0)
        {
            return;
        }

        if (Profile is not null)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            _started = t0;
            Array.Clear(_busy);
            RunCore(work, units, balanced);
            long wall = System.Diagnostics.Stopwatch.GetTimestamp() - t0;
            _started = 0;

            // A thread with no unit counts as idle for the whole run.
            long busy = 0;
            for (int t = 0; t < Math.Min(Threads, units); t++)
            {
                busy += _busy[t * 8];
            }

            Profile.Add(work.ToString() ?? work.GetType().Name, wall, work is ICountsFlops counted ? counted.Flops : 0, (wall * Threads) - busy);
            return;
        }

        RunCore(work, units, balanced);
    }

    /// <summary>Managed bytes the worker threads had allocated when they last finished a run (tests use it: the backend's
    /// work allocates nothing once warm).</summary>
    public long WorkerAllocatedBytes
    {
        get
        {
            long total = 0;
            for (int t = 1; t < Threads; t++)
            {
                total += Volatile.Read(ref _allocated[t * 8]);
            }

            return total;
        }
    }

    /// <summary>When set, every run's wall time is added up by the work's description (slower; for profiling).</summary>
    public SimdProfile? Profile { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunCore(IParallelWork work, int units, bool balanced)
    {
        int active = Math.Min(Threads, units);
        if (active == 1)
        {
            // Under the lock too: thread 0's scratch is shared by every network on the device, and two networks may run on
            // two threads.
            lock (_runLock)
            {
                ObjectDisposedException.ThrowIf(_stopping, this);
                work.Run(0, units, 0);
                Finished(0);
            }

            return;
        }

        lock (_runLock)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            _work = work;
            _units = units;
            _chunk = balanced ? Math.Max(1, units / (Threads * 8)) : 0;
            if (balanced)
            {
                for (int t = 0; t < Threads; t++)
                {
                    long first = (long)units * t / Threads, end = (long)units * (t + 1) / Threads;
                    _ranges[t * 8] = (first << 32) | end;
                }
            }

            _failure = null;
            Volatile.Write(ref _pending, Threads - 1);
            Interlocked.Increment(ref _generation);
            _wake.Set();
            try
            {
                if (balanced)
                {
                    RunChunks(work, units, 0);
                }
                else
                {
                    work.Run(0, units / Threads, 0);
                }

                Finished(0);
            }
            finally
            {
                // Spin (the threads finish within microseconds of each other); yield only after a long wait, since a yield
                // can hand the core to another thread for tens of microseconds (measured: the caller's waits for the
                // workers halved, 250 -> 120 ms over the sample's --benchmark 20 run).
                int spins = 0;
                SpinWait spin = default;
                while (Volatile.Read(ref _pending) != 0)
                {
                    if (++spins < CallerSpinIterations)
                    {
                        Thread.SpinWait(CallerSpin);
                    }
                    else
                    {
                        spin.SpinOnce(-1);
                    }
                }

                _wake.Reset();
                _work = null;
            }

            if (_failure is not null)
            {
                throw new InvalidOperationException("A SIMD worker thread failed: " + _failure.Message, _failure);
            }
        }
    }

    // A profiled run: when thread <paramref name="thread"/> finished its last unit.
    private void Finished(int thread)
    {
        long started = _started;
        if (started != 0)
        {
            _busy[thread * 8] = System.Diagnostics.Stopwatch.GetTimestamp() - started;
        }
    }

    // Runs the thread's own share from its front, a chunk at a time (so that a thread keeps the same units, and their data
    // in its caches, from one operation to the next), then takes chunks from the back of the other threads' shares.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunChunks(IParallelWork work, int units, int thread)
    {
        int chunk = _chunk;
        while (Take(thread, fromFront: true, chunk, out int start, out int end))
        {
            work.Run(start, end, thread);
        }

        for (int i = 1; i < Threads; i++)
        {
            int victim = (thread + i) % Threads;
            while (Take(victim, fromFront: false, chunk, out int start, out int end))
            {
                work.Run(start, end, thread);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Take(int owner, bool fromFront, int chunk, out int start, out int end)
    {
        ref long range = ref _ranges[owner * 8];
        while (true)
        {
            long current = Volatile.Read(ref range);
            int first = (int)(current >> 32), last = (int)current;
            if (first >= last)
            {
                start = end = 0;
                return false;
            }

            (start, end) = fromFront ? (first, Math.Min(last, first + chunk)) : (Math.Max(first, last - chunk), last);
            long next = fromFront ? ((long)end << 32) | (uint)last : ((long)first << 32) | (uint)start;
            if (Interlocked.CompareExchange(ref range, next, current) == current)
            {
                return true;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WorkerLoop(int index)
    {
        long seen = 0;
        while (true)
        {
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_stopping)
            {
                if (++spins < WorkerSpinIterations)
                {
                    Thread.SpinWait(WorkerSpin);
                }
                else
                {
                    _wake.Wait(100);
                }
            }

            if (_stopping)
            {
                return;
            }

            seen = Volatile.Read(ref _generation);
            IParallelWork? work = _work;
            int units = _units;
            try
            {
                long start = (long)units * index / Threads;
                long end = (long)units * (index + 1) / Threads;
                if (work is not null && _chunk > 0)
                {
                    RunChunks(work, units, index);
                }
                else if (work is not null && end > start)
                {
                    work.Run((int)start, (int)end, index);
                }

                Finished(index);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            finally
            {
                Volatile.Write(ref _allocated[index * 8], GC.GetAllocatedBytesForCurrentThread());
                Interlocked.Decrement(ref _pending);
            }
        }
    }

    /// <summary>Stops the workers and frees the scratch.</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _wake.Set();
        foreach (Thread t in _workers)
        {
            t.Join();
        }

        for (int t = 0; t < Threads; t++)
        {
            NativeBlocks.Free(_scratch[t]);
            _scratch[t] = null;
        }

        NativeBlocks.Free(_partials);
        _partials = null;
        NativeBlocks.Free(_transformed);
        _transformed = null;
        _wake.Dispose();
    }
}

/// <summary>Wall time of the pool's runs by description.</summary>
public sealed class SimdProfile
{
    private readonly System.Collections.Generic.Dictionary<string, (long Ticks, int Calls, long Flops, long Idle)> _entries = new(StringComparer.Ordinal);

    /// <summary>Adds a run.</summary>
    /// <param name="name">Description.</param>
    /// <param name="ticks">Stopwatch ticks.</param>
    /// <param name="flops">Floating-point operations (0 if not counted).</param>
    /// <param name="idle">Stopwatch ticks the threads together waited for the run's last unit (or had none).</param>
    public void Add(string name, long ticks, long flops = 0, long idle = 0)
    {
        _entries.TryGetValue(name, out var e);
        _entries[name] = (e.Ticks + ticks, e.Calls + 1, e.Flops + flops, e.Idle + idle);
    }

    /// <summary>The share of the threads' time in the operation named <paramref name="name"/> spent waiting for others.</summary>
    /// <param name="name">Description.</param>
    /// <param name="threads">The pool's threads.</param>
    /// <returns>From 0 (all busy) to 1.</returns>
    public double IdleShare(string name, int threads) =>
        _entries.TryGetValue(name, out var e) && e.Ticks > 0 ? e.Idle / ((double)e.Ticks * threads) : 0;

    /// <summary>Clears the totals.</summary>
    public void Clear() => _entries.Clear();

    /// <summary>The totals, longest first: description, milliseconds, calls, floating-point operations.</summary>
    /// <returns>Rows.</returns>
    public System.Collections.Generic.IEnumerable<(string Name, double Milliseconds, int Calls, long Flops)> Rows()
    {
        foreach (var kv in System.Linq.Enumerable.OrderByDescending(_entries, e => e.Value.Ticks))
        {
            yield return (kv.Key, kv.Value.Ticks * 1000.0 / System.Diagnostics.Stopwatch.Frequency, kv.Value.Calls, kv.Value.Flops);
        }
    }
}
