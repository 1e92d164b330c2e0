using System;
using System.Linq;
using DslResNet.Kernels;

namespace DslResNet.Runtime;

// NetworkBase's hooks for data-parallel training (see DslResNet.Distributed.DistributedTraining).
public abstract partial class NetworkBase
{
    private GradientReducer? _reducer;
    private long _dropoutStream;

    /// <summary>The step dropout draws its masks from: the step itself, offset per rank in distributed training so that
    /// ranks draw different masks.</summary>
    private long DropoutStep => Step ^ _dropoutStream;

    /// <summary>The gradient reducer of distributed training, or null.</summary>
    internal GradientReducer? Reducer => _reducer;

    /// <summary>Whether distributed training is attached.</summary>
    internal bool IsDistributed => _reducer is not null;

    /// <summary>
    /// Attaches distributed training: averaged gradients from every training step on, batch norm synchronised when
    /// asked, and per-rank dropout masks.
    /// </summary>
    internal void AttachDistributed(ICommunicator comm, bool synchronizedBatchNorm, int bucketFloats)
    {
        if (_reducer is not null)
        {
            throw new InvalidOperationException($"{Definition.Name}: distributed training is already attached to this network.");
        }

        foreach (GroupStep step in _steps)
        {
            if (step.Norm is { } norm)
            {
                norm.Kernel.Synchronized = synchronizedBatchNorm ? comm : null;
            }
        }

        _dropoutStream = (long)comm.Rank << 40;
        _reducer = new GradientReducer(comm, Store, StepOfLayer, Synchronize, bucketFloats);
    }

    /// <summary>The index of the step whose backward pass writes a layer's parameter gradients.</summary>
    internal int StepOfLayer(string layer)
    {
        for (int i = 0; i < _steps.Count; i++)
        {
            if (Definition.FusionGroups[_steps[i].Group].Layers.Any(l => Definition.Layers[l].Name == layer))
            {
                return i;
            }
        }

        // A parameter outside every group (none today): ready only at the end of the backward pass.
        return 0;
    }
}
