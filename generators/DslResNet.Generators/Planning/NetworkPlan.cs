using DslResNet.Generators.Infrastructure;
using DslResNet.Generators.Shapes;

namespace DslResNet.Generators.Planning;

/// <summary>Layers that run as one pass.</summary>
/// <param name="Name">Name of the first layer.</param>
/// <param name="Pattern">The fused operations, e.g. <c>Conv+BatchNorm+Add+ReLU</c>.</param>
/// <param name="Layers">Layer indices in order.</param>
internal sealed record FusionGroup(string Name, string Pattern, EquatableArray<int> Layers);

/// <summary>An activation buffer of inference: the output of one fusion group, and when it is alive.</summary>
/// <param name="Group">The producing group.</param>
/// <param name="BytesPerImage">Size for one image (float32).</param>
/// <param name="FirstUse">The producing group's index.</param>
/// <param name="LastUse">The last group that reads it.</param>
/// <param name="Offset">Its offset per image in the shared arena; buffers alive at the same time never overlap.</param>
internal sealed record BufferSpec(int Group, long BytesPerImage, int FirstUse, int LastUse, long Offset);

/// <summary>Where one fusion group's tensors live at run time, in floats per image (scratch offsets are absolute).</summary>
/// <param name="ConvOutput">Training-arena offset of the convolution's output when the group continues after it (batch norm's input, kept for backward); -1 otherwise.</param>
/// <param name="Output">Training-arena offset of the group's output (its gradient has the same offset in the gradient arena).</param>
/// <param name="InferenceOutput">Inference-arena offset of the group's output.</param>
/// <param name="Statistics">Scratch offset of 4 x C floats of batch statistics when the group has batch norm; -1 otherwise.</param>
/// <param name="Folded">Scratch offset of the batch-norm-folded weights and bias when a convolution is followed by batch norm; -1 otherwise.</param>
internal sealed record GroupLayout(long ConvOutput, long Output, long InferenceOutput, long Statistics, long Folded);

/// <summary>The output of the <c>Plan</c> step.</summary>
/// <param name="Network">The shaped network.</param>
/// <param name="Groups">Fusion groups in execution order.</param>
/// <param name="Buffers">Inference buffers with arena offsets.</param>
/// <param name="InferenceBytesPerImage">Arena size per image for inference.</param>
/// <param name="TrainingBytesPerImage">Activation memory per image for training: the training and gradient arenas.</param>
/// <param name="Layouts">Each group's tensors, in group order.</param>
/// <param name="TrainingElementsPerImage">Floats per image of the training arena.</param>
/// <param name="GradientElementsPerImage">Floats per image of the gradient arena: the training arena's layout plus the input's gradient at <see cref="TrainingElementsPerImage"/>.</param>
/// <param name="ScratchElements">Floats of batch-independent scratch: batch statistics and folded weights.</param>
internal sealed record NetworkPlan(
    ShapedNetwork Network, EquatableArray<FusionGroup> Groups, EquatableArray<BufferSpec> Buffers,
    long InferenceBytesPerImage, long TrainingBytesPerImage, EquatableArray<GroupLayout> Layouts,
    long TrainingElementsPerImage, long GradientElementsPerImage, long ScratchElements);
