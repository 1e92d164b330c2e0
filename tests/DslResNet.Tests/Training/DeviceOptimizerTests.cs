using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Tests.Kernels;
using DslResNet.Tests.Networks;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Training;

/// <summary>
/// The device-resident optimizer step (parameters and optimizer state left on the ILGPU device) against the host step it
/// replaces, on ILGPU's CPU accelerator: the same values and optimizer state after several steps, a checkpoint taken
/// mid-run that resumes to the same values, and the host path still taken where the device path cannot serve.
/// </summary>
/// <remarks>
/// The device kernels perform the host's float operations in the host's order, and the CPU accelerator runs them as .NET
/// code, so the two paths agree bit for bit here (on a GPU, to float rounding: the compiler may contract a multiply-add).
/// </remarks>
public sealed class DeviceOptimizerTests : IClassFixture<CpuDeviceFixture>
{
    private const int Batch = 4;
    private readonly Device _device;

    /// <summary>Takes the shared ILGPU CPU device.</summary>
    /// <param name="fixture">The fixture.</param>
    public DeviceOptimizerTests(CpuDeviceFixture fixture)
    {
        _device = fixture.Device;
    }

    /// <summary>The optimizers compared, by name.</summary>
    public static TheoryData<string> Optimizers() => new() { "sgd-nesterov", "sgd-dampening", "sgd-plain", "adamw" };

    /// <summary>Four steps on the device equal four on the host: every parameter, running statistic and optimizer buffer.</summary>
    /// <param name="optimizer">Which optimizer.</param>
    [Theory]
    [MemberData(nameof(Optimizers))]
    public void DeviceStepsEqualHostSteps(string optimizer)
    {
        (Dictionary<string, float[]> hostValues, OptimizerState hostState, bool hostUsedDevice) = Run(optimizer, onDevice: false, steps: 4);
        (Dictionary<string, float[]> deviceValues, OptimizerState deviceState, bool deviceUsedDevice) = Run(optimizer, onDevice: true, steps: 4);
        Assert.False(hostUsedDevice);
        Assert.True(deviceUsedDevice);
        AssertSame(hostValues, deviceValues);
        Assert.Equal(hostState.Step, deviceState.Step);
        Assert.Equal(hostState.Buffers.Keys.Order(), deviceState.Buffers.Keys.Order());
        AssertSame(hostState.Buffers, deviceState.Buffers);
        Assert.Equal(optimizer != "sgd-plain", hostState.Buffers.Count > 0);
    }

    /// <summary>
    /// A checkpoint (network and optimizer state) saved after two device steps equals the host path's at the same point,
    /// and a fresh network and optimizer resumed from it reach, after two more device steps, the values of the run that
    /// went on.
    /// </summary>
    /// <param name="optimizer">Which optimizer.</param>
    [Theory]
    [InlineData("sgd-nesterov")]
    [InlineData("adamw")]
    public void CheckpointMidRunResumesExactly(string optimizer)
    {
        (Dictionary<string, float[]> hostMid, OptimizerState hostMidState, _) = Run(optimizer, onDevice: false, steps: 2);
        Checkpoint? saved = null;
        OptimizerState? savedState = null;
        (Dictionary<string, float[]> straight, OptimizerState straightState, _) = Run(optimizer, onDevice: true, steps: 4, afterStep: (step, net, opt) =>
        {
            if (step == 2)
            {
                saved = net.ExportCheckpoint();
                savedState = opt.ExportState();
            }
        });

        AssertSame(hostMid, saved!.Model.Where(e => e.Value.Floats is not null).ToDictionary(e => e.Key, e => e.Value.Floats!));
        AssertSame(hostMidState.Buffers, savedState!.Buffers);

        (Dictionary<string, float[]> resumed, OptimizerState resumedState, bool usedDevice) = Run(
            optimizer, onDevice: true, steps: 4, firstStep: 3, before: (net, opt) =>
            {
                net.ImportCheckpoint(saved);
                opt.ImportState(savedState);
            });
        Assert.True(usedDevice);
        AssertSame(straight, resumed);
        AssertSame(straightState.Buffers, resumedState.Buffers);
    }

