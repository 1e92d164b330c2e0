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
