using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.Kernels.Ilgpu;
using DslResNet.Runtime;
using Xunit;

namespace DslResNet.Tests.Networks;

/// <summary>
/// Whole networks on ILGPU's CPU accelerator with the grouped batch-norm reductions (as GPUs run them) against the same
/// networks with the one-thread-per-channel kernels (which the gradient and parity tests check against double references
/// and libtorch): training output, every parameter gradient, the input gradient and the running statistics agree to float
/// rounding.
/// </summary>
public sealed class GroupedReductionNetworkTests
{
    /// <summary>A residual network (projection shortcut) and the mixed one (tanh, max pool, dropout-free), batch of 6.</summary>
    /// <param name="name">The network.</param>
    [Theory]
    [InlineData(nameof(TinyResNet))]
    [InlineData(nameof(TinyMixedNet))]
    public void GradientsUnchanged(string name)
    {
        Dictionary<string, float[]> threadPerChannel = Run(name, grouped: false);
        Dictionary<string, float[]> grouped = Run(name, grouped: true);
        Assert.Equal(threadPerChannel.Keys.Order(), grouped.Keys.Order());
        Assert.Contains(threadPerChannel.Keys, k => k.EndsWith(".running_var", StringComparison.Ordinal));
        foreach ((string key, float[] expected) in threadPerChannel)
        {
            float[] actual = grouped[key];
            // Floored at 1e-2: a bias that feeds a training-mode batch norm has a true gradient of 0, and both kernels give
            // rounding noise of about 1e-7 there, in different orders.
            double scale = Math.Max(1e-2, expected.Max(v => Math.Abs((double)v)));
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * scale, $"{name} {key}[{i}]: thread per channel {expected[i]:R}, grouped {actual[i]:R}");
            }
        }
    }

    private static Dictionary<string, float[]> Run(string name, bool grouped)
    {
        using Device device = Device.Create(DeviceKind.IlgpuCpu);
        ((IlgpuBackend)device.Backend).GroupedReductions = grouped;
        using NetworkBase net = name == nameof(TinyResNet)
            ? new TinyResNet(device, 6, new NetworkOptions(Seed: 5))
            : new TinyMixedNet(device, 6, new NetworkOptions(Seed: 5));
        Random random = new(31);
        float[] images = NetworkData.Normal(random, 6 * NetworkData.ImageElements(net));
        float[] g = NetworkData.Normal(random, 6 * NetworkData.Classes(net));
        net.ComputeInputGradient = true;
        net.Train();
        net.Forward(images);
        Dictionary<string, float[]> result = new(StringComparer.Ordinal) { ["output"] = net.Output() };
        net.Backward(g);
        result["input gradient"] = net.InputGradient();
        foreach (ParameterInfo p in net.Definition.Parameters)
        {
            if (p.IsTrainable)
            {
                result["d " + p.Name] = net.GetGradient(p.Name);
            }
            else if (p.Role is ParameterRole.RunningMean or ParameterRole.RunningVar)
            {
                result[p.Name] = net.GetParameter(p.Name);
            }
        }

        Assert.Equal(grouped, device.Kernels.Loaded.Contains(nameof(KernelSet.GroupedStatistics)));
        return result;
    }
}
