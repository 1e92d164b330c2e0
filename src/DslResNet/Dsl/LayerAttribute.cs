using System;

namespace DslResNet;

/// <summary>
/// Base of every layer attribute. A field of a <see cref="NetworkAttribute"/> or <see cref="BlockAttribute"/>
/// class that carries one of these attributes is a layer; fields are layers in declaration order, and the
/// field's name is the layer's name (as torchvision names its modules: <c>conv1</c>, <c>bn1</c>, <c>fc</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public abstract class LayerAttribute : Attribute
{
}

/// <summary>The type of a layer field. It only marks the field; the attribute on it says what the layer does.</summary>
/// <example><code>[Conv(16, 3, Padding = 1)] Layer conv1;</code></example>
public readonly struct Layer
{
}

/// <summary>How a residual add brings its shortcut to the shape of the body's output.</summary>
public enum ShortcutKind
{
    /// <summary>Use the network's setting (on <see cref="ResidualAttribute"/>); on a network, the same as <see cref="Projection"/>.</summary>
    Default = 0,

    /// <summary>Identity only: the body must keep the input's shape, anything else is an error.</summary>
    Identity = 1,

    /// <summary>
    /// Option A of the ResNet paper: identity when shapes match, otherwise subsample with the stride and pad the
    /// new channels with zeros. Adds no parameters.
    /// </summary>
    ZeroPad = 2,

    /// <summary>
    /// Option B of the ResNet paper (torchvision's choice): identity when shapes match, otherwise a 1x1 convolution
    /// with the stride followed by batch norm, named <c>downsample.0</c> and <c>downsample.1</c>.
    /// </summary>
    Projection = 3,
}
