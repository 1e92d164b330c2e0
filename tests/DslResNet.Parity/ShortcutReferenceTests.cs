using System;
using System.Collections.Generic;
using DslResNet.Runtime;
using DslResNet.Training;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DslResNet.Parity;

/// <summary>
/// The shortcut kinds against hand-written PyTorch forwards that follow the published code, not DslResNet's layer table
/// (which the interpreter of <see cref="NetworkParityTests"/> reads): Zagoruyko and Komodakis's WRN <c>BasicBlock</c>
/// (the projection, a 1x1 conv without batch norm, reads <c>relu1(bn1(x))</c>; an identity shortcut adds the raw
/// <c>x</c>) and timm's ResNet-D bottleneck (<c>downsample_avg</c>: <c>AvgPool2d(2, stride, ceil_mode=True,
/// count_include_pad=False)</c>, or nothing at stride 1, then a 1x1 conv and batch norm). The same weights by name;
/// training-mode logits (batch statistics) and evaluation-mode logits (running statistics) within 1e-4, libtorch in
/// float64.
/// </summary>
[Collection(ParityCollection.Name)]
public sealed class ShortcutReferenceTests(ParityFixture fixture)
{
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData(DeviceKind.Cpu)]
    [InlineData(DeviceKind.IlgpuCpu)]
    public void Wide_resnet_projects_the_preactivated_input_without_batch_norm(DeviceKind device)
    {
        Compare("Wide", device, (state, x, training) =>
        {
            Tensor y = Conv(state, "conv1", x, 1, 1);
            y = WideStage(state, "layer1", y, 2, 1);
            y = WideStage(state, "layer2", y, 2, 2);
            y = F.relu(Norm(state, "bn", y, training));
            y = F.adaptive_avg_pool2d(y, [1, 1]).flatten(1);
            return F.linear(y, state["fc.weight"], state["fc.bias"]);

            Tensor WideStage(Dictionary<string, Tensor> s, string name, Tensor input, int blocks, int stride)
            {
                for (int i = 0; i < blocks; i++)
                {
                    input = WideBlock(s, $"{name}.{i}", input, i == 0 ? stride : 1, training);
                }

                return input;
            }
        });
    }

    [Theory]
    [InlineData(DeviceKind.Cpu)]
    [InlineData(DeviceKind.IlgpuCpu)]
    public void Resnet_d_pools_then_projects(DeviceKind device)
    {
        Compare("ResNetD", device, (state, x, training) =>
        {
            Tensor y = F.relu(Norm(state, "bn1", Conv(state, "conv1", x, 2, 3), training));
            y = F.max_pool2d(y, 3, 2, 1);
            for (int i = 0; i < 2; i++)
            {
                y = Bottleneck(state, $"layer1.{i}", y, 1, training);
            }

            for (int i = 0; i < 2; i++)
            {
                y = Bottleneck(state, $"layer2.{i}", y, i == 0 ? 2 : 1, training);
            }

            y = F.adaptive_avg_pool2d(y, [1, 1]).flatten(1);
            return F.linear(y, state["fc.weight"], state["fc.bias"]);
        });
    }

    // Zagoruyko and Komodakis, wide-resnet.pytorch / WideResNet BasicBlock.forward.
    private static Tensor WideBlock(Dictionary<string, Tensor> s, string name, Tensor x, int stride, bool training)
    {
        bool equalInOut = !s.ContainsKey(name + ".downsample.0.weight");
        Tensor o;
        if (!equalInOut)
        {
            x = F.relu(Norm(s, name + ".bn1", x, training));
            o = x;
        }
        else
        {
            o = F.relu(Norm(s, name + ".bn1", x, training));
        }

        o = F.relu(Norm(s, name + ".bn2", Conv(s, name + ".conv1", o, stride, 1), training));
        o = Conv(s, name + ".conv2", o, 1, 1);
        return (equalInOut ? x : Conv(s, name + ".downsample.0", x, stride, 0)) + o;
    }

    // timm's Bottleneck.forward with downsample_avg (avg_down = True).
    private static Tensor Bottleneck(Dictionary<string, Tensor> s, string name, Tensor x, int stride, bool training)
    {
        Tensor shortcut = x;
        Tensor y = F.relu(Norm(s, name + ".bn1", Conv(s, name + ".conv1", x, 1, 0), training));
        y = F.relu(Norm(s, name + ".bn2", Conv(s, name + ".conv2", y, stride, 1), training));
        y = Norm(s, name + ".bn3", Conv(s, name + ".conv3", y, 1, 0), training);
        if (s.ContainsKey(name + ".downsample.1.weight"))
        {
            Tensor pooled = stride == 1 ? shortcut : F.avg_pool2d(shortcut, [2, 2], [stride, stride], ceil_mode: true, count_include_pad: false);
            shortcut = Norm(s, name + ".downsample.2", Conv(s, name + ".downsample.1", pooled, 1, 0), training);
        }

        return F.relu(y + shortcut);
    }

    private static Tensor Conv(Dictionary<string, Tensor> s, string name, Tensor x, long stride, long padding) =>
        F.conv2d(x, s[name + ".weight"], s.GetValueOrDefault(name + ".bias"), [stride, stride], [padding, padding]);

    private static Tensor Norm(Dictionary<string, Tensor> s, string name, Tensor x, bool training) =>
        F.batch_norm(x, s[name + ".running_mean"].clone(), s[name + ".running_var"].clone(), s[name + ".weight"], s[name + ".bias"], training, 0.1, 1e-5);

    private void Compare(string networkName, DeviceKind device, Func<Dictionary<string, Tensor>, Tensor, bool, Tensor> reference)
    {
        ParityNetwork network = ParityCases.Network(networkName);
        using NetworkBase net = network.Create(fixture.Device(device), ParityCases.Batch, new NetworkOptions(Seed: 3));
        ParityData.RandomizeBatchNorm(net, 4);
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (ParameterInfo p in network.Info.Parameters)
        {
            if (p.Role != ParameterRole.BatchesTracked)
            {
                long[] shape = Array.ConvertAll(p.Shape, d => (long)d);
                state[p.Name] = tensor(net.GetParameter(p.Name), shape, ScalarType.Float32).to(ParityData.ReferenceType);
            }
        }

        (float[] images, int[] labels) = ParityData.Batch(network.Info, seed: 9);
        Tensor x = ParityData.Images(network.Info, images).to(ParityData.ReferenceType);
        Mismatches m = new();
        using (no_grad())
        {
            // Evaluation first: the training step below moves the running statistics.
            net.Eval();
            float[] predicted = new float[ParityCases.Batch * (int)network.Info.OutputShape.Elements];
            net.Predict(images, predicted);
            m.Close("evaluation logits", TorchInterpreter.Floats(reference(state, x, false)), predicted, Tolerance);

            net.Train();
            Sgd frozen = new(0);
            net.AddParametersTo(frozen);
            net.TrainStep(images, labels, frozen);
            m.Close("training logits", TorchInterpreter.Floats(reference(state, x, true)), net.Output(), Tolerance);
        }

        m.Assert($"{networkName} on {device}");
    }
}
