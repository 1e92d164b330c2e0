using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DslResNet.Parity;

/// <summary>
/// Runs any DslResNet network, read only from its <see cref="NetworkInfo"/> (the layer table and the torchvision-named
/// parameters), with libtorch's functional operations on leaf tensors, so that the reference is PyTorch itself rather
/// than a second hand-written model. The semantics are those of the PyTorch modules the layer table names: Conv2d
/// (bias only with <c>Bias</c>), BatchNorm (training: batch statistics, running statistics updated with the layer's
/// momentum and the unbiased variance, num_batches_tracked incremented; evaluation: running statistics), ReLU / Tanh /
/// Sigmoid / GELU (exact) / SiLU, the residual add, the option-A shortcut of the CIFAR ResNet paper (x[:, :, ::s, ::s], then the channels
/// zero-padded with (Co - Ci) / 2 before and the rest after), MaxPool2d, AvgPool2d (count_include_pad), global average
/// pooling (adaptive_avg_pool2d to 1 x 1), Flatten, Linear (flattening its input as torchvision's forward does) and
/// Dropout (identity in evaluation; training with a non-zero rate is not comparable and throws).
/// </summary>
public sealed class TorchInterpreter
{
    private readonly Dictionary<string, Tensor> _state = new(StringComparer.Ordinal);

    /// <summary>An interpreter of <paramref name="info"/> computing in <paramref name="dtype"/> (float32 as DslResNet; float64 for a reference of the reference).</summary>
    public TorchInterpreter(NetworkInfo info, ScalarType dtype = ScalarType.Float32)
    {
        Info = info;
        DType = dtype;
    }

    public ScalarType DType { get; }

    public NetworkInfo Info { get; }

    /// <summary>The trainable parameters, in state_dict order, as torch.optim parameters.</summary>
    public List<Parameter> Trainable { get; } = [];

    /// <summary>Every tensor by torchvision name (trainables are the <see cref="Trainable"/> parameters).</summary>
    public IReadOnlyDictionary<string, Tensor> State => _state;

    /// <summary>Loads every tensor by name from a source of float values (num_batches_tracked from <paramref name="batchesTracked"/>).</summary>
    public void Load(Func<string, float[]> values, Func<string, long> batchesTracked)
    {
        _state.Clear();
        Trainable.Clear();
        foreach (ParameterInfo p in Info.Parameters)
        {
            long[] shape = p.Shape.Select(d => (long)d).ToArray();
            if (p.Role == ParameterRole.BatchesTracked)
            {
                _state[p.Name] = torch.tensor(batchesTracked(p.Name), ScalarType.Int64);
                continue;
            }

            float[] data = values(p.Name);
            if (data.Length != p.Elements)
            {
                throw new ArgumentException($"{p.Name}: {data.Length} values for shape {p.ShapeText}.");
            }

            Tensor t = torch.tensor(data, shape, ScalarType.Float32).to(DType);
            if (p.IsTrainable)
            {
                Parameter parameter = new(t, requires_grad: true);
                Trainable.Add(parameter);
                _state[p.Name] = parameter;
            }
            else
            {
                _state[p.Name] = t;
            }
        }
    }

    /// <summary>The values of a tensor, flattened.</summary>
    public float[] Values(string name) => Floats(_state[name]);

    /// <summary>num_batches_tracked of a batch-norm layer.</summary>
    public long BatchesTracked(string name) => _state[name].item<long>();

    /// <summary>The gradient of a trainable parameter after a backward.</summary>
    public float[] Gradient(string name) =>
        _state[name].grad is { } g ? Floats(g) : throw new InvalidOperationException($"{name} has no gradient (is it used?).");

    public static float[] Floats(Tensor t) => t.detach().to(ScalarType.Float32).contiguous().cpu().data<float>().ToArray();

