using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using DslResNet.IO;
using DslResNet.Training;
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
        RunLoss(TrainingOutput, BatchSize, TrainingOutputGradient);
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
        RunLoss(InferenceOutput, count, _evaluationGradient.View);
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
        _host.Read(InferenceOutput, logits);
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
}
