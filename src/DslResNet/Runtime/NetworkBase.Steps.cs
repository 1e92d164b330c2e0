using System;
using System.Linq;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using DslResNet.Kernels;
using ILGPU;

namespace DslResNet.Runtime;

/// <summary>
/// The passes of a network as data: the generated constructor registers one step per fusion group, in execution order,
/// and the four passes (training forward, backward, inference forward, batch-norm folding) are loops over that list.
/// So the generated code only builds and wires operations (and repeated blocks build theirs in a loop); no pass is
/// written out per network.
/// </summary>
public abstract partial class NetworkBase
{
    private readonly List<GroupStep> _steps = [];
    private readonly HashSet<string> _frozen = new(StringComparer.Ordinal);
    private StepPlan[]? _plans;
    private bool _overwritesPlanned; // see PlanOverwrites
    private bool _frozenNormEval;
    private string[] _evalNorms = [];

    /// <summary>
    /// Freezes parameters by module name, as <c>requires_grad = False</c> in PyTorch: every trainable parameter whose name is
    /// a prefix or starts with one and a dot (<c>"layer1"</c> freezes <c>layer1.0.conv1.weight</c> ...; <c>"conv1"</c> only
    /// <c>conv1.weight</c>). A frozen convolution's weight gradient is not computed (its kernel does not run), nor is any
    /// backward work that only frozen parameters would need (the layers before the first unfrozen one are skipped
    /// entirely unless <see cref="ComputeInputGradient"/> asks for the input's gradient). <see cref="AddParametersTo"/>
    /// leaves frozen parameters out, and a training step refuses an optimizer that holds one. A frozen parameter's
    /// <see cref="GetGradient"/> keeps its last computed value. Batch norm in frozen layers still normalises by batch
    /// statistics and updates its running statistics in training mode, as PyTorch's <c>requires_grad = False</c> does,
    /// unless <see cref="FrozenBatchNormInEvalMode"/> is set.
    /// </summary>
    /// <param name="modules">Module names (parameter-name prefixes), at least one.</param>
    /// <exception cref="ArgumentException">None given, or one matches no trainable parameter (the message lists the top-level modules).</exception>
    public void Freeze(params string[] modules) => SetFrozen(modules, frozen: true);

    /// <summary>
    /// Whether batch norm whose scale and shift are frozen (<see cref="Freeze"/>) runs in eval mode during training, as
    /// <c>bn.eval()</c> on the frozen modules of a PyTorch network in <c>train()</c> (or torchvision's
    /// <c>FrozenBatchNorm2d</c>): it normalises by its running statistics, leaves them and its <c>num_batches_tracked</c>
    /// unchanged, and passes gradients back through a fixed affine map. Off by default. Usual when fine-tuning with small
    /// batches, whose statistics would otherwise overwrite the pretrained ones.
    /// </summary>
    public bool FrozenBatchNormInEvalMode
    {
        get => _frozenNormEval;
        set
        {
            _frozenNormEval = value;
            ApplyBatchNormModes();
        }
    }

    /// <summary>The batch-norm layers that run in eval mode during training (see <see cref="FrozenBatchNormInEvalMode"/>).</summary>
    public IReadOnlyList<string> EvalModeBatchNorms => _evalNorms;

    /// <summary>Unfreezes parameters by module name (as <see cref="Freeze"/>); with no names, every parameter.</summary>
    /// <param name="modules">Module names, or none for all.</param>
    /// <exception cref="ArgumentException">A name matches no trainable parameter.</exception>
    public void Unfreeze(params string[] modules)
    {
        if (modules is { Length: 0 })
        {
            _frozen.Clear();
            _plans = null;
            _checkedOptimizer = null;
            ApplyBatchNormModes();
            return;
        }

        SetFrozen(modules, frozen: false);
    }

    /// <summary>The frozen parameters' names, in state-dict order.</summary>
    public IReadOnlyList<string> FrozenParameters => Definition.Parameters.Where(p => _frozen.Contains(p.Name)).Select(p => p.Name).ToList();

    /// <summary>Convolutions whose weight gradient the last backward pass computed (a frozen one is skipped).</summary>
    internal int WeightGradientPasses { get; private set; }

