using System;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading;
using DslResNet.Kernels;
using DslResNet.Kernels.Ilgpu;
using DslResNet.Kernels.Simd;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace DslResNet.Runtime;

/// <summary>Which kind of ILGPU accelerator to run on.</summary>
public enum DeviceKind
{
    /// <summary>The best present: CUDA, then OpenCL, then the CPU.</summary>
    Auto,

    /// <summary>An NVIDIA GPU through CUDA.</summary>
    Cuda,

    /// <summary>An OpenCL device.</summary>
    OpenCL,

    /// <summary>The CPU through DslResNet's SIMD backend (always present; the default without a GPU).</summary>
    Cpu,

    /// <summary>ILGPU's CPU accelerator running the GPU kernels: the reference path, slow.</summary>
    IlgpuCpu,
}

/// <summary>
/// An ILGPU accelerator networks run on. <see cref="Create(DeviceKind)"/> picks CUDA, then OpenCL, then the CPU, unless told otherwise
/// by its argument or by the <c>DSLRESNET_DEVICE</c> environment variable (<c>auto</c>, <c>cuda</c>, <c>opencl</c>, <c>cpu</c>);
/// <see cref="Description"/> says what was chosen and why. The CPU device (<see cref="DeviceKind.Cpu"/>, DslResNet's SIMD backend)
/// uses no ILGPU context, so it also runs without dynamic code (a NativeAOT executable), where <see cref="DeviceKind.Auto"/> picks it.
/// </summary>
public sealed partial class Device : IDisposable
{
    /// <summary>The environment variable that overrides <see cref="DeviceKind.Auto"/>.</summary>
    public const string EnvironmentVariable = "DSLRESNET_DEVICE";

    /// <summary>The environment variable that sets the SIMD backend's thread count.</summary>
    public const string ThreadsVariable = "DSLRESNET_THREADS";

    /// <summary>The environment variable that caps the SIMD backend's vector width: 512, 256 or scalar.</summary>
    public const string SimdVariable = "DSLRESNET_SIMD";

    /// <summary>The environment variable that turns the SIMD backend's Winograd 3x3 convolutions off (<c>off</c>), on (<c>on</c>, the
    /// default: F(4x4, 3x3) tiles in inference, F(2x2, 3x3) in training: the forward pass and the input gradient) or on with
    /// F(2x2, 3x3) tiles only (<c>f2</c>).</summary>
    public const string WinogradVariable = "DSLRESNET_WINOGRAD";

    private readonly object _launchLock = new();
    private int _disposed;
    private int _activeCalls;
    [ThreadStatic]
    private static Device?[]? t_calls; // the devices this thread is inside a network call on, innermost last
    [ThreadStatic]
    private static int t_depth;

    private readonly Context? _context;
    private readonly Accelerator? _accelerator;
    private readonly KernelSet? _kernels;

    // The SIMD CPU device: no ILGPU context or accelerator (ILGPU's Context needs Reflection.Emit, which a NativeAOT
    // executable lacks); its buffers are host memory (DeviceBuffer).
    private Device(string reason, int threads, SimdWidth width, bool winograd, bool largeTiles = true)
    {
        Kind = DeviceKind.Cpu;
        Width = ResolveWidth(width);
        Threads = threads;
        Pool = new SimdPool(threads);
        Winograd = winograd;
        WinogradLargeTiles = winograd && largeTiles;
        Description = $"CPU: SIMD backend, {WidthName(Width)}, {threads} thread{(threads == 1 ? "" : "s")}{(!winograd ? ", Winograd off" : largeTiles ? "" : ", Winograd F(2x2, 3x3) only")} ({reason})";
        LaunchThreads = CpuLaunchThreads;
        Backend = new SimdBackend(Pool, Width, Winograd, WinogradLargeTiles);
    }

