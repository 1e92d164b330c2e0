using System;
using System.Linq;
using DslResNet.Kernels;
using DslResNet.Kernels.Ilgpu;
using DslResNet.Runtime;
using DslResNet.Tests.Kernels;

namespace DslResNet.Tests.Networks;

/// <summary>
/// The test networks written out by hand with the double-precision reference ops, reading the parameters from a built
/// network: an independent forward pass to compare the generated one against, in training mode (batch statistics) or in
/// evaluation mode (running statistics, unfolded).
/// </summary>
internal static class NetworkReference
{
    private const double Eps = 1e-5;

    /// <summary>The parameters of a built network, widened to double.</summary>
    public static Func<string, double[]> ParametersOf(NetworkBase net) => name => NetworkData.ToDouble(net.GetParameter(name));

    private static double[] Bn(Func<string, double[]> P, string layer, double[] x, int n, int c, int h, int w, bool training)
    {
        if (training)
        {
            return Reference.BatchNorm2dTrainForward(x, n, c, h, w, P(layer + ".weight"), P(layer + ".bias"), Eps).Y;
        }

        return Reference.BatchNorm2dEvalForward(
            x, n, c, h, w, P(layer + ".weight"), P(layer + ".bias"), P(layer + ".running_mean"), P(layer + ".running_var"), Eps);
    }

    private static double[] Add(double[] a, double[] b) => a.Zip(b, (x, y) => x + y).ToArray();

    /// <summary>TinyResNet (projection shortcut) or TinyZeroPadNet (option A), on n images of 1 x 8 x 8.</summary>
    public static double[] TinyResidual(NetworkBase net, float[] images, int n, bool training, bool projection) =>
        TinyResidual(ParametersOf(net), NetworkData.ToDouble(images), n, training, projection);

    /// <summary>TinyResNet or TinyZeroPadNet with the parameters <paramref name="P"/> gives, in double.</summary>
    public static double[] TinyResidual(Func<string, double[]> P, double[] x, int n, bool training, bool projection)
    {
        double[] a = Reference.Conv2dForward(x, n, 1, 8, 8, P("conv1.weight"), 4, 3, null, 1, 1);
        a = Reference.ReluForward(Bn(P, "bn1", a, n, 4, 8, 8, training));

        double[] b = Reference.Conv2dForward(a, n, 4, 8, 8, P("layer1.0.conv1.weight"), 4, 3, null, 1, 1);
        b = Reference.ReluForward(Bn(P, "layer1.0.bn1", b, n, 4, 8, 8, training));
        b = Reference.Conv2dForward(b, n, 4, 8, 8, P("layer1.0.conv2.weight"), 4, 3, null, 1, 1);
        b = Reference.ReluForward(Add(Bn(P, "layer1.0.bn2", b, n, 4, 8, 8, training), a));

        double[] c = Reference.Conv2dForward(b, n, 4, 8, 8, P("layer2.0.conv1.weight"), 8, 3, null, 2, 1);
        c = Reference.ReluForward(Bn(P, "layer2.0.bn1", c, n, 8, 4, 4, training));
        c = Reference.Conv2dForward(c, n, 8, 4, 4, P("layer2.0.conv2.weight"), 8, 3, null, 1, 1);
        c = Bn(P, "layer2.0.bn2", c, n, 8, 4, 4, training);
        double[] shortcut;
        if (projection)
        {
            shortcut = Reference.Conv2dForward(b, n, 4, 8, 8, P("layer2.0.downsample.0.weight"), 8, 1, null, 2, 0);
            shortcut = Bn(P, "layer2.0.downsample.1", shortcut, n, 8, 4, 4, training);
        }
        else
        {
            shortcut = Reference.ZeroPadShortcutForward(b, n, 4, 8, 8, 8, 2);
        }

        c = Reference.ReluForward(Add(c, shortcut));
        double[] pooled = Reference.GlobalAvgPoolForward(c, n, 8, 4, 4);
        return Reference.LinearForward(pooled, n, 8, P("fc.weight"), 3, P("fc.bias"));
    }

    /// <summary>
    /// TinyMixedNet on n images of 2 x 9 x 9. In training mode the dropout mask is the kernel's counter-based hash of
    /// (seed * 7919 + layer index, step, element), as the generated constructor seeds it.
    /// </summary>
    public static double[] TinyMixed(NetworkBase net, float[] images, int n, bool training) =>
        TinyMixed(net, ParametersOf(net), NetworkData.ToDouble(images), n, training);

    /// <summary>TinyMixedNet with the parameters <paramref name="P"/> gives, in double (the network supplies the dropout seed and step).</summary>
    public static double[] TinyMixed(NetworkBase net, Func<string, double[]> P, double[] x, int n, bool training)
    {
        double[] a = Reference.Conv2dForward(x, n, 2, 9, 9, P("conv1.weight"), 4, 3, P("conv1.bias"), 1, 1);
        a = Bn(P, "bn1", Reference.TanhForward(a), n, 4, 9, 9, training);
        a = Reference.MaxPool2dForward(a, n, 4, 9, 9, 3, 2, 1); // 4 x 5 x 5
        a = Reference.Conv2dForward(a, n, 4, 5, 5, P("conv2.weight"), 6, 1, null, 1, 0);
        a = Reference.SigmoidForward(a);
        a = Reference.AvgPool2dForward(a, n, 6, 5, 5, 2, 1, 0); // 6 x 4 x 4
        if (training)
        {
            LayerInfo drop = net.Definition.Layers.Single(l => l.Name == "drop");
            int seed = unchecked((net.Options.Seed * 7919) + drop.Index);
            bool[] keep = new bool[a.Length];
            for (int i = 0; i < keep.Length; i++)
            {
                keep[i] = DropoutMask.Uniform(seed, (int)net.StepCount, i) >= (float)drop.Rate;
            }

            a = Reference.DropoutForward(a, keep, drop.Rate);
        }

        a = Reference.LinearForward(a, n, 96, P("fc1.weight"), 5, P("fc1.bias"));
        a = Reference.ReluForward(Bn(P, "bn2", a, n, 5, 1, 1, training));
        return Reference.LinearForward(a, n, 5, P("fc2.weight"), 4, P("fc2.bias"));
    }

    /// <summary>ConvBnNet on n images of 2 x 6 x 6 (evaluation mode only).</summary>
    public static double[] ConvBn(NetworkBase net, float[] images, int n)
    {
        Func<string, double[]> P = ParametersOf(net);
        double[] x = NetworkData.ToDouble(images);
        double[] a = Reference.Conv2dForward(x, n, 2, 6, 6, P("conv1.weight"), 3, 3, P("conv1.bias"), 1, 1);
        a = Reference.ReluForward(Bn(P, "bn1", a, n, 3, 6, 6, training: false));
        double[] pooled = Reference.GlobalAvgPoolForward(a, n, 3, 6, 6);
        return Reference.LinearForward(pooled, n, 3, P("fc.weight"), 2, P("fc.bias"));
    }
}
