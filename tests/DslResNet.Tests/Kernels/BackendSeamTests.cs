using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.Kernels;
using DslResNet.Runtime;
using DslResNet.Tests.Networks;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Kernels;

/// <summary>
/// The seam between the operations and the backends: a decorator backend in front of the SIMD backend sees every
/// operation a generated network builds and every pass it runs, and the results are bit-identical to the SIMD backend
/// alone. A backend added behind <see cref="IBackend"/> therefore reaches every operation without generator changes.
/// </summary>
public sealed class BackendSeamTests
{
    public static TheoryData<string> Networks => new() { nameof(TinyZeroPadNet), nameof(TinyMixedNet), nameof(TinyResNet) };

    [Theory]
    [MemberData(nameof(Networks))]
    public void Every_operation_of_a_generated_network_goes_through_the_backend_and_results_are_unchanged(string network)
    {
        (Result plain, _) = Run(network, decorate: false);
        (Result seen, CountingBackend counting) = Run(network, decorate: true);

        // Bit-identical: the decorator only forwards.
        Assert.Equal(plain.Losses, seen.Losses);
        Assert.Equal(plain.Logits, seen.Logits);
        Assert.Equal(plain.Parameters.Keys, seen.Parameters.Keys);
        foreach ((string name, float[] values) in plain.Parameters)
        {
            Assert.Equal(values, seen.Parameters[name]);
        }

        // Every operation was built by the backend and every pass of it ran through the backend.
        Assert.NotEmpty(counting.Operations);
        Assert.Contains(counting.Operations, o => o.Kind == "Conv");
        Assert.Contains(counting.Operations, o => o.Kind == "Epilogue");
        foreach (CountingBackend.Op op in counting.Operations)
        {
            Assert.True(op.Fused || op.Forwards > 0, $"{network}: {op.Kind} #{op.Index} was built but its forward never ran through the backend");
            Assert.True(!op.Trains || op.Backwards > 0, $"{network}: training {op.Kind} #{op.Index} never ran its backward through the backend");
        }

        // Exactly the network's operations: one per layer's kernel, built once, disposed with the network.
        Assert.All(counting.Operations, o => Assert.True(o.Disposed, $"{network}: {o.Kind} #{o.Index} was not disposed with its network"));
        string[] kinds = counting.Operations.Select(o => o.Kind).Distinct().Order(StringComparer.Ordinal).ToArray();
        string[] expected = network switch
        {
            nameof(TinyZeroPadNet) => ["Conv", "Epilogue", "Fold", "Pool", "Shortcut"],
            nameof(TinyMixedNet) => ["Conv", "Copy", "Dropout", "Epilogue", "Fold", "Pool"],
            _ => ["Conv", "Epilogue", "Fold", "Pool"],
        };
        Assert.Equal(expected, kinds);
        Assert.Contains(counting.Operations, o => o.Kind == "Epilogue" && o.Fused);
        Assert.True(counting.StatisticsFusions > 0, $"{network}: no convolution was asked to add up its batch norm's statistics");

        // Outputs the plan does not keep for backward (conv -> batch norm -> ReLU groups) are recomputed through the backend.
        Assert.Contains(counting.Operations, o => o.Kind == "Epilogue" && o.Reapplies > 0);

        // The network's traffic with the caller (images, labels, loss, clearing) goes through the backend too: one host per network.
        Assert.Equal(1, counting.Hosts);
    }

    private sealed record Result(double[] Losses, float[] Logits, SortedDictionary<string, float[]> Parameters);