    /// <summary>
    /// Per step, the device path copies no parameter, gradient or optimizer state between the device and the host (the
    /// host path copies the values twice and the gradients once, pull and push, and the running statistics once, the
    /// snapshot a diverged step is rerun from).
    /// </summary>
    /// <param name="optimizer">Which optimizer.</param>
    [Theory]
    [InlineData("sgd-nesterov")]
    [InlineData("adamw")]
    public void DeviceStepsTransferNothing(string optimizer)
    {
        foreach (bool onDevice in new[] { false, true })
        {
            using TinyResNet net = new(_device, Batch, new NetworkOptions(Seed: 7));
            net.OptimizerOnDevice = onDevice;
            Optimizer opt = Make(optimizer);
            net.AddParametersTo(opt);
            (float[] images, int[] labels) = Data(1);
            net.TrainStep(images, labels, opt);
            long before = net.Store.TransferredFloats;
            for (int step = 0; step < 3; step++)
            {
                net.TrainStep(images, labels, opt);
                Assert.Null(opt.FindNonFinite());
            }

            long moved = net.Store.TransferredFloats - before;
            long statistics = net.Definition.Parameters.Where(p => p.Role is ParameterRole.RunningMean or ParameterRole.RunningVar).Sum(p => p.Elements);
            Assert.Equal(onDevice ? 0 : 3 * ((3 * net.Store.Elements) + statistics), moved);
        }
    }

    /// <summary>An optimizer holding a tensor that is not the network's store (a plain array) steps on the host, and updates it.</summary>
    [Fact]
    public void ForeignSlotKeepsTheHostPath()
    {
        using TinyResNet net = new(_device, Batch, new NetworkOptions(Seed: 9));
        Sgd sgd = new(0.1, momentum: 0.9);
        net.AddParametersTo(sgd);
        float[] extra = [1f, 2f];
        sgd.Add("extra", extra, [0.5f, -0.5f]);
        (float[] images, int[] labels) = Data(1);
        net.TrainStep(images, labels, sgd);
        Assert.False(net.Store.HostValuesStale);
        Assert.Equal([0.95f, 2.05f], extra);
    }

    /// <summary>On the SIMD CPU device the host copy is the device memory's twin: the host path, as before.</summary>
    [Fact]
    public void SimdDeviceKeepsTheHostPath()
    {
        using Device simd = Device.Create(DeviceKind.Cpu);
        using TinyResNet net = new(simd, Batch, new NetworkOptions(Seed: 9));
        Sgd sgd = new(0.1, momentum: 0.9);
        net.AddParametersTo(sgd);
        (float[] images, int[] labels) = Data(1);
        net.TrainStep(images, labels, sgd);
        Assert.False(net.Store.HostValuesStale);
    }

    /// <summary>
    /// An update that overflows on the device is found by <see cref="Optimizer.FindNonFinite"/> (checked on the device, then
    /// named from the host copy), as on the host path.
    /// </summary>
    [Fact]
    public void OverflowOnTheDeviceIsNamed()
    {
        using TinyResNet net = new(_device, Batch, new NetworkOptions(Seed: 9));
        Sgd sgd = new(1e300, momentum: 0.9); // Infinity as a float.
        net.AddParametersTo(sgd);
        (float[] images, int[] labels) = Data(1);
        net.TrainStep(images, labels, sgd);
        Assert.True(net.Store.HostValuesStale);
        string? found = sgd.FindNonFinite();
        Assert.NotNull(found);
        Assert.StartsWith("parameter ", found, StringComparison.Ordinal);
    }

    /// <summary>
    /// A step that leaves +inf in a running variance (one weight of 1e30) is caught by the device check and diagnosed by
    /// the host path: the same exception, the same message and the same restored state as with the host step.
    /// </summary>
    [Fact]
    public void DivergenceIsReportedAsOnTheHostPath()
    {
        List<(string? Message, Dictionary<string, float[]> After)> outcomes = [];
        foreach (bool onDevice in new[] { false, true })
        {
            using TinyResNet net = new(_device, Batch, new NetworkOptions(Seed: 1));
            net.OptimizerOnDevice = onDevice;
            Sgd sgd = new(0.1, momentum: 0.9);
            net.AddParametersTo(sgd);
            float[] weight = net.GetParameter("layer1.0.conv1.weight");
            weight[5] = 1e30f;
            net.SetParameter("layer1.0.conv1.weight", weight);
            (float[] images, int[] labels) = Data(1);
            TrainingDivergedException diverged = Assert.Throws<TrainingDivergedException>(() => net.TrainStep(images, labels, sgd));
            Assert.False(net.Store.HostValuesStale);
            outcomes.Add((diverged.Message, NetworkData.AllFloatTensors(net)));
        }

        Assert.Equal(outcomes[0].Message, outcomes[1].Message);
        AssertSame(outcomes[0].After, outcomes[1].After);
    }

