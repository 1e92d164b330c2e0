using System;
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

    /// <summary>ILGPU's CPU accelerator (always present).</summary>
    Cpu,
}

/// <summary>
/// An ILGPU accelerator networks run on. <see cref="Create"/> picks CUDA, then OpenCL, then the CPU, unless told otherwise
/// by its argument or by the <c>DSLRESNET_DEVICE</c> environment variable (<c>auto</c>, <c>cuda</c>, <c>opencl</c>, <c>cpu</c>);
/// <see cref="Description"/> says what was chosen and why.
/// </summary>
public sealed class Device : IDisposable
{
    /// <summary>The environment variable that overrides <see cref="DeviceKind.Auto"/>.</summary>
    public const string EnvironmentVariable = "DSLRESNET_DEVICE";

    private Device(Context context, Accelerator accelerator, DeviceKind kind, string reason)
    {
        Context = context;
        Accelerator = accelerator;
        Kind = kind;
        Description = $"{KindName(kind)}: {accelerator.Name} ({reason})";

        // ILGPU's CPU accelerator pays about a microsecond per emulated thread, so CPU kernels loop over their work with
        // a few threads per core; GPUs get one thread per element up to a large grid.
        LaunchThreads = kind == DeviceKind.Cpu ? Math.Max(4, 16 * Environment.ProcessorCount) : 1 << 20;
        Kernels = new KernelSet(accelerator);
    }

    /// <summary>The kernels, loaded on first use.</summary>
    public KernelSet Kernels { get; }

    /// <summary>The ILGPU context.</summary>
    public Context Context { get; }

    /// <summary>The accelerator.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The kind chosen.</summary>
    public DeviceKind Kind { get; }

    /// <summary>What was chosen and why, e.g. <c>CPU: CPUAccelerator (no CUDA or OpenCL device found)</c>.</summary>
    public string Description { get; }

    /// <summary>The most threads a kernel launch uses; kernels loop over the elements beyond it.</summary>
    public int LaunchThreads { get; }

    /// <summary>Whether device buffers are host memory (the CPU accelerator), so they can be read without copies.</summary>
    public bool IsHostMemory => Kind == DeviceKind.Cpu;

    /// <summary>Threads to launch for <paramref name="work"/> independent items.</summary>
    /// <param name="work">Items of work.</param>
    /// <returns>At least 1, at most <see cref="LaunchThreads"/>.</returns>
    public int ThreadsFor(long work) => (int)Math.Clamp(work, 1, LaunchThreads);

    /// <summary>Creates a device of the given kind; <see cref="DeviceKind.Auto"/> honours <see cref="EnvironmentVariable"/>.</summary>
    /// <param name="kind">The kind wanted.</param>
    /// <returns>The device.</returns>
    /// <exception cref="ArgumentException">The environment variable holds an unknown kind.</exception>
    /// <exception cref="InvalidOperationException">The kind asked for is not present on this machine.</exception>
    public static Device Create(DeviceKind kind = DeviceKind.Auto)
    {
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

        Context context = Context.Create(builder => builder.Default().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        try
        {
            if (kind == DeviceKind.Auto)
            {
                ILGPU.Runtime.Device? cuda = First(context.GetCudaDevices());
                if (cuda is not null)
                {
                    return new Device(context, cuda.CreateAccelerator(context), DeviceKind.Cuda, "first CUDA device");
                }

                ILGPU.Runtime.Device? openCl = First(context.GetCLDevices());
                if (openCl is not null)
                {
                    return new Device(context, openCl.CreateAccelerator(context), DeviceKind.OpenCL, "no CUDA device; first OpenCL device");
                }

                return new Device(context, CreateCpu(context), DeviceKind.Cpu, "no CUDA or OpenCL device found");
            }

            ILGPU.Runtime.Device? chosen = kind switch
            {
                DeviceKind.Cuda => First(context.GetCudaDevices()),
                DeviceKind.OpenCL => First(context.GetCLDevices()),
                _ => null,
            };
            if (kind == DeviceKind.Cpu)
            {
                return new Device(context, CreateCpu(context), DeviceKind.Cpu, reason);
            }

            if (chosen is null)
            {
                throw new InvalidOperationException(
                    $"No {KindName(kind)} device is present on this machine ({reason}); use '{nameof(DeviceKind.Auto).ToLowerInvariant()}' or 'cpu'.");
            }

            return new Device(context, chosen.CreateAccelerator(context), kind, reason);
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
            "cpu" => DeviceKind.Cpu,
            _ => throw new ArgumentException($"{source}: unknown device '{text}'; expected auto, cuda, opencl or cpu.", source),
        };
    }

    private static ILGPU.Runtime.Device? First<T>(Context.DeviceCollection<T> devices)
        where T : ILGPU.Runtime.Device
    {
        foreach (T device in devices)
        {
            return device;
        }

        return null;
    }

    private static Accelerator CreateCpu(Context context) => context.GetCPUDevice(0).CreateAccelerator(context);

    private static string KindName(DeviceKind kind) => kind switch
    {
        DeviceKind.Cuda => "CUDA",
        DeviceKind.OpenCL => "OpenCL",
        DeviceKind.Cpu => "CPU",
        _ => "auto",
    };

    /// <inheritdoc />
    public override string ToString() => Description;

    /// <summary>Releases the accelerator and the context.</summary>
    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}
