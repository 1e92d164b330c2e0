using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;
using DslResNet.Runtime;

namespace DslResNet.Training;

/// <summary>
/// A first-order optimizer over named float parameters. Register the parameters once with <see cref="Add(ParameterSlot)"/>,
/// then call <see cref="Step()"/> after each backward pass; schedules set <see cref="LearningRate"/> before a step.
/// State is exported and imported by name (<see cref="ExportState"/>, <see cref="ImportState"/>) so that a run can
/// resume exactly from a checkpoint.
/// </summary>
public abstract partial class Optimizer : IOptimizer
{
    private readonly List<ParameterSlot> _parameters = [];
    private readonly Dictionary<string, ParameterSlot> _byName = new(StringComparer.Ordinal);
    private double _learningRate;

    /// <summary>Initialises the base state.</summary>
    /// <param name="learningRate">The initial learning rate; at least 0.</param>
    /// <exception cref="ArgumentException">The learning rate is negative or not finite.</exception>
    protected Optimizer(double learningRate)
    {
        LearningRate = learningRate;
    }

    /// <summary>The learning rate used by the next <see cref="Step()"/>; at least 0.</summary>
    /// <exception cref="ArgumentException">Set to a negative or non-finite value.</exception>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0) || double.IsInfinity(value))
            {
                throw new ArgumentException(
                    $"Invalid learning rate: {value.ToString(CultureInfo.InvariantCulture)}; it must be finite and >= 0.", "lr");
            }

