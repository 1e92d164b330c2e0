using System;
using System.Diagnostics.CodeAnalysis;
using DslResNet.Kernels.Ilgpu;
using DslResNet.Kernels.Simd;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace DslResNet.Runtime;

/// <summary>Which ILGPU convolution kernels an ILGPU device runs (<see cref="IlgpuConvPath"/>).</summary>
public sealed partial class Device
{
    /// <summary>
    /// The environment variable that picks the ILGPU devices' convolution kernels: <c>tiled</c> (shared-memory tiled implicit
    /// GEMMs, the default on CUDA and OpenCL) or <c>direct</c> (a thread per four outputs, the default on ILGPU's CPU
    /// accelerator, where it is much faster). <c>tiled</c> on the CPU accelerator makes it emulate groups of 256 threads.
    /// The SIMD backend ignores it.
    /// </summary>
    public const string ConvVariable = "DSLRESNET_ILGPU_CONV";

    // ILGPU's default CPU device emulates groups of 16 threads (4 warps of 4); the tiled kernels need 256: 8 warps of 32
    // on one multiprocessor (the accelerator runs 256 threads, one group at a time).
    private const int TiledCpuWarp = 32;
    private const int TiledCpuWarps = 8;

    /// <summary>An ILGPU CPU accelerator device whose dense convolutions run the given kernels (tests force the tiled path
    /// with it, without touching the process's environment).</summary>
    /// <param name="convPath">The convolution kernels.</param>
    /// <returns>The device.</returns>
    [RequiresDynamicCode(IlgpuNeedsDynamicCode)]
    internal static Device CreateIlgpuCpu(IlgpuConvPath convPath) =>
        CreateIlgpu(DeviceKind.IlgpuCpu, "asked for", Environment.ProcessorCount, SimdWidth.Auto, winograd: true, convPath);

    /// <summary>Parses a convolution path: <c>tiled</c> or <c>direct</c> (any case).</summary>
    /// <param name="text">The text.</param>
    /// <param name="source">Where it came from, for the error.</param>
    /// <returns>The path.</returns>
    /// <exception cref="ArgumentException">Unknown text; the message names the source and the valid values.</exception>
    internal static IlgpuConvPath ParseConvPath(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "tiled" => IlgpuConvPath.Tiled,
            "direct" => IlgpuConvPath.Direct,
            _ => throw new ArgumentException($"{source}: unknown convolution kernels '{text}'; expected tiled or direct.", source),
        };
    }

    // The asked-for path, else ConvVariable, else tiled on a GPU and direct on the CPU accelerator.
    private static IlgpuConvPath ConvPathFor(DeviceKind kind, IlgpuConvPath? asked)
    {
        if (asked is { } path)
        {
            return path;
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(ConvVariable);
        return string.IsNullOrWhiteSpace(fromEnvironment) ? DefaultConvPath(kind) : ParseConvPath(fromEnvironment, ConvVariable);
    }

    private static IlgpuConvPath DefaultConvPath(DeviceKind kind) => kind == DeviceKind.IlgpuCpu ? IlgpuConvPath.Direct : IlgpuConvPath.Tiled;

    // Said in the description only when it is not the kind's default.
    private static string ConvPathNote(DeviceKind kind, IlgpuConvPath path) =>
        path == DefaultConvPath(kind) ? "" : path == IlgpuConvPath.Tiled ? ", tiled convolutions" : ", direct convolutions";

    [RequiresDynamicCode(IlgpuNeedsDynamicCode)]
    private static Accelerator CpuAccelerator(Context context, IlgpuConvPath path) =>
        path == IlgpuConvPath.Tiled
            ? new CPUDevice(TiledCpuWarp, TiledCpuWarps, 1).CreateAccelerator(context)
            : context.GetCPUDevice(0).CreateAccelerator(context);
}
