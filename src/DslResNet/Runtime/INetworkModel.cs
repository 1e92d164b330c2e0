using System;
using DslResNet.IO;

namespace DslResNet.Runtime;

/// <summary>The outcome of a training step or an evaluation batch.</summary>
/// <param name="Loss">Mean softmax cross-entropy over the batch's images.</param>
/// <param name="Correct">Images whose highest logit is their label.</param>
/// <param name="Count">Images in the batch.</param>
public readonly record struct BatchResult(double Loss, int Correct, int Count)
{
    /// <summary>The share of images classified correctly, 0 to 1 (0 for an empty batch).</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;
}

/// <summary>Options fixed when a network is built on a device.</summary>
/// <param name="Seed">Seeds parameter initialisation and dropout masks.</param>
/// <param name="ZeroInitResidual">Start each residual block's last batch-norm scale at 0 (torchvision's <c>zero_init_residual</c>).</param>
public sealed record NetworkOptions(int Seed = 0, bool ZeroInitResidual = false)
{
    /// <summary>The defaults: seed 0, batch-norm scales 1.</summary>
    public static NetworkOptions Default { get; } = new();
}

/// <summary>Device memory a built network holds, in bytes.</summary>
/// <param name="BatchSize">The batch size the network was built for.</param>
/// <param name="ParameterBytes">Parameters, batch-norm buffers and their gradients.</param>
/// <param name="TrainingArenaBytes">The training arena: activations saved for backward and gradient buffers (shared where lifetimes allow).</param>
/// <param name="InferenceArenaBytes">The inference arena: activations of an evaluation pass (shared where lifetimes allow).</param>
public sealed record MemoryReport(int BatchSize, long ParameterBytes, long TrainingArenaBytes, long InferenceArenaBytes)
{
    /// <summary>Everything together.</summary>
    public long TotalBytes => ParameterBytes + TrainingArenaBytes + InferenceArenaBytes;
}

/// <summary>
/// A network built on a <see cref="Device"/> for a fixed batch size: what the generator emits for every
/// <c>[Network]</c> class, and what the training loop drives. Used by one thread at a time: a call made while another
/// is running throws <see cref="InvalidOperationException"/> naming both (see <see cref="NetworkBase"/>).
/// </summary>
public interface INetworkModel : IDisposable, ICheckpointSource
{
    /// <summary>The device it runs on.</summary>
    Device Device { get; }

    /// <summary>The most images one call takes (training steps take exactly this many).</summary>
    int BatchSize { get; }

    /// <summary>Whether batch norm uses batch statistics and dropout drops (training mode) or not (evaluation mode).</summary>
    bool IsTraining { get; }

    /// <summary>Device memory held.</summary>
    MemoryReport Memory { get; }

    /// <summary>Switches to training mode.</summary>
    void Train();

    /// <summary>Switches to evaluation mode (running statistics; batch norm folded into convolutions).</summary>
    void Eval();

    /// <summary>
    /// One optimisation step in training mode: forward, softmax cross-entropy, backward, <paramref name="optimizer"/>'s step.
    /// </summary>
    /// <param name="images">Exactly <see cref="BatchSize"/> images, N x C x H x W.</param>
    /// <param name="labels">One label per image.</param>
    /// <param name="optimizer">An optimizer the parameters were added to with <see cref="AddParametersTo"/>.</param>
    /// <returns>The batch's loss and accuracy before the update.</returns>
    /// <exception cref="TrainingDivergedException">The loss or a gradient is NaN or infinite; nothing was updated.</exception>
    BatchResult TrainStep(ReadOnlySpan<float> images, ReadOnlySpan<int> labels, IOptimizer optimizer);

    /// <summary>Loss and accuracy of up to <see cref="BatchSize"/> images in evaluation mode, parameters untouched.</summary>
    /// <param name="images">The images, N x C x H x W.</param>
    /// <param name="labels">One label per image.</param>
    /// <returns>The batch's loss and accuracy.</returns>
    BatchResult Evaluate(ReadOnlySpan<float> images, ReadOnlySpan<int> labels);

    /// <summary>Logits of up to <see cref="BatchSize"/> images in evaluation mode.</summary>
    /// <param name="images">The images, N x C x H x W.</param>
    /// <param name="logits">N x classes outputs.</param>
    void Predict(ReadOnlySpan<float> images, Span<float> logits);

    /// <summary>Registers every trainable parameter (and its gradient) with an optimizer, by torchvision name.</summary>
    /// <param name="optimizer">The optimizer.</param>
    void AddParametersTo(IOptimizer optimizer);


    /// <summary>Loads parameters and batch-norm buffers from a checkpoint made for this network.</summary>
    /// <param name="checkpoint">The checkpoint.</param>
    /// <exception cref="CheckpointException">Names or shapes differ from the network's; the message lists them.</exception>
    void ImportCheckpoint(Checkpoint checkpoint);
}

/// <summary>Training produced a NaN or infinite value; names where it first appeared.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="step">The 1-based training step.</param>
    /// <param name="location">Where the first non-finite value appeared, e.g. <c>forward of layer3.2.conv2</c>.</param>
    /// <param name="loss">The step's loss.</param>
    public TrainingDivergedException(long step, string location, double loss)
        : base($"Training diverged at step {step}: the loss is {loss}; the first non-finite value appeared in the {location}. " +
               "Lower the learning rate or add warm-up.")
    {
        Step = step;
        Location = location;
        Loss = loss;
    }

    /// <summary>The 1-based training step.</summary>
    public long Step { get; }

    /// <summary>Where the first non-finite value appeared.</summary>
    public string Location { get; }

    /// <summary>The step's loss.</summary>
    public double Loss { get; }
}
