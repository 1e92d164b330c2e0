using System;

namespace DslResNet.Runtime;

/// <summary>
/// One trainable tensor as an optimizer sees it: its name, its values (updated in place), its gradient and whether
/// weight decay applies to it (commonly off for biases and batch-norm parameters).
/// </summary>
public sealed class ParameterSlot
{
    private double _learningRateScale = 1;
    private double? _weightDecay;

    /// <summary>Creates a slot over a value buffer and a gradient buffer of the same length.</summary>
    /// <param name="name">The parameter's name, e.g. <c>conv1.weight</c>; names the optimizer's state buffers.</param>
    /// <param name="value">The parameter's values, updated in place by <see cref="IOptimizer.Step"/>.</param>
    /// <param name="gradient">The gradient of the loss with respect to <paramref name="value"/>; read only.</param>
    /// <param name="applyWeightDecay">Whether the optimizer's weight decay applies to this parameter.</param>
    /// <exception cref="ArgumentException">The name is empty or the buffers differ in length.</exception>
    public ParameterSlot(string name, Memory<float> value, Memory<float> gradient, bool applyWeightDecay = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (value.Length != gradient.Length)
        {
            throw new ArgumentException(
                $"Parameter '{name}' has {value.Length} values but its gradient has {gradient.Length}.", nameof(gradient));
        }

        Name = name;
        Value = value;
        Gradient = gradient;
        ApplyWeightDecay = applyWeightDecay;
    }

    /// <summary>The parameter's name.</summary>
    public string Name { get; }

    /// <summary>The parameter's values, updated in place.</summary>
    /// <remarks>
    /// For a network's slot (<see cref="NetworkBase.AddParametersTo"/>) this is the store's host copy. When an ILGPU
    /// network steps <c>Sgd</c> or <c>AdamW</c> on the device, the copy is refreshed only when the optimizer reads it
    /// (<c>ExportState</c>, <c>FindNonFinite</c> on a non-finite value, a host step); read values through
    /// <see cref="NetworkBase.GetParameter"/>, which always reads the device.
    /// </remarks>
    public Memory<float> Value { get; }

    /// <summary>The parameter's gradient.</summary>
    public Memory<float> Gradient { get; }

    /// <summary>Whether weight decay applies to this parameter.</summary>
    public bool ApplyWeightDecay { get; }

    /// <summary>
    /// This parameter's share of the optimizer's learning rate (default 1), as a torch.optim parameter group's <c>lr</c>
    /// relative to the others: schedules set the optimizer's rate and every group follows in proportion.
    /// </summary>
    /// <exception cref="ArgumentException">Set to a negative or non-finite value.</exception>
    public double LearningRateScale
    {
        get => _learningRateScale;
        set => _learningRateScale = value >= 0 && double.IsFinite(value)
            ? value
            : throw new ArgumentException($"Parameter '{Name}': the learning-rate scale must be finite and >= 0, not {value}.", nameof(value));
    }

    /// <summary>This parameter's weight decay, overriding the optimizer's; null (the default) uses the optimizer's. Ignored where <see cref="ApplyWeightDecay"/> is false.</summary>
    /// <exception cref="ArgumentException">Set to a negative or non-finite value.</exception>
    public double? WeightDecay
    {
        get => _weightDecay;
        set => _weightDecay = value is not { } v || (v >= 0 && double.IsFinite(v))
            ? value
            : throw new ArgumentException($"Parameter '{Name}': weight decay must be finite and >= 0, not {value}.", nameof(value));
    }

    /// <summary>The number of elements.</summary>
    public int Length => Value.Length;
}
