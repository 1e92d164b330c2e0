using System;
using System.Collections.Generic;
using System.Linq;

namespace DslResNet;

/// <summary>What a parameter tensor is for. Names follow torchvision's <c>state_dict</c>.</summary>
public enum ParameterRole
{
    /// <summary>A convolution's or dense layer's weight (<c>.weight</c>).</summary>
    Weight,

    /// <summary>A convolution's or dense layer's bias (<c>.bias</c>).</summary>
    Bias,

    /// <summary>Batch norm's learned scale, gamma (<c>.weight</c>).</summary>
    BatchNormScale,

    /// <summary>Batch norm's learned shift, beta (<c>.bias</c>).</summary>
    BatchNormShift,

    /// <summary>Batch norm's running mean, a buffer (<c>.running_mean</c>).</summary>
    RunningMean,

    /// <summary>Batch norm's running (unbiased) variance, a buffer (<c>.running_var</c>).</summary>
    RunningVar,

    /// <summary>Batch norm's count of training batches, a scalar int64 buffer (<c>.num_batches_tracked</c>).</summary>
    BatchesTracked,
}

/// <summary>One tensor of the model's state, named as torchvision names it.</summary>
/// <param name="Name">Full name, e.g. <c>layer1.0.bn1.running_mean</c>.</param>
/// <param name="Layer">The layer it belongs to, e.g. <c>layer1.0.bn1</c>.</param>
/// <param name="Role">What it is for.</param>
/// <param name="Shape">Its dimensions (empty for a scalar).</param>
public sealed record ParameterInfo(string Name, string Layer, ParameterRole Role, int[] Shape)
{
    /// <summary>Number of elements.</summary>
    public long Elements => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>True for tensors the optimizer trains (weights, biases, BN scale and shift); false for buffers.</summary>
    public bool IsTrainable => Role is ParameterRole.Weight or ParameterRole.Bias or ParameterRole.BatchNormScale or ParameterRole.BatchNormShift;

    /// <summary>The shape as PyTorch prints it, e.g. <c>[16, 3, 3, 3]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    /// <inheritdoc />
    public bool Equals(ParameterInfo? other) =>
        other is not null && Name == other.Name && Layer == other.Layer && Role == other.Role && Shape.AsSpan().SequenceEqual(other.Shape);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Role, Shape.Length);
}

// LayerKind is defined in Operations.cs, shared with the generator.

/// <summary>One primitive layer of the network, in execution order.</summary>
/// <param name="Index">Position in <see cref="NetworkInfo.Layers"/>.</param>
/// <param name="Name">Full name, e.g. <c>layer2.0.downsample.0</c>.</param>
/// <param name="Kind">Operation kind.</param>
/// <param name="Operation">Operation with its settings, e.g. <c>Conv2d 3x3 s2 p1</c>.</param>
/// <param name="Inputs">Indices of the layers it reads (-1 is the network input); a residual add reads two.</param>
/// <param name="OutputShape">Shape of its output for one image.</param>
/// <param name="Parameters">Trainable parameters it owns.</param>
/// <param name="MultiplyAdds">Multiply-adds per image (convolutions and dense layers; 0 elsewhere).</param>
/// <param name="Flops">Forward FLOPs per image: 2 per multiply-add, plus one per element for element-wise work.</param>
/// <param name="Kernel">Kernel or window size (0 where none).</param>
/// <param name="Stride">Stride (0 where none).</param>
/// <param name="Padding">Padding (0 where none).</param>
/// <param name="Bias">Whether a convolution or dense layer adds a bias.</param>
/// <param name="Eps">Batch norm's epsilon (0 elsewhere).</param>
/// <param name="Momentum">Batch norm's running-statistics momentum (0 elsewhere).</param>
/// <param name="Rate">Dropout's rate (0 elsewhere).</param>
public sealed record LayerInfo(
    int Index, string Name, LayerKind Kind, string Operation, int[] Inputs, TensorShape OutputShape,
    long Parameters, long MultiplyAdds, long Flops, int Kernel, int Stride, int Padding,
    bool Bias = false, double Eps = 0, double Momentum = 0, double Rate = 0)
{
    /// <inheritdoc />
    public bool Equals(LayerInfo? other) =>
        other is not null && Index == other.Index && Name == other.Name && Kind == other.Kind && Operation == other.Operation
        && Inputs.AsSpan().SequenceEqual(other.Inputs) && OutputShape == other.OutputShape && Parameters == other.Parameters
        && MultiplyAdds == other.MultiplyAdds && Flops == other.Flops && Kernel == other.Kernel && Stride == other.Stride && Padding == other.Padding
        && Bias == other.Bias && Eps.Equals(other.Eps) && Momentum.Equals(other.Momentum) && Rate.Equals(other.Rate);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Index, Name, Kind);
}

