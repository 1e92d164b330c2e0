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

/// <summary>A gradient buffer of training, and when the backward pass uses it (group indices; backward runs them last to first).</summary>
/// <param name="Group">The group whose output (or convolution's output) it is the gradient of; -1 for the network's input.</param>
/// <param name="IsConvOutput">True for the gradient of the convolution's output inside a group (batch norm's input).</param>
/// <param name="Elements">Floats per image.</param>
/// <param name="FirstUse">The lowest group whose backward uses it (its own group: the last to read it).</param>
/// <param name="LastUse">The highest group whose backward uses it (the first to add into it).</param>
/// <param name="ClearBefore">The group before whose backward it is zeroed (the first to add into it); -1 when the loss writes it.</param>
/// <param name="Offset">Its offset per image in the gradient arena; buffers alive at the same time never overlap.</param>
/// <param name="IsUnkeptOutput">True for a group's output that is not kept (see <see cref="GroupLayout.OutputNotKept"/>), not a
/// gradient: it lives in the gradient arena over [Group, LastUse] in the forward pass and again in the backward pass, and is
/// never cleared (the forward pass and the recomputation write all of it).</param>
internal sealed record GradientBufferSpec(int Group, bool IsConvOutput, long Elements, int FirstUse, int LastUse, int ClearBefore, long Offset, bool IsUnkeptOutput = false);

/// <summary>Where one fusion group's tensors live at run time, in floats per image (scratch offsets are absolute).</summary>
/// <param name="ConvOutput">Training-arena offset of the convolution's output when the group continues after it (batch norm's input, kept for backward); -1 otherwise.</param>
/// <param name="Output">Training-arena offset of the group's output.</param>
/// <param name="InferenceOutput">Inference-arena offset of the group's output.</param>
/// <param name="Statistics">Scratch offset of 4 x C floats of batch statistics when the group has batch norm; -1 otherwise.</param>
/// <param name="Folded">Scratch offset of the batch-norm-folded weights and bias when a convolution is followed by batch norm; -1 otherwise.</param>
/// <param name="GradientConvOutput">Gradient-arena offset of the convolution output's gradient when <paramref name="ConvOutput"/> is kept; -1 otherwise.</param>
/// <param name="GradientOutput">Gradient-arena offset of the group output's gradient.</param>
/// <param name="OutputNotKept">True when the group's output is not kept for backward: it is a pass over the kept
/// convolution output (batch norm and an activation, no add), so it lives in the gradient arena while its readers run forward,
/// and is computed again from the convolution output right before the backward of its last reader whose backward reads it
/// (<paramref name="RecomputeBefore"/>; the group's own backward takes its activation's derivative from the convolution
/// output, and a fused add's backward or a zero-pad shortcut's reads no values); <paramref name="Output"/> is then a
/// gradient-arena offset. A zero-pad shortcut whose readers' backward reads no values is not kept either (and never
/// recomputed).</param>
/// <param name="RecomputeBefore">The group before whose backward the output is recomputed; -1 when it is kept or no backward
/// reads it.</param>
internal sealed record GroupLayout(long ConvOutput, long Output, long InferenceOutput, long Statistics, long Folded, long GradientConvOutput, long GradientOutput, bool OutputNotKept = false, int RecomputeBefore = -1);

/// <summary>The output of the <c>Plan</c> step.</summary>
/// <param name="Network">The shaped network.</param>
/// <param name="Groups">Fusion groups in execution order.</param>
/// <param name="Buffers">Inference buffers with arena offsets.</param>
/// <param name="InferenceBytesPerImage">Arena size per image for inference.</param>
/// <param name="TrainingBytesPerImage">Activation memory per image for training: the training and gradient arenas.</param>
/// <param name="Layouts">Each group's tensors, in group order.</param>
/// <param name="TrainingElementsPerImage">Floats per image of the training arena.</param>
/// <param name="GradientElementsPerImage">Floats per image of the gradient arena: the gradient buffers packed by their lifetimes in backward.</param>
/// <param name="ScratchElements">Floats of batch-independent scratch: batch statistics and folded weights.</param>
/// <param name="InputGradient">Gradient-arena offset of the input's gradient.</param>
/// <param name="Gradients">Every gradient buffer, ordered by the group before whose backward it is cleared, then offset.</param>
internal sealed record NetworkPlan(
    ShapedNetwork Network, EquatableArray<FusionGroup> Groups, EquatableArray<BufferSpec> Buffers,
    long InferenceBytesPerImage, long TrainingBytesPerImage, EquatableArray<GroupLayout> Layouts,
    long TrainingElementsPerImage, long GradientElementsPerImage, long ScratchElements, long InputGradient,
    EquatableArray<GradientBufferSpec> Gradients);
