using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using DslResNet.Data;
using DslResNet.Kernels;
using DslResNet.Runtime;

namespace DslResNet.Distributed;

/// <summary>What <see cref="DistributedTraining.Start"/> sets up.</summary>
public sealed record DistributedOptions
{
    /// <summary>
    /// How long any collective operation (gradient all-reduce, batch-norm statistics, checks) may wait for the other
    /// ranks before this rank gives up with a <see cref="DistributedException"/>: a rank that died or hangs stops the job
    /// in bounded time. Default 5 minutes (the first collective also waits for the slowest rank's start-up).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive.</exception>
    public TimeSpan CollectiveTimeout
    {
        get;
        init => field = value > TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(CollectiveTimeout), value, "The collective timeout must be positive.");
    } = TimeSpan.FromMinutes(5);

    /// <summary>The environment variable that sets <see cref="CollectiveTimeout"/> in seconds for <see cref="FromEnvironment"/>.</summary>
    public const string TimeoutVariable = "DSLRESNET_COLLECTIVE_TIMEOUT";

    /// <summary>The defaults, with <see cref="CollectiveTimeout"/> from <c>DSLRESNET_COLLECTIVE_TIMEOUT</c> (seconds) when set.</summary>
    /// <returns>The options.</returns>
    /// <exception cref="DistributedException">The variable is not a positive number of seconds.</exception>
    public static DistributedOptions FromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable(TimeoutVariable);
        if (text is null)
        {
            return new DistributedOptions();
        }

        return double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds) && seconds > 0 && seconds < 1e6
            ? new DistributedOptions { CollectiveTimeout = TimeSpan.FromSeconds(seconds) }
            : throw new DistributedException($"{TimeoutVariable}='{text}' is not a positive number of seconds.");
    }

    /// <summary>
    /// The size a gradient bucket is filled to (in the store's layout, from its end) before its all-reduce starts, while
    /// the backward pass goes on. Default 4 MiB. At least 4 bytes.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 4.</exception>
    public int BucketBytes
    {
        get;
        init => field = value >= sizeof(float) ? value : throw new ArgumentOutOfRangeException(nameof(BucketBytes), value, "A bucket holds at least one float (4 bytes).");
    } = 4 << 20;
}

/// <summary>
/// Data-parallel training over MPI (Open MPI 4): one process per rank, each with a replica of the network and its own
/// shard of every batch; rank 0's initial parameters are broadcast, gradients are averaged in buckets during the
/// backward pass, and every rank takes the same optimizer step, so the replicas stay identical and the result is that
/// of one process on the combined batch. Batch norm uses each rank's own batch statistics (as PyTorch's
/// DistributedDataParallel) unless synchronised (as <c>SyncBatchNorm</c>: the statistics of the whole combined batch).
/// </summary>
/// <example>
/// <code>
/// using var dist = DistributedTraining.Start();           // under: mpirun -np 2 dotnet MyTrainer.dll
/// using var net = new ResNet20(device, batchSize: 64);    // per rank; the combined batch is 64 x dist.WorldSize
/// dist.Attach(net, synchronizedBatchNorm: true);
/// var loader = dist.Shard(new BatchLoader(train, 64, seed: 1, dropLast: true));
/// var trainer = new Trainer(net, sgd, schedule, loader, test, new TrainerOptions { Distributed = dist, ... });
/// </code>
/// </example>
public sealed class DistributedTraining : IDisposable
{
    private readonly ICommunicator _comm;
    private readonly bool _ownsMpi;
    private bool _failed;
    private bool _disposed;

    private DistributedTraining(ICommunicator comm, bool ownsMpi, DistributedOptions options)
    {
        _comm = comm;
        _ownsMpi = ownsMpi;
        Options = options;
    }

    /// <summary>This process's rank, 0 to <see cref="WorldSize"/> - 1.</summary>
    public int Rank => _comm.Rank;

    /// <summary>The number of processes (replicas).</summary>
    public int WorldSize => _comm.WorldSize;

    /// <summary>Whether this is rank 0: the one that prints, writes checkpoints and whose initial parameters are used.</summary>
    public bool IsRoot => _comm.Rank == 0;

    /// <summary>The options it was started with.</summary>
    public DistributedOptions Options { get; }

    /// <summary>Whether this process was started by Open MPI's <c>mpirun</c> (its <c>OMPI_COMM_WORLD_SIZE</c> is set).</summary>
    public static bool LaunchedByMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null;