    private void SetFrozen(string[] modules, bool frozen)
    {
        ArgumentNullException.ThrowIfNull(modules);
        if (modules.Length == 0)
        {
            throw new ArgumentException($"{Definition.Name}: name at least one module to freeze (e.g. \"layer1\").", nameof(modules));
        }

        foreach (string module in modules)
        {
            List<string> matched = Definition.Parameters
                .Where(p => p.IsTrainable && (p.Name == module || p.Name.StartsWith(module + ".", StringComparison.Ordinal)))
                .Select(p => p.Name).ToList();
            if (matched.Count == 0)
            {
                string top = string.Join(", ", Definition.Parameters.Where(p => p.IsTrainable).Select(p => p.Name.Split('.')[0]).Distinct());
                throw new ArgumentException($"{Definition.Name}: '{module}' names no module with trainable parameters; the top-level modules are {top}.", nameof(modules));
            }

            foreach (string name in matched)
            {
                if (frozen)
                {
                    _frozen.Add(name);
                }
                else
                {
                    _frozen.Remove(name);
                }
            }
        }

        _plans = null;
        _checkedOptimizer = null;
        ApplyBatchNormModes();
    }

    // Tells every training batch norm whether it normalises by its running statistics: those whose trainable
    // parameters are all frozen, when FrozenBatchNormInEvalMode is set.
    private void ApplyBatchNormModes()
    {
        var eval = new List<string>();
        var counters = new List<string>();
        foreach (GroupStep step in _steps)
        {
            if (step.Norm is not { } norm)
            {
                continue;
            }

            LayerInfo? layer = Definition.FusionGroups[step.Group].Layers.Select(l => Definition.Layers[l]).FirstOrDefault(l => l.Kind == LayerKind.BatchNorm);
            bool running = false;
            if (_frozenNormEval && layer is not null)
            {
                ParameterInfo[] own = Definition.Parameters.Where(p => p.Layer == layer.Name).ToArray();
                running = own.Where(p => p.IsTrainable).All(p => _frozen.Contains(p.Name));
                if (running)
                {
                    eval.Add(layer.Name);
                    counters.AddRange(own.Where(p => p.Role == ParameterRole.BatchesTracked).Select(p => p.Name));
                }
            }

            norm.RunningStatistics = running;
        }

        _evalNorms = [.. eval];
        Store.HoldCounters(counters);
    }

    // Per step: whether its backward must run at all, whether its convolution's weight gradient is wanted, and whether a
    // trainable (unfrozen) parameter sits in an earlier group (steps are in topological order, so every group upstream
    // is earlier): only then is the gradient of the step's input needed.
    private readonly record struct StepPlan(bool Run, bool Weights, bool EarlierTrainable);

    private StepPlan[] Plans() => _plans ?? PlanSteps();

    // Apart from Plans, so that its closures are not allocated on every step.
    private StepPlan[] PlanSteps()
    {
        var layerTrainable = new HashSet<string>(
            Definition.Parameters.Where(p => p.IsTrainable && !_frozen.Contains(p.Name)).Select(p => p.Layer), StringComparer.Ordinal);
        var plans = new StepPlan[_steps.Count];
        bool earlier = false;
        for (int i = 0; i < _steps.Count; i++)
        {
            int[] layers = Definition.FusionGroups[_steps[i].Group].Layers;
            bool here = layers.Any(l => layerTrainable.Contains(Definition.Layers[l].Name));
            bool weights = _steps[i] is ConvolutionStep && layerTrainable.Contains(Definition.Layers[layers[0]].Name);
            plans[i] = new StepPlan(here || earlier, weights, earlier);
            earlier |= here;
        }

        return _plans = plans;
    }


