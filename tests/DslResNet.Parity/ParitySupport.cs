using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using DslResNet.IO;
using DslResNet.Runtime;
using Xunit;
using static TorchSharp.torch;
using Device = DslResNet.Runtime.Device;

namespace DslResNet.Parity;

/// <summary>A network under test: its facts and how to build it.</summary>
/// <param name="Name">The name the tests use.</param>
/// <param name="Info">The generator's facts.</param>
/// <param name="Create">Builds it on a device for a batch size.</param>
/// <param name="StepRateScale">
/// Scales the learning rates of the multi-step optimizer tests. A deep plain network with batch norm on batches of four is
/// chaotic under training (gradients explode with depth without skip connections), so its float32 rounding grows to
/// order one within three steps at the rates the residual networks take; a smaller rate keeps the comparison well posed.
/// </param>
public sealed record ParityNetwork(string Name, NetworkInfo Info, Func<Device, int, NetworkOptions, NetworkBase> Create, double StepRateScale = 1)
{
    /// <summary>Dropout with a non-zero rate: training-mode outputs depend on masks PyTorch cannot reproduce, so only evaluation is compared.</summary>
    public bool HasDropout => Info.Layers.Any(l => l.Kind == LayerKind.Dropout && l.Rate > 0);

    public override string ToString() => Name;
}

/// <summary>The networks and the DslResNet devices every comparison runs on. A new backend is one more entry in <see cref="Devices"/>.</summary>
public static class ParityCases
{
    /// <summary>DslResNet devices compared with TorchSharp's CPU results: the SIMD backend and ILGPU's CPU accelerator (the GPU kernels). Add DeviceKind.Cuda / OpenCL here once they run in CI.</summary>
    public static readonly DeviceKind[] Devices = [DeviceKind.Cpu, DeviceKind.IlgpuCpu];

    public const int Batch = 4;

    public static readonly ParityNetwork[] Networks =
    [
        new("ResNet20A", ParityResNet20A.Info, (d, b, o) => new ParityResNet20A(d, b, o)),
        new("ResNet20B", ParityResNet20B.Info, (d, b, o) => new ParityResNet20B(d, b, o)),
        new("Plain20", ParityPlain20.Info, (d, b, o) => new ParityPlain20(d, b, o), StepRateScale: 0.01),
        new("PreAct", ParityPreAct.Info, (d, b, o) => new ParityPreAct(d, b, o)),
        new("Wide", ParityWide.Info, (d, b, o) => new ParityWide(d, b, o)),
        new("ResNetD", ParityResNetD.Info, (d, b, o) => new ParityResNetD(d, b, o)),
        new("Bottleneck", ParityBottleneckNet.Info, (d, b, o) => new ParityBottleneckNet(d, b, o)),
        new("TanhNet", ParityTanhNet.Info, (d, b, o) => new ParityTanhNet(d, b, o)),
        new("DropoutNet", ParityDropoutNet.Info, (d, b, o) => new ParityDropoutNet(d, b, o)),
        new("Deep", ParityDeep.Info, (d, b, o) => new ParityDeep(d, b, o), StepRateScale: 0.01),
        new("DeepBottleneck", ParityDeepBottleneck.Info, (d, b, o) => new ParityDeepBottleneck(d, b, o), StepRateScale: 0.01),
        new("SmoothNet", ParitySmoothNet.Info, (d, b, o) => new ParitySmoothNet(d, b, o)),
        new("ResNeXt", ParityResNeXt.Info, (d, b, o) => new ParityResNeXt(d, b, o)),
        new("SENet", ParitySENet.Info, (d, b, o) => new ParitySENet(d, b, o)),
    ];

    public static ParityNetwork Network(string name) => Networks.Single(n => n.Name == name);

    /// <summary>Every network on every device.</summary>
    public static IEnumerable<object[]> All() =>
        from d in Devices from n in Networks select new object[] { n.Name, d };

    /// <summary>Networks whose training can be compared (no dropout), on every device.</summary>
    public static IEnumerable<object[]> Trainable() =>
        from d in Devices from n in Networks where !n.HasDropout select new object[] { n.Name, d };
}

