using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace DslResNet.IO;

// The translation of each layer kind: one method per kind, each checking what its operator computes.
internal sealed partial class OnnxGraphBuilder
{
    private Value Conv(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        RequireImage(layer, x);
        RequireWindow(layer);
        float[] weight = Tensor(layer, ParameterRole.Weight, out int[] wShape);
        int co = layer.OutputShape.Channels;
        // A grouped convolution's weight is [out, in / groups, k, k]: its groups are read off the weight's second dimension.
        int groups = wShape.Length == 4 && wShape[1] > 0 && x.Shape.Channels % wShape[1] == 0 ? x.Shape.Channels / wShape[1] : 0;
        if (wShape.Length != 4 || wShape[0] != co || groups < 1 || co % groups != 0 || wShape[2] != layer.Kernel || wShape[3] != layer.Kernel)
        {
            throw Fail(layer, $"its weight has shape [{string.Join(", ", wShape)}]; a {layer.Kernel}x{layer.Kernel} convolution from {x.Shape.Channels} to {co} channels in g groups needs [{co}, {x.Shape.Channels} / g, {layer.Kernel}, {layer.Kernel}], g dividing both channel counts.");
        }

        float[]? bias = layer.Bias ? Vector(layer, ParameterRole.Bias, co) : null;
        TensorShape shape = TensorShape.Image(co, Window(layer, x.Shape.Height), Window(layer, x.Shape.Width));
        Expect(layer, shape);

        string weightName, output;
        string? biasName = null;
        if (_foldInto.TryGetValue(layer.Index, out int bnIndex))
        {
            LayerInfo bn = _network.Layers[bnIndex];
            (float[] scale, float[] shift) = BatchNormAffine(bn, co);
            float[] folded = new float[weight.Length];
            int perChannel = weight.Length / co;
            float[] foldedBias = new float[co];
            for (int c = 0; c < co; c++)
            {
                for (int k = 0; k < perChannel; k++)
                {
                    folded[(c * perChannel) + k] = weight[(c * perChannel) + k] * scale[c];
                }

                foldedBias[c] = ((bias?[c] ?? 0f) * scale[c]) + shift[c];
            }

            weightName = Initializer(layer.Name + ".weight_folded", wShape.Select(d => (long)d).ToArray(), folded);
            biasName = Initializer(layer.Name + ".bias_folded", [co], foldedBias);
            output = bn.Name; // the batch norm's output: nothing else reads the convolution's own
        }
        else
        {
            weightName = Initializer(ParameterName(layer, ParameterRole.Weight), wShape.Select(d => (long)d).ToArray(), weight);
            if (bias is not null)
            {
                biasName = Initializer(ParameterName(layer, ParameterRole.Bias), [co], bias);
            }

            output = layer.Name;
        }

        string[] inputs = biasName is null ? [x.Name, weightName] : [x.Name, weightName, biasName];
        OnnxAttribute[] attributes =
        [
            OnnxAttribute.IntList("kernel_shape", layer.Kernel, layer.Kernel),
            OnnxAttribute.IntList("strides", layer.Stride, layer.Stride),
            OnnxAttribute.IntList("pads", layer.Padding, layer.Padding, layer.Padding, layer.Padding),
        ];

        // "group" only when grouped (ONNX's default is 1), so dense convolutions export byte for byte as before.
        return Emit(output, "Conv", inputs, 4, shape, groups == 1 ? attributes : [.. attributes, OnnxAttribute.Int("group", groups)]);
    }

    // Evaluation-mode batch norm as y = scale * x + shift per channel, computed in double: what folding multiplies in.
    private (float[] Scale, float[] Shift) BatchNormAffine(LayerInfo bn, int channels)
    {
        RequireEps(bn);
        float[] gamma = Vector(bn, ParameterRole.BatchNormScale, channels);
        float[] beta = Vector(bn, ParameterRole.BatchNormShift, channels);
        float[] mean = Vector(bn, ParameterRole.RunningMean, channels);
        float[] var = Vector(bn, ParameterRole.RunningVar, channels);
        float[] scale = new float[channels];
        float[] shift = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double s = gamma[c] / Math.Sqrt(var[c] + bn.Eps);
            scale[c] = (float)s;
            shift[c] = (float)(beta[c] - (mean[c] * s));
        }

