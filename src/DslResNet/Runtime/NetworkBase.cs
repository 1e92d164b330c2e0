using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using DslResNet.IO;
using DslResNet.Training;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

/// <summary>Per-image sizes of a network's arenas, as the generator planned them.</summary>
/// <param name="TrainingElementsPerImage">Floats per image of the training arena (activations kept for backward).</param>
/// <param name="GradientElementsPerImage">Floats per image of the gradient arena (one gradient per kept activation, and the input's).</param>
/// <param name="InferenceElementsPerImage">Floats per image of the inference arena (buffers with disjoint lifetimes share memory).</param>
/// <param name="ScratchElements">Floats independent of the batch: batch statistics and batch-norm-folded weights.</param>
public sealed record NetworkLayout(long TrainingElementsPerImage, long GradientElementsPerImage, long InferenceElementsPerImage, long ScratchElements);

/// <summary>
/// What every generated network shares: the device buffers (parameters, the training, gradient and inference arenas),
/// the loss, the training step with its non-finite check, evaluation, checkpoints and parameter initialisation. The
/// generator emits the constructor that binds each layer's kernels to its tensors, and the forward and backward passes as
/// fixed sequences of calls.
/// </summary>
/// <remarks>
/// <para><b>Threads.</b> A network is used by one thread at a time, as a TorchSharp module is: a call that arrives while
/// another is running (from another thread) throws <see cref="InvalidOperationException"/> naming both calls, and the
/// running call is unaffected. Give each thread its own network; networks on one <see cref="Runtime.Device"/> may run on
/// different threads at once (on the SIMD backend their parallel passes take the device's threads in turn).</para>
/// <para><b>Ownership.</b> The network owns its device buffers, its parameters and its operations' native memory;
/// <see cref="Dispose"/> frees them all, once (not the device). Disposed during a call on another thread, it lets the
/// call finish and frees as it returns. After <see cref="Dispose"/>, or after its device was disposed, every call throws
/// <see cref="ObjectDisposedException"/>.</para>
/// <para><b>Memory.</b> The constructor refuses a batch whose buffers cannot fit in the memory available with
/// <see cref="InsufficientMemoryException"/>, before allocating anything.</para>
/// </remarks>
public abstract partial class NetworkBase : INetworkModel
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _training;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _gradients;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _inference;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _scratch;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _input;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _labels;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _loss;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _correct;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _evaluationGradient;
    private readonly Dictionary<int, (ArrayView<float> Output, ArrayView<float> InputGradient)> _traces = [];
    private readonly int _imageElements;
    private readonly int _classes;
    private bool _foldedCurrent;
    private bool _lastForwardTraining;
    private int _lastCount;
    private bool _tracing;
    private string? _firstNonFinite;
    private HostAddresses? _hostAddresses;
    private ClearWork? _clear;
    private List<(string Name, Memory<float> Values)>? _runningStatistics;

    /// <summary>Allocates the device memory and initialises the parameters.</summary>
    /// <param name="device">The device.</param>
    /// <param name="batchSize">Images per call, at least 1.</param>
    /// <param name="info">The network.</param>
    /// <param name="options">Seed and initialisation options.</param>
    /// <param name="layout">The planned arena sizes.</param>
    protected NetworkBase(Device device, int batchSize, NetworkInfo info, NetworkOptions? options, NetworkLayout layout)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(layout);
        if (batchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"{info.Name}: the batch size must be at least 1.");
        }

        ObjectDisposedException.ThrowIf(device.IsDisposed, device);
        Device = device;
        BatchSize = batchSize;
        Definition = info;
        Options = options ?? NetworkOptions.Default;
        Layout = layout;
        _imageElements = checked((int)info.InputShape.Elements);
        _classes = checked((int)info.OutputShape.Elements);
        CheckMemory(device, batchSize, info, layout);
        Accelerator a = device.Accelerator;
        long Batch(long perImage) => Math.Max(1, checked(perImage * batchSize));
        try
        {
            _training = a.Allocate1D<float>(Batch(layout.TrainingElementsPerImage));
            _gradients = a.Allocate1D<float>(Batch(layout.GradientElementsPerImage));
            _inference = a.Allocate1D<float>(Batch(layout.InferenceElementsPerImage));
            _scratch = a.Allocate1D<float>(Math.Max(1, layout.ScratchElements));
            _input = a.Allocate1D<float>(Batch(_imageElements));
            _labels = a.Allocate1D<int>(batchSize);
            _loss = a.Allocate1D<float>(batchSize);
            _correct = a.Allocate1D<float>(batchSize);
            _evaluationGradient = a.Allocate1D<float>(Batch(_classes));
            foreach (MemoryBuffer1D<float, Stride1D.Dense> buffer in new[] { _training, _gradients, _inference, _scratch, _input })
            {
                buffer.MemSetToZero();
            }

            Store = new ParameterStore(device, info.Parameters);
            Initialize();
        }
        catch
        {
            // Nobody can dispose a network whose constructor threw: free what was allocated here.
            FreeBuffers();
            throw;
        }
    }

    /// <inheritdoc />
    public NetworkInfo Definition { get; }

    /// <inheritdoc />
    public Device Device { get; }

    /// <inheritdoc />
    public int BatchSize { get; }

    /// <summary>The options the network was built with.</summary>
    public NetworkOptions Options { get; }

    /// <summary>The planned arena sizes.</summary>
    public NetworkLayout Layout { get; }

    /// <summary>The parameters on the device.</summary>
    public ParameterStore Store { get; }

    /// <inheritdoc />
    public bool IsTraining { get; private set; } = true;

    /// <summary>Training steps taken; <see cref="ImportCheckpoint"/> restores it from the checkpoint's optimizer step.</summary>
    public long StepCount { get; private set; }

    /// <summary>When true, <see cref="TrainStep"/> and <see cref="Backward"/> also compute the gradient of the input images.</summary>
    public bool ComputeInputGradient { get; set; }

    /// <inheritdoc />
    public MemoryReport Memory => new(
        BatchSize,
        Store.Bytes,
        (_training.Length + _gradients.Length + _scratch.Length + _labels.Length + _loss.Length + _correct.Length) * sizeof(float),
        (_inference.Length + _input.Length + _evaluationGradient.Length) * sizeof(float));

    /// <summary>The current training step (dropout masks derive from it).</summary>
    protected long Step => StepCount;

    /// <summary>The input images on the device.</summary>
    protected ArrayView<float> InputView => _input.View;

    /// <summary>A tensor in the training arena.</summary>
    /// <param name="offsetPerImage">Offset in floats per image.</param>
    /// <param name="elementsPerImage">Floats per image.</param>
    /// <returns>The view of all images.</returns>
    protected ArrayView<float> TrainingTensor(long offsetPerImage, long elementsPerImage) => _training.View.SubView(offsetPerImage * BatchSize, elementsPerImage * BatchSize);

    /// <summary>A gradient in the gradient arena.</summary>
    /// <param name="offsetPerImage">Offset in floats per image.</param>
    /// <param name="elementsPerImage">Floats per image.</param>
    /// <returns>The view of all images.</returns>
    protected ArrayView<float> GradientTensor(long offsetPerImage, long elementsPerImage) => _gradients.View.SubView(offsetPerImage * BatchSize, elementsPerImage * BatchSize);

    /// <summary>A tensor in the inference arena.</summary>
    /// <param name="offsetPerImage">Offset in floats per image.</param>
    /// <param name="elementsPerImage">Floats per image.</param>
    /// <returns>The view of all images.</returns>
    protected ArrayView<float> InferenceTensor(long offsetPerImage, long elementsPerImage) => _inference.View.SubView(offsetPerImage * BatchSize, elementsPerImage * BatchSize);

    /// <summary>Scratch memory independent of the batch.</summary>
    /// <param name="offset">Offset in floats.</param>
    /// <param name="elements">Floats.</param>
    /// <returns>The view.</returns>
    protected ArrayView<float> Scratch(long offset, long elements) => _scratch.View.SubView(offset, elements);

    /// <summary>A parameter's values.</summary>
    /// <param name="name">The torchvision name.</param>
    /// <returns>The view.</returns>
    protected ArrayView<float> Parameter(string name) => Store.Value(name);

    /// <summary>A parameter's gradient.</summary>
    /// <param name="name">The torchvision name.</param>
    /// <returns>The view.</returns>
    protected ArrayView<float> ParameterGradient(string name) => Store.Gradient(name);

    /// <summary>A batch-norm layer's four tensors.</summary>
    /// <param name="layer">The layer.</param>
    /// <returns>The view.</returns>
    protected ArrayView<float> BatchNormTensors(string layer) => Store.BatchNorm(layer);

    /// <summary>A batch-norm layer's two gradients.</summary>
    /// <param name="layer">The layer.</param>
    /// <returns>The view.</returns>
    protected ArrayView<float> BatchNormGradients(string layer) => Store.BatchNormGradient(layer);

    /// <summary>The output of the training forward.</summary>
    protected abstract ArrayView<float> TrainingOutput { get; }

    /// <summary>The gradient of the training output.</summary>
    protected abstract ArrayView<float> TrainingOutputGradient { get; }

    /// <summary>The gradient of the input.</summary>
    protected abstract ArrayView<float> InputGradientView { get; }

    /// <summary>The output of the evaluation forward.</summary>
    protected abstract ArrayView<float> InferenceOutput { get; }

    /// <summary>Registers what a fusion group's tracing checks: its output, and the gradient its backward produces.</summary>
    /// <param name="group">The group's index in <see cref="NetworkInfo.FusionGroups"/>.</param>
    /// <param name="output">Its output in the training arena.</param>
    /// <param name="inputGradient">The gradient of its input.</param>
    protected void RegisterTrace(int group, ArrayView<float> output, ArrayView<float> inputGradient) => _traces[group] = (output, inputGradient);

    /// <summary>While diagnosing a non-finite loss: records the first group whose output is not finite.</summary>
    /// <param name="group">The group that just ran forward.</param>
    private void TraceForward(int group)
    {
        if (_tracing && _firstNonFinite is null && _traces.TryGetValue(group, out var views) && !Finite(views.Output))
        {
            _firstNonFinite = $"forward of {GroupName(group)}";
        }
    }

    /// <summary>While diagnosing: records the first group whose backward produced a non-finite gradient.</summary>
    /// <param name="group">The group that just ran backward.</param>
    private void TraceBackward(int group)
    {
        if (_tracing && _firstNonFinite is null && _traces.TryGetValue(group, out var views) && views.InputGradient.Length > 0 && !Finite(views.InputGradient))
        {
            _firstNonFinite = $"backward of {GroupName(group)}";
        }
    }

    /// <inheritdoc />
    public void Train()
    {
        using CallScope call = Enter(nameof(Train));
        IsTraining = true;
    }

    /// <inheritdoc />
    public void Eval()
    {
        using CallScope call = Enter(nameof(Eval));
        IsTraining = false;
    }

    /// <summary>
    /// Runs the forward pass of the current mode: in training mode on exactly <see cref="BatchSize"/> images with batch
    /// statistics (updating the running statistics), in evaluation mode on up to <see cref="BatchSize"/> images.
    /// </summary>
    /// <param name="images">The images, N x C x H x W.</param>
    public void Forward(ReadOnlySpan<float> images)
    {
        using CallScope call = Enter(nameof(Forward));
        if (IsTraining)
        {
            int count = LoadImages(images, exact: true);
            ForwardTraining();
            _lastCount = count;
            _lastForwardTraining = true;
            _foldedCurrent = false;
            Store.CountBatch();
        }
        else
        {
            _lastCount = LoadImages(images, exact: false);
            RunInference();
            _lastForwardTraining = false;
        }

        Synchronize();
    }

    /// <summary>The logits of the last <see cref="Forward"/>, images x classes.</summary>
    /// <returns>A new array.</returns>
    public float[] Output()
    {
        using CallScope call = Enter(nameof(Output));
        Synchronize();
        float[] result = new float[_lastCount * _classes];
        (_lastForwardTraining ? TrainingOutput : InferenceOutput).SubView(0, result.Length).CopyToCPU(result);
        return result;
    }

    /// <summary>
    /// Back-propagates a given gradient of the output (images x classes) through the last training-mode
    /// <see cref="Forward"/>, leaving every parameter's gradient (and the input's, with <see cref="ComputeInputGradient"/>).
    /// </summary>
    /// <param name="outputGradient">The gradient of some loss with respect to the output.</param>
    /// <exception cref="InvalidOperationException">The last forward was not in training mode.</exception>
    public void Backward(ReadOnlySpan<float> outputGradient)
    {
        using CallScope call = Enter(nameof(Backward));
        if (!_lastForwardTraining)
        {
            throw new InvalidOperationException($"{Definition.Name}: Backward needs a training-mode Forward first (call Train(), then Forward).");
        }

        if (outputGradient.Length != BatchSize * _classes)
        {
            throw new ArgumentException($"{Definition.Name}: the output gradient has {outputGradient.Length} values; {BatchSize} x {_classes} are needed.", nameof(outputGradient));
        }

        ClearGradients();
        TrainingOutputGradient.SubView(0, outputGradient.Length).CopyFromCPU(outputGradient.ToArray());
        BackwardTraining(ComputeInputGradient);
        Synchronize();
    }

    /// <summary>The gradient of the input images from the last backward (needs <see cref="ComputeInputGradient"/>).</summary>
    /// <returns>A new array, N x C x H x W.</returns>
    public float[] InputGradient()
    {
        using CallScope call = Enter(nameof(InputGradient));
        float[] result = new float[BatchSize * _imageElements];
        InputGradientView.SubView(0, result.Length).CopyToCPU(result);
        if (Device.IsSimd && Channels > 1 && Pixels > 1)
        {
            // The SIMD backend keeps the input channels-last; callers get PyTorch's order.
            float[] planar = new float[result.Length];
            for (int n = 0; n < BatchSize; n++)
            {
                for (int p = 0; p < Pixels; p++)
                {
                    for (int c = 0; c < Channels; c++)
                    {
                        planar[(n * _imageElements) + (c * Pixels) + p] = result[(n * _imageElements) + (p * Channels) + c];
                    }
                }
            }

            return planar;
        }

        return result;
    }

    /// <summary>A parameter's values by torchvision name.</summary>
    /// <param name="name">The name, e.g. <c>layer1.0.conv1.weight</c>.</param>
    /// <returns>A copy.</returns>
    public float[] GetParameter(string name)
    {
        using CallScope call = Enter(nameof(GetParameter));
        return Store.Get(name);
    }

    /// <summary>Sets a parameter's values by torchvision name.</summary>
    /// <param name="name">The name.</param>
    /// <param name="values">The values.</param>
    public void SetParameter(string name, ReadOnlySpan<float> values)
    {
        using CallScope call = Enter(nameof(SetParameter));
        Store.Set(name, values);
        _foldedCurrent = false;
    }

    /// <summary>A parameter's gradient from the last backward, by torchvision name.</summary>
    /// <param name="name">The name.</param>
    /// <returns>A copy.</returns>
    public float[] GetGradient(string name)
    {
        using CallScope call = Enter(nameof(GetGradient));
        return Store.GetGradient(name);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public BatchResult TrainStep(ReadOnlySpan<float> images, ReadOnlySpan<int> labels, Optimizer optimizer)
    {
        using CallScope call = Enter(nameof(TrainStep));
        ArgumentNullException.ThrowIfNull(optimizer);
        CheckOptimizer(optimizer);
        LoadImages(images, exact: true);
        LoadLabels(labels, exact: true);
        float[] snapshot = Store.SnapshotValues();
        long step = StepCount + 1;
        StepCount = step;
        ForwardTraining();
        ClearGradients();
        RunLoss(TrainingOutput, BatchSize, TrainingOutputGradient, inference: false);
        BackwardTraining(ComputeInputGradient);
        Synchronize();
        BatchResult result = ReadLoss(BatchSize);
        Store.PullToHost();
        _lastForwardTraining = true;
        _lastCount = BatchSize;
        _foldedCurrent = false;
        if (!double.IsFinite(result.Loss) || Store.FirstNonFiniteGradient() is not null || FirstNonFiniteRunningStatistic() is not null)
        {
            string location = Diagnose(snapshot);
            StepCount = step - 1;
            throw new TrainingDivergedException(step, location, result.Loss);
        }

        optimizer.Step();
        Store.PushValues();
        Store.CountBatch();
        return result;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public BatchResult Evaluate(ReadOnlySpan<float> images, ReadOnlySpan<int> labels)
    {
        using CallScope call = Enter(nameof(Evaluate));
        int count = LoadLabels(labels, exact: false);
        int imagesCount = LoadImages(images, exact: false);
        if (imagesCount != count)
        {
            throw new ArgumentException($"{Definition.Name}: {imagesCount} images but {count} labels.", nameof(labels));
        }

        _lastCount = count;
        RunInference();
        _lastForwardTraining = false;
        RunLoss(InferenceOutput, count, _evaluationGradient.View, inference: true);
        Synchronize();
        return ReadLoss(count);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Predict(ReadOnlySpan<float> images, Span<float> logits)
    {
        using CallScope call = Enter(nameof(Predict));
        int count = LoadImages(images, exact: false);
        if (logits.Length != count * _classes)
        {
            throw new ArgumentException($"{Definition.Name}: logits need {count} x {_classes} values; the span has {logits.Length}.", nameof(logits));
        }

        _lastCount = count;
        RunInference();
        _lastForwardTraining = false;
        Synchronize();
        if (Device.IsSimd)
        {
            // Host memory: straight into the caller's span, nothing allocated.
            HostSpan(Addresses.InferenceOutput, logits.Length).CopyTo(logits);
            return;
        }

        float[] result = new float[count * _classes];
        InferenceOutput.SubView(0, result.Length).CopyToCPU(result);
        result.CopyTo(logits);
    }

    /// <inheritdoc />
    public void AddParametersTo(Optimizer optimizer)
    {
        using CallScope call = Enter(nameof(AddParametersTo));
        ArgumentNullException.ThrowIfNull(optimizer);
        foreach (ParameterInfo p in Definition.Parameters.Where(p => p.IsTrainable))
        {
            optimizer.Add(new ParameterSlot(p.Name, Store.HostValue(p.Name), Store.HostGradient(p.Name)));
        }
    }

    /// <inheritdoc />
    public Checkpoint ExportCheckpoint()
    {
        using CallScope call = Enter(nameof(ExportCheckpoint));
        Checkpoint checkpoint = new() { NetworkName = Definition.Name };
        foreach (ParameterInfo p in Definition.Parameters)
        {
            checkpoint.Model[p.Name] = p.Role == ParameterRole.BatchesTracked
                ? TensorData.Int64(p.Shape, [Store.BatchesTracked(p.Name)])
                : TensorData.Float(p.Shape, Store.Get(p.Name));
        }

        return checkpoint;
    }

    /// <inheritdoc />
    public void ImportCheckpoint(Checkpoint checkpoint)
    {
        using CallScope call = Enter(nameof(ImportCheckpoint));
        ArgumentNullException.ThrowIfNull(checkpoint);
        checkpoint.Validate(Definition);
        foreach (ParameterInfo p in Definition.Parameters)
        {
            TensorData t = checkpoint.Model[p.Name];
            if (p.Role == ParameterRole.BatchesTracked)
            {
                Store.SetBatchesTracked(p.Name, t.Int64s![0]);
            }
            else
            {
                Store.Set(p.Name, t.Floats!);
            }
        }

        // Dropout masks derive from the step: a resumed run continues the sequence.
        StepCount = checkpoint.OptimizerStep;
        _foldedCurrent = false;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunInference()
    {
        if (!_foldedCurrent)
        {
            FoldBatchNorm();
            _foldedCurrent = true;
        }

        ForwardInference(_lastCount);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int LoadImages(ReadOnlySpan<float> images, bool exact)
    {
        if (images.Length % _imageElements != 0)
        {
            throw new ArgumentException(
                $"{Definition.Name}: images hold {images.Length} values, not a whole number of {Definition.InputShape} images ({_imageElements} values each).", nameof(images));
        }

        int count = images.Length / _imageElements;
        if (exact ? count != BatchSize : count < 1 || count > BatchSize)
        {
            throw new ArgumentException(
                exact
                    ? $"{Definition.Name}: a training step takes exactly {BatchSize} images (the batch size it was built for); got {count}."
                    : $"{Definition.Name}: between 1 and {BatchSize} images are allowed; got {count}.",
                nameof(images));
        }

        for (int i = 0; i < images.Length; i++)
        {
            if (!float.IsFinite(images[i]))
            {
                throw new ArgumentException($"{Definition.Name}: image {i / _imageElements} holds a non-finite value ({images[i]}) at element {i % _imageElements}.", nameof(images));
            }
        }

        if (Device.IsSimd)
        {
            // Host memory: copied in place, channels-last for the SIMD backend, nothing allocated.
            Span<float> input = HostSpan(Addresses.Input, images.Length);
            if (Channels > 1 && Pixels > 1)
            {
                for (int n = 0; n < count; n++)
                {
                    ReadOnlySpan<float> image = images.Slice(n * _imageElements, _imageElements);
                    Span<float> target = input.Slice(n * _imageElements, _imageElements);
                    for (int c = 0; c < Channels; c++)
                    {
                        for (int p = 0; p < Pixels; p++)
                        {
                            target[(p * Channels) + c] = image[(c * Pixels) + p];
                        }
                    }
                }
            }
            else
            {
                images.CopyTo(input);
            }

            return count;
        }

        if (count < BatchSize)
        {
            _input.MemSetToZero();
        }

        _input.View.SubView(0, images.Length).CopyFromCPU(images.ToArray());
        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int LoadLabels(ReadOnlySpan<int> labels, bool exact)
    {
        if (exact ? labels.Length != BatchSize : labels.Length < 1 || labels.Length > BatchSize)
        {
            throw new ArgumentException($"{Definition.Name}: expected {(exact ? BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture) : "1 to " + BatchSize)} labels; got {labels.Length}.", nameof(labels));
        }

        if (!Definition.OutputShape.IsFlat)
        {
            throw new InvalidOperationException($"{Definition.Name}: the classification loss needs a flat output; the output is {Definition.OutputShape}.");
        }

        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0 || labels[i] >= _classes)
            {
                throw new ArgumentException($"{Definition.Name}: label {i} is {labels[i]}; labels must be 0 to {_classes - 1}.", nameof(labels));
            }
        }

        if (Device.IsSimd)
        {
            labels.CopyTo(HostLabels(labels.Length));
            return labels.Length;
        }

        _labels.View.SubView(0, labels.Length).CopyFromCPU(labels.ToArray());
        return labels.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunLoss(ArrayView<float> logits, int count, ArrayView<float> gradient, bool inference)
    {
        if (Device.IsSimd)
        {
            SoftmaxCrossEntropyOnHost(inference ? Addresses.InferenceOutput : Addresses.TrainingOutput, count, inference ? Addresses.EvaluationGradient : Addresses.TrainingOutputGradient);
            return;
        }

        int threads = Device.ThreadsFor(BatchSize);
        Device.Kernels.SoftmaxCrossEntropy(
            threads, SpecializedValue.New(_classes), logits, _labels.View, count, 1f / count, _loss.View, _correct.View, gradient, BatchSize, threads);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private BatchResult ReadLoss(int count)
    {
        if (Device.IsSimd)
        {
            Span<float> losses = HostSpan(Addresses.Loss, count);
            Span<float> rights = HostSpan(Addresses.Correct, count);
            double total = 0;
            int hits = 0;
            for (int i = 0; i < count; i++)
            {
                total += losses[i];
                hits += rights[i] > 0.5f ? 1 : 0;
            }

            return new BatchResult(total / count, hits, count);
        }

        float[] loss = new float[count];
        float[] correct = new float[count];
        _loss.View.SubView(0, count).CopyToCPU(loss);
        _correct.View.SubView(0, count).CopyToCPU(correct);
        double sum = 0;
        int right = 0;
        for (int i = 0; i < count; i++)
        {
            sum += loss[i];
            right += correct[i] > 0.5f ? 1 : 0;
        }

        return new BatchResult(sum / count, right, count);
    }

    // The kernel's arithmetic on host memory (the SIMD backend): loss, whether the top class is right, and the gradient.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SoftmaxCrossEntropyOnHost(IntPtr logitsAddress, int count, IntPtr gradientAddress)
    {
        int k = _classes;
        Span<float> logits = HostSpan(logitsAddress, BatchSize * k);
        Span<float> dz = HostSpan(gradientAddress, BatchSize * k);
        Span<int> labels = HostLabels(BatchSize);
        Span<float> loss = HostSpan(Addresses.Loss, BatchSize);
        Span<float> correct = HostSpan(Addresses.Correct, BatchSize);
        float scale = 1f / count;
        for (int n = 0; n < BatchSize; n++)
        {
            Span<float> z = logits.Slice(n * k, k);
            Span<float> g = dz.Slice(n * k, k);
            if (n >= count)
            {
                g.Clear();
                continue;
            }

            float max = z[0];
            int best = 0;
            for (int j = 1; j < k; j++)
            {
                if (z[j] > max || (float.IsNaN(z[j]) && !float.IsNaN(max)))
                {
                    max = z[j];
                    best = j;
                }
            }

            float sum = 0f;
            for (int j = 0; j < k; j++)
            {
                sum += MathF.Exp(z[j] - max);
            }

            int label = labels[n];
            loss[n] = MathF.Log(sum) - (z[label] - max);
            correct[n] = best == label ? 1f : 0f;
            for (int j = 0; j < k; j++)
            {
                g[j] = ((MathF.Exp(z[j] - max) / sum) - (j == label ? 1f : 0f)) * scale;
            }
        }
    }

    // ILGPU launches are asynchronous; the SIMD backend's calls return when done.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Synchronize()
    {
        if (!Device.IsSimd)
        {
            Device.Accelerator.Synchronize();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ClearGradients()
    {
        if (Device.IsSimd)
        {
            // The gradient arena is the largest buffer (hundreds of MiB at batch 128): every thread clears a slice.
            _clear ??= new ClearWork(Addresses.Gradients, _gradients.Length) { Parts = Device.Pool!.Threads * 16 };
            Device.Pool!.Run(_clear, _clear.Parts, balanced: true);
            return;
        }

        _gradients.MemSetToZero();
    }

    private int Channels => Definition.InputShape.IsFlat ? 1 : Definition.InputShape.Channels;

    private int Pixels => Definition.InputShape.IsFlat ? 1 : Definition.InputShape.Height * Definition.InputShape.Width;

    // Addresses of the host-memory views the SIMD backend touches directly, taken once (ILGPU's lookup is not free).
    private static unsafe Span<float> HostSpan(IntPtr address, int length) => new((void*)address, length);

    private unsafe Span<int> HostLabels(int length) => new((void*)Addresses.Labels, length);

    private HostAddresses Addresses => _hostAddresses ??= new HostAddresses(
        OpChecks.Ptr(_input.View), OpChecks.Ptr(_gradients.View), OpChecks.Ptr(_loss.View), OpChecks.Ptr(_correct.View), OpChecks.Ptr(_evaluationGradient.View),
        OpChecks.Ptr(TrainingOutput), OpChecks.Ptr(TrainingOutputGradient), OpChecks.Ptr(InferenceOutput), IntAddress(_labels.View));

    private static IntPtr IntAddress(ArrayView<int> view) => view.LoadEffectiveAddressAsPtr();

    private sealed unsafe class ClearWork(IntPtr start, long floats) : DslResNet.Kernels.Simd.IParallelWork
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end, int thread)
        {
            long total = floats;
            for (int u = first; u < end; u++)
            {
                long from = total * u / Parts;
                long to = total * (u + 1) / Parts;
                new Span<float>((float*)start + from, checked((int)(to - from))).Clear();
            }
        }

        public int Parts { get; set; } = 1;

        public override string ToString() => "clear the gradient arena";
    }

    private sealed record HostAddresses(
        IntPtr Input, IntPtr Gradients, IntPtr Loss, IntPtr Correct, IntPtr EvaluationGradient, IntPtr TrainingOutput, IntPtr TrainingOutputGradient,
        IntPtr InferenceOutput, IntPtr Labels);

    // Re-runs the step with every group's output and input gradient checked, restores the parameters and says where the
    // first non-finite value appeared.
    private string Diagnose(float[] snapshot)
    {
        string? parameter = Store.FirstNonFiniteGradient();
        string? runningStatistic = FirstNonFiniteRunningStatistic();
        Store.RestoreValues(snapshot);
        _tracing = true;
        _firstNonFinite = null;
        try
        {
            ForwardTraining();
            ClearGradients();
            RunLoss(TrainingOutput, BatchSize, TrainingOutputGradient, inference: false);
            Synchronize();
            if (_firstNonFinite is null && !Finite(TrainingOutputGradient))
            {
                _firstNonFinite = "loss (softmax cross-entropy)";
            }

            BackwardTraining(false);
            Synchronize();
            return _firstNonFinite
                ?? (parameter is not null ? $"gradient of parameter {parameter}"
                    : runningStatistic is not null ? $"batch statistics of {runningStatistic} (they overflow float)"
                    : "loss");
        }
        finally
        {
            _tracing = false;
            Store.RestoreValues(snapshot);
        }
    }

    // A batch statistic can overflow (a huge activation squared) while the normalised output stays finite; the running
    // statistics then hold an infinity that evaluation and checkpoints would carry on.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private string? FirstNonFiniteRunningStatistic()
    {
        // Over views listed once: a training step allocates nothing here.
        _runningStatistics ??= [.. Definition.Parameters.Where(p => p.Role is ParameterRole.RunningMean or ParameterRole.RunningVar).Select(p => (p.Name, Store.HostValue(p.Name)))];
        foreach ((string name, Memory<float> values) in _runningStatistics)
        {
            if (!ParameterStore.AllFinite(values.Span))
            {
                return name;
            }
        }

        return null;
    }

    private string GroupName(int group)
    {
        FusionGroupInfo g = Definition.FusionGroups[group];
        string first = Definition.Layers[g.Layers[0]].Name;
        string last = Definition.Layers[g.Layers[^1]].Name;
        return g.Layers.Length == 1 ? $"layer {first}" : $"layers {first} .. {last}";
    }

    private static bool Finite(ArrayView<float> view)
    {
        float[] values = new float[view.Length];
        view.CopyToCPU(values);
        return ParameterStore.AllFinite(values);
    }

    // torchvision's initialisation: Kaiming normal (fan_out, ReLU gain) for convolutions, PyTorch's default uniform for dense
    // layers and convolution biases, batch norm scale 1 and shift 0 (0 scale for a residual block's last batch norm with
    // ZeroInitResidual), running mean 0 and variance 1.
    private void Initialize()
    {
        Random random = new(Options.Seed);
        Dictionary<string, LayerInfo> layers = Definition.Layers.ToDictionary(l => l.Name, StringComparer.Ordinal);
        HashSet<int> zeroScale = [];
        if (Options.ZeroInitResidual)
        {
            foreach (LayerInfo add in Definition.Layers.Where(l => l.Kind == LayerKind.Add))
            {
                int body = add.Inputs[0];
                if (body >= 0 && Definition.Layers[body].Kind == LayerKind.BatchNorm)
                {
                    zeroScale.Add(body);
                }
            }
        }

        foreach (ParameterInfo p in Definition.Parameters)
        {
            if (p.Role == ParameterRole.BatchesTracked)
            {
                continue;
            }

            LayerInfo layer = layers[p.Layer];
            float[] values = new float[p.Elements];
            switch (p.Role)
            {
                case ParameterRole.Weight when layer.Kind == LayerKind.Conv:
                {
                    double std = Math.Sqrt(2.0 / (p.Shape[0] * p.Shape[2] * p.Shape[3]));
                    for (int i = 0; i < values.Length; i++)
                    {
                        values[i] = (float)(std * Normal(random));
                    }

                    break;
                }

                case ParameterRole.Weight or ParameterRole.Bias:
                {
                    ParameterInfo weight = Definition.Parameters.First(q => q.Layer == p.Layer && q.Role == ParameterRole.Weight);
                    long fanIn = weight.Elements / weight.Shape[0];
                    double bound = 1.0 / Math.Sqrt(fanIn);
                    for (int i = 0; i < values.Length; i++)
                    {
                        values[i] = (float)(((2 * random.NextDouble()) - 1) * bound);
                    }

                    break;
                }

                case ParameterRole.BatchNormScale:
                    Array.Fill(values, zeroScale.Contains(layer.Index) ? 0f : 1f);
                    break;
                case ParameterRole.RunningVar:
                    Array.Fill(values, 1f);
                    break;
                default:
                    break;
            }

            Store.Set(p.Name, values);
        }
    }

    private static double Normal(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
