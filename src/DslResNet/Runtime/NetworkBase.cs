using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using DslResNet.IO;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

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
    private readonly DeviceBuffer<float> _training;
    private readonly DeviceBuffer<float> _gradients;
    private readonly DeviceBuffer<float> _inference;
    private readonly DeviceBuffer<float> _scratch;
    private readonly DeviceBuffer<float> _input;
    private readonly DeviceBuffer<int> _labels;
    private readonly DeviceBuffer<float> _loss;
    private readonly DeviceBuffer<float> _correct;
    private readonly DeviceBuffer<float> _evaluationGradient;

    // Inference convolutions' outputs apart from the arena, where the plan writes a group's output over its residual and the
    // backend adds the residual in a pass after the convolution (see AddConvolution).
    private readonly List<DeviceBuffer<float>> _ownOutputs = [];
    private readonly Dictionary<int, (ArrayView<float> Output, ArrayView<float> InputGradient)> _traces = [];
    private readonly int _imageElements;
    private readonly int _classes;
    private bool _foldedCurrent;
    private bool _lastForwardTraining;
    private int _lastCount;
    private bool _outputHeld;
    private bool _tracing;
    private string? _firstNonFinite;
    private readonly DslResNet.Kernels.INetworkHost _host;
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
        long Batch(long perImage) => Math.Max(1, checked(perImage * batchSize));
        try
        {
            // Zeroed: ILGPU buffers on ILGPU devices, host memory on the SIMD device (no ILGPU context there).
            _training = new DeviceBuffer<float>(device, Batch(layout.TrainingElementsPerImage));
            _gradients = new DeviceBuffer<float>(device, Batch(layout.GradientElementsPerImage));
            _inference = new DeviceBuffer<float>(device, Batch(layout.InferenceElementsPerImage));
            _scratch = new DeviceBuffer<float>(device, Math.Max(1, layout.ScratchElements));
            _input = new DeviceBuffer<float>(device, Batch(_imageElements));
            _labels = new DeviceBuffer<int>(device, batchSize);
            _loss = new DeviceBuffer<float>(device, batchSize);
            _correct = new DeviceBuffer<float>(device, batchSize);
            _evaluationGradient = new DeviceBuffer<float>(device, Batch(_classes));

            _host = device.Backend.CreateHost(new DslResNet.Kernels.HostBinding(
                _input.View, _labels.View, _loss.View, _correct.View, batchSize, _classes,
                info.InputShape.IsFlat ? 1 : info.InputShape.Channels, info.InputShape.IsFlat ? 1 : info.InputShape.Height * info.InputShape.Width));
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

    /// <summary>Training steps taken; <see cref="ImportCheckpoint(IO.Checkpoint)"/> restores it from the checkpoint's optimizer step.</summary>
    public long StepCount { get; private set; }

    /// <summary>When true, <see cref="TrainStep"/> and <see cref="Backward"/> also compute the gradient of the input images.</summary>
    public bool ComputeInputGradient { get; set; }

    /// <inheritdoc />
    public MemoryReport Memory => new(
        BatchSize,
        Store.Bytes,
        (_training.Length + _gradients.Length + _scratch.Length + _labels.Length + _loss.Length + _correct.Length) * sizeof(float),
        (_inference.Length + _input.Length + _evaluationGradient.Length + _ownOutputs.Sum(b => b.View.Length)) * sizeof(float));

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
}
