// The one definition of every operation kind and activation, compiled into the runtime (public, in the namespaces users
// and generated code name) and linked into the generator (internal, in DslResNet.Generators.Model; the generator project
// defines DSLRESNET_GENERATOR). Adding a kind here and nowhere else fails the tests that call every mapping for every
// value (OperationsTests in both test projects) and the network that uses every kind (AllKindsNetwork).
using System;
#if !DSLRESNET_GENERATOR
using DslResNet.Kernels;
#endif

#if DSLRESNET_GENERATOR
namespace DslResNet.Generators.Model
#else
namespace DslResNet
#endif
{
    /// <summary>The kind of a primitive layer in the table.</summary>
#if DSLRESNET_GENERATOR
    internal
#else
    public
#endif
    enum LayerKind
    {
        /// <summary>2-D convolution.</summary>
        Conv,
        /// <summary>Batch normalisation.</summary>
        BatchNorm,
        /// <summary>ReLU.</summary>
        ReLU,
        /// <summary>Tanh.</summary>
        Tanh,
        /// <summary>Sigmoid.</summary>
        Sigmoid,
        /// <summary>Residual add.</summary>
        Add,
        /// <summary>Option-A shortcut: subsample and zero-pad channels.</summary>
        ZeroPadShortcut,
        /// <summary>Max pooling.</summary>
        MaxPool,
        /// <summary>Average pooling.</summary>
        AvgPool,
        /// <summary>Global average pooling.</summary>
        GlobalAvgPool,
        /// <summary>Flatten.</summary>
        Flatten,
        /// <summary>Fully connected.</summary>
        Dense,
        /// <summary>Dropout.</summary>
        Dropout,
        /// <summary>GELU, exact (erf) form: <c>x Phi(x)</c>.</summary>
        GELU,
        /// <summary>SiLU (swish): <c>x sigmoid(x)</c>.</summary>
        SiLU,
        /// <summary>
        /// Channel-wise scale, squeeze-and-excitation's merge: <c>y = x * s</c> with x a map (the first input) and s one value
        /// per channel (the second input, C x 1 x 1), broadcast over the pixels.
        /// </summary>
        ChannelScale,
    }

    /// <summary>How a residual add brings its shortcut to the shape of the body's output (<c>Shortcut =</c> on
    /// <c>[Residual]</c> or <c>[Network]</c>). Only used when the shapes differ: equal shapes always add the identity.</summary>
#if DSLRESNET_GENERATOR
    internal
#else
    public
#endif
    enum ShortcutKind
    {
        /// <summary>Use the network's setting (on <c>[Residual]</c>); on a network, the same as <see cref="Projection"/>.</summary>
        Default = 0,

        /// <summary>Identity only: the body must keep the input's shape, anything else is an error.</summary>
        Identity = 1,

        /// <summary>
        /// Option A of the ResNet paper: identity when shapes match, otherwise subsample with the stride and pad the
        /// new channels with zeros. Adds no parameters.
        /// </summary>
        ZeroPad = 2,

        /// <summary>
        /// Option B of the ResNet paper (torchvision's choice): a 1x1 convolution with the stride followed by batch norm,
        /// named <c>downsample.0</c> and <c>downsample.1</c>.
        /// </summary>
        Projection = 3,

        /// <summary>
        /// Option B without batch norm, as the pre-activation ResNets and Wide ResNets define it: a 1x1 convolution with
        /// the stride and no bias, named <c>downsample.0</c>. Usually combined with <c>From =</c> the block's first
        /// activation, so the projection sees the pre-activated input.
        /// </summary>
        ProjectionWithoutNorm = 4,

        /// <summary>
        /// ResNet-D (Bag of Tricks, He et al. 2019; timm's <c>avg_down</c>): a <c>stride</c> x <c>stride</c> average pool
        /// with that stride, then a 1x1 convolution (stride 1) and batch norm, named <c>downsample.0</c> (the pool, no
        /// parameters), <c>downsample.1</c> and <c>downsample.2</c>. Without a stride (channels change only) the pool is
        /// left out and the names stay the same, as timm's identity pool. The input's height and width must be multiples
        /// of the stride: PyTorch's <c>ceil_mode</c> partial windows are refused at compile time.
        /// </summary>
        AvgPoolProjection = 5,
    }

    /// <summary>Facts about each <see cref="LayerKind"/> that both the generator and the runtime need.</summary>
#if DSLRESNET_GENERATOR
    internal
#else
    public
#endif
    static class LayerKinds
    {
        /// <summary>Every kind, in declaration order.</summary>
        public static readonly LayerKind[] All =
#if DSLRESNET_GENERATOR
            (LayerKind[])Enum.GetValues(typeof(LayerKind)); // netstandard2.0 has no generic overload
#else
            Enum.GetValues<LayerKind>(); // the generic overload needs no dynamic code (AOT)
#endif

        /// <summary>The activation a layer kind applies, or <c>Activation.None</c> for a kind that is not an activation.</summary>
        /// <param name="kind">The kind.</param>
        /// <returns>The activation.</returns>
        /// <exception cref="ArgumentOutOfRangeException">Not a defined kind.</exception>
        public static Activation ActivationOf(LayerKind kind) => kind switch
        {
            LayerKind.ReLU => Activation.ReLU,
            LayerKind.Tanh => Activation.Tanh,
            LayerKind.Sigmoid => Activation.Sigmoid,
            LayerKind.GELU => Activation.GELU,
            LayerKind.SiLU => Activation.SiLU,
            LayerKind.Conv or LayerKind.BatchNorm or LayerKind.Add or LayerKind.ZeroPadShortcut or LayerKind.MaxPool
                or LayerKind.AvgPool or LayerKind.GlobalAvgPool or LayerKind.Flatten or LayerKind.Dense or LayerKind.Dropout
                or LayerKind.ChannelScale => Activation.None,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown layer kind."),
        };

        /// <summary>Whether a layer kind is an element-wise activation.</summary>
        /// <param name="kind">The kind.</param>
        /// <returns>True for activations.</returns>
        public static bool IsActivation(LayerKind kind) => ActivationOf(kind) != Activation.None;
    }
}

