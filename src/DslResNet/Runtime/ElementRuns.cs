using System;
using System.Collections.Generic;

namespace DslResNet.Runtime;

/// <summary>Splits a list of parameters (or any items with a length) into contiguous runs of about equal elements, for
/// work shared among the SIMD backend's threads (the optimizer's update, the non-finite gradient check).</summary>
internal static class ElementRuns
{
    /// <summary>Run boundaries: run r holds items [bounds[r], bounds[r + 1]); at most <paramref name="runs"/> runs, each split
    /// where the running count of elements passes its share.</summary>
    /// <param name="count">Items.</param>
    /// <param name="length">Each item's elements.</param>
    /// <param name="runs">Runs wanted.</param>
    /// <returns>The boundaries, first 0 and last <paramref name="count"/>.</returns>
    public static int[] Split(int count, Func<int, long> length, int runs)
    {
        runs = Math.Max(1, Math.Min(count, runs));
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            total += length(i);
        }

        List<int> bounds = [0];
        long seen = 0;
        for (int i = 0; i < count; i++)
        {
            seen += length(i);
            if (seen * runs >= total * bounds.Count && bounds.Count < runs && i + 1 < count)
            {
                bounds.Add(i + 1);
            }
        }

        bounds.Add(count);
        return [.. bounds];
    }
}
