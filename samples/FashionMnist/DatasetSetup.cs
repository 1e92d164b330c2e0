using System;
using System.Diagnostics;
using System.IO;
using DslResNet.Data;
using Spectre.Console;

namespace FashionMnistSample;

/// <summary>
/// A fresh machine lacks the dataset: run in a terminal, the main job offers to install the Debian package
/// <c>dataset-fashion-mnist</c> with apt-get (through sudo when not root), so README's one command is enough. Not offered
/// when standard input or output is redirected (scripts, CI, tests: they get the one-line error naming the command), when
/// <c>--data</c> names another folder, or where there is no apt-get.
/// </summary>
internal static class DatasetSetup
{
    /// <summary>The package.</summary>
    public const string Package = "dataset-fashion-mnist";

    /// <summary>Whether to offer the installation.</summary>
    /// <param name="dataFolder">The <c>--data</c> folder.</param>
    /// <param name="terminal">Standard input and output are a terminal.</param>
    /// <param name="aptGet">apt-get exists.</param>
    /// <returns>True when the default folder is missing and a person can answer.</returns>
    public static bool ShouldOffer(string dataFolder, bool terminal, bool aptGet) =>
        terminal && aptGet && dataFolder == FashionMnist.DefaultDirectory && !Directory.Exists(dataFolder);

    /// <summary>The commands that install the package: apt-get itself as root, else through sudo; null when neither can.</summary>
    /// <param name="root">Running as root.</param>
    /// <param name="sudo">sudo exists.</param>
    /// <returns>Program and arguments, in order; null when the user cannot install packages from here.</returns>
    public static (string Program, string[] Arguments)[]? Commands(bool root, bool sudo) =>
        root ? [("apt-get", ["update"]), ("apt-get", ["install", "-y", Package])]
        : sudo ? [("sudo", ["apt-get", "update"]), ("sudo", ["apt-get", "install", "-y", Package])]
        : null;

    /// <summary>Offers and runs the installation when <see cref="ShouldOffer"/> says so.</summary>
    /// <param name="dataFolder">The <c>--data</c> folder.</param>
    /// <returns>An error line when the user accepted and the installation failed; null otherwise (the load then reports what is missing).</returns>
    public static string? OfferIfMissing(string dataFolder)
    {
        bool terminal = !Console.IsInputRedirected && !Console.IsOutputRedirected;
        if (!ShouldOffer(dataFolder, terminal, OnPath("apt-get")))
        {
            return null;
        }

        (string Program, string[] Arguments)[]? commands = Commands(Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root", OnPath("sudo"));
        if (commands is null)
        {
            return null;
        }

        string shown = string.Join(" && ", Array.ConvertAll(commands, c => c.Program + " " + string.Join(' ', c.Arguments)));
        if (!AnsiConsole.Confirm($"Fashion-MNIST is not installed ({dataFolder}). Install it now: [bold]{Markup.Escape(shown)}[/]?", defaultValue: true))
        {
            return null;
        }

        foreach ((string program, string[] arguments) in commands)
        {
            ProcessStartInfo info = new(program) { UseShellExecute = false };
            foreach (string a in arguments)
            {
                info.ArgumentList.Add(a);
            }

            using Process process = Process.Start(info)!;
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                return $"installing the dataset failed: '{program} {string.Join(' ', arguments)}' exited with {process.ExitCode}.";
            }
        }

        return null;
    }

    private static bool OnPath(string program) =>
        Array.Exists((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries),
            dir => File.Exists(Path.Combine(dir, program)));
}
