using System;
using System.Collections.Generic;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Xunit;
using DslResNet.Runtime;
using Device = DslResNet.Runtime.Device;

namespace DslResNet.Tests.Kernels;

/// <summary>Data and checks shared by the kernel tests (ILGPU and SIMD).</summary>
internal static class KernelTestData
{
    private const double Tolerance = 1e-4;

    /// <summary>
    /// A seed that depends only on <paramref name="parts"/> (FNV-1a over their invariant text), the same in every process.
    /// (<see cref="HashCode"/> is randomised per process, so seeds made with it drew new data in every run: a test could
    /// pass or fail depending on the run.)
    /// </summary>
    /// <param name="parts">What identifies the case.</param>
    /// <returns>The seed.</returns>
    public static int Seed(params object[] parts)
    {
        uint hash = 2166136261;
        foreach (char c in string.Join("|", parts.Select(p => Convert.ToString(p, System.Globalization.CultureInfo.InvariantCulture))))
        {
            hash = (hash ^ c) * 16777619;
        }

        return (int)(hash & 0x7fffffff);
    }

    /// <summary>
    /// Relative error at most <paramref name="tolerance"/>, the denominator floored at 1e-3 or 2% of the largest expected
    /// magnitude (so elements that cancel to near zero are held to float rounding of the array's scale).
    /// </summary>
    public static void AssertClose(string what, double[] expected, float[] actual, double tolerance = Tolerance)
    {
        double largest = expected.Length == 0 ? 0 : expected.Max(Math.Abs);
        Comparison comparison = FiniteDifference.Compare(expected, actual, Math.Max(1e-3, 0.02 * largest));
        Assert.True(comparison.MaxRelativeError <= tolerance, $"{what}: {comparison}");
    }

    /// <summary>Uniform in [-scale, scale], multiples of scale / 1024 (exact in float and double).</summary>
    public static float[] RandomFloats(Random random, int length, double scale = 1.0)
    {
        float[] a = new float[length];
        for (int i = 0; i < length; i++)
        {
            a[i] = (float)(scale * Math.Round(((2 * random.NextDouble()) - 1) * 1024) / 1024);
        }

        return a;
    }

    /// <summary>gamma in [0.5, 1.5], beta in [-1, 1], running mean in [-1, 1], running variance in [0.5, 2].</summary>
    public static float[] BatchNormParameters(Random random, int channels)
    {
        float[] bn = new float[4 * channels];
        for (int c = 0; c < channels; c++)
        {
            bn[c] = 0.5f + (random.Next(1025) / 1024f);
            bn[channels + c] = (random.Next(2049) - 1024) / 1024f;
            bn[(2 * channels) + c] = (random.Next(2049) - 1024) / 1024f;
            bn[(3 * channels) + c] = 0.5f + (1.5f * random.Next(1025) / 1024f);
        }

        return bn;
    }

    public static (double[] Gamma, double[] Beta, double[] Mean, double[] Variance) Split(float[] bn, int channels) =>
        (D(bn[..channels]), D(bn[channels..(2 * channels)]), D(bn[(2 * channels)..(3 * channels)]), D(bn[(3 * channels)..]));

    public static double[] D(float[] a) => a.Select(v => (double)v).ToArray();

    public static double[] Add(double[] a, double[] b) => a.Zip(b, (u, v) => u + v).ToArray();
}

/// <summary>Device buffers for one test, released together.</summary>
internal sealed class Buffers : IDisposable
{
    private readonly Device _device;
    private readonly List<DeviceBuffer<float>> _buffers = [];

    public Buffers(Device device)
    {
        _device = device;
    }

    public ArrayView<float> Upload(float[] data)
    {
        // Host memory on the SIMD device (it has no accelerator), an ILGPU buffer otherwise; written through the backend.
        DeviceBuffer<float> buffer = new(_device, Math.Max(1, data.Length));
        _buffers.Add(buffer);
        ArrayView<float> view = buffer.View.SubView(0, data.Length);
        _device.Backend.Write(data, view);

        return view;
    }

    public ArrayView<float> Filled(int length, float value) => Upload(Enumerable.Repeat(value, length).ToArray());

    public float[] Read(ArrayView<float> view)
    {
        float[] result = new float[view.Length];
        _device.Backend.Read(view, result);
        return result;
    }

    public void Dispose()
    {
        foreach (DeviceBuffer<float> buffer in _buffers)
        {
            buffer.Dispose();
        }
    }
}