        return (scale, shift);
    }

    private Value BatchNorm(LayerInfo layer)
    {
        if (_foldedFrom.ContainsKey(layer.Index))
        {
            Value conv = _values[layer.Inputs[0]]!; // already named after this layer
            Expect(layer, conv.Shape);
            return conv;
        }

        Value x = Input(layer, 0);
        RequireEps(layer);
        int c = x.Shape.Channels;
        Expect(layer, x.Shape);
        string[] inputs =
        [
            x.Name,
            Initializer(ParameterName(layer, ParameterRole.BatchNormScale), [c], Vector(layer, ParameterRole.BatchNormScale, c)),
            Initializer(ParameterName(layer, ParameterRole.BatchNormShift), [c], Vector(layer, ParameterRole.BatchNormShift, c)),
            Initializer(ParameterName(layer, ParameterRole.RunningMean), [c], Vector(layer, ParameterRole.RunningMean, c)),
            Initializer(ParameterName(layer, ParameterRole.RunningVar), [c], Vector(layer, ParameterRole.RunningVar, c)),
        ];
        return Emit(layer.Name, "BatchNormalization", inputs, x.Rank, x.Shape, OnnxAttribute.Float("epsilon", (float)layer.Eps));
    }

    private Value Unary(LayerInfo layer, string op)
    {
        Value x = Input(layer, 0);
        Expect(layer, x.Shape);
        return Emit(layer.Name, op, [x.Name], x.Rank, x.Shape);
    }

    // Opset 17 has no Gelu (it came in opset 20): 0.5 x (1 + Erf(x / sqrt 2)) from primitives, as torch.onnx exports it.
    private Value Gelu(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        Expect(layer, x.Shape);
        string sqrt2 = Initializer(layer.Name + ".sqrt2", [], [MathF.Sqrt(2f)]);
        string one = Initializer(layer.Name + ".one", [], [1f]);
        string half = Initializer(layer.Name + ".half", [], [0.5f]);
        Value scaled = Emit(layer.Name + ".div", "Div", [x.Name, sqrt2], x.Rank, x.Shape);
        Value erf = Emit(layer.Name + ".erf", "Erf", [scaled.Name], x.Rank, x.Shape);
        Value plus = Emit(layer.Name + ".add", "Add", [erf.Name, one], x.Rank, x.Shape);
        Value times = Emit(layer.Name + ".mul", "Mul", [x.Name, plus.Name], x.Rank, x.Shape);
        return Emit(layer.Name, "Mul", [times.Name, half], x.Rank, x.Shape);
    }

    private Value Add(LayerInfo layer)
    {
        Value body = Input(layer, 0);
        Value shortcut = Input(layer, 1);
        if (!SameDims(body.Shape, shortcut.Shape))
        {
            throw Fail(layer, $"it adds {body.Shape} to {shortcut.Shape}; the shapes differ.");
        }

        Expect(layer, body.Shape);
        if (body.Rank != shortcut.Rank)
        {
            // Same shape, one side still N x C x 1 x 1 (after global pooling), the other N x C: flatten the former.
            if (body.Rank == 4)
            {
                body = Emit(layer.Name + ".flatten_body", "Flatten", [body.Name], 2, body.Shape, OnnxAttribute.Int("axis", 1));
            }
            else
            {
                shortcut = Emit(layer.Name + ".flatten_shortcut", "Flatten", [shortcut.Name], 2, shortcut.Shape, OnnxAttribute.Int("axis", 1));
            }
        }

        return Emit(layer.Name, "Add", [body.Name, shortcut.Name], body.Rank, body.Shape);
    }

    // Squeeze-and-excitation's merge: Mul broadcasts the N x C x 1 x 1 gate over the N x C x H x W map.
    private Value ChannelScale(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        Value gate = Input(layer, 1);
        RequireImage(layer, x);
        if (gate.Rank != 4 || gate.Shape.IsFlat || gate.Shape.Channels != x.Shape.Channels || gate.Shape.Height != 1 || gate.Shape.Width != 1)
        {
            throw Fail(layer, $"it scales {x.Shape} channel by channel, so its gate must be ({x.Shape.Channels}, 1, 1), but it is {gate.Shape}.");
        }

        Expect(layer, x.Shape);
        return Emit(layer.Name, "Mul", [x.Name, gate.Name], 4, x.Shape);
    }

    private Value ZeroPadShortcut(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        RequireImage(layer, x);
        int s = layer.Stride;
        int ci = x.Shape.Channels;
        int co = layer.OutputShape.Channels;
        if (s < 1)
        {
            throw Fail(layer, $"the shortcut's stride is {s}; it must be at least 1.");
        }

        if (co < ci)
        {
            throw Fail(layer, $"an option-A shortcut pads {ci} channels with zeros, so it cannot give fewer ({co}).");
        }

        TensorShape shape = TensorShape.Image(co, ((x.Shape.Height - 1) / s) + 1, ((x.Shape.Width - 1) / s) + 1);
        Expect(layer, shape);
        Value v = x;
        if (s > 1)
        {
            string[] inputs =
            [
                x.Name,
                Initializer(layer.Name + ".slice_starts", [2], [0L, 0L]),
                Initializer(layer.Name + ".slice_ends", [2], [(long)x.Shape.Height, x.Shape.Width]),
                Initializer(layer.Name + ".slice_axes", [2], [2L, 3L]),
                Initializer(layer.Name + ".slice_steps", [2], [(long)s, s]),
            ];
            v = Emit(co > ci ? layer.Name + ".subsample" : layer.Name, "Slice", inputs, 4, TensorShape.Image(ci, shape.Height, shape.Width));
        }

        if (co > ci)
        {
            long before = (co - ci) / 2;
            long after = co - ci - before;
            string pads = Initializer(layer.Name + ".pads", [8], [0L, before, 0L, 0L, 0L, after, 0L, 0L]);
            v = Emit(layer.Name, "Pad", [v.Name, pads], 4, shape);
        }

        return v;
    }

    private Value Pool(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        RequireImage(layer, x);
        RequireWindow(layer);
        if (layer.Padding * 2 > layer.Kernel)
        {
            throw Fail(layer, $"padding {layer.Padding} is more than half the {layer.Kernel}x{layer.Kernel} window; ONNX Runtime (and PyTorch) reject it.");
        }

        TensorShape shape = TensorShape.Image(x.Shape.Channels, Window(layer, x.Shape.Height), Window(layer, x.Shape.Width));
        Expect(layer, shape);
        List<OnnxAttribute> attributes =
        [
            OnnxAttribute.IntList("kernel_shape", layer.Kernel, layer.Kernel),
            OnnxAttribute.IntList("strides", layer.Stride, layer.Stride),
            OnnxAttribute.IntList("pads", layer.Padding, layer.Padding, layer.Padding, layer.Padding),
        ];
        bool max = layer.Kind == LayerKind.MaxPool;
        if (!max)
        {
            attributes.Add(OnnxAttribute.Int("count_include_pad", 1)); // the kernel divides by the whole window
        }

        return Emit(layer.Name, max ? "MaxPool" : "AveragePool", [x.Name], 4, shape, [.. attributes]);
    }

    private Value GlobalAvgPool(LayerInfo layer)
    {
        Value x = Input(layer, 0);

        // Squeeze-and-excitation's squeeze keeps N x C x 1 x 1 as an image (the 1x1 convolutions after it need one).
        TensorShape shape = layer.OutputShape.IsFlat ? TensorShape.Flat(x.Shape.Channels) : TensorShape.Image(x.Shape.Channels, 1, 1);
        Expect(layer, shape);
        if (x.Rank == 2)
        {
            return x; // averaging over 1 x 1 is the identity
        }

        return Emit(layer.Name, "GlobalAveragePool", [x.Name], 4, shape);
    }

    private Value Dense(LayerInfo layer)
    {
        Value x = Input(layer, 0);
        int features = checked((int)x.Shape.Elements);
        int outputs = layer.OutputShape.Channels;
        float[] weight = Tensor(layer, ParameterRole.Weight, out int[] wShape);
        if (wShape.Length != 2 || wShape[0] != outputs || wShape[1] != features)
        {
            throw Fail(layer, $"its weight has shape [{string.Join(", ", wShape)}]; a dense layer from {features} to {outputs} features needs [{outputs}, {features}].");
        }

        TensorShape shape = TensorShape.Flat(outputs);
        Expect(layer, shape);
        if (x.Rank != 2)
        {
            x = Emit(layer.Name + ".flatten", "Flatten", [x.Name], 2, TensorShape.Flat(features), OnnxAttribute.Int("axis", 1));
        }

        List<string> inputs = [x.Name, Initializer(ParameterName(layer, ParameterRole.Weight), [outputs, features], weight)];
        if (layer.Bias)
        {
            inputs.Add(Initializer(ParameterName(layer, ParameterRole.Bias), [outputs], Vector(layer, ParameterRole.Bias, outputs)));
        }

        return Emit(layer.Name, "Gemm", [.. inputs], 2, shape, OnnxAttribute.Int("transB", 1));
    }
}