    // An ILGPU device: the kernels are compiled by ILGPU at run time (IL to PTX, OpenCL C or dynamic methods).
    [RequiresDynamicCode(IlgpuNeedsDynamicCode)]
    private Device(Context context, Accelerator accelerator, DeviceKind kind, string reason, IlgpuConvPath convPath)
    {
        _context = context;
        _accelerator = accelerator;
        Kind = kind;
        Description = $"{KindName(kind)}: {accelerator.Name} ({reason}){ConvPathNote(kind, convPath)}";

        // GPUs get one thread per element up to a large grid.
        LaunchThreads = kind == DeviceKind.IlgpuCpu ? CpuLaunchThreads : 1 << 20;
        _kernels = new KernelSet(accelerator);
        Backend = new IlgpuBackend(_kernels, LaunchThreads, convPath);
    }

    // Why ILGPU devices are unavailable without dynamic code; the annotation's message and the error's.
    private const string IlgpuNeedsDynamicCode =
        "ILGPU devices (CUDA, OpenCL, the ILGPU CPU accelerator) need dynamic code: ILGPU's Context and kernel loading use Reflection.Emit, " +
        "which a NativeAOT executable does not have. DeviceKind.Cpu (the SIMD backend) needs none.";

    // ILGPU's CPU accelerator pays about a microsecond per emulated thread, so CPU kernels loop over their work with a few
    // threads per core.
    private static int CpuLaunchThreads => Math.Max(4, 16 * Environment.ProcessorCount);

    /// <summary>The backend every operation of a network on this device is built by.</summary>
    internal IBackend Backend { get; private set; }

    /// <summary>
    /// Puts a backend in front of this device's (a decorator that counts or checks calls, in tests). Call it before any
    /// network is built on the device; networks built earlier keep the operations they have.
    /// </summary>
    /// <param name="wrap">Builds the new backend from the current one.</param>
    internal void DecorateBackend(Func<IBackend, IBackend> wrap)
    {
        ArgumentNullException.ThrowIfNull(wrap);
        Backend = wrap(Backend) ?? throw new ArgumentException("The decorator returned no backend.", nameof(wrap));
    }

    /// <summary>The ILGPU kernels of an ILGPU device, loaded on first use.</summary>
    internal KernelSet Kernels => _kernels ?? throw NoIlgpu(nameof(Kernels));

    /// <summary>The ILGPU context of an ILGPU device.</summary>
    /// <exception cref="InvalidOperationException">A SIMD CPU device (<see cref="DeviceKind.Cpu"/>), which has none.</exception>
    public Context Context => _context ?? throw NoIlgpu(nameof(Context));

    /// <summary>The accelerator of an ILGPU device.</summary>
    /// <exception cref="InvalidOperationException">A SIMD CPU device (<see cref="DeviceKind.Cpu"/>), which has none: its
    /// tensors are host memory, not ILGPU buffers.</exception>
    public Accelerator Accelerator => _accelerator ?? throw NoIlgpu(nameof(Accelerator));

    private InvalidOperationException NoIlgpu(string member) =>
        new($"Device.{member}: {Description} runs on DslResNet's SIMD backend and has no ILGPU {member.ToLowerInvariant()}; create the device with DeviceKind.IlgpuCpu, Cuda or OpenCL for one.");

    /// <summary>The kind chosen.</summary>
    public DeviceKind Kind { get; }

    /// <summary>What was chosen and why, e.g. <c>CPU: CPUAccelerator (no CUDA or OpenCL device found)</c>.</summary>
    public string Description { get; }

    /// <summary>The most threads a kernel launch uses; kernels loop over the elements beyond it.</summary>
    public int LaunchThreads { get; }

    /// <summary>Whether device buffers are host memory (the CPU accelerator), so they can be read without copies.</summary>
    public bool IsHostMemory => Kind is DeviceKind.Cpu or DeviceKind.IlgpuCpu;

    /// <summary>Whether operations run on the SIMD backend (<see cref="DeviceKind.Cpu"/>) rather than as ILGPU kernels.</summary>
    public bool IsSimd => Kind == DeviceKind.Cpu;

    /// <summary>The SIMD backend's threads (null on ILGPU devices).</summary>
    public SimdPool? Pool { get; }

