using System;
using System.IO;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Emit;
using Xunit;

namespace DslResNet.Generators.Tests.Infrastructure;

/// <summary>Emits a generated compilation to memory and loads it, so tests read the generated facts as a user's code would.</summary>
public static class Loaded
{
    /// <summary>Emits and loads the output compilation; fails the test with the errors if it does not compile.</summary>
    public static Assembly Load(HarnessResult result)
    {
        using var stream = new MemoryStream();
        EmitResult emit = result.Output.Emit(stream);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        return Assembly.Load(stream.ToArray());
    }

    /// <summary>The generated <c>Info</c> of a network type.</summary>
    public static NetworkInfo Info(Assembly assembly, string typeName) =>
        (NetworkInfo)Type(assembly, typeName).GetProperty("Info", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;

    /// <summary>A generated <c>const long</c>.</summary>
    public static long Constant(Assembly assembly, string typeName, string name) =>
        (long)Type(assembly, typeName).GetField(name, BindingFlags.Public | BindingFlags.Static)!.GetRawConstantValue()!;

    /// <summary>The generated <c>Summary()</c>.</summary>
    public static string Summary(Assembly assembly, string typeName) =>
        (string)Type(assembly, typeName).GetMethod("Summary", BindingFlags.Public | BindingFlags.Static)!.Invoke(null, null)!;

    private static Type Type(Assembly assembly, string typeName) =>
        assembly.GetType(typeName) ?? throw new InvalidOperationException("No type " + typeName + " in " + string.Join(", ", assembly.GetTypes().Select(t => t.FullName)));
}
