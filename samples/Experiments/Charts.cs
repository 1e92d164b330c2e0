using System.Collections.Generic;
using System.Linq;
using ScottPlot;

namespace Experiments;

/// <summary>A line of a chart.</summary>
internal sealed record Series(string Name, double[] X, double[] Y, bool Dashed = false, int Color = -1);

/// <summary>A panel of a chart.</summary>
internal sealed record Panel(string Title, string XLabel, string YLabel, IReadOnlyList<Series> Lines, Alignment Legend = Alignment.LowerRight);

/// <summary>Line charts with ScottPlot: one or more panels stacked, saved as PNG.</summary>
internal static class Charts
{
    private static readonly Color[] Palette =
    [
        Colors.Blue, Colors.Red, Colors.Green, Colors.Orange, Colors.Purple, Colors.Brown, Colors.Teal, Colors.Magenta, Colors.Gray, Colors.Black,
    ];

    public static void Save(string path, params Panel[] panels)
    {
        Multiplot multiplot = new();
        multiplot.AddPlots(panels.Length);
        for (int p = 0; p < panels.Length; p++)
        {
            Plot plot = multiplot.GetPlot(p);
            Panel panel = panels[p];
            for (int i = 0; i < panel.Lines.Count; i++)
            {
                Series s = panel.Lines[i];
                (double X, double Y)[] points = s.X.Zip(s.Y).Where(q => double.IsFinite(q.Second)).ToArray();
                if (points.Length == 0)
                {
                    continue;
                }

                var line = plot.Add.Scatter(points.Select(q => q.X).ToArray(), points.Select(q => q.Y).ToArray());
                line.LegendText = s.Name;
                line.Color = Palette[(s.Color >= 0 ? s.Color : i) % Palette.Length];
                line.LineWidth = 2;
                line.MarkerSize = 5;
                if (s.Dashed)
                {
                    line.LinePattern = LinePattern.Dashed;
                }
            }

            plot.Title(panel.Title);
            plot.XLabel(panel.XLabel);
            plot.YLabel(panel.YLabel);
            plot.ShowLegend(panel.Legend);
        }

        multiplot.SavePng(path, 1000, 520 * panels.Length);
    }
}