    /// <summary>
    /// Disposing the network after device steps first copies the optimizer's state and the values to the host: the state
    /// exported afterwards is the host path's, and so are the values the slots hold.
    /// </summary>
    [Fact]
    public void DisposingTheNetworkBringsTheStateHome()
    {
        (Dictionary<string, float[]> hostValues, OptimizerState hostState, _) = Run("sgd-nesterov", onDevice: false, steps: 2);
        Optimizer optimizer = Make("sgd-nesterov");
        using (TinyResNet net = new(_device, Batch, new NetworkOptions(Seed: 7)))
        {
            net.AddParametersTo(optimizer);
            string[] modules = optimizer.Parameters.Select(p => p.Name.Split('.')[0]).Distinct().ToArray();
            optimizer.SetGroup(modules[0], learningRateScale: 0.5);
            optimizer.SetGroup(modules[^1], learningRateScale: 2, weightDecay: 0);
            for (int step = 1; step <= 2; step++)
            {
                optimizer.LearningRate = 0.05 / step;
                (float[] images, int[] labels) = Data(step);
                net.TrainStep(images, labels, optimizer);
                Assert.True(net.Store.HostValuesStale);
            }
        }

        AssertSame(hostState.Buffers, optimizer.ExportState().Buffers);
        AssertSame(
            optimizer.Parameters.ToDictionary(p => p.Name, p => hostValues[p.Name]),
            optimizer.Parameters.ToDictionary(p => p.Name, p => p.Value.ToArray()));
    }

    /// <summary>While the device path's values are finite, the check answers without copying them to the host.</summary>
    [Fact]
    public void FiniteCheckStaysOnTheDevice()
    {
        using TinyResNet net = new(_device, Batch, new NetworkOptions(Seed: 9));
        Sgd sgd = new(0.01, momentum: 0.9);
        net.AddParametersTo(sgd);
        (float[] images, int[] labels) = Data(1);
        net.TrainStep(images, labels, sgd);
        Assert.Null(sgd.FindNonFinite());
        Assert.True(net.Store.HostValuesStale);
        _ = sgd.ExportState();
        Assert.False(net.Store.HostValuesStale);
        Assert.Equal(net.GetParameter(sgd.Parameters[0].Name), sgd.Parameters[0].Value.ToArray());
    }

    private static Optimizer Make(string name) => name switch
    {
        "sgd-nesterov" => new Sgd(0.05, momentum: 0.9, weightDecay: 5e-3, nesterov: true),
        "sgd-dampening" => new Sgd(0.05, momentum: 0.8, dampening: 0.3, weightDecay: 1e-3),
        "sgd-plain" => new Sgd(0.05, weightDecay: 1e-3),
        "adamw" => new AdamW(1e-2, weightDecay: 0.05),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such optimizer"),
    };

    // Runs steps [firstStep, steps] of one training run: the same data per step number, a parameter group with its own
    // learning-rate scale and one without weight decay, and a learning rate that changes per step (a schedule).
    private (Dictionary<string, float[]> Values, OptimizerState State, bool UsedDevice) Run(
        string name, bool onDevice, int steps, int firstStep = 1,
        Action<NetworkBase, Optimizer>? before = null, Action<int, NetworkBase, Optimizer>? afterStep = null)
    {
        using TinyResNet net = new(_device, Batch, new NetworkOptions(Seed: 7));
        net.OptimizerOnDevice = onDevice;
        Optimizer optimizer = Make(name);
        net.AddParametersTo(optimizer);
        string[] modules = optimizer.Parameters.Select(p => p.Name.Split('.')[0]).Distinct().ToArray();
        optimizer.SetGroup(modules[0], learningRateScale: 0.5);
        optimizer.SetGroup(modules[^1], learningRateScale: 2, weightDecay: 0);
        before?.Invoke(net, optimizer);
        bool usedDevice = false;
        for (int step = firstStep; step <= steps; step++)
        {
            optimizer.LearningRate = (optimizer is AdamW ? 1e-2 : 0.05) / step;
            (float[] images, int[] labels) = Data(step);
            net.TrainStep(images, labels, optimizer);
            usedDevice |= net.Store.HostValuesStale;
            afterStep?.Invoke(step, net, optimizer);
        }

        Dictionary<string, float[]> values = NetworkData.AllFloatTensors(net);
        return (values, optimizer.ExportState(), usedDevice);
    }

    private static (float[] Images, int[] Labels) Data(int step)
    {
        Random random = new(100 + step);
        float[] images = NetworkData.Normal(random, Batch * 64);
        int[] labels = Enumerable.Range(0, Batch).Select(_ => random.Next(3)).ToArray();
        return (images, labels);
    }

    private static void AssertSame(IReadOnlyDictionary<string, float[]> expected, IReadOnlyDictionary<string, float[]> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach ((string key, float[] e) in expected)
        {
            float[] a = actual[key];
            Assert.Equal(e.Length, a.Length);
            for (int i = 0; i < e.Length; i++)
            {
                Assert.True(e[i].Equals(a[i]), $"{key}[{i}]: host {e[i]:R}, device {a[i]:R}");
            }
        }
    }
}
