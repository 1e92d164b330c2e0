using System;
using System.Collections.Generic;

namespace DslResNet.Runtime;

/// <summary>
/// The passes of a network as data: the generated constructor registers one step per fusion group, in execution order,
/// and the four passes (training forward, backward, inference forward, batch-norm folding) are loops over that list.
/// So the generated code only builds and wires operations (and repeated blocks build theirs in a loop); no pass is
/// written out per network.
/// </summary>
public abstract partial class NetworkBase
{
    private readonly List<GroupStep> _steps = [];

    /// <summary>
    /// Registers a convolution (or dense) fusion group: the convolution, optionally followed by its fused
    /// normalise/add/activate pass, the batch-norm folding for inference, and the inference convolution and pass.
    /// The network owns every operation given. A training epilogue with batch norm takes its statistics from the
    /// convolution's store loop; an inference epilogue runs in the inference convolution's store.
    /// </summary>
    /// <param name="group">The group's index in <see cref="NetworkInfo.FusionGroups"/>.</param>
    /// <param name="readsNetworkInput">True when the group reads the network's input: its input gradient is computed
    /// only when <see cref="ComputeInputGradient"/> asks for it.</param>
    /// <param name="convolution">The training convolution.</param>
    /// <param name="epilogue">The training pass after it; null when the group is the convolution alone.</param>
    /// <param name="fold">Folds the group's batch norm into inference weights; null without batch norm.</param>
    /// <param name="inferenceConvolution">The inference convolution.</param>
    /// <param name="inferenceEpilogue">The inference pass after it; null when there is none.</param>
    protected void AddConvolution(int group, bool readsNetworkInput, ConvOp convolution, EpilogueOp? epilogue, FoldOp? fold,
        ConvOp inferenceConvolution, EpilogueOp? inferenceEpilogue)
    {
        ArgumentNullException.ThrowIfNull(convolution);
        ArgumentNullException.ThrowIfNull(inferenceConvolution);
        if (fold is not null)
        {
            if (epilogue is null)
            {
                throw new ArgumentException($"group {group}: batch norm needs the training epilogue that applies it.", nameof(epilogue));
            }

            convolution.FuseStatistics(epilogue);
        }

        if (inferenceEpilogue is not null)
        {
            inferenceConvolution.FuseEpilogue(inferenceEpilogue);
        }

        // The inference weights change with this network's parameters only (an optimizer step, a restore, a fold).
        inferenceConvolution.Bind(Store.Version);
        fold?.Bind(Store.Version);

        Own(convolution, inferenceConvolution);
        OwnIfAny(epilogue, fold, inferenceEpilogue);
        _steps.Add(new ConvolutionStep(group, readsNetworkInput, convolution, epilogue, fold, inferenceConvolution, inferenceEpilogue));
    }

    /// <summary>Registers a stand-alone batch norm, activation or residual add (training and inference operations).</summary>
    /// <param name="group">The group's index.</param>
    /// <param name="training">The training operation.</param>
    /// <param name="inference">The inference operation.</param>
    protected void AddStep(int group, EpilogueOp training, EpilogueOp inference) =>
        AddSimple(group, training, inference, training.Forward, training.Backward, inference.Forward);

    /// <summary>Registers a pooling layer.</summary>
    /// <param name="group">The group's index.</param>
    /// <param name="training">The training operation.</param>
    /// <param name="inference">The inference operation.</param>
    protected void AddStep(int group, PoolOp training, PoolOp inference) =>
        AddSimple(group, training, inference, training.Forward, training.Backward, inference.Forward);

    /// <summary>Registers an option-A shortcut (subsample and zero-pad channels).</summary>
    /// <param name="group">The group's index.</param>
    /// <param name="training">The training operation.</param>
    /// <param name="inference">The inference operation.</param>
    protected void AddStep(int group, ShortcutOp training, ShortcutOp inference) =>
        AddSimple(group, training, inference, training.Forward, training.Backward, inference.Forward);

    /// <summary>Registers a flatten (a copy into the flat layout).</summary>
    /// <param name="group">The group's index.</param>
    /// <param name="training">The training operation.</param>
    /// <param name="inference">The inference operation.</param>
    protected void AddStep(int group, CopyOp training, CopyOp inference) =>
        AddSimple(group, training, inference, training.Forward, training.Backward, inference.Forward);

    /// <summary>Registers a dropout layer: masks drawn per training step; a copy in inference.</summary>
    /// <param name="group">The group's index.</param>
    /// <param name="training">The training operation.</param>
    /// <param name="inference">The inference operation.</param>
    protected void AddStep(int group, DropoutOp training, CopyOp inference) =>
        AddSimple(group, training, inference, () => training.Forward(Step), () => training.Backward(Step), inference.Forward);

    private void AddSimple(int group, IDisposable training, IDisposable inference, Action forward, Action backward, Action<int> infer)
    {
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(inference);
        Own(training, inference);
        _steps.Add(new SimpleStep(group, forward, backward, infer));
    }

    private void OwnIfAny(params IDisposable?[] operations)
    {
        foreach (IDisposable? op in operations)
        {
            if (op is not null)
            {
                Own(op);
            }
        }
    }

    /// <summary>The training forward: reads <see cref="InputView"/>, writes <see cref="TrainingOutput"/>.</summary>
    private void ForwardTraining()
    {
        foreach (GroupStep step in _steps)
        {
            step.Forward();
            TraceForward(step.Group);
        }
    }

    /// <summary>The backward: from <see cref="TrainingOutputGradient"/> to every parameter's gradient.</summary>
    /// <param name="inputGradient">Whether to compute the input's gradient too.</param>
    private void BackwardTraining(bool inputGradient)
    {
        for (int i = _steps.Count - 1; i >= 0; i--)
        {
            GroupStep step = _steps[i];
            step.Backward(inputGradient);
            TraceBackward(step.Group);
        }
    }

    /// <summary>The evaluation forward, batch norm folded: reads <see cref="InputView"/>, writes <see cref="InferenceOutput"/>.</summary>
    /// <param name="images">The images to run (at most the batch size).</param>
    private void ForwardInference(int images)
    {
        foreach (GroupStep step in _steps)
        {
            step.Infer(images);
        }
    }

    /// <summary>Folds every convolution's batch norm into the inference weights.</summary>
    private void FoldBatchNorm()
    {
        foreach (GroupStep step in _steps)
        {
            step.Fold();
        }
    }

    /// <summary>One fusion group's share of each pass.</summary>
    private abstract class GroupStep(int group)
    {
        public int Group { get; } = group;

        public abstract void Forward();

        public abstract void Backward(bool inputGradient);

        public abstract void Infer(int images);

        public virtual void Fold()
        {
        }
    }

    private sealed class ConvolutionStep(int group, bool readsNetworkInput, ConvOp conv, EpilogueOp? epilogue, FoldOp? fold,
        ConvOp inferenceConv, EpilogueOp? inferenceEpilogue) : GroupStep(group)
    {
        public override void Forward()
        {
            conv.Forward();
            epilogue?.Forward();
        }

        public override void Backward(bool inputGradient)
        {
            epilogue?.Backward();
            conv.Backward(data: !readsNetworkInput || inputGradient);
        }

        public override void Infer(int images)
        {
            inferenceConv.Forward(images);
            inferenceEpilogue?.Forward(images);
        }

        public override void Fold() => fold?.Run();
    }

    private sealed class SimpleStep(int group, Action forward, Action backward, Action<int> infer) : GroupStep(group)
    {
        public override void Forward() => forward();

        public override void Backward(bool inputGradient) => backward();

        public override void Infer(int images) => infer(images);
    }
}
