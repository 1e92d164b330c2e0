using System.Collections.Generic;

namespace DslResNet.Runtime;

/// <summary>
/// What a network needs of an optimizer: the parameters it holds (<see cref="NetworkBase.AddParametersTo"/> registers a
/// network's trainable tensors as <see cref="ParameterSlot"/>s) and a step that updates them from their gradients after a
/// backward pass. DslResNet.Training's <c>Sgd</c> and <c>AdamW</c> implement it; so can your own. The runtime depends on
/// this contract only, never on the training loop.
/// </summary>
public interface IOptimizer
{
    /// <summary>The registered parameters, in registration order.</summary>
    IReadOnlyList<ParameterSlot> Parameters { get; }

    /// <summary>Registers a parameter.</summary>
    /// <param name="parameter">The parameter; its name must be new to this optimizer.</param>
    void Add(ParameterSlot parameter);

    /// <summary>Updates every registered parameter from its gradient.</summary>
    void Step();
}
