namespace DslResNet.Generators;

/// <summary>Names of the generator's pipeline steps, shared with the incrementality tests.</summary>
internal static class TrackingNames
{
    /// <summary>Attributes and syntax read into a <c>NetworkSpec</c>.</summary>
    public const string Parse = nameof(Parse);

    /// <summary>Static validation; the output drops source spans, so edits that only move text stop here.</summary>
    public const string Validate = nameof(Validate);

    /// <summary>Shape inference.</summary>
    public const string Shapes = nameof(Shapes);

    /// <summary>Fusion and memory plan.</summary>
    public const string Plan = nameof(Plan);
}
