using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Numerics;
using System.Text;

namespace DslResNet.IO.Pth;

/// <summary>
/// A restricted unpickler: a small stack machine over the pickle opcodes that <c>torch.save</c> writes for a
/// state_dict (protocol 2, and the few protocol-4 framing opcodes), modelled on PyTorch's own
/// <c>torch/_weights_only_unpickler.py</c>. It never executes anything: a GLOBAL outside the allow-list, any other
/// opcode, or an allowed callable applied to unexpected arguments is refused with a <see cref="CheckpointException"/>
/// naming the file, the part (<c>data.pkl</c>), the byte position and the opcode or global.
/// </summary>
internal sealed class PickleMachine
{
    /// <summary>Deepest nesting of containers and MARKs accepted (a state_dict needs 4).</summary>
    public const int MaxDepth = 64;

    /// <summary>Most memo entries and stack items accepted.</summary>
    public const int MaxItems = 1 << 22;

    private static readonly object Mark = new();

    // The allow-list: every global a state_dict's pickle names. Storage types map to their dtype.
    private static readonly Dictionary<string, PthDType> StorageTypes = new(StringComparer.Ordinal)
    {
        ["torch.FloatStorage"] = PthDType.Float32,
        ["torch.DoubleStorage"] = PthDType.Float64,
        ["torch.HalfStorage"] = PthDType.Float16,
        ["torch.BFloat16Storage"] = PthDType.BFloat16,
        ["torch.LongStorage"] = PthDType.Int64,
        ["torch.IntStorage"] = PthDType.Int32,
    };

    private const string OrderedDictName = "collections.OrderedDict";
    private const string RebuildTensorName = "torch._utils._rebuild_tensor_v2";
    private const string RebuildParameterName = "torch._utils._rebuild_parameter";

    private static readonly string AllowedText = string.Join(", ", new[] { OrderedDictName, RebuildTensorName, RebuildParameterName }.Concat(StorageTypes.Keys));

    private readonly string source;
    private readonly string part;
    private readonly byte[] data;
    private readonly int end;
    private readonly Dictionary<string, StorageRef> storages;
    private readonly bool legacyIds;
    private readonly List<object?> stack = [];
    private readonly List<int> marks = [];
    private readonly Dictionary<long, object?> memo = [];
    private int pos;
    private int opStart;

    /// <param name="source">The file, for messages.</param>
    /// <param name="part">The pickle's name within the file (<c>data.pkl</c>, or which pickle of a legacy file).</param>
    /// <param name="data">The bytes.</param>
    /// <param name="start">Where the pickle starts.</param>
    /// <param name="end">Where the bytes available end.</param>
    /// <param name="storages">Storages seen so far by key; persistent ids add to it.</param>
    /// <param name="legacyIds">Whether persistent ids have the legacy format's sixth item (view metadata, None).</param>
    public PickleMachine(string source, string part, byte[] data, int start, int end, Dictionary<string, StorageRef> storages, bool legacyIds)
    {
        this.source = source;
        this.part = part;
        this.data = data;
        this.end = end;
        this.storages = storages;
        this.legacyIds = legacyIds;
        pos = start;
    }

    /// <summary>Where the machine stopped: just after STOP once <see cref="Run"/> returned.</summary>
    public int Position => pos;

