namespace DslResNet.Kernels;

/// <summary>A convolution's geometry as compile-time constants: the generator emits one struct per distinct shape of a network and
/// the JIT compiles each kernel for it, so every loop bound and address offset is a constant.</summary>
public interface IConvGeometry
{
    /// <summary>Input channels.</summary>
    static abstract int InChannels { get; }

    /// <summary>Input height.</summary>
    static abstract int Height { get; }

    /// <summary>Input width.</summary>
    static abstract int Width { get; }

    /// <summary>Output channels.</summary>
    static abstract int OutChannels { get; }

    /// <summary>Kernel size (square).</summary>
    static abstract int Kernel { get; }

    /// <summary>Stride.</summary>
    static abstract int Stride { get; }

    /// <summary>Zero padding on every side.</summary>
    static abstract int Padding { get; }

    /// <summary>Groups (1: a dense convolution); a geometry for a grouped convolution overrides it.</summary>
    static virtual int Groups => 1;

    /// <summary>Whether a forward micro-kernel takes one kernel row (the caller's) rather than all <see cref="Kernel"/>: the
    /// SIMD backend's KernelRowGeometry, which runs a layer a kernel row at a time.</summary>
    static virtual bool OneKernelRow => false;
}
