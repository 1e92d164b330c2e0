using System;
using System.Collections.Generic;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;

namespace DslResNet.Tests.Training;

/// <summary>
/// A host-side stand-in for a generated network: multinomial logistic regression (one dense layer <c>fc</c> on the
/// flattened image) with real gradients of the mean softmax cross-entropy. Deterministic, so runs compare bitwise.
/// It records how the trainer drives it.
/// </summary>
internal sealed class FakeSoftmaxModel : INetworkModel
{
    private readonly float[] _weight;
    private readonly float[] _bias;
    private readonly float[] _weightGrad;
    private readonly float[] _biasGrad;
    private readonly int _features;
    private readonly int _classes;

    public FakeSoftmaxModel(TensorShape input, int classes, int batchSize, string name = "FakeSoftmax", int seed = 1)
    {
        _features = (int)input.Elements;
        _classes = classes;
        BatchSize = batchSize;
        _weight = new float[classes * _features];
        _bias = new float[classes];
        _weightGrad = new float[_weight.Length];
        _biasGrad = new float[classes];
        Random random = new(seed);
        for (int i = 0; i < _weight.Length; i++)
        {
            _weight[i] = (float)((random.NextDouble() - 0.5) * 0.02);
        }

        Definition = new NetworkInfo(
            name, input, TensorShape.Flat(classes),
            [new LayerInfo(0, "fc", LayerKind.Dense, $"Linear {_features}->{classes}", [-1], TensorShape.Flat(classes), _weight.Length + classes,
                _weight.Length, 2L * _weight.Length, 0, 0, 0, Bias: true)],
            [
                new ParameterInfo("fc.weight", "fc", ParameterRole.Weight, [classes, _features]),
                new ParameterInfo("fc.bias", "fc", ParameterRole.Bias, [classes]),
            ],
            [], 0, 0);
    }

    public NetworkInfo Definition { get; }

    public Device Device => throw new NotSupportedException("The fake runs on the host.");

    public int BatchSize { get; }

    public bool IsTraining { get; private set; } = true;

    public MemoryReport Memory => new(BatchSize, 8L * (_weight.Length + _bias.Length), 0, 0);

    /// <summary>Throw <see cref="TrainingDivergedException"/> at this 1-based count of <see cref="TrainStep"/> calls (0: never).</summary>
    public long DivergeAtStep { get; set; }

    /// <summary>Calls of <see cref="TrainStep"/>.</summary>
    public long TrainSteps { get; private set; }

    /// <summary>The image count of every <see cref="Evaluate"/> call and whether the model was in evaluation mode then.</summary>
    public List<(int Count, bool Training)> Evaluations { get; } = [];

    public ReadOnlySpan<float> Weight => _weight;

    public ReadOnlySpan<float> Bias => _bias;

    public void Train() => IsTraining = true;

    public void Eval() => IsTraining = false;

    public BatchResult TrainStep(ReadOnlySpan<float> images, ReadOnlySpan<int> labels, IOptimizer optimizer)
    {
        if (images.Length != BatchSize * _features || labels.Length != BatchSize)
        {
            throw new ArgumentException("A training step takes exactly one full batch.");
        }

        if (!IsTraining)
        {
            throw new InvalidOperationException("TrainStep in evaluation mode.");
        }

        TrainSteps++;
        Array.Clear(_weightGrad);
        Array.Clear(_biasGrad);
        float[] probabilities = new float[_classes];
        double loss = 0;
        int correct = 0;
        float scale = 1f / BatchSize;
        for (int n = 0; n < BatchSize; n++)
        {
            ReadOnlySpan<float> x = images.Slice(n * _features, _features);
            (double l, bool right) = Forward(x, labels[n], probabilities);
            loss += l;
            correct += right ? 1 : 0;
            for (int k = 0; k < _classes; k++)
            {
                float d = (probabilities[k] - (k == labels[n] ? 1f : 0f)) * scale;
                _biasGrad[k] += d;
                Span<float> row = _weightGrad.AsSpan(k * _features, _features);
                for (int f = 0; f < _features; f++)
                {
                    row[f] += d * x[f];
                }
            }
        }

        loss /= BatchSize;
        if (TrainSteps == DivergeAtStep)
        {
            loss = double.NaN;
        }

        if (!double.IsFinite(loss))
        {
            throw new TrainingDivergedException(TrainSteps, "forward of fc", loss);
        }

        optimizer.Step();
        return new BatchResult(loss, correct, BatchSize);
    }

    public BatchResult Evaluate(ReadOnlySpan<float> images, ReadOnlySpan<int> labels)
    {
        int count = labels.Length;
        if (count < 1 || count > BatchSize || images.Length != count * _features)
        {
            throw new ArgumentException($"Evaluate takes 1 to {BatchSize} images; got {count}.");
        }

        Evaluations.Add((count, IsTraining));
        float[] probabilities = new float[_classes];
        double loss = 0;
        int correct = 0;
        for (int n = 0; n < count; n++)
        {
            (double l, bool right) = Forward(images.Slice(n * _features, _features), labels[n], probabilities);
            loss += l;
            correct += right ? 1 : 0;
        }

        return new BatchResult(loss / count, correct, count);
    }

    public void Predict(ReadOnlySpan<float> images, Span<float> logits)
    {
        int count = images.Length / _features;
        for (int n = 0; n < count; n++)
        {
            Logits(images.Slice(n * _features, _features), logits.Slice(n * _classes, _classes));
        }
    }

    public void AddParametersTo(IOptimizer optimizer)
    {
        optimizer.Add(new ParameterSlot("fc.weight", _weight, _weightGrad));
        optimizer.Add(new ParameterSlot("fc.bias", _bias, _biasGrad, applyWeightDecay: false));
    }

    public Checkpoint ExportCheckpoint()
    {
        Checkpoint checkpoint = new() { NetworkName = Definition.Name };
        checkpoint.Model["fc.weight"] = TensorData.Float([_classes, _features], (float[])_weight.Clone());
        checkpoint.Model["fc.bias"] = TensorData.Float([_classes], (float[])_bias.Clone());
        return checkpoint;
    }

    public void ImportCheckpoint(Checkpoint checkpoint)
    {
        checkpoint.Validate(Definition);
        // Copy into the live arrays: the optimizer holds references to them.
        checkpoint.Model["fc.weight"].Floats!.CopyTo(_weight, 0);
        checkpoint.Model["fc.bias"].Floats!.CopyTo(_bias, 0);
    }

    public void Dispose()
    {
    }

    private (double Loss, bool Correct) Forward(ReadOnlySpan<float> x, int label, Span<float> probabilities)
    {
        Logits(x, probabilities);
        int best = 0;
        float max = probabilities[0];
        for (int k = 1; k < _classes; k++)
        {
            if (probabilities[k] > max)
            {
                max = probabilities[k];
                best = k;
            }
        }

        float sum = 0;
        for (int k = 0; k < _classes; k++)
        {
            probabilities[k] = MathF.Exp(probabilities[k] - max);
            sum += probabilities[k];
        }

        for (int k = 0; k < _classes; k++)
        {
            probabilities[k] /= sum;
        }

        return (-Math.Log(Math.Max(probabilities[label], 1e-30f)), best == label);
    }

    private void Logits(ReadOnlySpan<float> x, Span<float> logits)
    {
        for (int k = 0; k < _classes; k++)
        {
            ReadOnlySpan<float> row = _weight.AsSpan(k * _features, _features);
            float z = _bias[k];
            for (int f = 0; f < _features; f++)
            {
                z += row[f] * x[f];
            }

            logits[k] = z;
        }
    }
}
