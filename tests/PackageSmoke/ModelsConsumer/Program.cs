using System;
using DslResNet;
using DslResNet.Models;

namespace PackageSmoke.ModelsConsumer;

/// <summary>ResNet-20's layers from the package, on 1 x 28 x 28 images with projection shortcuts (counted: 272,186).</summary>
[Network(1, 28, 28, LayersOf = typeof(ResNet20), Shortcut = ShortcutKind.Projection)]
public partial class Fashion20;

/// <summary>The package's BasicBlock in a stage of our own (counted by hand: 72 + 2 x (576 + 16) + 90 = 1,346).</summary>
[Network(1, 16, 16)]
public partial class Tiny
{
    [Conv(8, 3, Padding = 1)] Layer conv1;
    [Stage<BasicBlock>(8)] Layer layer1;
    [GlobalAvgPool] Layer pool;
    [Dense(10)] Layer fc;
}

/// <summary>Prints the generated parameter counts for run.sh to check.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static void Main()
    {
        Console.WriteLine("ResNet152: " + ResNet152.ParameterCount);
        Console.WriteLine("Fashion20: " + Fashion20.ParameterCount);
        Console.WriteLine("Tiny: " + Tiny.ParameterCount);
    }
}