/// <summary>
/// Layers that run as one pass: conv -> batch norm -> activation (-> residual add -> activation), as planned by the
/// generator. In inference the batch norm folds into the convolution.
/// </summary>
/// <param name="Name">Name of the group's first layer.</param>
/// <param name="Layers">Indices into <see cref="NetworkInfo.Layers"/>, in order.</param>
public sealed record FusionGroupInfo(string Name, int[] Layers)
{
    /// <inheritdoc />
    public bool Equals(FusionGroupInfo? other) => other is not null && Name == other.Name && Layers.AsSpan().SequenceEqual(other.Layers);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Layers.Length);
}

/// <summary>Everything the generator inferred about a network, available at run time as data.</summary>
/// <param name="Name">The network class's name.</param>
/// <param name="InputShape">Shape of one input image.</param>
/// <param name="OutputShape">Shape of one output (the logits).</param>
/// <param name="Layers">Primitive layers in execution order.</param>
/// <param name="Parameters">Parameter and buffer tensors, in torchvision's <c>state_dict</c> order.</param>
/// <param name="FusionGroups">The fusion plan.</param>
/// <param name="TrainingBytesPerImage">Activation memory per image when training (saved for backward, plus gradient buffers).</param>
/// <param name="InferenceBytesPerImage">Peak activation memory per image in inference, buffers with disjoint lifetimes sharing memory.</param>
public sealed record NetworkInfo(
    string Name, TensorShape InputShape, TensorShape OutputShape,
    IReadOnlyList<LayerInfo> Layers, IReadOnlyList<ParameterInfo> Parameters, IReadOnlyList<FusionGroupInfo> FusionGroups,
    long TrainingBytesPerImage, long InferenceBytesPerImage)
{
    /// <summary>Number of trainable parameters (buffers excluded), as <c>sum(p.numel() for p in model.parameters())</c>.</summary>
    public long ParameterCount => Parameters.Where(p => p.IsTrainable).Sum(p => p.Elements);

    /// <summary>Multiply-adds per image of the convolutions and dense layers, the figure the ResNet paper reports as "FLOPs".</summary>
    public long MultiplyAdds => Layers.Sum(l => l.MultiplyAdds);

    /// <summary>Forward FLOPs per image, 2 per multiply-add plus element-wise work.</summary>
    public long Flops => Layers.Sum(l => l.Flops);

    /// <summary>Finds a parameter by its torchvision name.</summary>
    /// <param name="name">e.g. <c>fc.weight</c>.</param>
    /// <exception cref="KeyNotFoundException">No parameter has that name; the message lists near names.</exception>
    public ParameterInfo Parameter(string name)
    {
        foreach (ParameterInfo p in Parameters)
        {
            if (p.Name == name)
            {
                return p;
            }
        }

        // Suggest names that share the longest dotted prefix with the one asked for (same layer, else same block, ...).
        string[] near = [];
        for (string prefix = name; near.Length == 0 && prefix.Length > 0; prefix = prefix.Contains('.', StringComparison.Ordinal) ? prefix[..prefix.LastIndexOf('.')] : string.Empty)
        {
            near = Parameters.Where(p => p.Name.StartsWith(prefix + ".", StringComparison.Ordinal)).Select(p => p.Name).Take(8).ToArray();
        }

        throw new KeyNotFoundException($"{Name} has no parameter named '{name}'." + (near.Length > 0 ? " Did you mean: " + string.Join(", ", near) + "?" : ""));
    }
}

/// <summary>Implemented by every generated network class: its facts, reachable from generic code.</summary>
public interface INetworkDefinition
{
    /// <summary>The generator's facts about the network.</summary>
    static abstract NetworkInfo Info { get; }

    /// <summary>A Keras-style summary table.</summary>
    static abstract string Summary();
}
