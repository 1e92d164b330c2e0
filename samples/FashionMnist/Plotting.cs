using System.Collections.Generic;
using System.Linq;
using DslResNet.Training;
using ScottPlot;

namespace FashionMnistSample;

/// <summary>Draws the training curves: loss (per step and per epoch) above, accuracy below, against epochs.</summary>
internal static class Plotting
{
    /// <summary>Saves the curves as a PNG.</summary>
    /// <param name="path">The PNG file.</param>
    /// <param name="title">The title (the model's name).</param>
    /// <param name="history">Per-epoch metrics.</param>
    /// <param name="steps">Per-step training loss of this run, at fractional epochs.</param>
    public static void Save(string path, string title, IReadOnlyList<EpochMetrics> history, IReadOnlyList<(double Epoch, double Loss)> steps)
    {
        Multiplot multiplot = new();
        multiplot.AddPlots(2);
        Plot loss = multiplot.GetPlot(0);
        Plot accuracy = multiplot.GetPlot(1);

        double[] epochs = history.Select(m => (double)m.Epoch).ToArray();
        if (steps.Count > 1)
        {
            var perStep = loss.Add.ScatterLine(steps.Select(s => s.Epoch).ToArray(), steps.Select(s => s.Loss).ToArray());
            perStep.LegendText = "train loss (per step)";
            perStep.Color = Colors.Gray.WithAlpha(0.5);
            perStep.LineWidth = 1;
        }

        AddSeries(loss, epochs, history.Select(m => m.TrainLoss), "train loss", Colors.Blue);
        AddSeries(loss, epochs, history.Select(m => m.TestLoss), "test loss", Colors.Red);
        loss.Title($"{title} on Fashion-MNIST");
        loss.YLabel("cross-entropy");
        loss.XLabel("epoch");
        loss.ShowLegend(Alignment.UpperRight);

        AddSeries(accuracy, epochs, history.Select(m => 100 * m.TrainAccuracy), "train accuracy", Colors.Blue);
        AddSeries(accuracy, epochs, history.Select(m => 100 * m.TestAccuracy), "test accuracy", Colors.Red);
        accuracy.YLabel("accuracy (%)");
        accuracy.XLabel("epoch");
        accuracy.ShowLegend(Alignment.LowerRight);

        double last = epochs.Length == 0 ? 1 : epochs[^1];
        loss.Axes.SetLimitsX(0, last + 0.1);
        accuracy.Axes.SetLimitsX(0, last + 0.1);
        multiplot.SavePng(path, 900, 900);
    }

    private static void AddSeries(Plot plot, double[] epochs, IEnumerable<double> values, string label, Color color)
    {
        // Skipped evaluations are NaN: leave those epochs out.
        (double X, double Y)[] points = epochs.Zip(values).Where(p => double.IsFinite(p.Second)).ToArray();
        if (points.Length == 0)
        {
            return;
        }

        var series = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
        series.LegendText = label;
        series.Color = color;
        series.LineWidth = 2;
        series.MarkerSize = 7;
    }
}
