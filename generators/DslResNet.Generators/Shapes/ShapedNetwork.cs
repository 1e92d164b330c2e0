using DslResNet.Generators.Diagnostics;
using DslResNet.Generators.Infrastructure;
using DslResNet.Generators.Model;

namespace DslResNet.Generators.Shapes;

/// <summary>One image's tensor shape: C x H x W, or a flat vector of <see cref="C"/> features.</summary>
internal sealed record Shape(int C, int H, int W, bool Flat)
{
    /// <summary>Elements per image.</summary>
    public long Elements => (long)C * H * W;

    /// <summary>C# that builds the runtime's <c>TensorShape</c>.</summary>
    public string ToCode() => Flat
        ? $"global::DslResNet.TensorShape.Flat({C})"
        : $"global::DslResNet.TensorShape.Image({C}, {H}, {W})";

    /// <inheritdoc />
    public override string ToString() => Flat ? $"({C})" : $"({C}, {H}, {W})";
}

/// <summary>Mirror of the runtime's <c>DslResNet.ParameterRole</c>; names must stay equal.</summary>
internal enum ParameterRole
{
    Weight, Bias, BatchNormScale, BatchNormShift, RunningMean, RunningVar, BatchesTracked,
}

/// <summary>A primitive layer with everything inferred: the unit that later stages plan and emit.</summary>
/// <param name="Index">Execution order.</param>
/// <param name="Name">Full torchvision-style name (<c>layer2.0.downsample.0</c>).</param>
/// <param name="Kind">Operation.</param>
/// <param name="Operation">Operation with settings, for tables.</param>
/// <param name="Inputs">Producer indices; -1 is the network input.</param>
/// <param name="Input">Shape of the (first) input.</param>
/// <param name="Output">Shape of the output.</param>
/// <param name="Parameters">Trainable parameters.</param>
/// <param name="MultiplyAdds">Multiply-adds per image.</param>
/// <param name="Flops">FLOPs per image (2 per multiply-add, 1 per element-wise operation).</param>
/// <param name="Kernel">Kernel or window.</param>
/// <param name="Stride">Stride.</param>
/// <param name="Padding">Padding.</param>
/// <param name="Bias">Convolution or dense bias.</param>
/// <param name="Eps">Batch norm epsilon.</param>
/// <param name="Momentum">Batch norm momentum.</param>
/// <param name="Rate">Dropout rate.</param>
/// <param name="Member">The network member (field) it comes from: a stage's layers share the stage's name.</param>
/// <param name="OnShortcut">True for the layers of a projection or zero-pad shortcut.</param>
internal sealed record ShapedLayer(
    int Index, string Name, LayerKind Kind, string Operation, EquatableArray<int> Inputs, Shape Input, Shape Output,
    long Parameters, long MultiplyAdds, long Flops, int Kernel, int Stride, int Padding, bool Bias,
    double Eps, double Momentum, double Rate, string Member, bool OnShortcut, int Groups = 1);

/// <summary>One tensor of the state dict.</summary>
internal sealed record ParameterSpec(string Name, string Layer, ParameterRole Role, EquatableArray<int> Shape)
{
    /// <summary>Elements.</summary>
    public long Elements
    {
        get
        {
            long n = 1;
            foreach (int d in Shape)
            {
                n *= d;
            }

            return n;
        }
    }

    /// <summary>Trained by the optimizer (not a buffer).</summary>
    public bool IsTrainable => Role is ParameterRole.Weight or ParameterRole.Bias or ParameterRole.BatchNormScale or ParameterRole.BatchNormShift;
}

/// <summary>A row of the compact table: one declared member of the network (a stage summed over its blocks).</summary>
internal sealed record MemberRow(string Name, string Operation, Shape Output, long Parameters, long Flops);

/// <summary>The name and place of the generated class.</summary>
internal sealed record NetworkIdentity(string FullName, string Name, string Namespace, EquatableArray<ContainingTypeSpec> ContainingTypes);

/// <summary>The output of the <c>Shapes</c> step: the network as a graph of primitive layers with every shape known.</summary>
internal sealed record ShapedNetwork(
    NetworkIdentity Identity, Shape Input, Shape Output, EquatableArray<ShapedLayer> Layers, EquatableArray<ParameterSpec> Parameters,
    EquatableArray<MemberRow> Members, EquatableArray<DiagnosticInfo> Diagnostics)
{
    /// <summary>Whether an error stops generation.</summary>
    public bool HasErrors
    {
        get
        {
            foreach (DiagnosticInfo d in Diagnostics)
            {
                if (d.IsError)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Trainable parameters.</summary>
    public long ParameterCount
    {
        get
        {
            long n = 0;
            foreach (ParameterSpec p in Parameters)
            {
                n += p.IsTrainable ? p.Elements : 0;
            }

            return n;
        }
    }
}
