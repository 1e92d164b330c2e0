using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using DslResNet.IO;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

// NetworkBase's parameter initialisation, as torchvision does it.
public abstract partial class NetworkBase
{
    // torchvision's initialisation: Kaiming normal (fan_out, ReLU gain) for convolutions, PyTorch's default uniform for dense
    // layers and convolution biases, batch norm scale 1 and shift 0 (0 scale for a residual block's last batch norm with
    // ZeroInitResidual), running mean 0 and variance 1.
    private void Initialize()
    {
        Random random = new(Options.Seed);
        Dictionary<string, LayerInfo> layers = Definition.Layers.ToDictionary(l => l.Name, StringComparer.Ordinal);
        HashSet<int> zeroScale = [];
        if (Options.ZeroInitResidual)
        {
            foreach (LayerInfo add in Definition.Layers.Where(l => l.Kind == LayerKind.Add))
            {
                int body = add.Inputs[0];

                // An SE block's add reads the scale of its last batch norm's output (timm zeroes bn3 there too).
                if (body >= 0 && Definition.Layers[body].Kind == LayerKind.ChannelScale)
                {
                    body = Definition.Layers[body].Inputs[0];
                }

                if (body >= 0 && Definition.Layers[body].Kind == LayerKind.BatchNorm)
                {
                    zeroScale.Add(body);
                }
            }
        }

        foreach (ParameterInfo p in Definition.Parameters)
        {
            if (p.Role == ParameterRole.BatchesTracked)
            {
                continue;
            }

            LayerInfo layer = layers[p.Layer];
            float[] values = new float[p.Elements];
            switch (p.Role)
            {
                case ParameterRole.Weight when layer.Kind == LayerKind.Conv:
                {
                    double std = Math.Sqrt(2.0 / (p.Shape[0] * p.Shape[2] * p.Shape[3]));
                    for (int i = 0; i < values.Length; i++)
                    {
                        values[i] = (float)(std * Normal(random));
                    }

                    break;
                }

                case ParameterRole.Weight or ParameterRole.Bias:
                {
                    ParameterInfo weight = Definition.Parameters.First(q => q.Layer == p.Layer && q.Role == ParameterRole.Weight);
                    long fanIn = weight.Elements / weight.Shape[0];
                    double bound = 1.0 / Math.Sqrt(fanIn);
                    for (int i = 0; i < values.Length; i++)
                    {
                        values[i] = (float)(((2 * random.NextDouble()) - 1) * bound);
                    }

                    break;
                }

                case ParameterRole.BatchNormScale:
                    Array.Fill(values, zeroScale.Contains(layer.Index) ? 0f : 1f);
                    break;
                case ParameterRole.RunningVar:
                    Array.Fill(values, 1f);
                    break;
                default:
                    break;
            }

            Store.Set(p.Name, values);
        }
    }

    private static double Normal(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