/// <summary>One DslResNet device per kind for the whole run (ILGPU compiles each kernel once per accelerator), and TorchSharp's health.</summary>
public sealed class ParityFixture : IDisposable
{
    private readonly Dictionary<DeviceKind, Device> _devices = [];

    public ParityFixture()
    {
        TorchHealth.EnsureLoaded();

        // One libtorch thread: this libtorch build's multi-threaded CPU kernels gave run-to-run different float32
        // gradients here (see ParityData.ReferenceType); the tensors are small, so one thread costs little.
        set_num_threads(1);
    }

    public Device Device(DeviceKind kind)
    {
        lock (_devices)
        {
            if (!_devices.TryGetValue(kind, out Device? device))
            {
                device = Runtime.Device.Create(kind);
                _devices[kind] = device;
            }

            return device;
        }
    }

    public void Dispose()
    {
        foreach (Device d in _devices.Values)
        {
            d.Dispose();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ParityCollection : ICollectionFixture<ParityFixture>
{
    public const string Name = "Parity with TorchSharp";
}

/// <summary>
/// Whether TorchSharp's native library loads, and if not, why. TorchSharp's own message on a failed load ("... doesn't
/// contain a reference to libtorch-cpu-linux-x64 ...") is misleading on a system whose libstdc++ is older than the one
/// libLibTorchSharp.so was linked against; this says what the dynamic loader really said and what ldd reports.
/// </summary>
public static class TorchHealth
{
    private static readonly Lazy<string?> Failure = new(Probe);

    public static void EnsureLoaded()
    {
        if (Failure.Value is { } message)
        {
            throw new InvalidOperationException(message);
        }
    }

    private static string? Probe()
    {
        try
        {
            using Tensor t = ones(2, 3);
            return t.sum().item<float>() == 6f ? null : "TorchSharp loaded but ones(2, 3).sum() is not 6.";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Diagnose(e);
        }
    }

    private static string Diagnose(Exception e)
    {
        StringBuilder text = new();
        text.AppendLine("TorchSharp failed to load. Its own message (often misleading) was: " + e.GetType().Name + ": " + e.Message);
        string[] candidates = Directory.Exists(AppContext.BaseDirectory)
            ? Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories)
            : [];
        if (candidates.Length == 0)
        {
            text.AppendLine($"No libLibTorchSharp.so under {AppContext.BaseDirectory}: the TorchSharp package's native asset was not copied.");
        }

        foreach (string path in candidates)
        {
            text.AppendLine("Real cause, from the dynamic loader for " + path + ":");
            if (NativeLibrary.TryLoad(path, out IntPtr handle))
            {
                text.AppendLine("  dlopen succeeds here (the failure is elsewhere, e.g. libtorch itself).");
                NativeLibrary.Free(handle);
            }
            else
            {
                try
                {
                    NativeLibrary.Load(path);
                }
                catch (DllNotFoundException d)
                {
                    text.AppendLine("  " + d.Message);
                }
            }

            text.AppendLine("  ldd:");
            foreach (string line in Run("ldd", path).Split('\n').Where(l => l.Contains("not found", StringComparison.Ordinal) || l.Contains("version", StringComparison.Ordinal)))
            {
                text.AppendLine("    " + line.Trim());
            }
        }

        text.AppendLine("If the loader names GLIBCXX_3.4.32: LibTorchSharpGlibcxx.targets should have marked that requirement weak in the build output's copy; check the build log for 'LibTorchSharp GLIBCXX step'.");
        return text.ToString();
    }

    private static string Run(string file, string argument)
    {
        try
        {
            ProcessStartInfo start = new(file, [argument]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using Process process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return output;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"({file} could not run: {e.Message})";
        }
    }
}

/// <summary>Tolerance checks that collect every mismatch, so one failure lists all tensors that differ.</summary>
public sealed class Mismatches
{
    private readonly List<string> _problems = [];
    private int _checked;

    /// <summary>
    /// Checks max |actual - expected| &lt;= tolerance * scale, where scale is max |expected| over the tensor (at least
    /// <paramref name="floor"/>): an error relative to the tensor's own magnitude, as float32 sums in a different order
    /// differ by a few ulps of the largest terms, not of each element.
    /// </summary>
    public void Close(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, double floor = 1e-6)
    {
        _checked++;
        if (expected.Length != actual.Length)
        {
            _problems.Add($"{what}: {actual.Length} values, expected {expected.Length}");
            return;
        }

        double scale = floor;
        for (int i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }

        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs((double)actual[i] - expected[i]);
            if (!(error <= worst))
            {
                worst = double.IsNaN(error) ? double.PositiveInfinity : error;
                at = i;
            }
        }

        if (worst > tolerance * scale)
        {
            _problems.Add(string.Create(CultureInfo.InvariantCulture,
                $"{what}: max error {worst:G4} at [{at}] (DslResNet {actual[at]:G7}, TorchSharp {expected[at]:G7}) > {tolerance:G2} x scale {scale:G4}"));
        }
    }

    public void Scalar(string what, double expected, double actual, double tolerance)
    {
        _checked++;
        if (!(Math.Abs(actual - expected) <= tolerance * Math.Max(1e-6, Math.Abs(expected))))
        {
            _problems.Add(string.Create(CultureInfo.InvariantCulture, $"{what}: DslResNet {actual:G9}, TorchSharp {expected:G9} (relative tolerance {tolerance:G2})"));
        }
    }

    public void Equal<T>(string what, T expected, T actual)
    {
        _checked++;
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            _problems.Add($"{what}: DslResNet {actual}, TorchSharp {expected}");
        }
    }

    public void Assert(string context)
    {
        Xunit.Assert.True(_checked > 0, context + ": nothing was compared");
        if (_problems.Count > 0)
        {
            Xunit.Assert.Fail($"{context}: {_problems.Count} of {_checked} comparisons failed:\n  " + string.Join("\n  ", _problems));
        }
    }
}

/// <summary>
/// TorchSharp's optimizer steps with no garbage collection during them. Its optimizers pass doubles converted implicitly to
/// <c>Scalar</c>s, which nothing keeps alive while libtorch reads them: a collection in the middle of a step can finalize
/// one under libtorch's feet. Seen once in CI (2026-12-07, at 87365ce: <c>ThreeAdamWSteps(ResNetD)</c>, "Unknown scalar
/// type" raised from <c>mul_(Scalar)</c> inside <c>AdamW.step</c>, the same test passing in the runs before and after);
/// TorchSharp's open pull requests 1434 and 1496 dispose those scalars. A step allocates a few kilobytes of wrappers.
/// </summary>
public static class TorchSteps
{
    private static readonly object Gate = new();

