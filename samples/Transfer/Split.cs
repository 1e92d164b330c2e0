using System;
using System.Collections.Generic;
using System.Linq;
using DslResNet.Data;

namespace TransferSample;

/// <summary>Subsets of a dataset: five of its classes relabelled 0-4, and a stratified fraction.</summary>
internal static class Split
{
    /// <summary>The images of classes <paramref name="first"/> to <paramref name="first"/> + 4, labelled 0-4.</summary>
    public static Dataset Classes(Dataset data, int first) =>
        Take(data, Enumerable.Range(0, data.Count).Where(i => data.Labels[i] >= first && data.Labels[i] < first + 5).ToList(), first);

    /// <summary>The same fraction of every class (at least one image each), chosen by the seed.</summary>
    public static Dataset Fraction(Dataset data, double fraction, int seed)
    {
        int[] order = BatchLoader.Permutation(data.Count, seed, 0);
        var chosen = new List<int>();
        foreach (IGrouping<int, int> byClass in order.GroupBy(i => data.Labels[i]))
        {
            int n = byClass.Count();
            chosen.AddRange(byClass.Take(Math.Max(1, (int)Math.Round(n * fraction))));
        }

        chosen.Sort();
        return Take(data, chosen, 0);
    }

    private static Dataset Take(Dataset data, List<int> indices, int labelOffset)
    {
        int size = (int)data.ImageShape.Elements;
        float[] images = new float[indices.Count * size];
        int[] labels = new int[indices.Count];
        for (int k = 0; k < indices.Count; k++)
        {
            data.CopyImage(indices[k], images.AsSpan(k * size, size));
            labels[k] = data.Labels[indices[k]] - labelOffset;
        }

        return new Dataset(images, labels, data.ImageShape, 5, data.Mean, data.Std);
    }
}
