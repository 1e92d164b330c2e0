using System;
using ILGPU;

namespace DslResNet.Kernels.Simd;

/// <summary>
/// The SIMD CPU backend: operations on the CPU accelerator's host memory, maps in NHWC order, each convolution compiled for
/// its geometry, run on one device's threads.
/// </summary>
internal sealed class SimdBackend : IBackend
{
    private readonly SimdPool _pool;
    private readonly SimdWidth _width;
    private readonly bool _winograd;
    private readonly bool _largeTiles;

    /// <summary>Creates the backend over a device's threads.</summary>
    /// <param name="pool">The device's threads (the device owns them).</param>
    /// <param name="width">Vector width.</param>
    /// <param name="winograd">Whether 3x3 stride-1 convolutions may use Winograd.</param>
    /// <param name="largeTiles">Whether inference's Winograd convolutions use F(4x4, 3x3) (else F(2x2, 3x3)).</param>
    public SimdBackend(SimdPool pool, SimdWidth width, bool winograd, bool largeTiles = true)
    {
        ArgumentNullException.ThrowIfNull(pool);
        (_pool, _width, _winograd, _largeTiles) = (pool, width, winograd, largeTiles);
    }

    /// <inheritdoc />
    public string Name => "SIMD";

    /// <inheritdoc />
    public bool SerializesCalls => false;

    /// <inheritdoc />
    public int ExtraParameterCopies => 2 + _pool.Threads;

    /// <inheritdoc />
    public INetworkHost CreateHost(HostBinding binding) => new SimdNetworkHost(_pool, binding);

    /// <inheritdoc />
    public unsafe void Read(ArrayView<float> source, Span<float> target) =>
        new ReadOnlySpan<float>((void*)HostView.Address(source), target.Length).CopyTo(target);

    /// <inheritdoc />
    public unsafe void Write(ReadOnlySpan<float> source, ArrayView<float> target) =>
        source.CopyTo(new Span<float>((void*)HostView.Address(target), source.Length));

    /// <inheritdoc />
    public IConvolution CreateConvolution<TGeometry>(ConvShape shape, ConvBinding t)
        where TGeometry : struct, IConvGeometry
    {
        var tensors = new ConvTensors(
            HostView.Address(t.X), HostView.Address(t.W), HostView.Address(t.B), HostView.Address(t.Y),
            HostView.Address(t.Dy), HostView.Address(t.Dx), HostView.Address(t.Dw), HostView.Address(t.Db));
        return shape.Groups > 1
            ? new SimdGroupedConvolution<TGeometry>(_pool, shape.N, shape.Bias, tensors)
            : SimdConvolution.Create<TGeometry>(_pool, _width, shape.N, shape.Bias, tensors, _winograd, _largeTiles);
    }

    /// <inheritdoc />
    public IConvolution CreateConvolution(ConvShape shape, ConvBinding tensors) =>
        throw new ArgumentException("Conv: the SIMD backend compiles each convolution for its geometry; build it with ConvOp.Create<TGeometry>.", "device");

    /// <inheritdoc />
    public IFold CreateFold(ConvShape shape, float eps, FoldBinding tensors) => new SimdFold(shape, eps, tensors);

    /// <inheritdoc />
    public IEpilogue CreateEpilogue(EpilogueShape shape, EpilogueBinding t)
    {
        var tensors = new EpilogueTensors(
            HostView.Address(t.X), HostView.Address(t.Bn), HostView.Address(t.R), HostView.Address(t.Y),
            HostView.Address(t.Dy), HostView.Address(t.Dx), HostView.Address(t.Dr), HostView.Address(t.Dbn));
        return SimdEpilogue.Create(_pool, _width, shape, tensors);
    }

    /// <inheritdoc />
    public IPooling CreatePooling(PoolShape shape, MapBinding t) =>
        new SimdPooling(_pool, shape, HostView.Address(t.X), HostView.Address(t.Y), HostView.Address(t.Dy), HostView.Address(t.Dx));

    /// <inheritdoc />
    public IShortcut CreateShortcut(ShortcutShape shape, MapBinding t) =>
        new SimdShortcut(_pool, shape, HostView.Address(t.X), HostView.Address(t.Y), HostView.Address(t.Dy), HostView.Address(t.Dx));