    internal ICommunicator Communicator => _comm;

    /// <summary>
    /// Initialises MPI (thread level FUNNELED: only the calling thread may train) and joins <c>MPI_COMM_WORLD</c>.
    /// Started without mpirun, the world is this process alone.
    /// </summary>
    /// <param name="options">Timeout and bucket size; when null, <see cref="DistributedOptions.FromEnvironment"/>.</param>
    /// <returns>The distributed context; dispose it at the end of the job (every rank), or call <see cref="Abort"/> on failure.</returns>
    /// <exception cref="DistributedException">Open MPI is not installed, or MPI could not be initialised.</exception>
    public static DistributedTraining Start(DistributedOptions? options = null)
    {
        options ??= DistributedOptions.FromEnvironment();
        MpiNative.Handles handles = MpiNative.Handles.Load();

        // Before MPI_Init reads its parameters from the environment (unless the user set them): Open MPI must not take
        // over SIGSEGV and friends, which .NET uses for null references; single-copy shared memory needs ptrace rights
        // that containers often lack; waiting ranks should yield their core to the ranks computing.
        MpiNative.SetEnv("OMPI_MCA_opal_signal", "", 0);
        MpiNative.SetEnv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
        MpiNative.SetEnv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
        MpiCommunicator.Check(MpiNative.Initialized(out int initialized), "MPI_Initialized");
        bool owns = false;
        if (initialized == 0)
        {
            int code = MpiNative.InitThread(IntPtr.Zero, IntPtr.Zero, MpiNative.ThreadFunneled, out int provided);
            if (code != 0)
            {
                throw new DistributedException(string.Create(CultureInfo.InvariantCulture, $"MPI_Init_thread failed with MPI error {code}; is the job started with mpirun?"));
            }

            if (provided < MpiNative.ThreadFunneled)
            {
                throw new DistributedException(string.Create(CultureInfo.InvariantCulture, $"this Open MPI provides thread level {provided}; distributed training needs FUNNELED (1)."));
            }

            owns = true;
        }

        return new DistributedTraining(new MpiCommunicator(handles, options.CollectiveTimeout), owns, options);
    }

    /// <summary>Over any communicator (the tests' in-process ranks).</summary>
    internal static DistributedTraining Over(ICommunicator comm, DistributedOptions? options = null) => new(comm, false, options ?? new DistributedOptions());

    /// <summary>A world of one process without MPI: every collective is the identity (for code that runs either way).</summary>
    /// <returns>The context.</returns>
    public static DistributedTraining SingleProcess() => new(new SingleProcess(), false, new DistributedOptions());

    /// <summary>
    /// Makes <paramref name="model"/> a replica: checks that every rank built the same network with the same batch size
    /// and the same batch-norm mode, copies rank 0's parameters and batch-norm buffers to every rank, and from then on
    /// averages the gradients of every training step over the ranks (and, with <paramref name="synchronizedBatchNorm"/>,
    /// normalises by the whole combined batch's statistics). Call it on every rank before training.
    /// </summary>
    /// <param name="model">A generated network.</param>
    /// <param name="synchronizedBatchNorm">Batch statistics over the combined batch (as <c>SyncBatchNorm</c>); false (default) for each rank's own (as DDP).</param>
    /// <exception cref="DistributedException">The ranks differ (the message says in what), or synchronised batch norm was asked for on a device that cannot.</exception>
    /// <exception cref="ArgumentException">The model is not a generated network.</exception>
    public void Attach(INetworkModel model, bool synchronizedBatchNorm = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(model);
        if (model is not NetworkBase net)
        {
            throw new ArgumentException($"distributed training needs a generated network (a NetworkBase); got {model.GetType().Name}.", nameof(model));
        }

        CheckSame("the network",
        [
            ("network (a hash of its name and parameter names and sizes)", Fingerprint(net)),
            ("parameter count", net.Store.Elements),
            ("batch size per rank", net.BatchSize),
            ("synchronised batch norm (1) or local (0)", synchronizedBatchNorm ? 1 : 0),
        ]);

        // Rank 0's parameters and batch-norm buffers (values and running statistics), and its batch counters.
        net.Store.PullValuesToHost();
        Run(() => _comm.Broadcast(net.Store.HostValues, "the broadcast of rank 0's initial parameters"));
        net.Store.PushValues();
        net.AttachDistributed(_comm, synchronizedBatchNorm, Math.Max(1, Options.BucketBytes / sizeof(float)));
    }

