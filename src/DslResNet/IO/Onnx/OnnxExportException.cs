using System;

namespace DslResNet.IO;

/// <summary>A network could not be exported to ONNX; the message names the layer (when one is at fault) and why.</summary>
public sealed class OnnxExportException : Exception
{
    /// <summary>Creates an exception with a default message.</summary>
    public OnnxExportException()
        : base("The network cannot be exported to ONNX.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public OnnxExportException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public OnnxExportException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception about one layer; the message names the network and the layer, then the problem.</summary>
    /// <param name="network">The network's name.</param>
    /// <param name="layer">The layer's full name, e.g. <c>layer2.0.add.shortcut</c>.</param>
    /// <param name="problem">Why the layer cannot be exported.</param>
    public OnnxExportException(string network, string layer, string problem)
        : base($"{network}: layer '{layer}' cannot be exported to ONNX: {problem}")
    {
        Layer = layer;
        Problem = problem;
    }

    /// <summary>The layer at fault, when one is.</summary>
    public string? Layer { get; }

    /// <summary>The problem without the network and layer names, when the exception was created for a layer.</summary>
    public string? Problem { get; }
}