    private static (Result Result, CountingBackend Counting) Run(string network, bool decorate)
    {
        const int batch = 3;
        using Device device = Device.Create(DeviceKind.Cpu, threads: 2, oversubscribe: true);
        CountingBackend? counting = null;
        if (decorate)
        {
            device.DecorateBackend(inner => counting = new CountingBackend(inner));
        }

        var options = new NetworkOptions(Seed: 5);
        Result result;
        using (NetworkBase net = network switch
        {
            nameof(TinyZeroPadNet) => new TinyZeroPadNet(device, batch, options),
            nameof(TinyMixedNet) => new TinyMixedNet(device, batch, options),
            _ => new TinyResNet(device, batch, options),
        })
        {
            Random random = new(11);
            float[] images = NetworkData.Normal(random, batch * NetworkData.ImageElements(net));
            int classes = (int)net.Definition.OutputShape.Elements;
            int[] labels = Enumerable.Range(0, batch).Select(i => i % classes).ToArray();
            var sgd = new Sgd(0.05, momentum: 0.9);
            net.AddParametersTo(sgd);
            double[] losses = [net.TrainStep(images, labels, sgd).Loss, net.TrainStep(images, labels, sgd).Loss];
            float[] logits = new float[batch * classes];
            net.Predict(images, logits);
            var parameters = new SortedDictionary<string, float[]>(StringComparer.Ordinal);
            foreach (var p in net.Definition.Parameters.Where(p => !p.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal)))
            {
                parameters[p.Name] = net.GetParameter(p.Name);
            }

            result = new Result(losses, logits, parameters);
        }