    /// <summary>
    /// Registers a convolution (or dense) fusion group: the convolution, optionally followed by its fused
    /// normalise/add/activate pass, the batch-norm folding for inference, and the inference convolution and pass.
    /// The network owns every operation given. A training epilogue with batch norm takes its statistics from the
    /// convolution's store loop; an inference epilogue runs in the inference convolution's store.
    /// </summary>
    /// <param name="group">The group's index in <see cref="NetworkInfo.FusionGroups"/>.</param>
    /// <param name="readsNetworkInput">True when the group reads the network's input: its input gradient is computed
    /// only when <see cref="ComputeInputGradient"/> asks for it.</param>
    /// <param name="convolution">The training convolution.</param>
    /// <param name="epilogue">The training pass after it; null when the group is the convolution alone.</param>
    /// <param name="fold">Folds the group's batch norm into inference weights; null without batch norm.</param>
    /// <param name="inferenceConvolution">The inference convolution.</param>
    /// <param name="inferenceEpilogue">The inference pass after it; null when there is none.</param>
    protected void AddConvolution(int group, bool readsNetworkInput, ConvOp convolution, EpilogueOp? epilogue, FoldOp? fold,
        ConvOp inferenceConvolution, EpilogueOp? inferenceEpilogue)
    {
        ArgumentNullException.ThrowIfNull(convolution);
        ArgumentNullException.ThrowIfNull(inferenceConvolution);
        if (fold is not null)
        {
            if (epilogue is null)
            {
                throw new ArgumentException($"group {group}: batch norm needs the training epilogue that applies it.", nameof(epilogue));
            }

            convolution.FuseStatistics(epilogue);
        }

        if (inferenceEpilogue is not null)
        {
            inferenceConvolution.FuseEpilogue(inferenceEpilogue);
            if (!inferenceEpilogue.FusedIntoConvolution && inferenceEpilogue.Shape.Add && OpChecks.Overlap(inferenceEpilogue.Residual, inferenceConvolution.Output))
            {
                // The plan writes this group's output over its residual (see the generator's Planner), which a convolution
                // that stores its output before the add reads the residual would overwrite first: it gets a buffer of its own.
                var own = new DeviceBuffer<float>(Device, inferenceConvolution.Output.Length);
                _ownOutputs.Add(own);
                ConvOp moved = inferenceConvolution.WithOutput(own.View);
                EpilogueOp reading = inferenceEpilogue.WithInput(Device, own.View);
                inferenceConvolution.Dispose();
                inferenceEpilogue.Dispose();
                (inferenceConvolution, inferenceEpilogue) = (moved, reading);
            }
        }

        // The inference weights change with this network's parameters only (an optimizer step, a restore, a fold).
        inferenceConvolution.Bind(Store.Version);
        fold?.Bind(Store.Version);

        Own(convolution, inferenceConvolution);
        OwnIfAny(epilogue, fold, inferenceEpilogue);
        _steps.Add(new ConvolutionStep(group, readsNetworkInput, convolution, epilogue, fold, inferenceConvolution, inferenceEpilogue)
        {
            Norm = epilogue is { Shape: { Norm: true, Training: true } } ? epilogue : null,
        });
    }

    /// <summary>
    /// Registers a gradient buffer to zero right before a group's backward: the group whose backward first adds into it.
    /// Gradient buffers share memory where their lifetimes in the backward pass do not overlap, so a buffer holds another's
    /// values until then. Cleared whether or not the step's backward runs, so a skipped (frozen) step leaves the zeros a
    /// cleared arena would hold.
    /// </summary>
    /// <param name="group">The group's index; its step must be registered already.</param>
    /// <param name="gradient">The buffer, in the gradient arena.</param>
    protected void ClearBeforeBackward(int group, ArrayView<float> gradient)
    {
        GroupStep? step = _steps.LastOrDefault(s => s.Group == group)
            ?? throw new ArgumentException($"group {group}: register its step before the gradients it clears.", nameof(group));
        step.Clears.Add(new GradientClear(gradient));
    }