    /// <summary>Runs <paramref name="optimizer"/>'s step inside a no-GC region where the runtime grants one.</summary>
    /// <param name="optimizer">The TorchSharp optimizer.</param>
    public static void Step(optim.Optimizer optimizer)
    {
        lock (Gate)
        {
            bool region = System.GC.TryStartNoGCRegion(16L << 20);
            try
            {
                optimizer.step();
            }
            finally
            {
                if (region && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion)
                {
                    System.GC.EndNoGCRegion();
                }
            }
        }
    }
}

/// <summary>Random data and weight set-up shared by the tests.</summary>
public static class ParityData
{
    public static float[] Normal(Random random, int count, double scale = 1)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            values[i] = (float)(scale * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return values;
    }

    public static float[] Uniform(Random random, int count, double low, double high)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)(low + ((high - low) * random.NextDouble()));
        }

        return values;
    }

    public static (float[] Images, int[] Labels) Batch(NetworkInfo info, int seed)
    {
        Random random = new(seed);
        int classes = (int)info.OutputShape.Elements;
        float[] images = Normal(random, checked((int)(ParityCases.Batch * info.InputShape.Elements)));
        int[] labels = Enumerable.Range(0, ParityCases.Batch).Select(_ => random.Next(classes)).ToArray();
        return (images, labels);
    }

    public static Tensor Images(NetworkInfo info, float[] images)
    {
        long[] shape = [ParityCases.Batch, .. info.InputShape.Dimensions.Select(d => (long)d)];
        return tensor(images, shape, ScalarType.Float32);
    }

    public static Tensor Labels(int[] labels) => tensor(labels.Select(l => (long)l).ToArray(), [labels.Length], ScalarType.Int64);

    /// <summary>
    /// Moves batch norm away from its initial identity (scale 1, shift 0, mean 0, variance 1), so that a mix-up of scale
    /// and shift, or of batch and running statistics, shows.
    /// </summary>
    public static void RandomizeBatchNorm(NetworkBase net, int seed)
    {
        Random random = new(seed);
        foreach (ParameterInfo p in net.Definition.Parameters)
        {
            int n = (int)p.Elements;
            switch (p.Role)
            {
                case ParameterRole.BatchNormScale:
                    net.SetParameter(p.Name, Uniform(random, n, 0.5, 1.5));
                    break;
                case ParameterRole.BatchNormShift:
                case ParameterRole.RunningMean:
                    net.SetParameter(p.Name, Normal(random, n, 0.2));
                    break;
                case ParameterRole.RunningVar:
                    net.SetParameter(p.Name, Uniform(random, n, 0.5, 2.0));
                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>
    /// The reference computes in float64: libtorch 2.10's float32 CPU kernels (this libtorch-cpu-linux-x64 build) give
    /// wrong gradients for some convolution shapes here (e.g. conv2d 3 -> 8 channels, 7x7, stride 2, padding 3 on a
    /// 4 x 3 x 16 x 16 batch: the input gradient is 29% off float64), and with more than one thread some float32
    /// gradients even change from run to run. Its float64 kernels agree with DslResNet's float32 to a few 1e-6, two
    /// independent implementations, so float64 libtorch is the reference and the tolerances measure DslResNet's float32 error.
    /// </summary>
    public const ScalarType ReferenceType = ScalarType.Float64;

    /// <summary>The largest magnitude over several tensors: a floor for tensors that are zero up to rounding.</summary>
    public static double Scale(IEnumerable<float[]> tensors) => tensors.SelectMany(t => t).Select(v => (double)Math.Abs(v)).DefaultIfEmpty(0).Max();

    /// <summary>A TorchSharp interpreter holding exactly the DslResNet model's tensors, copied by torchvision name.</summary>
    public static TorchInterpreter Mirror(NetworkBase net)
    {
        Checkpoint state = net.ExportCheckpoint();
        TorchInterpreter torchNet = new(net.Definition, ReferenceType);
        torchNet.Load(name => state.Model[name].Floats!, name => state.Model[name].Int64s![0]);
        return torchNet;
    }

    public static string TempFile(string name) =>
        Path.Combine(Path.GetTempPath(), $"dslresnet-parity-{Environment.ProcessId}-{Guid.NewGuid():N}-{name}");
}

/// <summary>
/// An independent safetensors reader (the format: an 8-byte little-endian header length, a JSON header of
/// name -> {dtype, shape, data_offsets}, then the raw little-endian data), so that a DslResNet checkpoint is read the way
/// Python's safetensors reads it, not by DslResNet's own reader.
/// </summary>
public static class SafeTensorsFile
{
    public static Dictionary<string, (string DType, long[] Shape, byte[] Data)> Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        using JsonDocument header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        Dictionary<string, (string, long[], byte[])> tensors = new(StringComparer.Ordinal);
        int dataStart = 8 + (int)headerLength;
        foreach (JsonProperty entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
            {
                continue;
            }

            string dtype = entry.Value.GetProperty("dtype").GetString()!;
            long[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            long[] offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            tensors[entry.Name] = (dtype, shape, bytes.AsSpan(dataStart + (int)offsets[0], (int)(offsets[1] - offsets[0])).ToArray());
        }

        return tensors;
    }

    public static float[] Floats(byte[] data) => MemoryMarshal.Cast<byte, float>(data).ToArray();

    public static long Int64(byte[] data) => BitConverter.ToInt64(data, 0);
}
