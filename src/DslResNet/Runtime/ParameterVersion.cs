using System.Threading;

namespace DslResNet.Runtime;

/// <summary>
/// Counts changes to one network's parameters (an optimizer step, a restore, a set, a batch-norm fold), so that the SIMD
/// backend's inference convolutions of that network repack their weights only after one. Per network: a change in one
/// network never makes another repack (this was a process-wide counter).
/// </summary>
internal sealed class ParameterVersion
{
    private long _current;

    /// <summary>The current version (0 before any change).</summary>
    public long Current => Volatile.Read(ref _current);

    /// <summary>Records a change.</summary>
    public void Advance() => Interlocked.Increment(ref _current);
}