    /// <summary>
    /// Once, before the first backward: each gradient buffer a step zeroes whose first writer in that step's backward can
    /// overwrite it (the fused pass's residual or input gradient, then the convolution's input gradient as a forward pass
    /// of the flipped weights: see <see cref="IGradientOverwriter"/>) is written by it instead; the zeroing then runs only
    /// in a call where that writer does not (a frozen or skipped step, or no input gradient), so the buffer holds what a
    /// zeroed one would. Saves a sweep over the buffer and the first writer's reading of it (ResNet-20: 20 clears a step).
    /// </summary>
    private void PlanOverwrites()
    {
        _overwritesPlanned = true;
        if (!GradientOverwrites || !Device.IsSimd)
        {
            return;
        }

        foreach (GroupStep step in _steps)
        {
            // A zeroed range may hold several buffers (the generator merges adjacent ones): the writers' tensors within it
            // are taken out of it, and what is left between them is zeroed as before.
            var planned = new List<GradientClear>();
            foreach (GradientClear clear in step.Clears)
            {
                long start = (long)HostView.Address(clear.View), at = 0;
                foreach ((ArrayView<float> part, FirstWriter writer) in step.TakeFirstWrites(clear.View).OrderBy(p => (long)HostView.Address(p.View)))
                {
                    long offset = ((long)HostView.Address(part) - start) / sizeof(float);
                    if (offset > at)
                    {
                        planned.Add(new GradientClear(clear.View.SubView(at, offset - at)));
                    }

                    planned.Add(new GradientClear(part) { Writer = writer });
                    at = offset + part.Length;
                }

                if (at < clear.View.Length)
                {
                    planned.Add(new GradientClear(at == 0 ? clear.View : clear.View.SubView(at, clear.View.Length - at)));
                }
            }

            step.Clears.Clear();
            step.Clears.AddRange(planned);
        }
    }

    /// <summary>Whether the first backward lets first writers overwrite gradient buffers (see <see cref="PlanOverwrites"/>);
    /// set before it (tests compare with and without).</summary>
    internal bool GradientOverwrites { get; set; } = true;

    /// <summary>How many of the zeroings before a backward step its first writer replaces (after the first backward).</summary>
    internal int OverwrittenClears => _steps.Sum(s => s.Clears.Count(c => c.Writer != FirstWriter.None));

    /// <summary>
    /// Makes the backward of group <paramref name="group"/> first write group <paramref name="producer"/>'s output again: a
    /// convolution group whose output the plan does not keep for backward (it shares memory with buffers used in between),
    /// recomputed from the kept convolution output by its fused pass (<see cref="EpilogueOp.Reapply"/>) before the backward
    /// of its last reader, which is the first backward to read it.
    /// </summary>
    /// <param name="group">The group before whose backward the output is recomputed (registered already).</param>
    /// <param name="producer">The convolution group whose output it is (registered already, with a pass after its convolution).</param>
    protected void RecomputeBeforeBackward(int group, int producer)
    {
        GroupStep? step = _steps.LastOrDefault(s => s.Group == group)
            ?? throw new ArgumentException($"group {group}: register its step before the outputs it recomputes.", nameof(group));
        EpilogueOp pass = (_steps.LastOrDefault(s => s.Group == producer) as ConvolutionStep)?.Epilogue
            ?? throw new ArgumentException($"group {producer}: only a registered convolution group with a pass after its convolution can recompute its output.", nameof(producer));
        step.Recomputes.Add(pass);
    }

    /// <summary>Registers a stand-alone batch norm, activation or residual add (training and inference operations).</summary>
    /// <param name="group">The group's index.</param>
    /// <param name="training">The training operation.</param>
    /// <param name="inference">The inference operation.</param>
    protected void AddStep(int group, EpilogueOp training, EpilogueOp inference)
    {
        AddSimple(group, training, inference, training.Forward, training.Backward, inference.Forward, [inference.Tensors.X, inference.Tensors.R], [inference.Tensors.Y]);
        if (training.Shape is { Norm: true, Training: true })
        {
            _steps[^1].Norm = training;
        }
    }

    /// <summary>Registers a pooling layer.</summary>
    /// <param name="group">The group's index.</param>
    /// <param name="training">The training operation.</param>
    /// <param name="inference">The inference operation.</param>
    protected void AddStep(int group, PoolOp training, PoolOp inference) =>
        AddSimple(group, training, inference, training.Forward, training.Backward, inference.Forward, [inference.Tensors.X], [inference.Tensors.Y], inference);

    /// <summary>Registers an option-A shortcut (subsample and zero-pad channels).</summary>
    /// <param name="group">The group's index.</param>
    /// <param name="training">The training operation.</param>
    /// <param name="inference">The inference operation.</param>
    protected void AddStep(int group, ShortcutOp training, ShortcutOp inference) =>
        AddSimple(group, training, inference, training.Forward, training.Backward, inference.Forward, [inference.Input], [inference.Output]);

