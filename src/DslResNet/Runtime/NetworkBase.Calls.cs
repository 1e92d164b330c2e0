using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using DslResNet.IO;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Runtime;

// NetworkBase's public calls: modes, forward and backward, parameters, the training step, evaluation, prediction and checkpoints.
public abstract partial class NetworkBase
{
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

        _outputHeld = true;
        Synchronize();
    }

    /// <summary>The logits of the last <see cref="Forward"/>, images x classes.</summary>
    /// <returns>A new array.</returns>
    /// <exception cref="InvalidOperationException">The last call was a <see cref="Predict"/> or <see cref="Evaluate"/> that ran
    /// in several passes (their logits are not all held).</exception>
    public float[] Output()
    {
        using CallScope call = Enter(nameof(Output));
        if (!_outputHeld)
        {
            throw new InvalidOperationException(
                $"{Definition.Name}: the last Predict or Evaluate ran in passes of {InferencePassImages} images, so its logits are not all held; call Forward first, or read the logits Predict writes.");
        }

        Synchronize();
        float[] result = new float[_lastCount * _classes];
        Device.Backend.Read(_lastForwardTraining ? TrainingOutput : InferenceOutput, result);
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

        Device.Backend.Write(outputGradient, TrainingOutputGradient);
        BackwardTraining(ComputeInputGradient);
        Synchronize();
    }

    /// <summary>The gradient of the input images from the last backward (needs <see cref="ComputeInputGradient"/>).</summary>
    /// <returns>A new array, N x C x H x W.</returns>
    public float[] InputGradient()
    {
        using CallScope call = Enter(nameof(InputGradient));
        float[] result = new float[BatchSize * _imageElements];
        _host.ReadImages(InputGradientView, result);
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
    public BatchResult TrainStep(ReadOnlySpan<float> images, ReadOnlySpan<int> labels, IOptimizer optimizer)
    {
        using CallScope call = Enter(nameof(TrainStep));
        ArgumentNullException.ThrowIfNull(optimizer);
        CheckOptimizer(optimizer);
        LoadImages(images, exact: true);
        LoadLabels(labels, exact: true);
        bool onDevice = StepsOnDevice(optimizer);
        // The running statistics as the step finds them (the forward pass updates them; nothing else changes before the
        // optimizer's step), so that a diverged step can be rerun as it was.
        if (onDevice)
        {
            Store.SnapshotOnDevice();
        }
        else
        {
            Store.SnapshotStatistics();
        }

        long step = StepCount + 1;
        StepCount = step;
        ForwardTraining();
        RunLoss(TrainingOutput, BatchSize, TrainingOutputGradient);
        _reducer?.Begin();
        BackwardTraining(ComputeInputGradient);
        Synchronize();
        BatchResult result = ReadLoss(BatchSize);
        if (onDevice && (!double.IsFinite(result.Loss) || Store.AnyNonFinite(Store.AllGradients, Store.AllValues)))
        {
            // Something is not finite: the host path below names it exactly (and steps on the host if it was harmless).
            onDevice = false;
            Store.DeviceStatisticsToHost();
        }

        if (_reducer is { } reducer)
        {
            // Gradients averaged over the ranks (so the checks and the update below agree on every rank).
            Store.PullValuesToHost();
            reducer.Finish(step);
        }
        else if (!onDevice)
        {
            Store.PullToHost();
        }

        _lastForwardTraining = true;
        _lastCount = BatchSize;
        _outputHeld = true;
        _foldedCurrent = false;
        if (onDevice)
        {
            // Parameters and optimizer state stay on the device: no transfer (see StepsOnDevice).
            ((IDeviceOptimizer)optimizer).StepOnDevice(Store);
            Store.CountBatch();
            return result;
        }

        if (!double.IsFinite(result.Loss) || Store.FirstNonFiniteGradient(Device.Pool) is not null || FirstNonFiniteRunningStatistic() is not null)
        {
            string location = Diagnose();
            StepCount = step - 1;
            throw new TrainingDivergedException(step, location, result.Loss);
        }

        if (optimizer is IDeviceOptimizer own)
        {
            own.Step(Device.Pool);
        }
        else
        {
            optimizer.Step();
        }

        Store.PushValues();
        Store.CountBatch();
        return result;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public BatchResult Evaluate(ReadOnlySpan<float> images, ReadOnlySpan<int> labels)
    {
        using CallScope call = Enter(nameof(Evaluate));
        int count = CheckLabels(labels, exact: false);
        int imagesCount = CheckImages(images, exact: false);
        if (imagesCount != count)
        {
            throw new ArgumentException($"{Definition.Name}: {imagesCount} images but {count} labels.", nameof(labels));
        }

        double sum = 0;
        int hits = 0;
        int pass = InferencePassImages;
        for (int first = 0; first < count; first += pass)
        {
            int n = Math.Min(pass, count - first);
            _host.LoadImages(images.Slice(first * _imageElements, n * _imageElements), n);
            _host.LoadLabels(labels.Slice(first, n));
            _lastCount = n;
            RunInference();
            RunLoss(InferenceOutput, n, _evaluationGradient.View);
            Synchronize();
            (double s, int h) = _host.ReadLoss(n);
            sum += s;
            hits += h;
        }

        _lastForwardTraining = false;
        _outputHeld = count <= pass;
        return new BatchResult(sum / count, hits, count);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Predict(ReadOnlySpan<float> images, Span<float> logits)
    {
        using CallScope call = Enter(nameof(Predict));
        int count = CheckImages(images, exact: false);
        if (logits.Length != count * _classes)
        {
            throw new ArgumentException($"{Definition.Name}: logits need {count} x {_classes} values; the span has {logits.Length}.", nameof(logits));
        }

        int pass = InferencePassImages;
        for (int first = 0; first < count; first += pass)
        {
            int n = Math.Min(pass, count - first);
            _host.LoadImages(images.Slice(first * _imageElements, n * _imageElements), n);
            _lastCount = n;
            RunInference();
            Synchronize();
            _host.Read(InferenceOutput, logits.Slice(first * _classes, n * _classes));
        }

        _lastForwardTraining = false;
        _outputHeld = count <= pass;
    }

    /// <inheritdoc />
    public void AddParametersTo(IOptimizer optimizer)
    {
        using CallScope call = Enter(nameof(AddParametersTo));
        ArgumentNullException.ThrowIfNull(optimizer);
        // Frozen parameters are left out, and so are those the optimizer holds already (after an Unfreeze, call this again
        // to add the unfrozen ones).
        HashSet<string> held = new(optimizer.Parameters.Select(s => s.Name), StringComparer.Ordinal);
        foreach (ParameterInfo p in Definition.Parameters.Where(p => p.IsTrainable && !_frozen.Contains(p.Name) && !held.Contains(p.Name)))
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

    /// <summary>
    /// Loads a checkpoint's model state. Strict (as <see cref="ImportCheckpoint(Checkpoint)"/>): every tensor must fit, or
    /// nothing is loaded and the <see cref="CheckpointException"/> lists the mismatches. Not strict (fine-tuning from another
    /// network's weights, a new head): every network tensor whose name, shape and dtype match is loaded; the others keep
    /// their values; checkpoint tensors the network lacks or that differ are skipped; the optimizer step is not restored
    /// (training starts at step 0). The result lists exactly what was loaded, missing and skipped.
    /// </summary>
    /// <param name="checkpoint">The checkpoint.</param>
    /// <param name="strict">Whether every tensor must fit.</param>
    /// <returns>What was loaded, missing and skipped.</returns>
    /// <exception cref="CheckpointException">Strict, and names or shapes differ; or not strict and not a single tensor fits
    /// (almost certainly another network: nothing is loaded).</exception>
    public CheckpointImport ImportCheckpoint(Checkpoint checkpoint, bool strict)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (strict)
        {
            ImportCheckpoint(checkpoint);
            return CheckpointImport.All(Definition.Parameters.Select(p => p.Name));
        }

        using CallScope call = Enter(nameof(ImportCheckpoint));
        List<ParameterInfo> fitting = [];
        List<string> missing = [];
        List<string> skipped = [];
        HashSet<string> names = new(StringComparer.Ordinal);
        foreach (ParameterInfo p in Definition.Parameters)
        {
            names.Add(p.Name);
            if (!checkpoint.Model.TryGetValue(p.Name, out TensorData? t))
            {
                missing.Add(p.Name);
            }
            else if (!t.Shape.AsSpan().SequenceEqual(p.Shape) || t.DType != (p.Role == ParameterRole.BatchesTracked ? SafeTensorDType.I64 : SafeTensorDType.F32))
            {
                skipped.Add($"{p.Name} (checkpoint {t.DType} {t.ShapeText}, network {p.ShapeText})");
                missing.Add(p.Name);
            }
            else
            {
                fitting.Add(p);
            }
        }

        skipped.AddRange(checkpoint.Model.Keys.Where(k => !names.Contains(k)).Order(StringComparer.Ordinal).Select(k => $"{k} (not in {Definition.Name})"));
        if (fitting.Count == 0)
        {
            throw new CheckpointException($"Checkpoint does not fit network {Definition.Name}: not one of its {Definition.Parameters.Count} tensors matches by name, shape and dtype (the checkpoint has {checkpoint.Model.Count}; saved from network '{checkpoint.NetworkName ?? "unknown"}'). Nothing was loaded.");
        }

        foreach (ParameterInfo p in fitting)
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

        _foldedCurrent = false;
        return new CheckpointImport(fitting.Select(p => p.Name).ToList(), missing, skipped);
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
}
