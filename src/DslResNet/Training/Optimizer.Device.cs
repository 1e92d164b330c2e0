using System;
using System.Collections.Generic;
using DslResNet.Runtime;

namespace DslResNet.Training;

// The device path of an optimizer: updates on the accelerator over the ParameterStore's buffers, with the optimizer's
// state kept there too, and the host copies (the state dictionaries and the store's host values behind the slots) made
// exact again whenever this class reads them: ExportState, FindNonFinite, a host Step, the store's disposal.
public abstract partial class Optimizer : IDeviceOptimizer
{
    private readonly HashSet<string> _deviceHasState = new(StringComparer.Ordinal);
    private ParameterStore? _deviceStore;
    private StateHome _home = StateHome.Host;

    // Where the newest optimizer state (and, for Device, the newest values) is.
    private enum StateHome
    {
        // The host dictionaries; the device buffers, if any, are stale.
        Host,

        // Both hold the same state.
        Synced,

        // The device buffers of _deviceStore; the host dictionaries and the store's host values are stale.
        Device,
    }

    /// <summary>Whether this optimizer has a device update (<see cref="UpdateOnDevice"/>); false for optimizers defined outside DslResNet.</summary>
    private protected virtual bool SupportsDevice => false;

    /// <inheritdoc />
    bool IDeviceOptimizer.CanStepOnDevice => SupportsDevice;

    /// <inheritdoc />
    void IDeviceOptimizer.Step(Kernels.Simd.SimdPool? pool) => Step(pool);

    /// <inheritdoc />
    void IDeviceOptimizer.StepOnDevice(ParameterStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!ReferenceEquals(store, _deviceStore))
        {
            // Another network's store (or the first device step): bring everything home, then start over on this one.
            SynchronizeToHost();
            _deviceStore = store;
            _home = StateHome.Host;
            store.BeforeDispose(() =>
            {
                if (ReferenceEquals(_deviceStore, store))
                {
                    SynchronizeToHost();
                    _deviceStore = null;
                    _home = StateHome.Host;
                }
            });
        }

        if (_home == StateHome.Host)
        {
            Upload(store);
        }

        long step = StepCount + 1;
        foreach (ParameterSlot parameter in Parameters)
        {
            if (UpdateOnDevice(parameter, step, store, _deviceHasState.Contains(parameter.Name)))
            {
                _deviceHasState.Add(parameter.Name);
            }
        }

        StepCount = step;
        _home = StateHome.Device;
        store.MarkHostValuesStale();
        store.Version.Advance();
    }

    /// <summary>Updates one parameter on the device (see <see cref="Update"/> for the host version, which it matches).</summary>
    /// <param name="parameter">The parameter.</param>
    /// <param name="step">The 1-based number of the step being taken.</param>
    /// <param name="store">The store holding the parameter's values, gradient and this optimizer's state buffers.</param>
    /// <param name="hasState">Whether the parameter's state buffers on the device hold its state (false: its first step).</param>
    /// <returns>Whether the parameter has state on the device after the update.</returns>
    private protected virtual bool UpdateOnDevice(ParameterSlot parameter, long step, ParameterStore store, bool hasState) =>
        throw new NotSupportedException($"{GetType().Name} has no device update.");

    /// <summary>Makes the host dictionaries and the slots' host values exact (copies from the device when it is ahead).</summary>
    private protected void SynchronizeToHost()
    {
        if (_home != StateHome.Device || _deviceStore is not { } store)
        {
            return;
        }

        foreach (ParameterSlot parameter in Parameters)
        {
            if (!_deviceHasState.Contains(parameter.Name))
            {
                continue;
            }

            foreach (string kind in BufferKinds)
            {
                float[] host = GetBuffer(kind, parameter.Name) ?? new float[parameter.Length];
                store.TransferOptimizerState(kind, parameter.Name, host, toDevice: false);
                SetBuffer(kind, parameter.Name, host);
            }
        }

        store.EnsureHostValues();
        _home = StateHome.Synced;
    }

    /// <summary>The host state changed (a host step or an import): the device copy is stale.</summary>
    private void HostChanged()
    {
        if (_deviceStore is not null)
        {
            _home = StateHome.Host;
        }
    }

    // Writes the host state to the store's device buffers.
    private void Upload(ParameterStore store)
    {
        _deviceHasState.Clear();
        foreach (ParameterSlot parameter in Parameters)
        {
            bool any = false;
            foreach (string kind in BufferKinds)
            {
                if (GetBuffer(kind, parameter.Name) is { } host)
                {
                    store.TransferOptimizerState(kind, parameter.Name, host, toDevice: true);
                    any = true;
                }
            }

            if (any)
            {
                _deviceHasState.Add(parameter.Name);
            }
        }

        _home = StateHome.Synced;
    }

    // While the device is ahead: whether its values and state are all finite, checked there (one int read back).
    private bool DeviceAllFinite()
    {
        ParameterStore store = _deviceStore!;
        List<ILGPU.ArrayView<float>> views = [store.AllValues];
        foreach (string kind in BufferKinds)
        {
            if (store.HasOptimizerState(kind))
            {
                views.Add(store.OptimizerState(kind));
            }
        }

        return !store.AnyNonFinite([.. views]);
    }
}