    /// <inheritdoc />
    public IChannelScale CreateChannelScale(ChannelScaleShape shape, ChannelScaleBinding tensors) => new SimdChannelScale(_pool, shape, tensors);

    /// <inheritdoc />
    public ICopy CreateCopy(CopyShape shape, MapBinding t)
    {
        (int batch, int c, int hw) = shape.Images("Copy");
        return new SimdCopy(_pool, batch, c, hw, shape.Flatten, 0f, 0, HostView.Address(t.X), HostView.Address(t.Y), HostView.Address(t.Dy), HostView.Address(t.Dx));
    }

    /// <inheritdoc />
    public IDropout CreateDropout(DropoutShape shape, MapBinding t)
    {
        (int batch, int c, int hw) = shape.Images("Dropout");
        return new SimdCopy(_pool, batch, c, hw, false, shape.Rate, shape.Seed, HostView.Address(t.X), HostView.Address(t.Y), HostView.Address(t.Dy), HostView.Address(t.Dx));
    }

    /// <inheritdoc />
    /// <remarks>The convolution's store loop adds up per-channel sums into the pass's sink.</remarks>
    public void FuseStatistics(IConvolution convolution, IEpilogue epilogue)
    {
        if (convolution is SimdConvolution simd && epilogue is SimdEpilogue { Sink: { } sink })
        {
            simd.Statistics = sink;
        }
    }

    /// <inheritdoc />
    /// <remarks>Only inference passes of ReLUs and a residual add, in place on the convolution's output.</remarks>
    public bool FuseEpilogue(IConvolution convolution, ConvBinding convolutionTensors, IEpilogue epilogue, EpilogueShape shape, EpilogueBinding epilogueTensors)
    {
        bool simple = !shape.Norm && shape.Act1 is Activation.None or Activation.ReLU && shape.Act2 is Activation.None or Activation.ReLU;
        IntPtr y = HostView.Address(convolutionTensors.Y);
        if (convolution is not SimdConvolution simd || convolutionTensors.Training || !simple
            || HostView.Address(epilogueTensors.X) != y || HostView.Address(epilogueTensors.Y) != y)
        {
            return false;
        }

        simd.FuseEpilogue(shape.Act1 == Activation.ReLU, shape.Add ? HostView.Address(epilogueTensors.R) : IntPtr.Zero, shape.Act2 == Activation.ReLU);
        return true;
    }

    /// <summary>Nothing to free: the threads belong to the device.</summary>
    public void Dispose()
    {
    }
}

/// <summary>Batch norm folded into a convolution's weights and bias, on host memory (the same arithmetic as the ILGPU kernel).</summary>
internal sealed unsafe class SimdFold : IFold
{
    private readonly ConvShape _shape;
    private readonly float _eps;
    private readonly FoldBinding _t;

    /// <summary>Binds the fold.</summary>
    /// <param name="shape">The convolution's shape.</param>
    /// <param name="eps">Batch norm epsilon.</param>
    /// <param name="tensors">The tensors.</param>
    public SimdFold(ConvShape shape, float eps, FoldBinding tensors) => (_shape, _eps, _t) = (shape, eps, tensors);

    /// <inheritdoc />
    public void Run()
    {
        float* w = (float*)HostView.Address(_t.W);
        float* b = (float*)HostView.Address(_t.B);
        float* bn = (float*)HostView.Address(_t.Bn);
        float* wf = (float*)HostView.Address(_t.Wf);
        float* bf = (float*)HostView.Address(_t.Bf);
        int c = _shape.OutChannels;
        int perChannel = _shape.InPerGroup * _shape.Kernel * _shape.Kernel;
        for (int co = 0; co < c; co++)
        {
            float scale = bn[co] / MathF.Sqrt(bn[(3 * c) + co] + _eps);
            for (int i = co * perChannel; i < (co + 1) * perChannel; i++)
            {
                wf[i] = w[i] * scale;
            }

            float bias = _shape.Bias ? b[co] : 0f;
            bf[co] = bn[c + co] + ((bias - bn[(2 * c) + co]) * scale);
        }
    }

    /// <summary>Nothing to free.</summary>
    public void Dispose()
    {
    }
}