    /// <summary>Registers a channel-wise scale (squeeze-and-excitation's <c>x * gate</c>).</summary>
    /// <param name="group">The group's index.</param>
    /// <param name="training">The training operation.</param>
    /// <param name="inference">The inference operation.</param>
    protected void AddStep(int group, ChannelScaleOp training, ChannelScaleOp inference) =>
        AddSimple(group, training, inference, training.Forward, training.Backward, inference.Forward, inference.Inputs, [inference.Output]);

    /// <summary>Registers a flatten (a copy into the flat layout).</summary>
    /// <param name="group">The group's index.</param>
    /// <param name="training">The training operation.</param>
    /// <param name="inference">The inference operation.</param>
    protected void AddStep(int group, CopyOp training, CopyOp inference) =>
        AddSimple(group, training, inference, training.Forward, training.Backward, inference.Forward, [inference.Input], [inference.Output]);

    /// <summary>Registers a dropout layer: masks drawn per training step; a copy in inference.</summary>
    /// <param name="group">The group's index.</param>
    /// <param name="training">The training operation.</param>
    /// <param name="inference">The inference operation.</param>
    protected void AddStep(int group, DropoutOp training, CopyOp inference) =>
        AddSimple(group, training, inference, () => training.Forward(DropoutStep), () => training.Backward(DropoutStep), inference.Forward, [inference.Input], [inference.Output]);

    private void AddSimple(
        int group, IDisposable training, IDisposable inference, Action forward, Action backward, Action<int> infer, ArrayView<float>[] reads, ArrayView<float>[] writes, PoolOp? pool = null)
    {
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(inference);
        Own(training, inference);
        _steps.Add(new SimpleStep(group, forward, backward, infer, reads, writes, pool));
    }

    private void OwnIfAny(params IDisposable?[] operations)
    {
        foreach (IDisposable? op in operations)
        {
            if (op is not null)
            {
                Own(op);
            }
        }
    }

    /// <summary>The training forward: reads <see cref="InputView"/>, writes <see cref="TrainingOutput"/>.</summary>
    private void ForwardTraining()
    {
        foreach (GroupStep step in _steps)
        {
            step.Forward();
            TraceForward(step.Group);
        }
    }

    /// <summary>The backward: from <see cref="TrainingOutputGradient"/> to every parameter's gradient.</summary>
    /// <param name="inputGradient">Whether to compute the input's gradient too.</param>
    private void BackwardTraining(bool inputGradient)
    {
        StepPlan[] plans = Plans();
        if (!_overwritesPlanned)
        {
            PlanOverwrites();
        }

        int weightPasses = 0;
        for (int i = _steps.Count - 1; i >= 0; i--)
        {
            GroupStep step = _steps[i];
            bool runs = plans[i].Run || inputGradient;
            foreach (GradientClear clear in step.Clears)
            {
                if (!runs || !step.Writes(clear.Writer, plans[i], inputGradient))
                {
                    _host.ClearGradient(clear.View);
                }
            }

            if (runs)
            {
                foreach (EpilogueOp pass in step.Recomputes)
                {
                    pass.Reapply();
                }

                weightPasses += step.Backward(plans[i], inputGradient);
            }

            TraceBackward(step.Group);
            _reducer?.AfterStep(i);
        }

        WeightGradientPasses = weightPasses;
    }

    /// <summary>The evaluation forward, batch norm folded: reads <see cref="InputView"/>, writes <see cref="InferenceOutput"/>.</summary>
    /// <param name="images">The images to run (at most the batch size).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardInference(int images)
    {
        // The first steps a window of images at a time where the plan allows (see PlanWindows), then the rest.
        int first = 0;
        WindowPlan? plan = InferenceWindows ? Windows() : null;
        if (plan is not null && images > plan.Images)
        {
            for (int image = 0; image < images; image += plan.Images)
            {
                int count = Math.Min(plan.Images, images - image);
                for (int i = 0; i < plan.Steps; i++)
                {
                    _steps[i].InferAt(image, count);
                }
            }

            first = plan.Steps;
        }

        for (int i = first; i < _steps.Count; i++)
        {
            _steps[i].Infer(images);
        }
    }

    /// <summary>Folds every convolution's batch norm into the inference weights.</summary>
    private void FoldBatchNorm()
    {
        foreach (GroupStep step in _steps)
        {
            step.Fold();
        }
    }

