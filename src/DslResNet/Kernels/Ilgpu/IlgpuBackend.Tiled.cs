using System;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>
/// Which ILGPU kernels run dense convolutions. The device picks <see cref="Tiled"/> on a GPU (CUDA, OpenCL) and
/// <see cref="Direct"/> on ILGPU's CPU accelerator, where the direct kernels are much faster (the tiled ones pay for
/// emulated groups of 256 threads and their barriers); the environment variable <c>DSLRESNET_ILGPU_CONV=tiled|direct</c>
/// (<c>Device.ConvVariable</c>) overrides it, and tests ask for a path with <c>Device.CreateIlgpuCpu</c>.
/// </summary>
internal enum IlgpuConvPath
{
    /// <summary><see cref="ConvKernels"/>: a thread per four outputs of a row, no shared memory.</summary>
    Direct = 0,

    /// <summary><see cref="TiledConvKernels"/>: shared-memory tiled implicit GEMMs, groups of 256 threads.</summary>
    Tiled = 1,
}

/// <summary>The tiled convolution operation: launches <see cref="TiledConvKernels"/> and owns the weight gradient's split buffer.</summary>
internal sealed partial class IlgpuBackend
{
    /// <summary>Each weight-gradient split adds at least this many K-steps, so the second pass stays small next to the first.</summary>
    private const int MinStepsPerSplit = 4;

    /// <summary>Splits of the weight gradient over K for <paramref name="shape"/>: enough groups to fill
    /// <paramref name="targetGroups"/>, at least <see cref="MinStepsPerSplit"/> K-steps each.</summary>
    /// <param name="shape">The convolution.</param>
    /// <param name="targetGroups">Groups wanted in flight (twice the multiprocessors; at least 16).</param>
    /// <returns>The splits (at least 1) and the output pixels per split (a multiple of the K-step).</returns>
    internal static (int Splits, int Chunk) WeightSplits(ConvShape shape, int targetGroups)
    {
        long gemmK = (long)shape.N * shape.OutHeight * shape.OutWidth;
        long steps = (gemmK + TiledConvKernels.TileK - 1) / TiledConvKernels.TileK;
        long tiles = CeilDiv(shape.InChannels * shape.Kernel * shape.Kernel, TiledConvKernels.TileM) * (long)CeilDiv(shape.OutChannels, TiledConvKernels.TileN);
        long wanted = Math.Clamp((targetGroups + tiles - 1) / tiles, 1, Math.Max(1, steps / MinStepsPerSplit));
        long chunkSteps = (steps + wanted - 1) / wanted;
        int chunk = (int)(chunkSteps * TiledConvKernels.TileK);
        int splits = (int)((gemmK + chunk - 1) / chunk);
        return (splits, chunk);
    }

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;

    private static KernelConfig Groups(int x, int y, int z) => new(new Index3D(x, y, z), new Index3D(TiledConvKernels.Threads, 1, 1));

    private sealed class TiledConvolution : IConvolution
    {
        private readonly IlgpuBackend _backend;
        private readonly ConvShape _shape;
        private readonly ConvBinding _t;
        private readonly int _splits;
        private readonly int _chunk;
        private MemoryBuffer1D<float, Stride1D.Dense>? _partial;

        public TiledConvolution(IlgpuBackend backend, ConvShape shape, ConvBinding t)
        {
            (_backend, _shape, _t) = (backend, shape, t);
            Accelerator accelerator = backend._kernels.Accelerator;
            if (accelerator.MaxNumThreadsPerGroup < TiledConvKernels.Threads)
            {
                throw new NotSupportedException(
                    $"Tiled convolution {shape}: the accelerator '{accelerator.Name}' runs at most {accelerator.MaxNumThreadsPerGroup} threads per group and the " +
                    $"tiled kernels need {TiledConvKernels.Threads}; use the direct kernels (DSLRESNET_ILGPU_CONV=direct) on it.");
            }

            (_splits, _chunk) = WeightSplits(shape, Math.Max(16, 2 * accelerator.NumMultiprocessors));
        }

        private KernelSet K => _backend._kernels;

        public void Forward(int images, bool weightsChanged)
        {
            // Passes run the whole batch, as the direct kernels do.
            int gemmM = _shape.N * _shape.OutHeight * _shape.OutWidth;
            K.TiledConvForward(
                Groups(CeilDiv(gemmM, TiledConvKernels.TileM), CeilDiv(_shape.OutChannels, TiledConvKernels.TileN), 1),
                SpecializedValue.New(_shape), _t.X, _t.W, _t.B, _t.Y);
        }

        public void Backward(bool data, bool weights = true)
        {
            if (weights)
            {
                BackwardWeights();
            }

            if (data && _t.Dx.Length > 0)
            {
                int gemmM = _shape.N * _shape.Height * _shape.Width;
                K.TiledConvBackwardData(
                    Groups(CeilDiv(gemmM, TiledConvKernels.TileM), CeilDiv(_shape.InChannels, TiledConvKernels.TileN), 1),
                    SpecializedValue.New(_shape), _t.Dy, _t.W, _t.Dx);
            }
        }

        public void Dispose()
        {
            _partial?.Dispose();
            _partial = null;
        }

        private void BackwardWeights()
        {
            int weights = (int)_shape.WeightElements;
            int tapsTiles = CeilDiv(_shape.InChannels * _shape.Kernel * _shape.Kernel, TiledConvKernels.TileM);
            int channelTiles = CeilDiv(_shape.OutChannels, TiledConvKernels.TileN);

            // One split writes the gradient itself (the partial layout is the weights' layout); more write slices of the
            // partial buffer, added in split order by the second pass.
            ArrayView<float> target = _t.Dw;
            if (_splits > 1)
            {
                _partial ??= K.Accelerator.Allocate1D<float>((long)_splits * weights);
                target = _partial.View;
            }

            K.TiledConvBackwardWeights(Groups(tapsTiles, channelTiles, _splits), SpecializedValue.New(_shape), _t.Dy, _t.X, target, _chunk);
            if (_splits > 1)
            {
                K.TiledConvReduceSplits(
                    Groups(Math.Min(CeilDiv(weights, TiledConvKernels.Threads), 4096), 1, 1), SpecializedValue.New(_shape), target, _t.Dw, _splits);
            }

            if (_shape.Bias)
            {
                K.TiledConvBiasGradient(Groups(CeilDiv(_shape.OutChannels, TiledConvKernels.Threads), 1, 1), SpecializedValue.New(_shape), _t.Dy, _t.Db);
            }
        }
    }
}