    /// <summary>Runs to STOP and returns the value on top of the stack.</summary>
    public object? Run()
    {
        while (true)
        {
            opStart = pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    byte protocol = ReadByte();
                    if (protocol is < 2 or > 5)
                    {
                        throw Fail($"pickle protocol {protocol} is not supported (torch.save writes protocol 2).");
                    }

                    break;
                case 0x95: // FRAME: a length hint only
                    Take(8);
                    break;
                case (byte)'.': // STOP
                    if (marks.Count != 0 || stack.Count != 1)
                    {
                        throw Fail($"STOP with {stack.Count} items on the stack and {marks.Count} open MARKs; a pickle ends with exactly one value.");
                    }

                    return stack[0];
                case (byte)'c': // GLOBAL
                    Push(ResolveGlobal(ReadLine(), ReadLine()));
                    break;
                case (byte)'R': // REDUCE
                {
                    object? args = Pop();
                    object? callable = Pop();
                    Push(Reduce(callable, args));
                    break;
                }

                case (byte)'b': // BUILD
                {
                    object? state = Pop();
                    object? target = Peek();
                    // OrderedDict.__reduce__ gives the state_dict's attributes (its _metadata) as state; they are
                    // kept by PyTorch only for version migrations, so they are checked and dropped.
                    if (target is not PyDict { Ordered: true } || state is not PyDict and not null)
                    {
                        throw Fail($"BUILD of {Describe(target)} with {Describe(state)}: only an OrderedDict's attributes (a dict) may be set.");
                    }

                    break;
                }

                case (byte)'(': // MARK
                    if (marks.Count >= MaxDepth)
                    {
                        throw Fail($"MARKs nested deeper than {MaxDepth}.");
                    }

                    marks.Add(stack.Count);
                    break;
                case (byte)')': // EMPTY_TUPLE
                    Push(new PyTuple([], 1));
                    break;
                case (byte)'t': // TUPLE
                    Push(MakeTuple(PopMark()));
                    break;
                case 0x85: // TUPLE1
                case 0x86: // TUPLE2
                case 0x87: // TUPLE3
                {
                    int n = op - 0x84;
                    object?[] items = new object?[n];
                    for (int i = n - 1; i >= 0; i--)
                    {
                        items[i] = Pop();
                    }

                    Push(MakeTuple(items));
                    break;
                }

                case 0x88: // NEWTRUE
                    Push(true);
                    break;
                case 0x89: // NEWFALSE
                    Push(false);
                    break;
                case (byte)'N': // NONE
                    Push(null);
                    break;
                case (byte)']': // EMPTY_LIST
                    Push(new PyList());
                    break;
                case (byte)'a': // APPEND
                {
                    object? item = Pop();
                    Append(Peek(), [item]);
                    break;
                }

                case (byte)'e': // APPENDS
                {
                    object?[] items = PopMark();
                    Append(Peek(), items);
                    break;
                }

                case (byte)'}': // EMPTY_DICT
                    Push(new PyDict(ordered: false));
                    break;
                case (byte)'s': // SETITEM
                {
                    object? value = Pop();
                    object? key = Pop();
                    SetItems(Peek(), [key, value]);
                    break;
                }

                case (byte)'u': // SETITEMS
                {
                    object?[] items = PopMark();
                    SetItems(Peek(), items);
                    break;
                }

                case (byte)'q': // BINPUT
                    Put(ReadByte());
                    break;
                case (byte)'r': // LONG_BINPUT
                    Put(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)));
                    break;
                case 0x94: // MEMOIZE
                    Put(memo.Count);
                    break;
                case (byte)'h': // BINGET
                    Get(ReadByte());
                    break;
                case (byte)'j': // LONG_BINGET
                    Get(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)));
                    break;
                case (byte)'J': // BININT
                    Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4)));
                    break;
                case (byte)'K': // BININT1
                    Push((long)ReadByte());
                    break;
                case (byte)'M': // BININT2
                    Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2)));
                    break;
                case 0x8a: // LONG1
                {
                    int n = ReadByte();
                    BigInteger value = new(Take(n), isUnsigned: false, isBigEndian: false);
                    Push(value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value);
                    break;
                }

                case (byte)'G': // BINFLOAT
                    Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8)));
                    break;
                case (byte)'X': // BINUNICODE
                    Push(ReadText(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))));
                    break;
                case 0x8c: // SHORT_BINUNICODE
                    Push(ReadText(ReadByte()));
                    break;
                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop()));
                    break;
                default:
                    throw Fail($"opcode {OpcodeName(op)} is not allowed in a state_dict pickle (nothing is executed).");
            }
        }
    }

    private CheckpointException Fail(string problem) =>
        new(source, string.Create(CultureInfo.InvariantCulture, $"{part} at byte {opStart}: {problem}"));

    private byte ReadByte()
    {
        if (pos >= end)
        {
            throw Fail("the pickle ends before its STOP opcode (truncated).");
        }

        return data[pos++];
    }

    private ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || n > end - pos)
        {
            throw Fail(string.Create(CultureInfo.InvariantCulture, $"an argument of {n} bytes runs past the end of the pickle ({end - pos} bytes left; truncated or a lying length)."));
        }

        ReadOnlySpan<byte> span = data.AsSpan(pos, (int)n);
        pos += (int)n;
        return span;
    }

    private string ReadText(long n)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Take(n));
        }
        catch (DecoderFallbackException)
        {
            throw Fail("a string is not valid UTF-8.");
        }
    }

    private string ReadLine()
    {
        int newline = Array.IndexOf(data, (byte)'\n', pos, Math.Min(end - pos, 256));
        if (newline < 0)
        {
            throw Fail("a GLOBAL's module or name has no end of line within 256 bytes.");
        }

        string text = Encoding.ASCII.GetString(data, pos, newline - pos);
        pos = newline + 1;
        return text;
    }

    private void Push(object? value)
    {
        if (stack.Count >= MaxItems)
        {
            throw Fail($"more than {MaxItems} items on the stack.");
        }

        stack.Add(value);
    }

    private object? Pop()
    {
        int floor = marks.Count == 0 ? 0 : marks[^1];
        if (stack.Count <= floor)
        {
            throw Fail("the stack is empty (a malformed pickle).");
        }

        object? value = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return value;
    }

    private object? Peek()
    {
        int floor = marks.Count == 0 ? 0 : marks[^1];
        return stack.Count > floor ? stack[^1] : throw Fail("the stack is empty (a malformed pickle).");
    }

    private object?[] PopMark()
    {
        if (marks.Count == 0)
        {
            throw Fail("there is no MARK to pop to (a malformed pickle).");
        }

        int at = marks[^1];
        marks.RemoveAt(marks.Count - 1);
        object?[] items = stack.GetRange(at, stack.Count - at).ToArray();
        stack.RemoveRange(at, stack.Count - at);
        return items;
    }

    private void Put(long index)
    {
        if (memo.Count >= MaxItems && !memo.ContainsKey(index))
        {
            throw Fail($"more than {MaxItems} memo entries.");
        }

        memo[index] = Peek();
    }

    private void Get(long index)
    {
        if (!memo.TryGetValue(index, out object? value))
        {
            throw Fail(string.Create(CultureInfo.InvariantCulture, $"memo GET of key {index}, which was never PUT."));
        }

        Push(value);
    }

    private static int DepthOf(object? value) => value switch
    {
        PyTuple t => t.Depth,
        PyList l => l.Depth,
        PyDict d => d.Depth,
        _ => 0,
    };

    private int CheckDepth(int depth) =>
        depth <= MaxDepth ? depth : throw Fail($"containers nested deeper than {MaxDepth}.");

    private PyTuple MakeTuple(object?[] items) => new(items, CheckDepth(1 + items.Select(DepthOf).DefaultIfEmpty(0).Max()));

    private void Append(object? target, object?[] items)
    {
        if (target is not PyList list)
        {
            throw Fail($"APPEND to {Describe(target)}, not a list.");
        }

        list.Items.AddRange(items);
        list.Depth = CheckDepth(Math.Max(list.Depth, 1 + items.Select(DepthOf).DefaultIfEmpty(0).Max()));
    }

    private void SetItems(object? target, object?[] items)
    {
        if (target is not PyDict dict)
        {
            throw Fail($"SETITEM on {Describe(target)}, not a dict.");
        }

        if (items.Length % 2 != 0)
        {
            throw Fail("SETITEMS with an odd number of items.");
        }

        for (int i = 0; i < items.Length; i += 2)
        {
            object key = items[i] is string or long or bool ? items[i]! : throw Fail($"a dict key is {Describe(items[i])}; only strings and integers are accepted.");
            object? value = items[i + 1];
            dict.Depth = CheckDepth(Math.Max(dict.Depth, 1 + DepthOf(value)));
            int existing = dict.Items.FindIndex(kv => kv.Key.Equals(key));
            if (existing >= 0)
            {
                dict.Items[existing] = new(key, value);
            }
            else
            {
                dict.Items.Add(new(key, value));
            }
        }
    }

    private PyGlobal ResolveGlobal(string module, string name)
    {
        string full = module + "." + name;
        if (full is OrderedDictName or RebuildTensorName or RebuildParameterName || StorageTypes.ContainsKey(full))
        {
            return new PyGlobal(module, name);
        }

        throw Fail($"global '{full}' is not allowed; a state_dict pickle may name only {AllowedText} (nothing is executed).");
    }

    private object Reduce(object? callable, object? args)
    {
        if (callable is not PyGlobal global)
        {
            throw Fail($"REDUCE calls {Describe(callable)}; only allowed globals can be called.");
        }

        if (args is not PyTuple tuple)
        {
            throw Fail($"REDUCE of {global.FullName} with {Describe(args)} as arguments, not a tuple.");
        }

        object?[] a = tuple.Items;
        switch (global.FullName)
        {
            case OrderedDictName:
                return a.Length == 0 ? new PyDict(ordered: true) : throw Fail($"{OrderedDictName} called with {a.Length} arguments; a state_dict pickle calls it with none.");
            case RebuildTensorName:
                return RebuildTensor(a);
            case RebuildParameterName:
                // _rebuild_parameter(data, requires_grad, backward_hooks)
                return a.Length == 3 && a[0] is TensorRef t && a[1] is bool && a[2] is PyDict { Items.Count: 0 }
                    ? t
                    : throw Fail($"{RebuildParameterName} expects (tensor, requires_grad, empty backward_hooks), found ({string.Join(", ", a.Select(Describe))}).");
            default:
                throw Fail($"REDUCE calls {global.FullName}, which is allowed only as a storage type in a persistent id.");
        }
    }

    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    private TensorRef RebuildTensor(object?[] a)
    {
        if (a.Length is not (6 or 7) || a[0] is not StorageRef storage || a[1] is not long offset || a[2] is not PyTuple size
            || a[3] is not PyTuple stride || a[4] is not bool || a[5] is not PyDict hooks)
        {
            throw Fail($"{RebuildTensorName} expects (storage, offset, size, stride, requires_grad, backward_hooks), found ({string.Join(", ", a.Select(Describe))}).");
        }

        if (hooks.Items.Count != 0)
        {
            throw Fail($"{RebuildTensorName} has {hooks.Items.Count} backward hooks; a state_dict tensor has none (they would run code).");
        }

        if (a.Length == 7 && a[6] is not null and not PyDict { Items.Count: 0 })
        {
            throw Fail($"{RebuildTensorName} has tensor metadata {Describe(a[6])}; only none is supported.");
        }

        long[] sizes = Integers(size, "size");
        long[] strides = Integers(stride, "stride");
        if (sizes.Length != strides.Length)
        {
            throw Fail($"a tensor has {sizes.Length} sizes but {strides.Length} strides.");
        }

        string shape = "[" + string.Join(", ", sizes) + "]";
        if (sizes.Any(s => s < 0 || s > int.MaxValue) || strides.Any(s => s < 0))
        {
            throw Fail($"a tensor has size {shape} and stride [{string.Join(", ", strides)}]; sizes must be between 0 and {int.MaxValue} and strides non-negative.");
        }

        if (offset < 0)
        {
            throw Fail(string.Create(CultureInfo.InvariantCulture, $"a tensor has the negative storage offset {offset}."));
        }

        long elements = 1;
        long last = offset;
        try
        {
            foreach (long s in sizes)
            {
                elements = checked(elements * s);
            }

            if (elements > 0)
            {
                for (int i = 0; i < sizes.Length; i++)
                {
                    last = checked(last + checked((sizes[i] - 1) * strides[i]));
                }
            }
        }
        catch (OverflowException)
        {
            throw Fail($"a tensor of size {shape} and stride [{string.Join(", ", strides)}] overflows 64-bit element counts.");
        }

        if (elements > Array.MaxLength / 8)
        {
            throw Fail(string.Create(CultureInfo.InvariantCulture, $"a tensor of size {shape} has {elements} elements, more than one array can hold."));
        }

        bool inRange = elements == 0 ? offset <= storage.Numel : last < storage.Numel;
        if (!inRange)
        {
            throw Fail(string.Create(CultureInfo.InvariantCulture,
                $"a tensor of size {shape}, stride [{string.Join(", ", strides)}] at offset {offset} reaches element {last} of storage '{storage.Key}', which holds {storage.Numel} elements (out of range)."));
        }

        return new TensorRef(storage, offset, sizes, strides, elements);
    }

    private long[] Integers(PyTuple tuple, string what) =>
        tuple.Items.Select(i => i is long v ? v : throw Fail($"a tensor's {what} holds {Describe(i)}, not an integer.")).ToArray();

    // ('storage', storage_type, key, location, numel) and, in the legacy format, a sixth item: view metadata (None).
    private StorageRef PersistentLoad(object? pid)
    {
        int count = legacyIds ? 6 : 5;
        if (pid is not PyTuple { Items: var a } || a.Length != count || a[0] is not "storage" || a[1] is not PyGlobal type
            || a[2] is not string key || a[3] is not string location || a[4] is not long numel || (legacyIds && a[5] is not null))
        {
            throw Fail($"the persistent id {Describe(pid)} is not ('storage', storage type, key, location, numel{(legacyIds ? ", None" : "")}).");
        }

        if (!StorageTypes.TryGetValue(type.FullName, out PthDType dtype))
        {
            throw Fail($"the persistent id names {type.FullName}, not a storage type ({string.Join(", ", StorageTypes.Keys)}).");
        }

        if (numel < 0 || numel > long.MaxValue / 8)
        {
            throw Fail(string.Create(CultureInfo.InvariantCulture, $"storage '{key}' claims {numel} elements."));
        }

        StorageRef storage = new(key, dtype, numel, location);
        if (storages.TryGetValue(key, out StorageRef? seen))
        {
            return seen.DType == dtype && seen.Numel == numel
                ? seen
                : throw Fail(string.Create(CultureInfo.InvariantCulture, $"storage '{key}' is named as {dtype} of {numel} elements, but earlier as {seen.DType} of {seen.Numel}."));
        }

        if (storages.Count >= MaxItems)
        {
            throw Fail($"more than {MaxItems} storages.");
        }

        storages.Add(key, storage);
        return storage;
    }

    /// <summary>A short description of a value for messages (never recursive).</summary>
    public static string Describe(object? value) => value switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        BigInteger big => big.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string s => "'" + (s.Length > 40 ? s[..40] + "..." : s) + "'",
        PyTuple t => $"a tuple of {t.Items.Length}",
        PyList l => $"a list of {l.Items.Count}",
        PyDict d => $"{(d.Ordered ? "an OrderedDict" : "a dict")} of {d.Items.Count}",
        PyGlobal g => g.FullName,
        StorageRef s => $"storage '{s.Key}'",
        TensorRef => "a tensor",
        _ when ReferenceEquals(value, Mark) => "MARK",
        _ => value.GetType().Name,
    };

    private static string OpcodeName(byte op)
    {
        string? name = op switch
        {
            (byte)'i' => "INST", (byte)'o' => "OBJ", 0x81 => "NEWOBJ", 0x92 => "NEWOBJ_EX", 0x93 => "STACK_GLOBAL",
            (byte)'P' => "PERSID", (byte)'0' => "POP", (byte)'1' => "POP_MARK", (byte)'2' => "DUP", (byte)'I' => "INT",
            (byte)'L' => "LONG", (byte)'F' => "FLOAT", (byte)'S' => "STRING", (byte)'T' => "BINSTRING",
            (byte)'U' => "SHORT_BINSTRING", (byte)'V' => "UNICODE", (byte)'l' => "LIST", (byte)'d' => "DICT",
            (byte)'p' => "PUT", (byte)'g' => "GET", 0x82 => "EXT1", 0x83 => "EXT2", 0x84 => "EXT4", 0x8b => "LONG4",
            (byte)'B' => "BINBYTES", (byte)'C' => "SHORT_BINBYTES", 0x8d => "BINUNICODE8", 0x8e => "BINBYTES8",
            0x8f => "EMPTY_SET", 0x90 => "ADDITEMS", 0x91 => "FROZENSET", 0x96 => "BYTEARRAY8", 0x97 => "NEXT_BUFFER",
            0x98 => "READONLY_BUFFER",
            _ => null,
        };
        return name is null ? $"0x{op:x2} (unknown)" : $"{name} (0x{op:x2})";
    }
}