    /// <summary>Runs the network on a batch (N x C x H x W) and returns the logits.</summary>
    /// <param name="input">The batch.</param>
    /// <param name="training">Training mode (batch statistics, running statistics updated).</param>
    /// <param name="evalNorm">Batch-norm layers (by name) kept in eval mode in a training pass, as <c>bn.eval()</c> inside a <c>train()</c> network.</param>
    public Tensor Forward(Tensor input, bool training, Func<string, bool>? evalNorm = null)
    {
        input = input.to(DType);
        Tensor[] outputs = new Tensor[Info.Layers.Count];
        Tensor In(int index) => index < 0 ? input : outputs[index];
        long n = input.shape[0];
        foreach (LayerInfo layer in Info.Layers)
        {
            Tensor x = In(layer.Inputs[0]);
            Tensor y = layer.Kind switch
            {
                LayerKind.Conv => F.conv2d(
                    x, _state[layer.Name + ".weight"], layer.Bias ? _state[layer.Name + ".bias"] : null,
                    strides: [layer.Stride, layer.Stride], padding: [layer.Padding, layer.Padding],
                    groups: x.shape[1] / _state[layer.Name + ".weight"].shape[1]), // torch.nn.Conv2d's weight is [out, in / groups, k, k]
                LayerKind.BatchNorm => BatchNorm(layer, x, training && evalNorm?.Invoke(layer.Name) != true),
                LayerKind.ReLU => F.relu(x),
                LayerKind.Tanh => torch.tanh(x),
                LayerKind.Sigmoid => torch.sigmoid(x),
                LayerKind.GELU => F.gelu(x), // exact erf form, torch.nn.GELU()'s default
                LayerKind.SiLU => F.silu(x),
                LayerKind.Add => x + In(layer.Inputs[1]),
                LayerKind.ChannelScale => x * In(layer.Inputs[1]), // N x C x H x W times N x C x 1 x 1, broadcast
                LayerKind.ZeroPadShortcut => ZeroPad(layer, x),
                LayerKind.MaxPool => F.max_pool2d(x, [layer.Kernel, layer.Kernel], [layer.Stride, layer.Stride], [layer.Padding, layer.Padding]),
                LayerKind.AvgPool => F.avg_pool2d(x, [layer.Kernel, layer.Kernel], [layer.Stride, layer.Stride], [layer.Padding, layer.Padding], ceil_mode: false, count_include_pad: true),
                LayerKind.GlobalAvgPool => F.adaptive_avg_pool2d(x, [1, 1]),
                LayerKind.Flatten => x.flatten(1),
                LayerKind.Dense => F.linear(x.dim() > 2 ? x.flatten(1) : x, _state[layer.Name + ".weight"], layer.Bias ? _state[layer.Name + ".bias"] : null),
                LayerKind.Dropout => training && layer.Rate > 0
                    ? throw new InvalidOperationException($"{layer.Name}: dropout with rate {layer.Rate} in training mode draws masks DslResNet cannot share; compare in evaluation mode.")
                    : x,
                _ => throw new NotSupportedException($"{layer.Name}: layer kind {layer.Kind} has no TorchSharp counterpart here."),
            };

            // Every layer's output has the shape the generator inferred: a check on both the interpreter and the table.
            long[] expected = [n, .. layer.OutputShape.Dimensions.Select(d => (long)d)];
            long[] actual = y.shape;
            bool sameElements = expected.Aggregate(1L, (a, b) => a * b) == actual.Aggregate(1L, (a, b) => a * b);
            if (!sameElements || (!layer.OutputShape.IsFlat && !expected.SequenceEqual(actual)))
            {
                throw new InvalidOperationException($"{layer.Name} ({layer.Kind}): TorchSharp gives [{string.Join(", ", actual)}], the layer table says [{string.Join(", ", expected)}].");
            }

            outputs[layer.Index] = y;
        }

        Tensor logits = outputs[^1];
        return logits.dim() > 2 ? logits.flatten(1) : logits;
    }

    private Tensor BatchNorm(LayerInfo layer, Tensor x, bool training)
    {
        string n = layer.Name;
        Tensor y = F.batch_norm(
            x, _state[n + ".running_mean"], _state[n + ".running_var"], _state[n + ".weight"], _state[n + ".bias"],
            training, layer.Momentum, layer.Eps);
        if (training)
        {
            // nn.BatchNorm2d.forward increments num_batches_tracked (the functional form leaves it to the module).
            _state[n + ".num_batches_tracked"] = _state[n + ".num_batches_tracked"] + 1;
        }

        return y;
    }

    private static Tensor ZeroPad(LayerInfo layer, Tensor x)
    {
        long s = layer.Stride;
        Tensor sub = s == 1 ? x : x[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(null, null, s), TensorIndex.Slice(null, null, s)];
        long ci = x.shape[1];
        long co = layer.OutputShape.Channels;
        long before = (co - ci) / 2;
        long after = co - ci - before;
        return F.pad(sub, [0, 0, 0, 0, before, after]);
    }
}
