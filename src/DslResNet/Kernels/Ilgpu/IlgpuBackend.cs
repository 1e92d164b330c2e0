using System;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>
/// The ILGPU backend: every operation is a kernel launch (or two) on the device's accelerator stream, specialised per shape
/// through <see cref="SpecializedValue{T}"/>; maps in NCHW order. Passes always run the whole batch. Dense convolutions run
/// as the direct kernels (<see cref="ConvKernels"/>) or as tiled implicit GEMMs (<see cref="TiledConvKernels"/>), as
/// <see cref="ConvPath"/> says; grouped ones always run direct.
/// </summary>
internal sealed partial class IlgpuBackend : IBackend
{
    private readonly KernelSet _kernels;
    private readonly int _launchThreads;

    /// <summary>Creates the backend.</summary>
    /// <param name="kernels">The device's kernels.</param>
    /// <param name="launchThreads">The most threads one launch uses; kernels loop over the rest.</param>
    /// <param name="convPath">Which convolution kernels dense convolutions run (see <see cref="IlgpuConvPath"/>).</param>
    public IlgpuBackend(KernelSet kernels, int launchThreads, IlgpuConvPath convPath = IlgpuConvPath.Direct)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        if (!Enum.IsDefined(convPath))
        {
            throw new ArgumentOutOfRangeException(nameof(convPath), convPath, "Unknown convolution path; expected Direct or Tiled.");
        }

