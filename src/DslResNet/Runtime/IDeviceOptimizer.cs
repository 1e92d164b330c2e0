namespace DslResNet.Runtime;

/// <summary>
/// An optimizer that can update a network's parameters where they live, on an ILGPU accelerator, over the
/// <see cref="ParameterStore"/>'s device buffers, keeping its own state there too (DslResNet.Training's <c>Sgd</c> and
/// <c>AdamW</c>). The network uses it when nothing needs the host copy per step (see <see cref="NetworkBase.TrainStep"/>);
/// the optimizer copies its state and the values back to the host whenever they are read there.
/// </summary>
internal interface IDeviceOptimizer : IOptimizer
{
    /// <summary>Whether this optimizer, as configured, has a device update.</summary>
    bool CanStepOnDevice { get; }

    /// <summary>Updates every registered parameter on the device from its device gradient, then counts the step.</summary>
    /// <param name="store">The store that holds every registered parameter (the network checked this).</param>
    void StepOnDevice(ParameterStore store);

    /// <summary>As <see cref="IOptimizer.Step"/> on the host, the parameters' updates shared among the SIMD backend's
    /// threads where the optimizer allows.</summary>
    /// <param name="pool">The network's SIMD threads, or null.</param>
    void Step(Kernels.Simd.SimdPool? pool);
}
