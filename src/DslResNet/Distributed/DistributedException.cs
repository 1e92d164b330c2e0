using System;

namespace DslResNet.Distributed;

/// <summary>
/// Distributed training cannot start or go on: MPI is missing, the ranks disagree (network, batch size, data), or a
/// collective operation did not complete in time because another rank stopped or hangs. The message says which and
/// what to do; the job should end (<see cref="DistributedTraining.Abort"/> stops every rank).
/// </summary>
public sealed class DistributedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DistributedException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong, and what to do.</param>
    public DistributedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong, and what to do.</param>
    /// <param name="inner">The cause.</param>
    public DistributedException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