    /// <summary>One fusion group's share of each pass.</summary>
    private abstract class GroupStep(int group)
    {
        public int Group { get; } = group;

        // The group's training-mode batch norm, if any.
        public EpilogueOp? Norm { get; set; }

        // The gradient buffers this step's backward adds into first, zeroed right before it unless their first writer
        // overwrites them (see PlanOverwrites).
        public List<GradientClear> Clears { get; } = [];

        // The passes that write again, right before this step's backward, outputs the plan does not keep.
        public List<EpilogueOp> Recomputes { get; } = [];

        public abstract void Forward();

        // Returns 1 when it computed a convolution's weight gradient.
        public abstract int Backward(StepPlan plan, bool inputGradient);

        public abstract void Infer(int images);

        public virtual void Fold()
        {
        }

        // Makes the operations of this step's backward that are the first writers of tensors within the zeroed range
        // overwrite them, where they can (see PlanOverwrites): those tensors (disjoint) and their writers.
        public virtual List<(ArrayView<float> View, FirstWriter Writer)> TakeFirstWrites(ArrayView<float> range) => [];

        // Whether the writer TakeFirstWrites chose writes its buffer in a backward of this step that runs with this plan.
        public virtual bool Writes(FirstWriter writer, StepPlan plan, bool inputGradient) => false;

        // The per-image tensors the inference pass reads, and those it writes (unbound ones included).
        public abstract IEnumerable<ArrayView<float>> InferenceReads { get; }

        public abstract IEnumerable<ArrayView<float>> InferenceWrites { get; }

        // Whether the inference pass runs a window of images at other addresses (see PlanWindows), and the pixels of the
        // smaller of its input and output maps.
        public virtual bool Relocatable(out long pixels)
        {
            pixels = 0;
            return false;
        }

        // The tensors InferAt places, in its order (default where absent).
        public virtual ArrayView<float>[] RelocatedTensors => [];

        // Where InferAt finds them: set by the window plan.
        public WindowPlacement[]? Placements { get; set; }

        // The inference pass of images [first, first + images) at the placements.
        public virtual void InferAt(int first, int images) => throw new InvalidOperationException($"group {Group}: this step does not run in windows.");
    }

