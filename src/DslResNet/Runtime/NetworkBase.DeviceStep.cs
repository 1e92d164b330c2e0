namespace DslResNet.Runtime;

// NetworkBase's choice between the host optimizer step and the device one.
public abstract partial class NetworkBase
{
    private bool _checkedOptimizerOnStore;

    /// <summary>
    /// Whether <see cref="TrainStep"/> may update the parameters on the device where it can (default true); false always
    /// takes the host path (tests compare the two).
    /// </summary>
    internal bool OptimizerOnDevice { get; set; } = true;

    /// <summary>
    /// Whether this step updates the parameters on the device: on an ILGPU accelerator (on the SIMD device the host copy
    /// is the device memory's twin and costs nothing to reach), without distributed training (which averages the gradients
    /// on the host), with an optimizer that has a device update (<see cref="IDeviceOptimizer"/>: Sgd, AdamW) and whose
    /// every slot is this network's store (as <see cref="AddParametersTo"/> makes them). The non-finite checks run on the
    /// device then; only when one fires does the step fall back to the host path, which names the culprit.
    /// </summary>
    /// <param name="optimizer">The step's optimizer (already checked).</param>
    /// <returns>True for the device path.</returns>
    private bool StepsOnDevice(IOptimizer optimizer) =>
        OptimizerOnDevice && _reducer is null && Store.OnAccelerator && _checkedOptimizerOnStore &&
        optimizer is IDeviceOptimizer { CanStepOnDevice: true };
}
