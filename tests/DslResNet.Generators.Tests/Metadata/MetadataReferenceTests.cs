using System;
using System.Collections.Immutable;
using System.Linq;
using DslResNet.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace DslResNet.Generators.Tests.Metadata;

/// <summary>
/// Blocks and <c>LayersOf</c> networks read from a referenced assembly's metadata (as from a package's DLL) generate
/// exactly what the same declarations generate when they are in the consumer's source.
/// </summary>
public sealed class MetadataReferenceTests
{
    /// <summary>A library as a package would ship it: protected layer fields (private ones are not imported).</summary>
    private const string LibrarySource = """
        using DslResNet;
        namespace Shared;

        [Block]
        public class SharedBlock
        {
            [Conv(3, Padding = 1, Strided = true)] protected Layer conv1;
            [BatchNorm] public Layer bn1;
            [ReLU] protected Layer relu1;
            public int NotALayer;
            [Conv(3, Padding = 1)] protected Layer conv2;
            [BatchNorm(Eps = 1e-3, Momentum = 0.2)] protected Layer bn2;
            [Residual] protected Layer add;
            [ReLU] protected Layer relu2;
        }

        [Block]
        public class Wrapper
        {
            [Stage<SharedBlock>(Repeat = 2, Strided = true)] protected Layer inner;
            [Dropout(0.1)] protected Layer drop;
        }

        [Network(3, 16, 16, Shortcut = ShortcutKind.ZeroPad)]
        public partial class SharedNet
        {
            [Conv(8, 3, Padding = 1)] protected Layer conv1;
            [BatchNorm] protected Layer bn1;
            [ReLU] protected Layer relu;
            [Stage<SharedBlock>(8, Repeat = 2)] protected Layer layer1;
            [Stage<SharedBlock>(16, Stride = 2)] protected Layer layer2;
            [GlobalAvgPool] protected Layer avgpool;
            [Dense(10)] protected Layer fc;
        }
        """;

    private const string ConsumerSource = """
        using DslResNet;
        using Shared;
        namespace Consumer;

        [Network(1, 12, 12)]
        public partial class UsesBlock
        {
            [Conv(8, 3, Padding = 1)] Layer conv1;
            [Stage<SharedBlock>(8, Repeat = 2)] Layer layer1;
            [Stage<Wrapper>(16, Stride = 2)] Layer layer2;
            [GlobalAvgPool] Layer pool;
            [Dense(4)] Layer fc;
        }

        [Network(1, 12, 12, LayersOf = typeof(SharedNet), Shortcut = ShortcutKind.Projection)]
        public partial class Twin;

        [Network(LayersOf = typeof(SharedNet), Plain = true)]
        public partial class PlainTwin;

        [Network(LayersOf = typeof(Twin), Plain = true)]
        public partial class PlainOfTwin;
        """;

    private static readonly string[] ConsumerNetworks = { "Consumer.UsesBlock", "Consumer.Twin", "Consumer.PlainTwin", "Consumer.PlainOfTwin" };

    [Fact]
    public void A_block_and_LayersOf_from_a_referenced_assembly_generate_what_they_generate_in_source()
    {
        MetadataReference library = Harness.Library("Shared.Blocks", LibrarySource);
        HarnessResult fromMetadata = Harness.Run(Harness.Compile("Consumer", new[] { library }, ("/src/Consumer.cs", ConsumerSource)));
        HarnessResult fromSource = Harness.Run(Harness.Compile(("/src/Library.cs", LibrarySource), ("/src/Consumer.cs", ConsumerSource)));

        Assert.Empty(fromMetadata.Errors);
        Assert.Empty(fromMetadata.Ours);
        Assert.Empty(fromSource.Errors);
        Assert.Equal(ConsumerNetworks.Select(n => n + ".g.cs").OrderBy(n => n, StringComparer.Ordinal), fromMetadata.Generated.Keys.OrderBy(n => n, StringComparer.Ordinal));
        foreach (string network in ConsumerNetworks)
        {
            Assert.Equal(fromSource.Generated[network + ".g.cs"], fromMetadata.Generated[network + ".g.cs"]);
        }

        // The metadata block's settings arrived (not only its layer count): eps 1e-3 and momentum 0.2 of bn2.
        Assert.Contains("0.001", fromMetadata.Generated["Consumer.UsesBlock.g.cs"], StringComparison.Ordinal);
    }

    [Fact]
    public void Fields_of_a_referenced_class_come_in_declaration_order_which_is_the_metadata_table_order()
    {
        // Names out of alphabetical order, with other members between them: neither a name sort nor a kind grouping
        // could give this order by chance.
        MetadataReference library = Harness.Library("Order.Lib", """
            namespace Order;
            public class Fields
            {
                public int zeta;
                public string Name { get; set; } = "";
                protected int alpha;
                public void Method() { }
                public int mid;
                public event System.Action? Changed;
                protected int beta;
                public int omega, gamma;
                public void Raise() => Changed?.Invoke();
            }
            """, generate: false);
        CSharpCompilation consumer = Harness.Compile("Consumer", new[] { library }, ("/src/Empty.cs", "namespace Consumer;"));
        INamedTypeSymbol type = consumer.GetTypeByMetadataName("Order.Fields")!;
        Assert.Empty(type.DeclaringSyntaxReferences);

        var fields = type.GetMembers().OfType<IFieldSymbol>().Where(f => f.CanBeReferencedByName).ToList();

        Assert.Equal(new[] { "zeta", "alpha", "mid", "beta", "omega", "gamma" }, fields.Select(f => f.Name));
        var tokens = fields.Select(f => f.MetadataToken).ToList();
        Assert.Equal(tokens.OrderBy(t => t), tokens);
    }

    [Fact]
    public void The_shipped_models_assembly_is_read_from_metadata()
    {
        // The real DslResNet.Models.dll, built with the generator: its protected fields must be visible to consumers.
        MetadataReference models = MetadataReference.CreateFromFile(typeof(DslResNet.Models.ResNet152).Assembly.Location);
        HarnessResult result = Harness.Run(Harness.Compile("Consumer", new[] { models }, ("/src/Consumer.cs", """
            using DslResNet;
            using DslResNet.Models;
            namespace Consumer;

            [Network(LayersOf = typeof(ResNet152), Plain = true)]
            public partial class Plain152;

            [Network(1, 28, 28)]
            public partial class Small
            {
                [Conv(16, 3, Padding = 1)] Layer conv1;
                [Stage<BasicBlock>(16)] Layer layer1;
                [Stage<Bottleneck>(8, Stride = 2)] Layer layer2;
                [Stage<PreActBlock>(32, Stride = 2)] Layer layer3;
                [GlobalAvgPool] Layer pool;
                [Dense(10)] Layer fc;
            }
            """)));

        Assert.Empty(result.Errors);
        Assert.Equal(new[] { "DRN0013" }, result.Ours.Select(d => d.Id)); // a deep plain network: advice, not an error
        // Plain-152 lacks the four projection shortcuts' convolutions and batch norms of ResNet-152 (60,192,808).
        long projections = (64 * 256 + 2 * 256) + (256 * 512 + 2 * 512) + (512 * 1024 + 2 * 1024) + (1024 * 2048 + 2 * 2048);
        Assert.Contains(
            (60_192_808 - projections).ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " parameters",
            result.Generated["Consumer.Plain152.g.cs"], StringComparison.Ordinal);
        Assert.Contains("Consumer.Small.g.cs", result.Generated.Keys);
    }
}