    /// <summary>The SIMD backend's thread count (0 on ILGPU devices).</summary>
    public int Threads { get; }

    /// <summary>The SIMD backend's vector width (<see cref="SimdWidth.Auto"/> on ILGPU devices).</summary>
    public SimdWidth Width { get; }

    /// <summary>Whether the SIMD backend computes 3x3 convolutions at stride 1 with Winograd's F(2x2, 3x3) where it can: in
    /// inference and in training (the forward pass and the input gradient), with channel counts that are multiples of 16.
    /// 2.25 times fewer multiplications; results differ from the direct convolution's by rounding. False on ILGPU devices.</summary>
    public bool Winograd { get; }

    /// <summary>Whether inference's Winograd convolutions use F(4x4, 3x3) tiles (4 times fewer multiplications than the
    /// direct convolution, with rounding errors about ten times F(2x2, 3x3)'s: around 1e-5 of the output's scale); the
    /// default where <see cref="Winograd"/> is on. <c>DSLRESNET_WINOGRAD=f2</c> keeps every Winograd convolution on
    /// F(2x2, 3x3). Training (its forward pass and input gradients) always uses F(2x2, 3x3).</summary>
    public bool WinogradLargeTiles { get; }

    /// <summary>Threads to launch for <paramref name="work"/> independent items.</summary>
    /// <param name="work">Items of work.</param>
    /// <returns>At least 1, at most <see cref="LaunchThreads"/>.</returns>
    public int ThreadsFor(long work) => (int)Math.Clamp(work, 1, LaunchThreads);

    /// <summary>Creates a device of the given kind; <see cref="DeviceKind.Auto"/> honours <see cref="EnvironmentVariable"/>.</summary>
    /// <param name="kind">The kind wanted.</param>
    /// <returns>The device.</returns>
    /// <exception cref="ArgumentException">The environment variable holds an unknown kind.</exception>
    /// <exception cref="InvalidOperationException">The kind asked for is not present on this machine.</exception>
    public static Device Create(DeviceKind kind = DeviceKind.Auto) => Create(kind, 0, SimdWidth.Auto, null);

    /// <summary>Opens a device, with the SIMD backend's thread count and vector width for the CPU.</summary>
    /// <param name="kind">Which device; <see cref="DeviceKind.Auto"/> reads <see cref="EnvironmentVariable"/> first.</param>
    /// <param name="threads">SIMD backend threads; 0 reads <see cref="ThreadsVariable"/>, else one per processor.</param>
    /// <param name="width">Widest vector width to use; Auto reads <see cref="SimdVariable"/>, else the widest in hardware.</param>
    /// <param name="winograd">Winograd 3x3 convolutions on the SIMD backend (see <see cref="Winograd"/>); null reads
    /// <see cref="WinogradVariable"/>, else on.</param>
    /// <returns>The device.</returns>
    /// <exception cref="ArgumentOutOfRangeException">More threads than processors (see <paramref name="oversubscribe"/>).</exception>
    /// <param name="oversubscribe">Allow more SIMD threads than processors. The backend's threads spin while they wait for
    /// each other, so on a machine with fewer cores a step becomes many times slower (tests use it to check that results
    /// do not depend on the thread count).</param>
    public static Device Create(DeviceKind kind, int threads, SimdWidth width = SimdWidth.Auto, bool? winograd = null, bool oversubscribe = false)
    {
        if (threads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "The thread count must be at least 1 (0 for the default).");
        }

        string threadSource = "threads";
        if (threads == 0)
        {
            string? fromEnvironment = Environment.GetEnvironmentVariable(ThreadsVariable);
            threads = string.IsNullOrWhiteSpace(fromEnvironment) ? Environment.ProcessorCount : ParseThreads(fromEnvironment, ThreadsVariable);
            threadSource = string.IsNullOrWhiteSpace(fromEnvironment) ? threadSource : ThreadsVariable;
        }

