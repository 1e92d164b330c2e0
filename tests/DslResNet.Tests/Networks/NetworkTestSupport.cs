using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.Runtime;
using Xunit;

namespace DslResNet.Tests.Networks;

/// <summary>
/// One device for every test of a generated network. ILGPU compiles each kernel specialisation once per accelerator, so
/// sharing the device between the classes of the collection pays that cost once; the collection also keeps these
/// CPU-heavy classes from running at the same time. The CPU accelerator is used unless DSLRESNET_DEVICE says otherwise.
/// </summary>
public sealed class NetworkDeviceFixture : IDisposable
{
    public NetworkDeviceFixture()
    {
        Device = Environment.GetEnvironmentVariable(Runtime.Device.EnvironmentVariable) is null
            ? Runtime.Device.Create(DeviceKind.Cpu)
            : Runtime.Device.Create();
    }

    public Device Device { get; }

    public void Dispose() => Device.Dispose();
}

[CollectionDefinition(Name)]
public sealed class NetworkCollection : ICollectionFixture<NetworkDeviceFixture>
{
    public const string Name = "Generated networks";
}

/// <summary>Random data and small helpers shared by the network tests.</summary>
internal static class NetworkData
{
    public static double Normal(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    public static float[] Normal(Random random, int count, double scale = 1.0)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)(scale * Normal(random));
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

    public static int ImageElements(NetworkBase net) => checked((int)net.Definition.InputShape.Elements);

    public static int Classes(NetworkBase net) => checked((int)net.Definition.OutputShape.Elements);

    public static double[] ToDouble(float[] values) => values.Select(v => (double)v).ToArray();

    public static IEnumerable<ParameterInfo> Trainable(NetworkBase net) => net.Definition.Parameters.Where(p => p.IsTrainable);

    /// <summary>Every float tensor (parameters and running statistics), by name.</summary>
    public static Dictionary<string, float[]> AllFloatTensors(NetworkBase net) =>
        net.Definition.Parameters.Where(p => p.Role != ParameterRole.BatchesTracked).ToDictionary(p => p.Name, p => net.GetParameter(p.Name), StringComparer.Ordinal);

    /// <summary>Gives every batch norm non-trivial running statistics, scale and shift, so that evaluation mode differs from the identity.</summary>
    public static void RandomiseBatchNorms(NetworkBase net, Random random)
    {
        foreach (ParameterInfo p in net.Definition.Parameters)
        {
            int count = checked((int)p.Elements);
            switch (p.Role)
            {
                case ParameterRole.BatchNormScale:
                    net.SetParameter(p.Name, Uniform(random, count, 0.6, 1.4));
                    break;
                case ParameterRole.BatchNormShift:
                    net.SetParameter(p.Name, Normal(random, count, 0.2));
                    break;
                case ParameterRole.RunningMean:
                    net.SetParameter(p.Name, Normal(random, count, 0.2));
                    break;
                case ParameterRole.RunningVar:
                    net.SetParameter(p.Name, Uniform(random, count, 0.5, 2.0));
                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>max |expected - actual| / (1 + |expected|), with where it occurred.</summary>
    public static (double Error, int Index) MaxScaledError(double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs(expected[i] - actual[i]) / (1 + Math.Abs(expected[i]));
            if (double.IsNaN(e) || e > worst)
            {
                worst = double.IsNaN(e) ? double.PositiveInfinity : e;
                at = i;
            }
        }

        return (worst, at);
    }
}
