using System.IO;
using System.Linq;
using FashionMnistSample;
using Xunit;

namespace FashionMnist.Tests;

/// <summary>When the main job offers to install Fashion-MNIST, and with which commands.</summary>
public sealed class DatasetSetupTests
{
    [Fact]
    public void Offered_only_in_a_terminal_with_apt_get_for_the_default_folder_when_it_is_missing()
    {
        bool missing = !Directory.Exists(DslResNet.Data.FashionMnist.DefaultDirectory);
        Assert.Equal(missing, DatasetSetup.ShouldOffer(DslResNet.Data.FashionMnist.DefaultDirectory, terminal: true, aptGet: true));
        Assert.False(DatasetSetup.ShouldOffer(DslResNet.Data.FashionMnist.DefaultDirectory, terminal: false, aptGet: true));
        Assert.False(DatasetSetup.ShouldOffer(DslResNet.Data.FashionMnist.DefaultDirectory, terminal: true, aptGet: false));
        Assert.False(DatasetSetup.ShouldOffer("/nowhere/fashion", terminal: true, aptGet: true));
    }

    [Fact]
    public void Root_runs_apt_get_others_go_through_sudo_and_without_sudo_nothing_is_offered()
    {
        Assert.Equal([("apt-get", ["update"]), ("apt-get", ["install", "-y", "dataset-fashion-mnist"])], Flatten(DatasetSetup.Commands(root: true, sudo: false)));
        Assert.Equal([("sudo", "apt-get update"), ("sudo", "apt-get install -y dataset-fashion-mnist")], Flatten(DatasetSetup.Commands(root: false, sudo: true)).Select(c => (c.Item1, string.Join(' ', c.Item2))));
        Assert.Null(DatasetSetup.Commands(root: false, sudo: false));
    }

    [Fact]
    public void A_redirected_run_without_the_dataset_is_not_asked_and_gets_the_one_line_error()
    {
        // The test's own process redirects standard input: like a script or CI, no question, the error names the package.
        string dir = Directory.CreateTempSubdirectory("setup-test-").FullName;
        try
        {
            SampleResult r = SampleProcess.Run(dir, "--data", Path.Combine(dir, "nowhere"), "--epochs", "1");
            r.AssertOneLineError("dataset-fashion-mnist");
            Assert.DoesNotContain("Install it now", r.Out, System.StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (string, string[])[] Flatten((string Program, string[] Arguments)[]? commands) =>
        commands!.Select(c => (c.Program, c.Arguments)).ToArray();
}