        if (threads > Environment.ProcessorCount && !oversubscribe)
        {
            throw new ArgumentOutOfRangeException(
                threadSource,
                threads,
                $"{threadSource}: {threads.ToString(CultureInfo.InvariantCulture)} threads on a machine with {Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)} processors; " +
                $"use 1 to {Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)}. The SIMD backend's threads spin while they wait for each other, so more threads than processors make every step many times slower.");
        }

        if (width == SimdWidth.Auto)
        {
            string? fromEnvironment = Environment.GetEnvironmentVariable(SimdVariable);
            width = string.IsNullOrWhiteSpace(fromEnvironment) ? SimdWidth.Auto : ParseWidth(fromEnvironment, SimdVariable);
        }

        bool largeTiles = true;
        if (winograd is null)
        {
            string? fromEnvironment = Environment.GetEnvironmentVariable(WinogradVariable);
            (winograd, largeTiles) = string.IsNullOrWhiteSpace(fromEnvironment) ? (true, true) : ParseWinograd(fromEnvironment, WinogradVariable);
        }

        string reason = "asked for";
        if (kind == DeviceKind.Auto)
        {
            string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(fromEnvironment))
            {
                kind = Parse(fromEnvironment, EnvironmentVariable);
                reason = $"{EnvironmentVariable}={fromEnvironment.Trim()}";
            }
        }

        if (kind == DeviceKind.Cpu)
        {
            return new Device(reason, threads, width, winograd.Value, largeTiles);
        }

        // Under NativeAOT (no dynamic code) ILGPU cannot start: Auto falls back to the SIMD backend, other kinds are refused.
        // The check is the feature switch the AOT compiler folds, so the ILGPU code below is not compiled into such an executable.
        if (!RuntimeFeature.IsDynamicCodeSupported)
        {
            return kind == DeviceKind.Auto
                ? new Device("no dynamic code (NativeAOT), so no ILGPU device", threads, width, winograd.Value)
                : throw new PlatformNotSupportedException($"{KindName(kind)} device ({reason}): {IlgpuNeedsDynamicCode}");
        }

        return CreateIlgpu(kind, reason, threads, width, winograd.Value, null);
    }

    // CUDA, OpenCL or the ILGPU CPU accelerator (and Auto's search for them, falling back to the SIMD device).
    [RequiresDynamicCode(IlgpuNeedsDynamicCode)]
    // convPath: the convolution kernels; null reads ConvVariable, else the kind's default (tiled on a GPU, direct on the CPU).
    private static Device CreateIlgpu(DeviceKind kind, string reason, int threads, SimdWidth width, bool winograd, IlgpuConvPath? convPath)
    {
        Context context = Context.Create(builder => builder.Default().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        try
        {
            if (kind == DeviceKind.Auto)
            {
                ILGPU.Runtime.Device? cuda = First(context.GetCudaDevices());
                if (cuda is not null)
                {
                    return new Device(context, cuda.CreateAccelerator(context), DeviceKind.Cuda, "first CUDA device", ConvPathFor(DeviceKind.Cuda, convPath));
                }

                ILGPU.Runtime.Device? openCl = First(context.GetCLDevices());
                if (openCl is not null)
                {
                    return new Device(context, openCl.CreateAccelerator(context), DeviceKind.OpenCL, "no CUDA device; first OpenCL device", ConvPathFor(DeviceKind.OpenCL, convPath));
                }

                // The SIMD device needs no context of its own.
                context.Dispose();
                return new Device("no CUDA or OpenCL device found", threads, width, winograd);
            }

            ILGPU.Runtime.Device? chosen = kind switch
            {
                DeviceKind.Cuda => First(context.GetCudaDevices()),
                DeviceKind.OpenCL => First(context.GetCLDevices()),
                _ => null,
            };
            if (kind == DeviceKind.IlgpuCpu)
            {
                IlgpuConvPath path = ConvPathFor(kind, convPath);
                return new Device(context, CpuAccelerator(context, path), kind, reason, path);
            }

            if (chosen is null)
            {
                throw new InvalidOperationException(
                    $"No {KindName(kind)} device is present on this machine ({reason}); use '{nameof(DeviceKind.Auto).ToLowerInvariant()}' or 'cpu'.");
            }

            return new Device(context, chosen.CreateAccelerator(context), kind, reason, ConvPathFor(kind, convPath));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>Parses a device name: <c>auto</c>, <c>cuda</c>, <c>opencl</c> or <c>cpu</c> (any case).</summary>
    /// <param name="text">The text.</param>
    /// <param name="source">Where it came from, for the error message (an option or variable name).</param>
    /// <returns>The kind.</returns>
    /// <exception cref="ArgumentException">Unknown text; the message names the source and the valid values.</exception>
    public static DeviceKind Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "auto" => DeviceKind.Auto,
            "cuda" or "gpu" => DeviceKind.Cuda,
            "opencl" or "cl" => DeviceKind.OpenCL,
            "cpu" or "simd" => DeviceKind.Cpu,
            "ilgpu-cpu" or "ilgpucpu" => DeviceKind.IlgpuCpu,
            _ => throw new ArgumentException($"{source}: unknown device '{text}'; expected auto, cuda, opencl, cpu or ilgpu-cpu.", source),
        };
    }

    /// <summary>Parses a thread count (1 to 1024).</summary>
    /// <param name="text">The text.</param>
    /// <param name="source">Where it came from, for the error.</param>
    /// <returns>The count.</returns>
    public static int ParseThreads(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int threads) || threads < 1 || threads > 1024)
        {
            throw new ArgumentException($"{source}: '{text}' is not a thread count; expected a whole number from 1 to 1024.", source);
        }

        return threads;
    }

    /// <summary>Parses <see cref="WinogradVariable"/>: on (the default: F(4x4, 3x3) tiles in inference, F(2x2, 3x3) in
    /// training), f2 (F(2x2, 3x3) only) or off, or any of <see cref="ParseSwitch"/>'s words.</summary>
    /// <param name="text">The text.</param>
    /// <param name="source">Where it came from, for the error.</param>
    /// <returns>Whether Winograd is on, and whether inference uses F(4x4, 3x3) tiles.</returns>
    /// <exception cref="ArgumentException">Neither on, off nor f2.</exception>
    internal static (bool On, bool LargeTiles) ParseWinograd(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.Equals(text.Trim(), "f2", StringComparison.OrdinalIgnoreCase))
        {
            return (true, false);
        }

        try
        {
            bool on = ParseSwitch(text, source);
            return (on, on);
        }
        catch (ArgumentException)
        {
            throw new ArgumentException($"{source}: '{text}' is not on, off or f2 (on: F(4x4, 3x3) tiles in inference and F(2x2, 3x3) in training, the default; f2: F(2x2, 3x3) only; off: direct convolutions).", source);
        }
    }

    /// <summary>Parses an on/off setting: on, off, 1, 0, true, false.</summary>
    /// <param name="text">The text.</param>
    /// <param name="source">Where it came from, for the error.</param>
    /// <returns>Whether it is on.</returns>
    public static bool ParseSwitch(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "on" or "1" or "true" or "yes" => true,
            "off" or "0" or "false" or "no" => false,
            _ => throw new ArgumentException($"{source}: '{text}' is not on or off (expected on, off, 1, 0, true or false).", source),
        };
    }

    /// <summary>Parses a vector width: 512, 256, scalar or auto.</summary>
    /// <param name="text">The text.</param>
    /// <param name="source">Where it came from, for the error.</param>
    /// <returns>The width.</returns>
    public static SimdWidth ParseWidth(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "auto" => SimdWidth.Auto,
            "512" or "vector512" or "avx512" => SimdWidth.Vector512,
            "256" or "vector256" or "avx2" => SimdWidth.Vector256,
            "scalar" or "1" => SimdWidth.Scalar,
            _ => throw new ArgumentException($"{source}: unknown vector width '{text}'; expected 512, 256, scalar or auto.", source),
        };
    }

    // The widest width asked for that this machine runs in hardware; scalar always works.
    private static SimdWidth ResolveWidth(SimdWidth asked)
    {
        if (asked is SimdWidth.Auto or SimdWidth.Vector512 && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            return SimdWidth.Vector512;
        }

        if (asked is SimdWidth.Auto or SimdWidth.Vector512 or SimdWidth.Vector256 && System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            return SimdWidth.Vector256;
        }

        return SimdWidth.Scalar;
    }

    private static string WidthName(SimdWidth width) => width switch
    {
        SimdWidth.Vector512 => "Vector512",
        SimdWidth.Vector256 => "Vector256",
        _ => "scalar",
    };

    private static ILGPU.Runtime.Device? First<T>(Context.DeviceCollection<T> devices)
        where T : ILGPU.Runtime.Device
    {
        foreach (T device in devices)
        {
            return device;
        }

        return null;
    }

    private static string KindName(DeviceKind kind) => kind switch
    {
        DeviceKind.Cuda => "CUDA",
        DeviceKind.IlgpuCpu => "ILGPU CPU accelerator",
        DeviceKind.OpenCL => "OpenCL",
        DeviceKind.Cpu => "CPU",
        _ => "auto",
    };

    /// <inheritdoc />
    public override string ToString() => Description;

    /// <summary>Whether <see cref="Dispose"/> was called; networks on a disposed device throw <see cref="ObjectDisposedException"/>.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Bytes a new network may allocate: on host-memory devices the memory the operating system reports available (and the
    /// process's limit, in a container); on a GPU the accelerator's memory.
    /// </summary>
    public long AvailableMemoryBytes => IsHostMemory ? HostMemory.AvailableBytes() : Accelerator.MemorySize;

    /// <summary>
    /// Releases the SIMD threads, the accelerator and the context. Safe to call more than once. Waits for network calls in
    /// progress on other threads to return first; networks on the device throw <see cref="ObjectDisposedException"/> from
    /// then on (their own <c>Dispose</c> still works).
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        SpinWait wait = default;
        while (Volatile.Read(ref _activeCalls) != 0)
        {
            if (InCallOnThisThread())
            {
                // Waiting here for the call this very thread is inside would never end.
                Interlocked.Exchange(ref _disposed, 0);
                throw new InvalidOperationException($"Device.Dispose was called from inside a network call on the same thread ({Description}); dispose the device after the call returns.");
            }

            wait.SpinOnce();
        }

        Backend.Dispose();
        Pool?.Dispose();
        _accelerator?.Dispose();
        _context?.Dispose();
    }

    /// <summary>Counts a network call in progress (and, on ILGPU devices, takes the device: one network's kernels and copies
    /// at a time, since they share the accelerator's stream).</summary>
    /// <param name="network">The network, for the error message.</param>
    /// <param name="call">The call, for the error message.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void EnterCall(string network, string call)
    {
        Interlocked.Increment(ref _activeCalls);
        if (IsDisposed)
        {
            Interlocked.Decrement(ref _activeCalls);
            throw new ObjectDisposedException(nameof(Device), $"{network}: {call} was called after its device ({Description}) was disposed.");
        }

        if (Backend.SerializesCalls)
        {
            Monitor.Enter(_launchLock);
        }

        t_calls ??= new Device[4];
        if (t_depth == t_calls.Length)
        {
            Array.Resize(ref t_calls, t_depth * 2);
        }

        t_calls[t_depth++] = this;
    }

    // Whether this thread is inside a network call on this device (a Dispose from there would wait for itself).
    private bool InCallOnThisThread()
    {
        for (int i = 0; i < t_depth; i++)
        {
            if (ReferenceEquals(t_calls![i], this))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Ends what <see cref="EnterCall"/> began.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void ExitCall()
    {
        t_calls![--t_depth] = null;
        if (Backend.SerializesCalls)
        {
            Monitor.Exit(_launchLock);
        }

        Interlocked.Decrement(ref _activeCalls);
    }
}
