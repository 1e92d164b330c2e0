using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>
/// The ILGPU kernels of one device, loaded once each. Every launcher takes its shape as a <see cref="SpecializedValue{T}"/>,
/// so ILGPU compiles one kernel per distinct shape with the shape's numbers as constants.
/// </summary>
internal sealed class KernelSet
{
    private readonly Accelerator _accelerator;
    private readonly ConcurrentDictionary<string, Delegate> _loaded = new(StringComparer.Ordinal);

    /// <summary>The accelerator the kernels are loaded on.</summary>
    internal Accelerator Accelerator => _accelerator;

    internal KernelSet(Accelerator accelerator)
    {
        _accelerator = accelerator;
    }

    /// <summary>Convolution forward.</summary>
    public Action<Index1D, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> ConvForward =>
        Get(nameof(ConvForward), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ConvKernels.Forward));

    /// <summary>Convolution backward to the input.</summary>
    public Action<Index1D, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> ConvBackwardData =>
        Get(nameof(ConvBackwardData), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ConvKernels.BackwardData));

    /// <summary>Convolution backward to the weights and bias.</summary>
    public Action<Index1D, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> ConvBackwardWeights =>
        Get(nameof(ConvBackwardWeights), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ConvKernels.BackwardWeights));

    /// <summary>Tiled convolution forward (explicitly grouped: <see cref="TiledConvKernels"/>).</summary>
    public Action<KernelConfig, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> TiledConvForward =>
        Get(nameof(TiledConvForward), () => _accelerator.LoadStreamKernel<SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(TiledConvKernels.Forward));

    /// <summary>Tiled convolution backward to the input.</summary>
    public Action<KernelConfig, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>> TiledConvBackwardData =>
        Get(nameof(TiledConvBackwardData), () => _accelerator.LoadStreamKernel<SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(TiledConvKernels.BackwardData));

    /// <summary>Tiled convolution backward to the weights, one slice per split.</summary>
    public Action<KernelConfig, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> TiledConvBackwardWeights =>
        Get(nameof(TiledConvBackwardWeights), () => _accelerator.LoadStreamKernel<SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(TiledConvKernels.BackwardWeights));

    /// <summary>The weight gradient's splits added in order.</summary>
    public Action<KernelConfig, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, int> TiledConvReduceSplits =>
        Get(nameof(TiledConvReduceSplits), () => _accelerator.LoadStreamKernel<SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, int>(TiledConvKernels.ReduceSplits));

    /// <summary>The bias gradient, a group per channel.</summary>
    public Action<KernelConfig, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>> TiledConvBiasGradient =>
        Get(nameof(TiledConvBiasGradient), () => _accelerator.LoadStreamKernel<SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>>(TiledConvKernels.BiasGradient));

    /// <summary>Batch norm folded into a convolution.</summary>
    public Action<Index1D, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>, ArrayView<float>, int> FoldBatchNorm =>
        Get(nameof(FoldBatchNorm), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<ConvShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>, ArrayView<float>, int>(ConvKernels.FoldBatchNorm));

    /// <summary>Batch statistics.</summary>
    public Action<Index1D, SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> Statistics =>
        Get(nameof(Statistics), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(EpilogueKernels.Statistics));

    /// <summary>Batch statistics, one group per channel (<see cref="ReductionKernels.Statistics"/>).</summary>
    public Action<KernelConfig, SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> GroupedStatistics =>
        Get(nameof(GroupedStatistics), () => _accelerator.LoadStreamKernel<SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ReductionKernels.Statistics));

    /// <summary>The fused pass's backward reductions, one group per channel (<see cref="ReductionKernels.BackwardReduce"/>).</summary>
    public Action<KernelConfig, SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> GroupedBackwardReduce =>
        Get(nameof(GroupedBackwardReduce), () => _accelerator.LoadStreamKernel<SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ReductionKernels.BackwardReduce));

    /// <summary>
    /// The group size of the grouped reductions on this accelerator: the largest power of two within both
    /// <see cref="ReductionKernels.MaxGroupSize"/> and the accelerator's limit (256 on CUDA, 16 on ILGPU's default CPU accelerator).
    /// </summary>
    public int ReductionGroupSize
    {
        get
        {
            int limit = Math.Min(ReductionKernels.MaxGroupSize, _accelerator.MaxNumThreadsPerGroup);
            int size = 1;
            while (size * 2 <= limit)
            {
                size *= 2;
            }

            return size;
        }
    }

    /// <summary>The fused normalise/scale/shift/add/activate pass.</summary>
    public Action<Index1D, SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> EpilogueApply =>
        Get(nameof(EpilogueApply), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(EpilogueKernels.Apply));

    /// <summary>The fused pass's backward reductions.</summary>
    public Action<Index1D, SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> EpilogueBackwardReduce =>
        Get(nameof(EpilogueBackwardReduce), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(EpilogueKernels.BackwardReduce));

    /// <summary>The fused pass's element-wise backward.</summary>
    public Action<Index1D, SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> EpilogueBackward =>
        Get(nameof(EpilogueBackward), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<EpilogueShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(EpilogueKernels.Backward));

    /// <summary>Pooling forward.</summary>
    public Action<Index1D, SpecializedValue<PoolShape>, ArrayView<float>, ArrayView<float>, int> PoolForward =>
        Get(nameof(PoolForward), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<PoolShape>, ArrayView<float>, ArrayView<float>, int>(PoolKernels.Forward));

    /// <summary>Pooling backward.</summary>
    public Action<Index1D, SpecializedValue<PoolShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> PoolBackward =>
        Get(nameof(PoolBackward), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<PoolShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(PoolKernels.Backward));

    /// <summary>Option-A shortcut forward.</summary>
    public Action<Index1D, SpecializedValue<ShortcutShape>, ArrayView<float>, ArrayView<float>, int> ShortcutForward =>
        Get(nameof(ShortcutForward), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<ShortcutShape>, ArrayView<float>, ArrayView<float>, int>(MiscKernels.ShortcutForward));

    /// <summary>Option-A shortcut backward.</summary>
    public Action<Index1D, SpecializedValue<ShortcutShape>, ArrayView<float>, ArrayView<float>, int> ShortcutBackward =>
        Get(nameof(ShortcutBackward), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<ShortcutShape>, ArrayView<float>, ArrayView<float>, int>(MiscKernels.ShortcutBackward));

    /// <summary>Channel-wise scale forward.</summary>
    public Action<Index1D, SpecializedValue<ChannelScaleShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> ChannelScaleForward =>
        Get(nameof(ChannelScaleForward), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<ChannelScaleShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(MiscKernels.ChannelScaleForward));

    /// <summary>Channel-wise scale backward to the map.</summary>
    public Action<Index1D, SpecializedValue<ChannelScaleShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> ChannelScaleBackwardData =>
        Get(nameof(ChannelScaleBackwardData), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<ChannelScaleShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(MiscKernels.ChannelScaleBackwardData));

    /// <summary>Channel-wise scale backward to the scale.</summary>
    public Action<Index1D, SpecializedValue<ChannelScaleShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> ChannelScaleBackwardScale =>
        Get(nameof(ChannelScaleBackwardScale), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<ChannelScaleShape>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(MiscKernels.ChannelScaleBackwardScale));

    /// <summary>Dropout.</summary>
    public Action<Index1D, SpecializedValue<int>, ArrayView<float>, ArrayView<float>, float, int, int, int, int> Dropout =>
        Get(nameof(Dropout), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<int>, ArrayView<float>, ArrayView<float>, float, int, int, int, int>(MiscKernels.Dropout));

    /// <summary>Copy or accumulate.</summary>
    public Action<Index1D, SpecializedValue<int>, ArrayView<float>, ArrayView<float>, int, int> Copy =>
        Get(nameof(Copy), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<int>, ArrayView<float>, ArrayView<float>, int, int>(MiscKernels.Copy));

    /// <summary>Softmax cross-entropy.</summary>
    public Action<Index1D, SpecializedValue<int>, ArrayView<float>, ArrayView<int>, int, float, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> SoftmaxCrossEntropy =>
        Get(nameof(SoftmaxCrossEntropy), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, SpecializedValue<int>, ArrayView<float>, ArrayView<int>, int, float, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(MiscKernels.SoftmaxCrossEntropy));

    /// <summary>An SGD update of one parameter on the device.</summary>
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdArguments, int, int> SgdUpdate =>
        Get(nameof(SgdUpdate), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdArguments, int, int>(OptimizerKernels.Sgd));

    /// <summary>An AdamW update of one parameter on the device.</summary>
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamWArguments, int, int> AdamWUpdate =>
        Get(nameof(AdamWUpdate), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamWArguments, int, int>(OptimizerKernels.AdamW));

    /// <summary>Flags a non-finite value.</summary>
    public Action<Index1D, ArrayView<float>, ArrayView<int>, int, int> NonFinite =>
        Get(nameof(NonFinite), () => _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, int, int>(OptimizerKernels.NonFinite));

    /// <summary>The names of the launchers loaded so far (tests check which kernels a pass used).</summary>
    internal IEnumerable<string> Loaded => _loaded.Keys;

    private T Get<T>(string name, Func<T> load)
        where T : Delegate => (T)_loaded.GetOrAdd(name, _ => load());
}
