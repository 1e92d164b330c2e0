using System.Collections.Generic;
using System.Linq;
using ScottPlot;

namespace TransferSample;

/// <summary>Test accuracy against fine-tuning steps, one line per start.</summary>
internal static class Plotting
{
    public static void Save(string path, int[] steps, IReadOnlyList<(string Name, double[] Accuracy)> runs)
    {
        Plot plot = new();
        Color[] colors = [Colors.Blue, Colors.Orange, Colors.Gray];
        double[] xs = steps.Select(s => (double)s).ToArray();
        for (int i = 0; i < runs.Count; i++)
        {
            var line = plot.Add.ScatterLine(xs, runs[i].Accuracy.Select(a => 100 * a).ToArray());
            line.LegendText = runs[i].Name;
            line.Color = colors[i % colors.Length];
            line.LineWidth = 2;
            line.MarkerSize = 6;
        }

        plot.Title("Fashion-MNIST classes 5-9 from 1% of their labels");
        plot.XLabel("fine-tuning steps (batch 32)");
        plot.YLabel("test accuracy (%)");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 900, 560);
    }
}
