using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;

namespace FashionMnistSample;

/// <summary>
/// Where the time from process start to the end of the first training step goes: the runtime's own start (before
/// <c>Main</c>), creating the device and the network (while the dataset is read on another thread), waiting for what is
/// left of the dataset, and the first step (which includes the JIT compilation of the step's code). The summary prints it
/// as one line, which the side-by-side harness reads.
/// </summary>
internal static class Startup
{
    private static readonly List<(string Phase, double Seconds)> Marks = [];
    private static readonly Stopwatch SinceMain = Stopwatch.StartNew();
    private static double _atMain = double.NaN;
    private static double _last;
    private static bool _firstStepDone;
    private static double _jitSeconds;
    private static long _jitMethods;

    /// <summary>Called first thing in <c>Main</c>: the runtime's start is the time from process creation to here.</summary>
    public static void MainEntered()
    {
        SinceMain.Restart();
        try
        {
            _atMain = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds;
        }
        catch (InvalidOperationException)
        {
            // The process's start time is unknown on this platform: report only the phases after Main.
        }
    }

    /// <summary>Records the end of a phase that began at the previous mark.</summary>
    public static void Mark(string phase)
    {
        if (_firstStepDone)
        {
            return;
        }

        double now = SinceMain.Elapsed.TotalSeconds;
        Marks.Add((phase, now - _last));
        _last = now;
    }

    /// <summary>Records the first training step's end (later calls do nothing).</summary>
    public static void FirstStepDone()
    {
        if (!_firstStepDone)
        {
            Mark("first step");
            _firstStepDone = true;
            _jitSeconds = System.Runtime.JitInfo.GetCompilationTime().TotalSeconds;
            _jitMethods = System.Runtime.JitInfo.GetCompiledMethodCount();
        }
    }

    /// <summary>The line, e.g. <c>startup: 1.52 s from process start to the end of the first step (runtime 0.10 s, ...)</c>; null before the first step.</summary>
    public static string? Describe()
    {
        if (!_firstStepDone)
        {
            return null;
        }

        double total = _last + (double.IsNaN(_atMain) ? 0 : _atMain);
        IEnumerable<string> parts = (double.IsNaN(_atMain) ? [] : new[] { $"runtime {_atMain:F2} s" })
            .Concat(Marks.Where(m => m.Seconds >= 0.005).Select(m => $"{m.Phase} {m.Seconds:F2} s"));
        return string.Create(CultureInfo.InvariantCulture,
            $"startup: {total:F2} s from {(double.IsNaN(_atMain) ? "Main" : "process start")} to the end of the first training step ({string.Join(", ", parts)}); " +
            $"of it JIT compilation {_jitSeconds:F2} s over {_jitMethods:N0} methods");
    }
}
