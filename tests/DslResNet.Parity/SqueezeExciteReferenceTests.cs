using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.Runtime;
using DslResNet.Training;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DslResNet.Parity;

/// <summary>
/// Squeeze-and-excitation against a hand-written PyTorch forward of timm's code, not DslResNet's layer table: timm's
/// <c>SEModule.forward</c> (<c>x_se = x.mean((2, 3), keepdim=True)</c>, <c>fc1</c>, ReLU, <c>fc2</c>,
/// <c>x * x_se.sigmoid()</c>) inside timm's <c>Bottleneck.forward</c> (after <c>bn3</c>, before the add; the projection is
/// <c>downsample.0</c> conv and <c>downsample.1</c> batch norm). The same weights by name; evaluation logits, training
/// logits, the loss's gradient of every parameter and of the input, libtorch in float64.
/// </summary>
[Collection(ParityCollection.Name)]
public sealed class SqueezeExciteReferenceTests(ParityFixture fixture)
{
    private const double ForwardTolerance = 1e-4;
    private const double GradientTolerance = 1e-3;

    [Theory]
    [InlineData(DeviceKind.Cpu)]
    [InlineData(DeviceKind.IlgpuCpu)]
    public void Timm_se_module_in_the_bottleneck(DeviceKind device)
    {
        ParityNetwork network = ParityCases.Network("SENet");
        using NetworkBase net = network.Create(fixture.Device(device), ParityCases.Batch, new NetworkOptions(Seed: 3));
        ParityData.RandomizeBatchNorm(net, 4);
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (ParameterInfo p in network.Info.Parameters)
        {
            if (p.Role != ParameterRole.BatchesTracked)
            {
                long[] shape = Array.ConvertAll(p.Shape, d => (long)d);
                state[p.Name] = tensor(net.GetParameter(p.Name), shape, ScalarType.Float32).to(ParityData.ReferenceType);
                if (p.IsTrainable)
                {
                    state[p.Name].requires_grad_(true);
                }
            }
        }

        (float[] images, int[] labels) = ParityData.Batch(network.Info, seed: 9);
        Tensor x = ParityData.Images(network.Info, images).to(ParityData.ReferenceType).requires_grad_(true);
        Mismatches m = new();

        // Evaluation first: the training step below moves the running statistics.
        net.Eval();
        float[] predicted = new float[ParityCases.Batch * (int)network.Info.OutputShape.Elements];
        net.Predict(images, predicted);
        using (no_grad())
        {
            m.Close("evaluation logits", TorchInterpreter.Floats(Forward(state, x, false)), predicted, ForwardTolerance);
        }

        Tensor logits = Forward(state, x, true);
        Tensor loss = F.cross_entropy(logits, ParityData.Labels(labels));
        loss.backward();
        net.Train();
        net.ComputeInputGradient = true;
        Sgd frozen = new(0);
        net.AddParametersTo(frozen);
        net.TrainStep(images, labels, frozen);
        m.Close("training logits", TorchInterpreter.Floats(logits), net.Output(), ForwardTolerance);
        m.Close("input gradient", TorchInterpreter.Floats(x.grad!), net.InputGradient(), GradientTolerance);
        var trainable = network.Info.Parameters.Where(p => p.IsTrainable).ToList();
        double floor = 1e-3 * ParityData.Scale(trainable.Select(p => TorchInterpreter.Floats(state[p.Name].grad!)));
        foreach (ParameterInfo p in trainable)
        {
            m.Close("gradient of " + p.Name, TorchInterpreter.Floats(state[p.Name].grad!), net.GetGradient(p.Name), GradientTolerance, floor);
        }

        Assert.Contains(trainable, p => p.Name == "layer1.0.se.fc1.weight");
        m.Assert($"SENet on {device}");
    }

    private static Tensor Forward(Dictionary<string, Tensor> s, Tensor x, bool training)
    {
        Tensor y = F.relu(Norm(s, "bn1", Conv(s, "conv1", x, 1, 1), training));
        y = Bottleneck(s, "layer1.0", y, 1, training);
        y = Bottleneck(s, "layer1.1", y, 1, training);
        y = Bottleneck(s, "layer2.0", y, 2, training);
        y = SEModule(s, "se", y);
        y = y.mean([2, 3]);
        return F.linear(y, s["fc.weight"], s["fc.bias"]);
    }

    // timm.layers.squeeze_excite.SEModule.forward (bn = Identity, act = ReLU, gate = sigmoid).
    private static Tensor SEModule(Dictionary<string, Tensor> s, string name, Tensor x)
    {
        Tensor xSe = x.mean([2, 3], keepdim: true);
        xSe = Conv(s, name + ".fc1", xSe, 1, 0);
        xSe = F.relu(xSe);
        xSe = Conv(s, name + ".fc2", xSe, 1, 0);
        return x * xSe.sigmoid();
    }

    // timm.models.resnet.Bottleneck.forward with attn_layer = 'se' (se after bn3) and downsample_conv.
    private static Tensor Bottleneck(Dictionary<string, Tensor> s, string name, Tensor x, int stride, bool training)
    {
        Tensor shortcut = x;
        Tensor y = F.relu(Norm(s, name + ".bn1", Conv(s, name + ".conv1", x, 1, 0), training));
        y = F.relu(Norm(s, name + ".bn2", Conv(s, name + ".conv2", y, stride, 1), training));
        y = Norm(s, name + ".bn3", Conv(s, name + ".conv3", y, 1, 0), training);
        y = SEModule(s, name + ".se", y);
        if (s.ContainsKey(name + ".downsample.0.weight"))
        {
            shortcut = Norm(s, name + ".downsample.1", Conv(s, name + ".downsample.0", x, stride, 0), training);
        }

        return F.relu(y + shortcut);
    }

    private static Tensor Conv(Dictionary<string, Tensor> s, string name, Tensor x, long stride, long padding) =>
        F.conv2d(x, s[name + ".weight"], s.GetValueOrDefault(name + ".bias"), [stride, stride], [padding, padding]);

    private static Tensor Norm(Dictionary<string, Tensor> s, string name, Tensor x, bool training) =>
        F.batch_norm(x, s[name + ".running_mean"].clone(), s[name + ".running_var"].clone(), s[name + ".weight"], s[name + ".bias"], training, 0.1, 1e-5);
}