    /// <summary>Rank <see cref="Rank"/>'s shard of <paramref name="loader"/>: see <see cref="BatchLoader.Shard"/>.</summary>
    /// <param name="loader">The loader every rank builds alike (its batch size is the per-rank batch).</param>
    /// <returns>The shard.</returns>
    public BatchLoader Shard(BatchLoader loader)
    {
        ArgumentNullException.ThrowIfNull(loader);
        return loader.Shard(Rank, WorldSize);
    }

    /// <summary>Sums values over the ranks (every rank gets the sums).</summary>
    /// <param name="values">The values; replaced by the sums.</param>
    /// <param name="what">Names the operation in a timeout's message.</param>
    public void Sum(Span<double> values, string what = "a sum over the ranks")
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var copy = values.ToArray();
        Run(() => _comm.AllReduceSum(copy, what));
        copy.CopyTo(values);
    }

    /// <summary>
    /// Checks that every rank holds the same values (settings, sizes, seeds) and throws, on every rank, naming each that
    /// differs with the smallest and largest value seen.
    /// </summary>
    /// <param name="what">What is being compared, for the message.</param>
    /// <param name="values">Named values.</param>
    /// <exception cref="DistributedException">Some value differs between ranks.</exception>
    public void CheckSame(string what, IReadOnlyList<(string Name, long Value)> values)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(values);
        long[] min = values.Select(v => v.Value).ToArray();
        long[] max = [.. min];
        Run(() => _comm.AllReduceMinMax(min, max, $"the start-up check of {what}"));
        string[] differ = values.Select((v, i) => min[i] == max[i] ? null : string.Create(CultureInfo.InvariantCulture, $"{v.Name} (from {min[i]} to {max[i]}; this rank {v.Value})"))
            .OfType<string>().ToArray();
        if (differ.Length > 0)
        {
            Fail();
            throw new DistributedException($"rank {Rank} of {WorldSize}: the ranks disagree on {what}: {string.Join("; ", differ)}. Start every rank with the same network, batch size and data.");
        }
    }

    /// <summary>Waits until every rank has arrived (bounded by the collective timeout).</summary>
    /// <param name="what">Names the point in a timeout's message.</param>
    public void Barrier(string what = "a barrier")
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Run(() => _comm.Barrier(what));
    }

    /// <summary>
    /// Ends the whole job after an error on this rank: writes <paramref name="message"/> to standard error with the rank,
    /// and asks mpirun to stop every rank (<c>MPI_Abort</c>); without MPI it only writes. Does not return under MPI.
    /// </summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="exitCode">The job's exit code.</param>
    public void Abort(string message, int exitCode = 1)
    {
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rank {Rank} of {WorldSize}: {message}"));
        Console.Error.Flush();
        _failed = true;
        if (_comm is MpiCommunicator mpi)
        {
            MpiNative.Abort(mpi.CommWorld, exitCode);
        }
    }

    /// <summary>
    /// Leaves MPI: after a barrier (so that no rank finalises while another still trains), <c>MPI_Finalize</c>. After a
    /// failure it does neither (the process's exit ends the job; mpirun stops the others).
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_ownsMpi && !_failed)
        {
            try
            {
                _comm.Barrier("the barrier before MPI_Finalize");
                MpiNative.Finalize();
            }
            catch (DistributedException e)
            {
                Console.Error.WriteLine($"rank {Rank} of {WorldSize}: {e.Message}");
            }
        }
    }

    internal void Run(Action collective)
    {
        try
        {
            collective();
        }
        catch (DistributedException)
        {
            Fail();
            throw;
        }
    }

    internal void Fail() => _failed = true;

    // FNV-1a over the network's name and its parameters' names and sizes: equal on every rank that built the same network.
    private static long Fingerprint(NetworkBase net)
    {
        ulong h = 14695981039346656037UL;
        void Add(string s)
        {
            foreach (char c in s)
            {
                h = (h ^ c) * 1099511628211UL;
            }

            h = (h ^ 0xFF) * 1099511628211UL;
        }

        Add(net.Definition.Name);
        foreach (ParameterInfo p in net.Definition.Parameters)
        {
            Add(p.Name);
            Add(p.Elements.ToString(CultureInfo.InvariantCulture));
        }

        return (long)h;
    }
}
