using System;
using System.Globalization;
using System.Linq;
using DslResNet.Generators.Diagnostics;
using DslResNet.Generators.Infrastructure;
using DslResNet.Generators.Model;

namespace DslResNet.Generators.Shapes;

/// <content>
/// The size limits, checked wherever a size enters: every tensor (activation or parameter) holds at most
/// 2,147,483,647 elements, all parameters together at most <see cref="MaxParameterElements"/>, and every count
/// (multiply-adds, FLOPs) fits 64 bits. Products are formed in <c>long</c>, or <c>checked</c>, so none wraps around.
/// </content>
internal static partial class ShapeInference
{
    /// <summary>Elements of one tensor: the runtime indexes a tensor with an <c>int</c>.</summary>
    internal const long MaxTensorElements = int.MaxValue;

    /// <summary>
    /// Elements of all parameters (the state dict, without the batch counters) together: the runtime keeps them in one
    /// buffer with a host copy, and .NET's largest <c>float[]</c> holds 2,147,483,591 (<c>Array.MaxLength</c>).
    /// </summary>
    internal const long MaxParameterElements = 2_147_483_591;

    private sealed partial class Walk
    {
        private long _parameterElements;

        /// <summary>Whether a network-wide count overflowed (reported); the per-member table is then not built.</summary>
        public bool Overflowed { get; private set; }

        /// <summary>Checks that a layer's output has between 1 and 2,147,483,647 elements; returns it.</summary>
        private static Shape Fits(Site site, Shape output)
        {
            // The element count in double: C x H x W can overflow a long before the check sees it.
            if ((double)output.C * output.H * output.W > MaxTensorElements || output.H <= 0 || output.W <= 0 || output.C <= 0)
            {
                site.Fail(Descriptors.InvalidNumber, null, "Output size", site.FullName, output.ToString(), "between 1 and 2147483647 elements");
            }

            return output;
        }

