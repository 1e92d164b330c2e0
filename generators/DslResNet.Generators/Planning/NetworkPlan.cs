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

/// <summary>The output of the <c>Plan</c> step.</summary>
/// <param name="Network">The shaped network.</param>
/// <param name="Groups">Fusion groups in execution order.</param>
/// <param name="Buffers">Inference buffers with arena offsets.</param>
/// <param name="InferenceBytesPerImage">Arena size per image for inference.</param>
/// <param name="TrainingBytesPerImage">Activation memory per image for training: tensors saved for backward plus gradient buffers.</param>
internal sealed record NetworkPlan(
    ShapedNetwork Network, EquatableArray<FusionGroup> Groups, EquatableArray<BufferSpec> Buffers,
    long InferenceBytesPerImage, long TrainingBytesPerImage);