    private sealed class ConvolutionStep(int group, bool readsNetworkInput, ConvOp conv, EpilogueOp? epilogue, FoldOp? fold,
        ConvOp inferenceConv, EpilogueOp? inferenceEpilogue) : GroupStep(group)
    {
        public EpilogueOp? Epilogue => epilogue;

        public override void Forward()
        {
            conv.Forward();
            epilogue?.Forward();
        }

        public override int Backward(StepPlan plan, bool inputGradient)
        {
            epilogue?.Backward();
            bool data = Data(plan, inputGradient);
            if (data || plan.Weights)
            {
                conv.Backward(data, plan.Weights);
            }

            return plan.Weights ? 1 : 0;
        }

        // The epilogue's backward runs first, whenever the step's does (its residual gradient, then its input gradient
        // where that is not the same memory); the convolution's input gradient only when data is asked for, and it is
        // the first writer only where the epilogue writes none of it.
        public override List<(ArrayView<float> View, FirstWriter Writer)> TakeFirstWrites(ArrayView<float> range)
        {
            var parts = new List<(ArrayView<float> View, FirstWriter Writer)>();
            ArrayView<float> dr = epilogue is { Shape.Add: true } ? epilogue.Tensors.Dr : default;
            ArrayView<float> dx = epilogue is not null ? epilogue.Tensors.Dx : default;
            if (Within(dr, range) && epilogue!.OverwriteGradient(dr))
            {
                parts.Add((dr, FirstWriter.Epilogue));
            }

            if (Within(dx, range) && !OpChecks.Overlap(dx, dr) && epilogue!.OverwriteGradient(dx))
            {
                parts.Add((dx, FirstWriter.Epilogue));
            }

            ArrayView<float> input = conv.InputGradient;
            if (Within(input, range) && !OpChecks.Overlap(input, dr) && !OpChecks.Overlap(input, dx) && conv.OverwriteGradient(input))
            {
                parts.Add((input, FirstWriter.Convolution));
            }

            return parts;
        }

        // Whether a bound tensor lies within the range.
        private static bool Within(ArrayView<float> tensor, ArrayView<float> range)
        {
            if (!tensor.IsValid || tensor.Length == 0)
            {
                return false;
            }

            long t = (long)HostView.Address(tensor), r = (long)HostView.Address(range);
            return t >= r && t + (tensor.Length * sizeof(float)) <= r + (range.Length * sizeof(float));
        }

        public override bool Writes(FirstWriter writer, StepPlan plan, bool inputGradient) => writer switch
        {
            FirstWriter.Epilogue => true,
            FirstWriter.Convolution => Data(plan, inputGradient),
            _ => false,
        };

        // Whether the backward computes the convolution's input gradient.
        private bool Data(StepPlan plan, bool inputGradient) => inputGradient || (!readsNetworkInput && plan.EarlierTrainable);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Infer(int images)
        {
            inferenceConv.Forward(images);
            inferenceEpilogue?.Forward(images);
        }

        public override void Fold() => fold?.Run();

        public override IEnumerable<ArrayView<float>> InferenceReads
        {
            get
            {
                // The convolution's input and the epilogue's residual; the epilogue's input where it is not the
                // convolution's output (which this step writes first).
                yield return inferenceConv.Tensors.X;
                if (inferenceEpilogue is not null)
                {
                    yield return inferenceEpilogue.Tensors.R;
                    if (HostView.Address(inferenceEpilogue.Tensors.X) != HostView.Address(inferenceConv.Tensors.Y))
                    {
                        yield return inferenceEpilogue.Tensors.X;
                    }
                }
            }
        }

        public override IEnumerable<ArrayView<float>> InferenceWrites =>
            inferenceEpilogue is null ? [inferenceConv.Tensors.Y] : [inferenceConv.Tensors.Y, inferenceEpilogue.Tensors.Y];

        public override bool Relocatable(out long pixels)
        {
            ConvShape shape = inferenceConv.Shape;
            pixels = Math.Min((long)shape.Height * shape.Width, (long)shape.OutHeight * shape.OutWidth);
            return inferenceConv.Relocatable && (inferenceEpilogue is null || inferenceEpilogue.FusedIntoConvolution);
        }

        public override ArrayView<float>[] RelocatedTensors =>
            [inferenceConv.Tensors.X, inferenceConv.Tensors.Y, inferenceEpilogue is { Shape.Add: true } fused ? fused.Tensors.R : default];

        public override void InferAt(int first, int images)
        {
            WindowPlacement[] at = Placements!;
            inferenceConv.ForwardAt(at[0].At(first), at[1].At(first), at[2].At(first), images);
        }
    }

    private sealed class SimpleStep(int group, Action forward, Action backward, Action<int> infer, ArrayView<float>[] reads, ArrayView<float>[] writes, PoolOp? pool)
        : GroupStep(group)
    {
        public override IEnumerable<ArrayView<float>> InferenceReads => reads;

        public override IEnumerable<ArrayView<float>> InferenceWrites => writes;

        public override bool Relocatable(out long pixels)
        {
            pixels = pool is null ? 0 : Math.Min((long)pool.Shape.Height * pool.Shape.Width, (long)pool.Shape.OutHeight * pool.Shape.OutWidth);
            return pool is { Relocatable: true };
        }

        public override ArrayView<float>[] RelocatedTensors => pool is null ? [] : [pool.Tensors.X, pool.Tensors.Y];

        public override void InferAt(int first, int images) => pool!.ForwardAt(Placements![0].At(first), Placements[1].At(first), images);

        public override void Forward() => forward();

        public override int Backward(StepPlan plan, bool inputGradient)
        {
            backward();
            return 0;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Infer(int images) => infer(images);
    }

    // Which operation of a step's backward writes a gradient buffer first and overwrites it (see PlanOverwrites).
    private enum FirstWriter
    {
        None,
        Epilogue,
        Convolution,
    }

    // A gradient buffer a step zeroes before its backward, and the writer that overwrites it instead where it runs.
    private sealed class GradientClear(ArrayView<float> view)
    {
        public ArrayView<float> View { get; } = view;

        public FirstWriter Writer { get; set; }
    }
}