#if DSLRESNET_GENERATOR
namespace DslResNet.Generators.Model
#else
namespace DslResNet.Kernels
#endif
{
    /// <summary>An activation function, standalone or applied inside a fused pass. The numeric values travel into kernels.</summary>
#if DSLRESNET_GENERATOR
    internal
#else
    public
#endif
    enum Activation
    {
        /// <summary>None: the identity.</summary>
        None = 0,

        /// <summary><c>max(0, x)</c>.</summary>
        ReLU = 1,

        /// <summary><c>tanh(x)</c>.</summary>
        Tanh = 2,

        /// <summary>The logistic function <c>1 / (1 + exp(-x))</c>.</summary>
        Sigmoid = 3,

        /// <summary>GELU, exact form as <c>torch.nn.GELU()</c>: <c>0.5 x (1 + erf(x / sqrt 2))</c>.</summary>
        GELU = 4,

        /// <summary>SiLU: <c>x / (1 + exp(-x))</c>.</summary>
        SiLU = 5,
    }

    /// <summary>Facts about each <see cref="Activation"/> that both the generator and the runtime need.</summary>
#if DSLRESNET_GENERATOR
    internal
#else
    public
#endif
    static class Activations
    {
        /// <summary>Every activation, in declaration order (<see cref="Activation.None"/> first).</summary>
        public static readonly Activation[] All =
#if DSLRESNET_GENERATOR
            (Activation[])Enum.GetValues(typeof(Activation)); // netstandard2.0 has no generic overload
#else
            Enum.GetValues<Activation>(); // the generic overload needs no dynamic code (AOT)
#endif

        /// <summary>The layer kind of a standalone activation.</summary>
        /// <param name="activation">The activation (not <see cref="Activation.None"/>).</param>
        /// <returns>The kind.</returns>
        /// <exception cref="ArgumentOutOfRangeException"><see cref="Activation.None"/> or not a defined activation.</exception>
        public static LayerKind LayerKindOf(Activation activation) => activation switch
        {
            Activation.ReLU => LayerKind.ReLU,
            Activation.Tanh => LayerKind.Tanh,
            Activation.Sigmoid => LayerKind.Sigmoid,
            Activation.GELU => LayerKind.GELU,
            Activation.SiLU => LayerKind.SiLU,
            _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Not an activation layer."),
        };

        /// <summary>
        /// Whether the backward needs the activation's input (GELU, SiLU: the derivative is not a function of the output);
        /// false where the output suffices (ReLU, tanh, sigmoid, the identity). A fused pass recomputes the input from what
        /// it keeps (the convolution's output, the batch statistics and the residual), so neither case stores more.
        /// </summary>
        /// <param name="activation">The activation.</param>
        /// <returns>True when the backward needs the input.</returns>
        /// <exception cref="ArgumentOutOfRangeException">Not a defined activation.</exception>
        public static bool BackwardNeedsInput(Activation activation) => activation switch
        {
            Activation.None or Activation.ReLU or Activation.Tanh or Activation.Sigmoid => false,
            Activation.GELU or Activation.SiLU => true,
            _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
        };

        /// <summary>Whether the activation saturates on both sides (tanh, sigmoid): batch norm before it earns a hint.</summary>
        /// <param name="activation">The activation.</param>
        /// <returns>True for s-shaped activations.</returns>
        /// <exception cref="ArgumentOutOfRangeException">Not a defined activation.</exception>
        public static bool IsSaturating(Activation activation) => activation switch
        {
            Activation.Tanh or Activation.Sigmoid => true,
            Activation.None or Activation.ReLU or Activation.GELU or Activation.SiLU => false,
            _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
        };

        /// <summary>The attribute that declares it, without the suffix (<c>ReLU</c>, <c>GELU</c>), as layer tables print it.</summary>
        /// <param name="activation">The activation (not <see cref="Activation.None"/>).</param>
        /// <returns>The name.</returns>
        /// <exception cref="ArgumentOutOfRangeException"><see cref="Activation.None"/> or not a defined activation.</exception>
        public static string Name(Activation activation) => activation switch
        {
            Activation.ReLU => "ReLU",
            Activation.Tanh => "Tanh",
            Activation.Sigmoid => "Sigmoid",
            Activation.GELU => "GELU",
            Activation.SiLU => "SiLU",
            _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Not an activation layer."),
        };
    }
}
