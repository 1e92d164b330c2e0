using System;
using DslResNet.Training;
using Xunit;

namespace DslResNet.Tests.Training;

/// <summary>A state with a buffer for some parameters but not another is refused, naming the parameter.</summary>
public sealed class OptimizerImportMissingBufferTests
{
    private static Optimizer Make(bool adam)
    {
        Optimizer optimizer = adam ? new AdamW(0.01) : new Sgd(0.1, momentum: 0.9);
        optimizer.Add("conv.weight", [1f, 2f], [0.5f, -0.5f]);
        optimizer.Add("fc.bias", [3f], [1f]);
        return optimizer;
    }

    [Theory]
    [InlineData(false, "momentum_buffer.fc.bias")]
    [InlineData(true, "exp_avg.fc.bias")]
    [InlineData(true, "exp_avg_sq.conv.weight")]
    public void Missing_buffer_is_an_error_naming_the_parameter(bool adam, string removed)
    {
        Optimizer source = Make(adam);
        source.Step();
        OptimizerState state = source.ExportState();
        Assert.True(state.Buffers.Remove(removed), $"no buffer '{removed}' in [{string.Join(", ", state.Buffers.Keys)}]");

        Optimizer target = Make(adam);
        var e = Assert.Throws<ArgumentException>(() => target.ImportState(state));
        Assert.Contains(removed, e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Complete_and_empty_states_still_import(bool adam)
    {
        Optimizer source = Make(adam);
        Make(adam).ImportState(source.ExportState());
        source.Step();
        Make(adam).ImportState(source.ExportState());
    }
}
