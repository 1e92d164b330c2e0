namespace DslResNet.Runtime;

/// <summary>Per-image sizes of a network's arenas, as the generator planned them.</summary>
/// <param name="TrainingElementsPerImage">Floats per image of the training arena (activations kept for backward).</param>
/// <param name="GradientElementsPerImage">Floats per image of the gradient arena (the gradients of the kept activations and of the input, sharing memory where their lifetimes in the backward pass do not overlap).</param>
/// <param name="InferenceElementsPerImage">Floats per image of the inference arena (buffers with disjoint lifetimes share memory).</param>
/// <param name="ScratchElements">Floats independent of the batch: batch statistics and batch-norm-folded weights.</param>
public sealed record NetworkLayout(long TrainingElementsPerImage, long GradientElementsPerImage, long InferenceElementsPerImage, long ScratchElements);
