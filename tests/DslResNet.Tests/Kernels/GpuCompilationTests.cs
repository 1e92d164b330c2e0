using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using DslResNet.Kernels;
using DslResNet.Kernels.Ilgpu;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Xunit;

namespace DslResNet.Tests.Kernels;

/// <summary>
/// Compiles every kernel, without a device, to PTX for CUDA sm_90 and to OpenCL C, with the context settings the runtime
/// uses. The kernels are found by reflection (public static methods whose first parameter is <see cref="Index1D"/>, and every
/// public static method of the explicitly grouped kernel classes), so a new kernel cannot be forgotten. The kernels are compiled generically (<see cref="KernelSpecialization.Empty"/>, the
/// <see cref="SpecializedValue{T}"/> shapes as ordinary parameters), so every branch that a shape could select is
/// compiled, not only those of one shape.
/// </summary>
public sealed class GpuCompilationTests
{
    private static readonly Type[] KernelClasses = [typeof(ConvKernels), typeof(EpilogueKernels), typeof(PoolKernels), typeof(MiscKernels), typeof(OptimizerKernels)];

    // Classes of explicitly grouped kernels (launched with a KernelConfig; no index parameter): every public static void
    // method is a kernel.
    private static readonly Type[] GroupedKernelClasses = [typeof(ReductionKernels), typeof(TiledConvKernels)];

    /// <summary>Every kernel, named "Class.Method".</summary>
    public static TheoryData<string> Kernels()
    {
        TheoryData<string> data = new();
        foreach (MethodInfo method in AllKernels())
        {
            data.Add(Name(method));
        }

        return data;
    }

    /// <summary>The reflection search finds the kernels that <c>KernelSet</c> loads (a sanity check of the search itself).</summary>
    [Fact]
    public void ReflectionFindsEveryKnownKernel()
    {
        string[] names = AllKernels().Select(Name).ToArray();
        string[] expected =
        [
            "ConvKernels.Forward", "ConvKernels.BackwardData", "ConvKernels.BackwardWeights", "ConvKernels.FoldBatchNorm",
            "EpilogueKernels.Statistics", "EpilogueKernels.Apply", "EpilogueKernels.BackwardReduce", "EpilogueKernels.Backward",
            "PoolKernels.Forward", "PoolKernels.Backward",
            "MiscKernels.ShortcutForward", "MiscKernels.ShortcutBackward",
            "MiscKernels.ChannelScaleForward", "MiscKernels.ChannelScaleBackwardData", "MiscKernels.ChannelScaleBackwardScale", "MiscKernels.Dropout", "MiscKernels.Copy",
            "MiscKernels.SoftmaxCrossEntropy",
            "TiledConvKernels.Forward", "TiledConvKernels.BackwardData", "TiledConvKernels.BackwardWeights", "TiledConvKernels.ReduceSplits",
            "TiledConvKernels.BiasGradient",
            "ReductionKernels.Statistics", "ReductionKernels.BackwardReduce",
            "OptimizerKernels.Sgd", "OptimizerKernels.AdamW", "OptimizerKernels.NonFinite",
        ];
        foreach (string name in expected)
        {
            Assert.Contains(name, names);
        }

        Assert.Equal(names.Length, names.Distinct(StringComparer.Ordinal).Count());
    }

    /// <summary>The kernel compiles to PTX for sm_90 (ISA 8.8) with no GPU present.</summary>
    [Theory]
    [MemberData(nameof(Kernels))]
    public void CompilesToPtx(string kernel)
    {
        MethodInfo method = Find(kernel);
        using Context context = CreateContext();
        using PTXBackend backend = new(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_88, null);
        EntryPointDescription entry = Entry(method);
        CompiledKernel compiled = backend.Compile(entry, KernelSpecialization.Empty);
        PTXCompiledKernel ptx = Assert.IsType<PTXCompiledKernel>(compiled);
        string text = ptx.PTXAssembly;
        // Observed: ILGPU 1.5.3 writes ".version 8.8" but ".target sm_80" when asked for SM_90; the driver JIT-compiles
        // sm_80 PTX for sm_90, so only the prefix is checked.
        Assert.Contains(".version 8.8", text, StringComparison.Ordinal);
        Assert.Contains(".target sm_", text, StringComparison.Ordinal);
        Assert.Contains(".entry", text, StringComparison.Ordinal);
        Assert.Contains(ptx.Name, text, StringComparison.Ordinal);
    }

    /// <summary>The kernel compiles to OpenCL C 2.0 for a device with double precision (cl_khr_fp64), no device present.</summary>
    [Theory]
    [MemberData(nameof(Kernels))]
    public void CompilesToOpenCL(string kernel) => CompileOpenCL(kernel, float64: true);

    /// <summary>
    /// The kernel compiles to OpenCL C for a device without double precision (many integrated and mobile GPUs lack
    /// cl_khr_fp64): a float network should not need doubles. Fails where a kernel calls <c>System.Math</c>'s double
    /// functions (Exp, Log, Tanh, Sqrt) on floats, or converts a uint to float (which IL does through a double).
    /// </summary>
    [Theory]
    [MemberData(nameof(Kernels))]
    public void CompilesToOpenCLWithoutFloat64(string kernel) => CompileOpenCL(kernel, float64: false);

    private static void CompileOpenCL(string kernel, bool float64)
    {
        MethodInfo method = Find(kernel);
        using Context context = CreateContext();
        CLCapabilityContext capabilities = new(false, float64, false, false, false);
        Assert.Equal(float64, capabilities.Float64);
        using CLBackend backend = new(context, capabilities, CLDeviceVendor.Other, CLCVersion.CL20);
        EntryPointDescription entry = Entry(method);
        CompiledKernel compiled = backend.Compile(entry, KernelSpecialization.Empty);
        CLCompiledKernel cl = Assert.IsType<CLCompiledKernel>(compiled);
        string text = cl.Source;
        Assert.Contains("kernel void", text, StringComparison.Ordinal);
        Assert.Contains(cl.Name, text, StringComparison.Ordinal);
    }

    private static Context CreateContext() =>
        Context.Create(builder => builder.Default().EnableAlgorithms().Optimize(OptimizationLevel.O2));

    private static IEnumerable<MethodInfo> AllKernels() =>
        KernelClasses
            .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(method => method.GetParameters() is { Length: > 0 } parameters && parameters[0].ParameterType == typeof(Index1D))
            .Concat(GroupedKernelClasses
                .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
                .Where(method => method.ReturnType == typeof(void)))
            .OrderBy(Name, StringComparer.Ordinal);

    private static EntryPointDescription Entry(MethodInfo method) =>
        GroupedKernelClasses.Contains(method.DeclaringType)
            ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(method);

    private static string Name(MethodInfo method) => $"{method.DeclaringType!.Name}.{method.Name}";

    private static MethodInfo Find(string name) => AllKernels().Single(method => Name(method) == name);
}