        /// <summary>The elements of a parameter tensor of the given dimensions, reported at <paramref name="argument"/> when over the limit.</summary>
        private static long TensorElements(Site site, string? argument, string tensor, params int[] dimensions)
        {
            double product = dimensions.Aggregate(1.0, (p, d) => p * d);
            if (product > MaxTensorElements)
            {
                string shape = "(" + string.Join(", ", dimensions.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")";
                site.Fail(Descriptors.InvalidNumber, argument, "Size of parameter '" + tensor + "'", site.FullName, shape + ", " + product.ToString("N0", CultureInfo.InvariantCulture) + " elements", "at most 2,147,483,647 elements");
            }

            return dimensions.Aggregate(1L, (p, d) => p * d);
        }

        /// <summary>Channels taken from the enclosing stage times an expansion, reported at <c>Expansion</c> when over 2,147,483,647.</summary>
        private static int Channels(Site site, BlockContext? context, int expansion)
        {
            long channels = (long)(context?.Channels ?? 0) * expansion;
            if (channels > int.MaxValue)
            {
                site.Fail(Descriptors.InvalidNumber, "Expansion", "Channels", site.FullName, channels.ToString(CultureInfo.InvariantCulture) + " (" + (context?.Channels ?? 0).ToString(CultureInfo.InvariantCulture) + " x expansion " + expansion.ToString(CultureInfo.InvariantCulture) + ")", "at most 2147483647");
            }

            return (int)channels;
        }

        /// <summary>Checks one parameter tensor and the running total of all of them.</summary>
        private void CountParameter(Site site, string name, ParameterRole role, int[] shape)
        {
            long elements = TensorElements(site, null, name, shape);
            if (role == ParameterRole.BatchesTracked)
            {
                return;
            }

            _parameterElements += elements;
            if (_parameterElements > MaxParameterElements)
            {
                site.Fail(
                    Descriptors.InvalidNumber, null, "Parameter count", _network.Name,
                    "over " + MaxParameterElements.ToString("N0", CultureInfo.InvariantCulture) + " at '" + name + "'",
                    "at most " + MaxParameterElements.ToString("N0", CultureInfo.InvariantCulture) + " (the largest float array .NET allocates; the runtime keeps all parameters in one)");
            }
        }

        // In long: a padding near int.MaxValue must not wrap around to a plausible size. Window has checked that it fits.
        private static int OutSize(int size, int kernel, int stride, int padding) => (int)(((size + (2L * padding) - kernel) / stride) + 1);

        /// <summary>Checks a sliding window on both axes and returns the output height.</summary>
        private static int Window(Site site, string op, Shape x, int kernel, int stride, int padding, string kernelArgument, string strideArgument)
        {
            long ph = x.H + (2L * padding), pw = x.W + (2L * padding);
            if (ph < kernel || pw < kernel)
            {
                string why = padding > 0
                    ? $"the {kernel}x{kernel} window is larger than the padded input {ph}x{pw}"
                    : $"the {kernel}x{kernel} window is larger than the input {x.H}x{x.W}";
                site.FailWith(PaddingFix(x, kernel, stride, padding), Descriptors.SpatialCollapse, kernelArgument, site.FullName, op, x.ToString(), why);
            }

            if (((ph - kernel) / stride) + 1 > int.MaxValue || ((pw - kernel) / stride) + 1 > int.MaxValue)
            {
                site.Fail(Descriptors.InvalidNumber, "Padding", "Padding", site.FullName, padding.ToString(CultureInfo.InvariantCulture), "small enough for an output of at most 2147483647 rows and columns");
            }

            // Rows never read at the end (beyond the padding). With kernel < stride the window skips rows by design.
            int rowsDropped = (int)(((ph - kernel) % stride) - padding);
            int columnsDropped = (int)(((pw - kernel) % stride) - padding);
            if (kernel >= stride && (rowsDropped > 0 || columnsDropped > 0))
            {
                bool rows = rowsDropped > 0;
                int count = rows ? rowsDropped : columnsDropped;
                string what = rows && columnsDropped > 0 ? (count == 1 ? "row and column" : "rows and columns") : rows ? (count == 1 ? "row" : "rows") : (count == 1 ? "column" : "columns");
                site.WarnWith(PaddingFix(x, kernel, stride, padding), Descriptors.StrideDropsInput, strideArgument, site.FullName, op, x.ToString(), count.ToString(CultureInfo.InvariantCulture), what, (rows ? ph - kernel : pw - kernel).ToString(CultureInfo.InvariantCulture), stride.ToString(CultureInfo.InvariantCulture));
            }

            return OutSize(x.H, kernel, stride, padding);
        }

        /// <summary>
        /// For the DRN0005 and DRN0006 code fix: <c>Padding = kernel / 2</c> (which keeps the size at stride 1 for an odd
        /// kernel, as a ResNet's 3x3 and 7x7 convolutions and its 3x3 max pool are padded), when it is more than the current
        /// padding and with it the window fits and reads every row and column; else null.
        /// </summary>
        private static DiagnosticProperty? PaddingFix(Shape x, int kernel, int stride, int padding)
        {
            int fixedPadding = kernel / 2;
            if (fixedPadding <= padding || stride < 1)
            {
                return null;
            }

            long ph = x.H + (2L * fixedPadding), pw = x.W + (2L * fixedPadding);
            bool fits = ph >= kernel && pw >= kernel && ((ph - kernel) / stride) + 1 <= int.MaxValue && ((pw - kernel) / stride) + 1 <= int.MaxValue;
            bool readsAll = kernel < stride || (((ph - kernel) % stride) - fixedPadding <= 0 && ((pw - kernel) % stride) - fixedPadding <= 0);
            return fits && readsAll ? new DiagnosticProperty(FixProperties.Padding, fixedPadding.ToString(CultureInfo.InvariantCulture)) : null;
        }

        private static int Checked(Site site, long elements)
        {
            if (elements > int.MaxValue)
            {
                site.Fail(Descriptors.InvalidNumber, null, "Flattened size", site.FullName, elements.ToString(CultureInfo.InvariantCulture), "at most 2147483647");
            }

            return (int)elements;
        }

        /// <summary>The stride s with ceil(a/s) = b on both axes (what a 1x1 stride-s conv or ::s subsampling gives), else 0.</summary>
        private static int FindStride(Shape a, Shape b)
        {
            int limit = Math.Max(a.H, a.W);
            for (int s = 1; s <= limit; s++)
            {
                if (((a.H - 1) / s) + 1 == b.H && ((a.W - 1) / s) + 1 == b.W)
                {
                    return s;
                }
            }

            return 0;
        }

        /// <summary>Checks that the network-wide counts (multiply-adds, FLOPs per image) fit 64 bits.</summary>
        public void CheckTotals()
        {
            try
            {
                _ = checked(Result.Sum(l => l.MultiplyAdds) + Result.Sum(l => l.Flops));
            }
            catch (OverflowException)
            {
                Overflowed = true;
                string max = long.MaxValue.ToString(CultureInfo.InvariantCulture);
                Diagnostics.Add(DiagnosticInfo.Create(Descriptors.InvalidNumber, _network.AttributeSpan, Owner, "Forward FLOPs per image", _network.Name, "over " + max, "at most " + max));
                throw new ShapeError();
            }
        }
    }
}
