using System.Collections.Generic;

namespace DslResNet.IO.Pth;

// The only values the restricted unpickler builds. Containers carry their nesting depth so that a deep structure is
// refused while it is built, and nothing later walks them recursively.

/// <summary>A global the pickle named and the allow-list admitted (e.g. <c>torch._utils._rebuild_tensor_v2</c>).</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public string FullName => Module + "." + Name;
}

/// <summary>A Python tuple.</summary>
internal sealed class PyTuple(object?[] items, int depth)
{
    public object?[] Items { get; } = items;

    public int Depth { get; } = depth;
}

/// <summary>A Python list.</summary>
internal sealed class PyList
{
    public List<object?> Items { get; } = [];

    public int Depth { get; set; } = 1;
}

/// <summary>A Python dict or <c>collections.OrderedDict</c>, in insertion order (a repeated key replaces the value in place).</summary>
internal sealed class PyDict(bool ordered)
{
    public List<KeyValuePair<object, object?>> Items { get; } = [];

    public bool Ordered { get; } = ordered;

    public int Depth { get; set; } = 1;
}

/// <summary>A storage named by a persistent id: key (the zip record <c>data/KEY</c>), dtype, element count.</summary>
internal sealed record StorageRef(string Key, PthDType DType, long Numel, string Location);

/// <summary>A tensor as <c>_rebuild_tensor_v2</c> describes it: a storage, an element offset, sizes and strides.</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride, long Elements);