            _learningRate = value;
        }
    }

    /// <summary>The number of steps taken (restored by <see cref="ImportState"/>).</summary>
    public long StepCount { get; private set; }

    /// <summary>The registered parameters, in registration order.</summary>
    public IReadOnlyList<ParameterSlot> Parameters => _parameters;

    /// <summary>Registers a parameter.</summary>
    /// <param name="parameter">The parameter; its name must be new to this optimizer.</param>
    /// <exception cref="ArgumentException">A parameter of that name is already registered.</exception>
    public void Add(ParameterSlot parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        if (!_byName.TryAdd(parameter.Name, parameter))
        {
            throw new ArgumentException($"A parameter named '{parameter.Name}' is already registered.", nameof(parameter));
        }

        _parameters.Add(parameter);
    }

    /// <summary>Registers a parameter given as arrays.</summary>
    /// <param name="name">The parameter's name.</param>
    /// <param name="value">The values, updated in place.</param>
    /// <param name="gradient">The gradient, of the same length.</param>
    /// <param name="applyWeightDecay">Whether weight decay applies to it.</param>
    /// <returns>The registered slot.</returns>
    public ParameterSlot Add(string name, float[] value, float[] gradient, bool applyWeightDecay = true)
    {
        ParameterSlot slot = new(name, value, gradient, applyWeightDecay);
        Add(slot);
        return slot;
    }

    /// <summary>
    /// A parameter group, as torch.optim's <c>param_groups</c>: every registered parameter of a module (its name, or a
    /// prefix followed by a dot: <c>"layer4"</c>, <c>"fc"</c>) gets a learning rate of <paramref name="learningRateScale"/>
    /// times this optimizer's (so schedules move every group in proportion) and, when given, its own weight decay.
    /// Fine-tuning commonly trains the backbone at a tenth of the head's rate:
    /// <c>optimizer.SetGroup("fc", 1); foreach (var m in backbone) optimizer.SetGroup(m, 0.1);</c>. Groups are not saved
    /// in checkpoints: set them again after a resume.
    /// </summary>
    /// <param name="module">A parameter name or a module prefix.</param>
    /// <param name="learningRateScale">The group's share of the learning rate, at least 0.</param>
    /// <param name="weightDecay">The group's weight decay; null keeps the optimizer's.</param>
    /// <returns>How many parameters the group holds.</returns>
    /// <exception cref="ArgumentException">The module matches no registered parameter (the message lists the registered modules), or a value is negative or not finite.</exception>
    public int SetGroup(string module, double learningRateScale = 1, double? weightDecay = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(module);
        List<ParameterSlot> matched = _parameters.FindAll(p => p.Name == module || p.Name.StartsWith(module + ".", StringComparison.Ordinal));
        if (matched.Count == 0)
        {
            string modules = string.Join(", ", _parameters.Select(p => p.Name.Split('.')[0]).Distinct());
            throw new ArgumentException($"No registered parameter belongs to module '{module}'; the optimizer holds {(modules.Length == 0 ? "none" : modules)}.", nameof(module));
        }

        foreach (ParameterSlot slot in matched)
        {
            slot.LearningRateScale = learningRateScale;
            slot.WeightDecay = weightDecay;
        }

        return matched.Count;
    }

    /// <summary>Updates every registered parameter from its gradient (on the host), then counts the step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Step() => Step(null);

    /// <summary>As <see cref="Step()"/>, the parameters' updates shared among the SIMD backend's threads where the optimizer
    /// allows (see <see cref="UpdatesConcurrently"/>): each parameter's values are the same to the bit however they are
    /// shared, since no update reads another parameter's.</summary>
    /// <param name="pool">The network's SIMD threads, or null.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Step(Kernels.Simd.SimdPool? pool)
    {
        SynchronizeToHost();
        HostChanged();
        long step = StepCount + 1;
        if (pool is { Threads: > 1 } && UpdatesConcurrently && _parameters.Count > 1)
        {
            (_updates ??= new UpdateWork(this)).Run(pool, step);
        }
        else
        {
            foreach (ParameterSlot parameter in _parameters)
            {
                Update(parameter, step);
            }
        }

        StepCount = step;
    }

    /// <summary>Whether <see cref="Update"/> may run for different parameters at once (its state kept per parameter, any
    /// shared structure locked). A ResNet-50 step's update is memory-bound: 9 ms on one of two cores.</summary>
    private protected virtual bool UpdatesConcurrently => false;

    private UpdateWork? _updates;

    // The parameters in runs of about equal elements, run on the pool's threads as they finish them.
    private sealed class UpdateWork(Optimizer optimizer) : Kernels.Simd.IParallelWork
    {
        private int[] _bounds = [];
        private int _count = -1;
        private long _step;

        public void Run(Kernels.Simd.SimdPool pool, long step)
        {
            if (_count != optimizer._parameters.Count)
            {
                // Apart, so that a step allocates nothing (the lambda's closure) once the runs are made.
                Split(optimizer._parameters, pool.Threads);
            }

            _step = step;
            pool.Run(this, _bounds.Length - 1, balanced: true);
        }

        private void Split(List<ParameterSlot> parameters, int threads)
        {
            _bounds = ElementRuns.Split(parameters.Count, i => parameters[i].Value.Length, 4 * threads);
            _count = parameters.Count;
        }

        public void Run(int start, int end, int thread)
        {
            List<ParameterSlot> parameters = optimizer._parameters;
            for (int i = _bounds[start]; i < _bounds[end]; i++)
            {
                optimizer.Update(parameters[i], _step);
            }
        }

        public override string ToString() => "optimizer step";
    }

    /// <summary>
    /// Finds the first parameter value or optimizer buffer value that is not finite (an update can overflow even when
    /// the loss and gradients were finite, and a resumed buffer can already hold Inf).
    /// </summary>
    /// <returns>A description such as <c>parameter conv1.weight[12] = Infinity</c>, or <see langword="null"/> when all are finite.</returns>
    public string? FindNonFinite()
    {
        // After device steps, checked on the device first: the host copies are fetched only to name a culprit.
        if (_home == StateHome.Device && DeviceAllFinite())
        {
            return null;
        }

        SynchronizeToHost();
        foreach (ParameterSlot parameter in _parameters)
        {
            if (FirstNonFinite(parameter.Value.Span) is int i)
            {
                return $"parameter {parameter.Name}[{i}] = {parameter.Value.Span[i]}";
            }

            foreach (string kind in BufferKinds)
            {
                if (GetBuffer(kind, parameter.Name) is { } buffer && FirstNonFinite(buffer) is int j)
                {
                    return $"optimizer buffer {BufferName(kind, parameter.Name)}[{j}] = {buffer[j]}";
                }
            }
        }

        return null;
    }

    private static int? FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }

        return null;
    }

    /// <summary>Updates one parameter in place.</summary>
    /// <param name="parameter">The parameter.</param>
    /// <param name="step">The 1-based number of the step being taken.</param>
    protected abstract void Update(ParameterSlot parameter, long step);

    /// <summary>The kinds of per-parameter buffer this optimizer keeps, e.g. <c>momentum_buffer</c>.</summary>
    protected abstract IReadOnlyList<string> BufferKinds { get; }

    /// <summary>Adds this optimizer's hyper-parameters, other than <c>lr</c>, to <paramref name="target"/>.</summary>
    /// <param name="target">The dictionary to fill.</param>
    protected abstract void WriteHyperParameters(IDictionary<string, double> target);

    /// <summary>The buffer of the given kind for a parameter, or <see langword="null"/> if it has none yet.</summary>
    /// <param name="kind">One of <see cref="BufferKinds"/>.</param>
    /// <param name="parameter">The parameter's name.</param>
    /// <returns>The live buffer, or <see langword="null"/>.</returns>
    protected abstract float[]? GetBuffer(string kind, string parameter);

    /// <summary>Replaces (or, with <see langword="null"/>, removes) the buffer of the given kind for a parameter.</summary>
    /// <param name="kind">One of <see cref="BufferKinds"/>.</param>
    /// <param name="parameter">The parameter's name.</param>
    /// <param name="buffer">The new buffer, owned by the optimizer from now on, or <see langword="null"/>.</param>
    protected abstract void SetBuffer(string kind, string parameter, float[]? buffer);

    /// <summary>The buffer name used in exported state: <c>{kind}.{parameter}</c>.</summary>
    /// <param name="kind">The buffer kind.</param>
    /// <param name="parameter">The parameter's name.</param>
    /// <returns>The combined name.</returns>
    public static string BufferName(string kind, string parameter) => kind + "." + parameter;

    /// <summary>Copies the optimizer's state: step count, buffers (copies) and hyper-parameters including <c>lr</c>.</summary>
    /// <returns>A snapshot independent of this optimizer.</returns>
    public OptimizerState ExportState()
    {
        SynchronizeToHost();
        OptimizerState state = new() { Step = StepCount };
        state.HyperParameters["lr"] = LearningRate;
        WriteHyperParameters(state.HyperParameters);
        foreach (ParameterSlot parameter in _parameters)
        {
            foreach (string kind in BufferKinds)
            {
                float[]? buffer = GetBuffer(kind, parameter.Name);
                if (buffer is not null)
                {
                    state.Buffers[BufferName(kind, parameter.Name)] = (float[])buffer.Clone();
                }
            }
        }

        return state;
    }

    /// <summary>
    /// Restores a state exported by an optimizer of the same kind and configuration over the same parameters:
    /// the step count, <c>lr</c> and every buffer (copied). Other hyper-parameters must equal this optimizer's.
    /// </summary>
    /// <param name="state">The state to restore.</param>
    /// <exception cref="ArgumentException">A hyper-parameter differs or is missing, a buffer names an unknown parameter or
    /// kind, or a buffer's length differs from its parameter's.</exception>
    public void ImportState(OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Step < 0)
        {
            throw new ArgumentException($"The state's step count {state.Step} is negative.", nameof(state));
        }

        if (!state.HyperParameters.TryGetValue("lr", out double lr))
        {
            throw new ArgumentException("The state has no 'lr' hyper-parameter.", nameof(state));
        }

        Dictionary<string, double> mine = new(StringComparer.Ordinal);
        WriteHyperParameters(mine);
        foreach ((string name, double value) in mine)
        {
            if (!state.HyperParameters.TryGetValue(name, out double theirs))
            {
                throw new ArgumentException($"The state has no '{name}' hyper-parameter.", nameof(state));
            }

            if (!theirs.Equals(value))
            {
                throw new ArgumentException(
                    $"The state's hyper-parameter '{name}' is {theirs.ToString("R", CultureInfo.InvariantCulture)} but this optimizer's is {value.ToString("R", CultureInfo.InvariantCulture)}.",
                    nameof(state));
            }
        }

        Dictionary<(string Kind, string Parameter), float[]> incoming = [];
        foreach ((string name, float[] buffer) in state.Buffers)
        {
            ArgumentNullException.ThrowIfNull(buffer);
            string? kind = null;
            foreach (string k in BufferKinds)
            {
                if (name.StartsWith(k + ".", StringComparison.Ordinal))
                {
                    kind = k;
                    break;
                }
            }

            if (kind is null)
            {
                throw new ArgumentException($"The state's buffer '{name}' is of no kind this optimizer keeps ({string.Join(", ", BufferKinds)}).", nameof(state));
            }

            string parameterName = name[(kind.Length + 1)..];
            if (!_byName.TryGetValue(parameterName, out ParameterSlot? parameter))
            {
                throw new ArgumentException($"The state's buffer '{name}' belongs to no registered parameter.", nameof(state));
            }

            if (buffer.Length != parameter.Length)
            {
                throw new ArgumentException(
                    $"The state's buffer '{name}' has {buffer.Length} elements but parameter '{parameterName}' has {parameter.Length}.", nameof(state));
            }

            incoming[(kind, parameterName)] = (float[])buffer.Clone();
        }

        // A kind of buffer present for some parameters must be present for all: a missing one would restart from
        // zero and the resumed run would not be exact.
        foreach (string kind in BufferKinds)
        {
            string? holder = null;
            string? missing = null;
            foreach (ParameterSlot parameter in _parameters)
            {
                if (incoming.ContainsKey((kind, parameter.Name)))
                {
                    holder ??= parameter.Name;
                }
                else
                {
                    missing ??= parameter.Name;
                }
            }

            if (holder is not null && missing is not null)
            {
                throw new ArgumentException(
                    $"The state has no buffer '{BufferName(kind, missing)}' for parameter '{missing}', though it has '{BufferName(kind, holder)}'; a resumed run would not be exact.", nameof(state));
            }
        }

        LearningRate = lr;
        StepCount = state.Step;
        foreach (ParameterSlot parameter in _parameters)
        {
            foreach (string kind in BufferKinds)
            {
                SetBuffer(kind, parameter.Name, incoming.GetValueOrDefault((kind, parameter.Name)));
            }
        }

        // Pushed to the device by the next device step.
        HostChanged();
    }
}