        (_kernels, _launchThreads, ConvPath) = (kernels, launchThreads, convPath);
        GroupedReductions = kernels.Accelerator.AcceleratorType != AcceleratorType.CPU;
    }

    /// <summary>Which kernels dense convolutions run; fixed for the backend's life.</summary>
    internal IlgpuConvPath ConvPath { get; }

    /// <summary>
    /// Whether batch-norm statistics and backward reductions run as the grouped kernels (<see cref="ReductionKernels"/>,
    /// one group per channel) rather than one thread per channel (<see cref="EpilogueKernels"/>). On by default on GPUs;
    /// off on ILGPU's CPU accelerator, which emulates each group's threads and barriers and gains nothing from them. Tests
    /// turn it on there to check the grouped kernels. Read at each launch; set it before a network is built to keep one
    /// network's passes consistent.
    /// </summary>
    internal bool GroupedReductions { get; set; }

    /// <inheritdoc />
    public string Name => "ILGPU";

    /// <inheritdoc />
    public bool SerializesCalls => true;

    /// <inheritdoc />
    public int ExtraParameterCopies => 0;

    /// <inheritdoc />
    public INetworkHost CreateHost(HostBinding binding) => new IlgpuNetworkHost(this, _kernels.Accelerator, binding);

    /// <inheritdoc />
    public void Read(ArrayView<float> source, Span<float> target)
    {
        float[] values = new float[target.Length];
        source.SubView(0, values.Length).CopyToCPU(values);
        values.CopyTo(target);
    }

    /// <inheritdoc />
    public void Write(ReadOnlySpan<float> source, ArrayView<float> target) => target.SubView(0, source.Length).CopyFromCPU(source.ToArray());

    /// <summary>The device's kernels.</summary>
    internal KernelSet Kernels => _kernels;

    /// <summary>Threads to launch for <paramref name="work"/> independent items.</summary>
    /// <param name="work">Items.</param>
    /// <returns>At least 1, at most the launch limit.</returns>
    internal int ThreadsFor(long work) => (int)Math.Clamp(work, 1, _launchThreads);

    /// <inheritdoc />
    public IConvolution CreateConvolution<TGeometry>(ConvShape shape, ConvBinding tensors)
        where TGeometry : struct, IConvGeometry => CreateConvolution(shape, tensors);

    /// <inheritdoc />
    public IConvolution CreateConvolution(ConvShape shape, ConvBinding tensors) =>
        ConvPath == IlgpuConvPath.Tiled && shape.Groups == 1 ? new TiledConvolution(this, shape, tensors) : new Convolution(this, shape, tensors);

    /// <inheritdoc />
    public IFold CreateFold(ConvShape shape, float eps, FoldBinding tensors) => new Fold(this, shape, eps, tensors);

    /// <inheritdoc />
    public IEpilogue CreateEpilogue(EpilogueShape shape, EpilogueBinding tensors) => new Epilogue(this, shape, tensors);

    /// <inheritdoc />
    public IPooling CreatePooling(PoolShape shape, MapBinding tensors) => new Pooling(this, shape, tensors);

    /// <inheritdoc />
    public IShortcut CreateShortcut(ShortcutShape shape, MapBinding tensors) => new Shortcut(this, shape, tensors);

    /// <inheritdoc />
    public IChannelScale CreateChannelScale(ChannelScaleShape shape, ChannelScaleBinding tensors) => new ChannelScale(this, shape, tensors);

    /// <inheritdoc />
    public ICopy CreateCopy(CopyShape shape, MapBinding tensors) => new Copy(this, (int)shape.Count, tensors);

    /// <inheritdoc />
    public IDropout CreateDropout(DropoutShape shape, MapBinding tensors) => new Dropout(this, shape, tensors);

    /// <inheritdoc />
    /// <remarks>Not fused here: the epilogue's statistics kernel computes them.</remarks>
    public void FuseStatistics(IConvolution convolution, IEpilogue epilogue)
    {
    }

    /// <inheritdoc />
    /// <remarks>Not fused here: the pass runs as its own kernel.</remarks>
    public bool FuseEpilogue(IConvolution convolution, ConvBinding convolutionTensors, IEpilogue epilogue, EpilogueShape shape, EpilogueBinding epilogueTensors) => false;

    /// <summary>Nothing to free: the kernels belong to the device's accelerator.</summary>
    public void Dispose()
    {
    }

    // The operations hold no memory of their own; Dispose has nothing to free.
    private abstract class Operation(IlgpuBackend backend) : IDisposable
    {
        protected KernelSet K => backend._kernels;

        protected IlgpuBackend Backend => backend;

        protected int Threads(long work) => backend.ThreadsFor(work);

        public void Dispose()
        {
        }
    }

    private sealed class Convolution(IlgpuBackend backend, ConvShape shape, ConvBinding t) : Operation(backend), IConvolution
    {
        public void Forward(int images, bool weightsChanged)
        {
            // The kernel computes four outputs of a row per work item.
            long work = (long)shape.N * shape.OutChannels * shape.OutHeight * ((shape.OutWidth + 3) / 4);
            K.ConvForward(Threads(work), SpecializedValue.New(shape), t.X, t.W, t.B, t.Y, Threads(work));
        }

        public void Backward(bool data, bool weights = true)
        {
            if (weights)
            {
                long work = shape.WeightElements + (shape.Bias ? shape.OutChannels : 0);
                K.ConvBackwardWeights(Threads(work), SpecializedValue.New(shape), t.Dy, t.X, t.Dw, t.Db, Threads(work));
            }

            if (data && t.Dx.Length > 0)
            {
                // The kernel computes four inputs of a row per work item.
                long rows = (long)shape.N * shape.InChannels * shape.Height * ((shape.Width + 3) / 4);
                K.ConvBackwardData(Threads(rows), SpecializedValue.New(shape), t.Dy, t.W, t.Dx, Threads(rows));
            }
        }
    }

    private sealed class Fold(IlgpuBackend backend, ConvShape shape, float eps, FoldBinding t) : Operation(backend), IFold
    {
        public void Run()
        {
            long work = shape.WeightElements + shape.OutChannels;
            K.FoldBatchNorm(Threads(work), SpecializedValue.New(shape), t.W, t.B, t.Bn, eps, t.Wf, t.Bf, Threads(work));
        }
    }

    private sealed class Epilogue(IlgpuBackend backend, EpilogueShape shape, EpilogueBinding t) : Operation(backend), IEpilogue
    {
        public bool RunningStatistics { get; set; }

        // Synchronised batch norm: the kernels compute this device's moments and reductions; the host combines the
        // ranks' (in double, as the SIMD backend does) and writes the whole batch's back before the element-wise passes.
        public ICommunicator? Synchronized { get; set; }

        private double _syncedCount;

        public void Forward(int images)
        {
            if (shape.Norm && shape.Training)
            {
                if (Synchronized is { } comm && !RunningStatistics)
                {
                    Statistics(2);
                    SynchronizeStatistics(comm);
                }
                else
                {
                    Statistics(RunningStatistics ? 1 : 0);
                }
            }

            K.EpilogueApply(Threads(shape.Elements), SpecializedValue.New(shape), t.X, t.Bn, t.Stats, t.R, t.Y, Threads(shape.Elements));
        }

        // The apply kernel reads the statistics the forward left in Stats (or the running ones), as the forward's did.
        public void Reapply() => K.EpilogueApply(Threads(shape.Elements), SpecializedValue.New(shape), t.X, t.Bn, t.Stats, t.R, t.Y, Threads(shape.Elements));

        private void Statistics(int mode)
        {
            if (Backend.GroupedReductions)
            {
                K.GroupedStatistics(new KernelConfig(shape.Channels, K.ReductionGroupSize), SpecializedValue.New(shape), t.X, t.Bn, t.Stats, mode);
            }
            else
            {
                K.Statistics(Threads(shape.Channels), SpecializedValue.New(shape), t.X, t.Bn, t.Stats, mode, Threads(shape.Channels));
            }
        }

        private void BackwardReduce(int mode)
        {
            if (Backend.GroupedReductions)
            {
                K.GroupedBackwardReduce(new KernelConfig(shape.Channels, K.ReductionGroupSize), SpecializedValue.New(shape), t.Dy, t.Y, t.X, t.R, t.Bn, t.Stats, t.Dbn, mode);
            }
            else
            {
                K.EpilogueBackwardReduce(Threads(shape.Channels), SpecializedValue.New(shape), t.Dy, t.Y, t.X, t.R, t.Bn, t.Stats, t.Dbn, mode, Threads(shape.Channels));
            }
        }

        private void SynchronizeStatistics(ICommunicator comm)
        {
            int c = shape.Channels;
            double count = (double)shape.N * shape.Spatial;
            float[] local = new float[2 * c];
            Backend.Read(t.Stats.SubView(0, 2 * c), local);
            double[] sums = new double[(2 * c) + 1];
            for (int i = 0; i < c; i++)
            {
                sums[i] = count * local[i];
                sums[c + i] = count * (local[c + i] + ((double)local[i] * local[i]));
            }

            sums[2 * c] = count;
            comm.AllReduceSum(sums, $"the batch-norm statistics of {c} channels x {shape.Spatial} pixels (forward)");
            double total = sums[2 * c];
            float[] bn = new float[4 * c];
            Backend.Read(t.Bn.SubView(0, 4 * c), bn);
            float m = shape.Momentum;
            for (int i = 0; i < c; i++)
            {
                double mean = sums[i] / total;
                double variance = Math.Max(0, (sums[c + i] / total) - (mean * mean));
                local[i] = (float)mean;
                local[c + i] = 1f / MathF.Sqrt((float)variance + shape.Eps);
                bn[(2 * c) + i] = ((1f - m) * bn[(2 * c) + i]) + (m * (float)mean);
                bn[(3 * c) + i] = ((1f - m) * bn[(3 * c) + i]) + (m * (float)(variance * total / (total - 1)));
            }

            Backend.Write(local, t.Stats.SubView(0, 2 * c));
            Backend.Write(bn.AsSpan(2 * c), t.Bn.SubView(2 * c, 2 * c));
            _syncedCount = total;
        }

        private void SynchronizeReductions(ICommunicator comm)
        {
            // dbn holds this device's sums (scale's, then shift's); the whole batch's means go to stats[2C..4C).
            int c = shape.Channels;
            float[] local = new float[2 * c];
            Backend.Read(t.Dbn.SubView(0, 2 * c), local);
            double[] sums = new double[2 * c];
            for (int i = 0; i < 2 * c; i++)
            {
                sums[i] = local[i];
            }

            comm.AllReduceSum(sums, $"the batch-norm gradient sums of {c} channels (backward)");
            float[] means = new float[2 * c];
            for (int i = 0; i < c; i++)
            {
                means[i] = (float)(sums[c + i] / _syncedCount);
                means[c + i] = (float)(sums[i] / _syncedCount);
            }

            Backend.Write(means, t.Stats.SubView(2 * c, 2 * c));
        }

        public void Backward()
        {
            if (shape.Norm && shape.Training)
            {
                BackwardReduce(RunningStatistics ? 1 : 0);
                if (Synchronized is { } comm && !RunningStatistics)
                {
                    SynchronizeReductions(comm);
                }
            }

            K.EpilogueBackward(Threads(shape.Elements), SpecializedValue.New(shape), t.Dy, t.Y, t.X, t.R, t.Bn, t.Stats, t.Dx, t.Dr, Threads(shape.Elements));
        }
    }

    private sealed class Pooling(IlgpuBackend backend, PoolShape shape, MapBinding t) : Operation(backend), IPooling
    {
        public void Forward(int images) =>
            K.PoolForward(Threads(shape.OutputElements), SpecializedValue.New(shape), t.X, t.Y, Threads(shape.OutputElements));

        public void Backward() =>
            K.PoolBackward(Threads(shape.InputElements), SpecializedValue.New(shape), t.X, t.Dy, t.Dx, Threads(shape.InputElements));
    }

    private sealed class Shortcut(IlgpuBackend backend, ShortcutShape shape, MapBinding t) : Operation(backend), IShortcut
    {
        public void Forward(int images) =>
            K.ShortcutForward(Threads(shape.OutputElements), SpecializedValue.New(shape), t.X, t.Y, Threads(shape.OutputElements));

        public void Backward() =>
            K.ShortcutBackward(Threads(shape.InputElements), SpecializedValue.New(shape), t.Dy, t.Dx, Threads(shape.InputElements));
    }

    private sealed class ChannelScale(IlgpuBackend backend, ChannelScaleShape shape, ChannelScaleBinding t) : Operation(backend), IChannelScale
    {
        public void Forward(int images) =>
            K.ChannelScaleForward(Threads(shape.Elements), SpecializedValue.New(shape), t.X, t.S, t.Y, Threads(shape.Elements));

        public void Backward()
        {
            K.ChannelScaleBackwardData(Threads(shape.Elements), SpecializedValue.New(shape), t.Dy, t.S, t.Dx, Threads(shape.Elements));
            K.ChannelScaleBackwardScale(Threads(shape.ScaleElements), SpecializedValue.New(shape), t.Dy, t.X, t.Ds, Threads(shape.ScaleElements));
        }
    }

    private sealed class Copy(IlgpuBackend backend, int count, MapBinding t) : Operation(backend), ICopy
    {
        public void Forward(int images) => K.Copy(Threads(count), SpecializedValue.New(count), t.X, t.Y, 0, Threads(count));

        public void Backward() => K.Copy(Threads(count), SpecializedValue.New(count), t.Dy, t.Dx, 1, Threads(count));
    }

    private sealed class Dropout(IlgpuBackend backend, DropoutShape shape, MapBinding t) : Operation(backend), IDropout
    {
        private readonly int _count = (int)shape.Count;

        public void Forward(long step) =>
            K.Dropout(Threads(_count), SpecializedValue.New(_count), t.X, t.Y, shape.Rate, shape.Seed, unchecked((int)step), 0, Threads(_count));

        public void Backward(long step) =>
            K.Dropout(Threads(_count), SpecializedValue.New(_count), t.Dy, t.Dx, shape.Rate, shape.Seed, unchecked((int)step), 1, Threads(_count));
    }
}