        return (result, counting ?? new CountingBackend(null!));
    }

    /// <summary>Forwards to another backend and counts, per operation, what passed through.</summary>
    private sealed class CountingBackend(IBackend inner) : IBackend
    {
        public List<Op> Operations { get; } = [];

        public int StatisticsFusions { get; private set; }

        public string Name => "counting " + inner.Name;

        public IConvolution CreateConvolution<TGeometry>(ConvShape shape, ConvBinding tensors)
            where TGeometry : struct, IConvGeometry => Add(new Conv(inner.CreateConvolution<TGeometry>(shape, tensors), tensors.Training));

        public IConvolution CreateConvolution(ConvShape shape, ConvBinding tensors) => Add(new Conv(inner.CreateConvolution(shape, tensors), tensors.Training));

        public IFold CreateFold(ConvShape shape, float eps, FoldBinding tensors) => Add(new Fold(inner.CreateFold(shape, eps, tensors)));

        public IEpilogue CreateEpilogue(EpilogueShape shape, EpilogueBinding tensors) => Add(new Epilogue(inner.CreateEpilogue(shape, tensors), HostView.Bound(tensors.Dy)));

        public IPooling CreatePooling(PoolShape shape, MapBinding tensors) => Add(new Map("Pool", inner.CreatePooling(shape, tensors), HostView.Bound(tensors.Dy)));

        public IShortcut CreateShortcut(ShortcutShape shape, MapBinding tensors) => Add(new Map("Shortcut", inner.CreateShortcut(shape, tensors), HostView.Bound(tensors.Dy)));

        public IChannelScale CreateChannelScale(ChannelScaleShape shape, ChannelScaleBinding tensors) => Add(new Map("ChannelScale", inner.CreateChannelScale(shape, tensors), HostView.Bound(tensors.Dy)));

        public ICopy CreateCopy(CopyShape shape, MapBinding tensors) => Add(new Map("Copy", inner.CreateCopy(shape, tensors), HostView.Bound(tensors.Dy)));

        public IDropout CreateDropout(DropoutShape shape, MapBinding tensors) => Add(new Dropout(inner.CreateDropout(shape, tensors)));

        public void FuseStatistics(IConvolution convolution, IEpilogue epilogue)
        {
            StatisticsFusions++;
            inner.FuseStatistics(((Conv)convolution).Inner, ((Epilogue)epilogue).Inner);
        }

        public bool FuseEpilogue(IConvolution convolution, ConvBinding convolutionTensors, IEpilogue epilogue, EpilogueShape shape, EpilogueBinding epilogueTensors)
        {
            bool fused = inner.FuseEpilogue(((Conv)convolution).Inner, convolutionTensors, ((Epilogue)epilogue).Inner, shape, epilogueTensors);
            ((Epilogue)epilogue).Fused |= fused;
            return fused;
        }

        public int Hosts { get; private set; }

        public INetworkHost CreateHost(HostBinding binding)
        {
            Hosts++;
            return inner.CreateHost(binding);
        }

        public void Read(ILGPU.ArrayView<float> source, Span<float> target) => inner.Read(source, target);

        public void Write(ReadOnlySpan<float> source, ILGPU.ArrayView<float> target) => inner.Write(source, target);

        public bool SerializesCalls => inner.SerializesCalls;

        public int ExtraParameterCopies => inner.ExtraParameterCopies;

        public void Dispose() => inner.Dispose();

        private T Add<T>(T op)
            where T : Op
        {
            op.Index = Operations.Count;
            Operations.Add(op);
            return op;
        }

        internal abstract class Op(string kind, bool trains) : IDisposable
        {
            public string Kind => kind;

            public bool Trains => trains;

            public int Index { get; set; }

            public int Forwards { get; set; }

            public int Backwards { get; set; }

            public int Reapplies { get; set; }

            public bool Fused { get; set; }

            public bool Disposed { get; private set; }

            protected abstract IDisposable Target { get; }

            public void Dispose()
            {
                Disposed = true;
                Target.Dispose();
            }
        }

        private sealed class Conv(IConvolution inner, bool trains) : Op("Conv", trains), IConvolution
        {
            protected override IDisposable Target => inner;

            public IConvolution Inner => inner;

            public void Forward(int images, bool weightsChanged)
            {
                Forwards++;
                inner.Forward(images, weightsChanged);
            }

            public void Backward(bool data, bool weights = true)
            {
                Backwards++;
                inner.Backward(data, weights);
            }
        }

        private sealed class Fold(IFold inner) : Op("Fold", false), IFold
        {
            protected override IDisposable Target => inner;

            public void Run()
            {
                Forwards++;
                inner.Run();
            }
        }

        private sealed class Epilogue(IEpilogue inner, bool trains) : Op("Epilogue", trains), IEpilogue
        {
            protected override IDisposable Target => inner;

            public IEpilogue Inner => inner;

            public bool RunningStatistics
            {
                get => inner.RunningStatistics;
                set => inner.RunningStatistics = value;
            }

            public DslResNet.Kernels.ICommunicator? Synchronized
            {
                get => inner.Synchronized;
                set => inner.Synchronized = value;
            }

            public void Forward(int images)
            {
                Forwards++;
                inner.Forward(images);
            }

            public void Backward()
            {
                Backwards++;
                inner.Backward();
            }

            public void Reapply()
            {
                Reapplies++;
                inner.Reapply();
            }
        }

        // Pooling, shortcut and copy share one shape of contract.
        private sealed class Map(string kind, IDisposable inner, bool trains) : Op(kind, trains), IPooling, IShortcut, IChannelScale, ICopy
        {
            protected override IDisposable Target => inner;

            public void Forward(int images)
            {
                Forwards++;
                switch (inner)
                {
                    case IPooling p: p.Forward(images); break;
                    case IShortcut s: s.Forward(images); break;
                    case IChannelScale c: c.Forward(images); break;
                    default: ((ICopy)inner).Forward(images); break;
                }
            }

            public void Backward()
            {
                Backwards++;
                switch (inner)
                {
                    case IPooling p: p.Backward(); break;
                    case IShortcut s: s.Backward(); break;
                    case IChannelScale c: c.Backward(); break;
                    default: ((ICopy)inner).Backward(); break;
                }
            }
        }

        private sealed class Dropout(IDropout inner) : Op("Dropout", true), IDropout
        {
            protected override IDisposable Target => inner;

            public void Forward(long step)
            {
                Forwards++;
                inner.Forward(step);
            }

            public void Backward(long step)
            {
                Backwards++;
                inner.Backward(step);
            }
        }
    }
}
