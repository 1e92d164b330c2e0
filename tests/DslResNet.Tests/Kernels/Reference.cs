using System;
using System.Linq;

namespace DslResNet.Tests.Kernels;

/// <summary>
/// Straightforward double-precision reference implementations of the network's operations, forward and backward,
/// with PyTorch semantics. They are the oracle for the ILGPU float kernels, so they favour obviousness over speed:
/// plain loops, <c>double[]</c> in and out, every tensor NCHW row-major and contiguous, shapes passed explicitly.
/// Every backward takes the forward's inputs (not its outputs) plus the upstream gradient <c>dy</c>.
/// </summary>
internal static class Reference
{
    // ----------------------------------------------------------------------------------------------------------
    // Shapes
    // ----------------------------------------------------------------------------------------------------------

    /// <summary>Output size of a convolution or pool (floor mode): (size + 2*padding - kernel) / stride + 1.</summary>
    public static int OutputSize(int size, int kernel, int stride, int padding)
    {
        if (size < 1 || kernel < 1 || stride < 1 || padding < 0)
            throw new ArgumentException($"bad geometry: size {size}, kernel {kernel}, stride {stride}, padding {padding}");
        int padded = size + 2 * padding - kernel;
        if (padded < 0)
            throw new ArgumentException($"kernel {kernel} larger than padded input {size + 2 * padding}");
        return padded / stride + 1;
    }

    /// <summary>Output size of the strided zero-pad shortcut: ceil(size / stride).</summary>
    public static int ShortcutOutputSize(int size, int stride)
    {
        if (size < 1 || stride < 1)
            throw new ArgumentException($"bad geometry: size {size}, stride {stride}");
        return (size + stride - 1) / stride;
    }

    private static void CheckLength(double[] array, long expected, string name)
    {
        ArgumentNullException.ThrowIfNull(array, name);
        if (array.Length != expected)
            throw new ArgumentException($"{name} has {array.Length} elements, expected {expected}", name);
    }

    private static void CheckPositive(params int[] values)
    {
        foreach (int v in values)
        {
            if (v < 1)
                throw new ArgumentException($"dimension {v} must be positive");
        }
    }

    // ----------------------------------------------------------------------------------------------------------
    // Convolution (torch.nn.functional.conv2d: cross-correlation, square kernel, symmetric zero padding)
    // ----------------------------------------------------------------------------------------------------------

    /// <summary>
    /// y[n,o,i,j] = bias[o] + sum_{c,a,b} weight[o,c,a,b] * x[n,g(o)*cig+c,i*stride+a-padding,j*stride+b-padding], c over the
    /// cig = inChannels/groups channels of o's group g(o) = o / (outChannels/groups) (torch.nn.Conv2d's groups),
    /// out-of-range x reading as zero. x: [n,inChannels,height,width]; weight: [outChannels,inChannels,kernel,kernel];
    /// bias: [outChannels] or null; y: [n,outChannels,Ho,Wo] with Ho = OutputSize(height, kernel, stride, padding).
    /// </summary>
    public static double[] Conv2dForward(
        double[] x, int n, int inChannels, int height, int width,
        double[] weight, int outChannels, int kernel, double[]? bias, int stride, int padding, int groups = 1)
    {
        CheckPositive(n, inChannels, height, width, outChannels, kernel, groups);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"groups {groups} must divide inChannels {inChannels} and outChannels {outChannels}");
        int cig = inChannels / groups, cog = outChannels / groups;
        CheckLength(x, (long)n * inChannels * height * width, nameof(x));
        CheckLength(weight, (long)outChannels * cig * kernel * kernel, nameof(weight));
        if (bias is not null)
            CheckLength(bias, outChannels, nameof(bias));
        int ho = OutputSize(height, kernel, stride, padding);
        int wo = OutputSize(width, kernel, stride, padding);

        double[] y = new double[n * outChannels * ho * wo];
        for (int b = 0; b < n; b++)
        for (int o = 0; o < outChannels; o++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            double sum = bias is null ? 0.0 : bias[o];
            for (int cl = 0; cl < cig; cl++)
            for (int ka = 0; ka < kernel; ka++)
            for (int kb = 0; kb < kernel; kb++)
            {
                int ih = i * stride + ka - padding;
                int iw = j * stride + kb - padding;
                if (ih < 0 || ih >= height || iw < 0 || iw >= width)
                    continue;
                int c = (o / cog) * cig + cl;
                sum += weight[((o * cig + cl) * kernel + ka) * kernel + kb]
                     * x[((b * inChannels + c) * height + ih) * width + iw];
            }
            y[((b * outChannels + o) * ho + i) * wo + j] = sum;
        }
        return y;
    }

    /// <summary>
    /// Gradients of <see cref="Conv2dForward"/> given dy [n,outChannels,Ho,Wo]: dx [n,inChannels,height,width],
    /// dw [outChannels,inChannels,kernel,kernel], db [outChannels] (db = sum of dy per output channel, whether or not
    /// the forward had a bias).
    /// </summary>
    public static (double[] Dx, double[] Dw, double[] Db) Conv2dBackward(
        double[] x, int n, int inChannels, int height, int width,
        double[] weight, int outChannels, int kernel, int stride, int padding, double[] dy, int groups = 1)
    {
        CheckPositive(n, inChannels, height, width, outChannels, kernel, groups);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"groups {groups} must divide inChannels {inChannels} and outChannels {outChannels}");
        int cig = inChannels / groups, cog = outChannels / groups;
        CheckLength(x, (long)n * inChannels * height * width, nameof(x));
        CheckLength(weight, (long)outChannels * cig * kernel * kernel, nameof(weight));
        int ho = OutputSize(height, kernel, stride, padding);
        int wo = OutputSize(width, kernel, stride, padding);
        CheckLength(dy, (long)n * outChannels * ho * wo, nameof(dy));

        double[] dx = new double[x.Length];
        double[] dw = new double[weight.Length];
        double[] db = new double[outChannels];
        for (int b = 0; b < n; b++)
        for (int o = 0; o < outChannels; o++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            double g = dy[((b * outChannels + o) * ho + i) * wo + j];
            db[o] += g;
            for (int cl = 0; cl < cig; cl++)
            for (int ka = 0; ka < kernel; ka++)
            for (int kb = 0; kb < kernel; kb++)
            {
                int ih = i * stride + ka - padding;
                int iw = j * stride + kb - padding;
                if (ih < 0 || ih >= height || iw < 0 || iw >= width)
                    continue;
                int c = (o / cog) * cig + cl;
                int xi = ((b * inChannels + c) * height + ih) * width + iw;
                int wi = ((o * cig + cl) * kernel + ka) * kernel + kb;
                dx[xi] += weight[wi] * g;
                dw[wi] += x[xi] * g;
            }
        }
        return (dx, dw, db);
    }

    // ----------------------------------------------------------------------------------------------------------
    // Batch normalisation (torch.nn.BatchNorm2d)
    // ----------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Training-mode batch norm: per channel c, over the count = n*height*width values,
    /// mean = sum x / count, biasedVar = sum (x - mean)^2 / count, y = gamma * (x - mean) / sqrt(biasedVar + eps) + beta.
    /// Returns y [n,channels,height,width], BatchMean [channels], BiasedVar [channels]. Like PyTorch, throws when a
    /// channel has a single value (count == 1).
    /// </summary>
    public static (double[] Y, double[] BatchMean, double[] BiasedVar) BatchNorm2dTrainForward(
        double[] x, int n, int channels, int height, int width, double[] gamma, double[] beta, double eps)
    {
        CheckPositive(n, channels, height, width);
        CheckLength(x, (long)n * channels * height * width, nameof(x));
        CheckLength(gamma, channels, nameof(gamma));
        CheckLength(beta, channels, nameof(beta));
        int plane = height * width;
        int count = n * plane;
        if (count < 2)
            throw new ArgumentException("Expected more than 1 value per channel when training");

        double[] mean = new double[channels];
        double[] variance = new double[channels];
        double[] y = new double[x.Length];
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int b = 0; b < n; b++)
            for (int p = 0; p < plane; p++)
                sum += x[(b * channels + c) * plane + p];
            double m = sum / count;

            double squares = 0;
            for (int b = 0; b < n; b++)
            for (int p = 0; p < plane; p++)
            {
                double d = x[(b * channels + c) * plane + p] - m;
                squares += d * d;
            }
            double v = squares / count;

            double invStd = 1.0 / Math.Sqrt(v + eps);
            for (int b = 0; b < n; b++)
            for (int p = 0; p < plane; p++)
            {
                int idx = (b * channels + c) * plane + p;
                y[idx] = gamma[c] * (x[idx] - m) * invStd + beta[c];
            }
            mean[c] = m;
            variance[c] = v;
        }
        return (y, mean, variance);
    }

    /// <summary>
    /// The running-statistics update that follows a training forward, in place:
    /// runningMean = (1 - momentum) * runningMean + momentum * batchMean;
    /// runningVar = (1 - momentum) * runningVar + momentum * biasedVar * count / (count - 1),
    /// where count = n*height*width values per channel (PyTorch stores the unbiased variance).
    /// </summary>
    public static void BatchNorm2dUpdateRunningStats(
        double[] runningMean, double[] runningVar, double[] batchMean, double[] biasedVar, int count, double momentum)
    {
        int channels = runningMean.Length;
        CheckLength(runningVar, channels, nameof(runningVar));
        CheckLength(batchMean, channels, nameof(batchMean));
        CheckLength(biasedVar, channels, nameof(biasedVar));
        if (count < 2)
            throw new ArgumentException("Expected more than 1 value per channel when training", nameof(count));
        for (int c = 0; c < channels; c++)
        {
            double unbiased = biasedVar[c] * count / (count - 1);
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * batchMean[c];
            runningVar[c] = (1 - momentum) * runningVar[c] + momentum * unbiased;
        }
    }

    /// <summary>Eval-mode batch norm: y = gamma * (x - runningMean) / sqrt(runningVar + eps) + beta, per channel.</summary>
    public static double[] BatchNorm2dEvalForward(
        double[] x, int n, int channels, int height, int width,
        double[] gamma, double[] beta, double[] runningMean, double[] runningVar, double eps)
    {
        CheckPositive(n, channels, height, width);
        CheckLength(x, (long)n * channels * height * width, nameof(x));
        CheckLength(gamma, channels, nameof(gamma));
        CheckLength(beta, channels, nameof(beta));
        CheckLength(runningMean, channels, nameof(runningMean));
        CheckLength(runningVar, channels, nameof(runningVar));
        int plane = height * width;
        double[] y = new double[x.Length];
        for (int b = 0; b < n; b++)
        for (int c = 0; c < channels; c++)
        {
            double invStd = 1.0 / Math.Sqrt(runningVar[c] + eps);
            for (int p = 0; p < plane; p++)
            {
                int idx = (b * channels + c) * plane + p;
                y[idx] = gamma[c] * (x[idx] - runningMean[c]) * invStd + beta[c];
            }
        }
        return y;
    }

    /// <summary>
    /// Gradients of <see cref="BatchNorm2dTrainForward"/> through the batch statistics. Per channel, with
    /// count = n*height*width, xhat = (x - mean) / sqrt(biasedVar + eps):
    /// dbeta = sum dy; dgamma = sum dy * xhat;
    /// dx = gamma / sqrt(biasedVar + eps) * (dy - dbeta / count - xhat * dgamma / count).
    /// </summary>
    public static (double[] Dx, double[] Dgamma, double[] Dbeta) BatchNorm2dTrainBackward(
        double[] x, int n, int channels, int height, int width, double[] gamma, double eps, double[] dy)
    {
        CheckPositive(n, channels, height, width);
        CheckLength(x, (long)n * channels * height * width, nameof(x));
        CheckLength(gamma, channels, nameof(gamma));
        CheckLength(dy, x.Length, nameof(dy));
        int plane = height * width;
        int count = n * plane;
        if (count < 2)
            throw new ArgumentException("Expected more than 1 value per channel when training");

        double[] dx = new double[x.Length];
        double[] dgamma = new double[channels];
        double[] dbeta = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int b = 0; b < n; b++)
            for (int p = 0; p < plane; p++)
                sum += x[(b * channels + c) * plane + p];
            double mean = sum / count;
            double squares = 0;
            for (int b = 0; b < n; b++)
            for (int p = 0; p < plane; p++)
            {
                double d = x[(b * channels + c) * plane + p] - mean;
                squares += d * d;
            }
            double invStd = 1.0 / Math.Sqrt(squares / count + eps);

            double sumDy = 0, sumDyXhat = 0;
            for (int b = 0; b < n; b++)
            for (int p = 0; p < plane; p++)
            {
                int idx = (b * channels + c) * plane + p;
                double xhat = (x[idx] - mean) * invStd;
                sumDy += dy[idx];
                sumDyXhat += dy[idx] * xhat;
            }
            for (int b = 0; b < n; b++)
            for (int p = 0; p < plane; p++)
            {
                int idx = (b * channels + c) * plane + p;
                double xhat = (x[idx] - mean) * invStd;
                dx[idx] = gamma[c] * invStd * (dy[idx] - sumDy / count - xhat * sumDyXhat / count);
            }
            dgamma[c] = sumDyXhat;
            dbeta[c] = sumDy;
        }
        return (dx, dgamma, dbeta);
    }

    // ----------------------------------------------------------------------------------------------------------
    // Element-wise activations
    // ----------------------------------------------------------------------------------------------------------

    /// <summary>y = max(x, 0).</summary>
    public static double[] ReluForward(double[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        double[] y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            y[i] = x[i] > 0 ? x[i] : 0.0;
        return y;
    }

    /// <summary>dx = x &gt; 0 ? dy : 0 (the derivative at exactly 0 is 0, as in PyTorch).</summary>
    public static double[] ReluBackward(double[] x, double[] dy)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckLength(dy, x.Length, nameof(dy));
        double[] dx = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            dx[i] = x[i] > 0 ? dy[i] : 0.0;
        return dx;
    }

    /// <summary>y = tanh(x).</summary>
    public static double[] TanhForward(double[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        double[] y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            y[i] = Math.Tanh(x[i]);
        return y;
    }

    /// <summary>dx = dy * (1 - tanh(x)^2).</summary>
    public static double[] TanhBackward(double[] x, double[] dy)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckLength(dy, x.Length, nameof(dy));
        double[] dx = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double t = Math.Tanh(x[i]);
            dx[i] = dy[i] * (1 - t * t);
        }
        return dx;
    }

    /// <summary>y = 1 / (1 + exp(-x)).</summary>
    public static double[] SigmoidForward(double[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        double[] y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            y[i] = Sigmoid(x[i]);
        return y;
    }

    /// <summary>dx = dy * s * (1 - s), s = sigmoid(x).</summary>
    public static double[] SigmoidBackward(double[] x, double[] dy)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckLength(dy, x.Length, nameof(dy));
        double[] dx = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double s = Sigmoid(x[i]);
            dx[i] = dy[i] * s * (1 - s);
        }
        return dx;
    }

    private static double Sigmoid(double v) =>
        v >= 0 ? 1.0 / (1.0 + Math.Exp(-v)) : Math.Exp(v) / (1.0 + Math.Exp(v));

    /// <summary>y = x Phi(x) (exact GELU), Phi from <see cref="Erfc"/> in double.</summary>
    public static double[] GeluForward(double[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return x.Select(v => v * NormalCdf(v)).ToArray();
    }

    /// <summary>dx = dy * (Phi(x) + x phi(x)).</summary>
    public static double[] GeluBackward(double[] x, double[] dy)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckLength(dy, x.Length, nameof(dy));
        return x.Select((v, i) => dy[i] * (NormalCdf(v) + (v * Math.Exp(-0.5 * v * v) / Math.Sqrt(2 * Math.PI)))).ToArray();
    }

    /// <summary>y = x sigmoid(x).</summary>
    public static double[] SiluForward(double[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return x.Select(v => v * Sigmoid(v)).ToArray();
    }

    /// <summary>dx = dy * s (1 + x (1 - s)), s = sigmoid(x).</summary>
    public static double[] SiluBackward(double[] x, double[] dy)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckLength(dy, x.Length, nameof(dy));
        return x.Select((v, i) => dy[i] * Sigmoid(v) * (1 + (v * (1 - Sigmoid(v))))).ToArray();
    }

    /// <summary>The standard normal distribution function, Phi(x) = erfc(-x / sqrt 2) / 2.</summary>
    public static double NormalCdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    /// <summary>
    /// erfc in double, by a method independent of the kernels' polynomial: the Maclaurin series of erf for |z| &lt; 2.5
    /// (alternating terms below 1e-17 of the sum before it stops; cancellation costs at most ~1e-13), Laplace's continued
    /// fraction for larger |z| (100 levels, converged far below double precision there).
    /// </summary>
    public static double Erfc(double z)
    {
        if (z < 0)
        {
            return 2 - Erfc(-z);
        }

        if (z < 2.5)
        {
            double sum = 0, term = z;
            for (int n = 0; n < 200; n++)
            {
                double add = term / ((2 * n) + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum))
                {
                    break;
                }

                term *= -z * z / (n + 1);
            }

            return 1 - (2 / Math.Sqrt(Math.PI) * sum);
        }

        // erfc z = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + 2/(z + ...))))).
        double f = z;
        for (int k = 100; k >= 1; k--)
        {
            f = z + (k / 2.0 / f);
        }

        return Math.Exp(-z * z) / Math.Sqrt(Math.PI) / f;
    }

    // ----------------------------------------------------------------------------------------------------------
    // Pooling
    // ----------------------------------------------------------------------------------------------------------

    private static void CheckPool(int kernel, int stride, int padding)
    {
        if (kernel < 1 || stride < 1 || padding < 0)
            throw new ArgumentException($"bad pool geometry: kernel {kernel}, stride {stride}, padding {padding}");
        if (padding > kernel / 2)
            throw new ArgumentException($"pad should be at most half of kernel size, but got pad={padding} and kernel_size={kernel}");
    }

    /// <summary>
    /// The index within its input plane (ih * width + iw) of each output's maximum, as PyTorch's CPU max_pool2d
    /// computes it: windows clipped to the input (padding behaves as -inf), scanned row-major, replaced only by a
    /// strictly greater value or by NaN; so on ties the first maximum wins. Shape [n,channels,Ho,Wo].
    /// </summary>
    public static int[] MaxPool2dArgmax(
        double[] x, int n, int channels, int height, int width, int kernel, int stride, int padding)
    {
        CheckPositive(n, channels, height, width);
        CheckLength(x, (long)n * channels * height * width, nameof(x));
        CheckPool(kernel, stride, padding);
        int ho = OutputSize(height, kernel, stride, padding);
        int wo = OutputSize(width, kernel, stride, padding);
        int plane = height * width;

        int[] argmax = new int[n * channels * ho * wo];
        for (int nc = 0; nc < n * channels; nc++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            int h0 = Math.Max(i * stride - padding, 0);
            int w0 = Math.Max(j * stride - padding, 0);
            int h1 = Math.Min(i * stride - padding + kernel, height);
            int w1 = Math.Min(j * stride - padding + kernel, width);
            int best = h0 * width + w0;
            double bestValue = double.NegativeInfinity;
            for (int ih = h0; ih < h1; ih++)
            for (int iw = w0; iw < w1; iw++)
            {
                double v = x[nc * plane + ih * width + iw];
                if (v > bestValue || double.IsNaN(v))
                {
                    bestValue = v;
                    best = ih * width + iw;
                }
            }
            argmax[(nc * ho + i) * wo + j] = best;
        }
        return argmax;
    }

    /// <summary>Max pool (torch.nn.MaxPool2d, floor mode, no dilation): y = x at <see cref="MaxPool2dArgmax"/>.</summary>
    public static double[] MaxPool2dForward(
        double[] x, int n, int channels, int height, int width, int kernel, int stride, int padding)
    {
        int[] argmax = MaxPool2dArgmax(x, n, channels, height, width, kernel, stride, padding);
        int ho = OutputSize(height, kernel, stride, padding);
        int wo = OutputSize(width, kernel, stride, padding);
        int plane = height * width;
        double[] y = new double[argmax.Length];
        for (int o = 0; o < y.Length; o++)
        {
            int nc = o / (ho * wo);
            y[o] = x[nc * plane + argmax[o]];
        }
        return y;
    }

    /// <summary>Each dy goes, accumulated, to its window's argmax (first maximum on ties); dx [n,channels,height,width].</summary>
    public static double[] MaxPool2dBackward(
        double[] x, int n, int channels, int height, int width, int kernel, int stride, int padding, double[] dy)
    {
        int[] argmax = MaxPool2dArgmax(x, n, channels, height, width, kernel, stride, padding);
        CheckLength(dy, argmax.Length, nameof(dy));
        int ho = OutputSize(height, kernel, stride, padding);
        int wo = OutputSize(width, kernel, stride, padding);
        int plane = height * width;
        double[] dx = new double[x.Length];
        for (int o = 0; o < dy.Length; o++)
        {
            int nc = o / (ho * wo);
            dx[nc * plane + argmax[o]] += dy[o];
        }
        return dx;
    }

    /// <summary>
    /// Average pool (torch.nn.AvgPool2d, floor mode, count_include_pad = true): y = (sum of the in-range values of the
    /// window) / (kernel * kernel); padded positions count in the divisor as zeros.
    /// </summary>
    public static double[] AvgPool2dForward(
        double[] x, int n, int channels, int height, int width, int kernel, int stride, int padding)
    {
        CheckPositive(n, channels, height, width);
        CheckLength(x, (long)n * channels * height * width, nameof(x));
        CheckPool(kernel, stride, padding);
        int ho = OutputSize(height, kernel, stride, padding);
        int wo = OutputSize(width, kernel, stride, padding);
        int plane = height * width;
        double divisor = kernel * kernel;

        double[] y = new double[n * channels * ho * wo];
        for (int nc = 0; nc < n * channels; nc++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            double sum = 0;
            for (int ka = 0; ka < kernel; ka++)
            for (int kb = 0; kb < kernel; kb++)
            {
                int ih = i * stride - padding + ka;
                int iw = j * stride - padding + kb;
                if (ih < 0 || ih >= height || iw < 0 || iw >= width)
                    continue;
                sum += x[nc * plane + ih * width + iw];
            }
            y[(nc * ho + i) * wo + j] = sum / divisor;
        }
        return y;
    }

    /// <summary>dx[in-range window position] += dy / (kernel * kernel), for every window; dx [n,channels,height,width].</summary>
    public static double[] AvgPool2dBackward(
        int n, int channels, int height, int width, int kernel, int stride, int padding, double[] dy)
    {
        CheckPositive(n, channels, height, width);
        CheckPool(kernel, stride, padding);
        int ho = OutputSize(height, kernel, stride, padding);
        int wo = OutputSize(width, kernel, stride, padding);
        CheckLength(dy, (long)n * channels * ho * wo, nameof(dy));
        int plane = height * width;
        double divisor = kernel * kernel;

        double[] dx = new double[n * channels * plane];
        for (int nc = 0; nc < n * channels; nc++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            double g = dy[(nc * ho + i) * wo + j] / divisor;
            for (int ka = 0; ka < kernel; ka++)
            for (int kb = 0; kb < kernel; kb++)
            {
                int ih = i * stride - padding + ka;
                int iw = j * stride - padding + kb;
                if (ih < 0 || ih >= height || iw < 0 || iw >= width)
                    continue;
                dx[nc * plane + ih * width + iw] += g;
            }
        }
        return dx;
    }

    /// <summary>Global average pool: [n,channels,height,width] -> [n,channels], y = mean over the plane.</summary>
    public static double[] GlobalAvgPoolForward(double[] x, int n, int channels, int height, int width)
    {
        CheckPositive(n, channels, height, width);
        CheckLength(x, (long)n * channels * height * width, nameof(x));
        int plane = height * width;
        double[] y = new double[n * channels];
        for (int nc = 0; nc < n * channels; nc++)
        {
            double sum = 0;
            for (int p = 0; p < plane; p++)
                sum += x[nc * plane + p];
            y[nc] = sum / plane;
        }
        return y;
    }

    /// <summary>dx[n,c,i,j] = dy[n,c] / (height * width).</summary>
    public static double[] GlobalAvgPoolBackward(int n, int channels, int height, int width, double[] dy)
    {
        CheckPositive(n, channels, height, width);
        CheckLength(dy, (long)n * channels, nameof(dy));
        int plane = height * width;
        double[] dx = new double[n * channels * plane];
        for (int nc = 0; nc < n * channels; nc++)
        for (int p = 0; p < plane; p++)
            dx[nc * plane + p] = dy[nc] / plane;
        return dx;
    }

    // ----------------------------------------------------------------------------------------------------------
    // Channel-wise scale (squeeze-and-excitation's x * s)
    // ----------------------------------------------------------------------------------------------------------

    /// <summary>y[n,c,p] = x[n,c,p] * s[n,c], x [n,channels,plane] NCHW, s [n,channels].</summary>
    public static double[] ChannelScaleForward(double[] x, double[] s, int n, int channels, int plane)
    {
        CheckPositive(n, channels, plane, 1);
        CheckLength(x, (long)n * channels * plane, nameof(x));
        CheckLength(s, (long)n * channels, nameof(s));
        double[] y = new double[x.Length];
        for (int nc = 0; nc < n * channels; nc++)
        for (int p = 0; p < plane; p++)
            y[nc * plane + p] = x[nc * plane + p] * s[nc];
        return y;
    }

    /// <summary>dx[n,c,p] = dy[n,c,p] * s[n,c]; ds[n,c] = sum over p of dy[n,c,p] * x[n,c,p].</summary>
    public static (double[] Dx, double[] Ds) ChannelScaleBackward(double[] x, double[] s, int n, int channels, int plane, double[] dy)
    {
        CheckPositive(n, channels, plane, 1);
        CheckLength(dy, (long)n * channels * plane, nameof(dy));
        double[] dx = new double[x.Length];
        double[] ds = new double[n * channels];
        for (int nc = 0; nc < n * channels; nc++)
        for (int p = 0; p < plane; p++)
        {
            dx[nc * plane + p] = dy[nc * plane + p] * s[nc];
            ds[nc] += dy[nc * plane + p] * x[nc * plane + p];
        }
        return (dx, ds);
    }

    // ----------------------------------------------------------------------------------------------------------
    // Zero-pad shortcut (ResNet paper, option A)
    // ----------------------------------------------------------------------------------------------------------

    /// <summary>
    /// y[n, p + c, i, j] = x[n, c, i*stride, j*stride] with p = (outChannels - inChannels) / 2 zero channels before the
    /// copied ones and the rest (outChannels - inChannels - p) after; y [n,outChannels,Ho,Wo], Ho = ceil(height/stride).
    /// </summary>
    public static double[] ZeroPadShortcutForward(
        double[] x, int n, int inChannels, int height, int width, int outChannels, int stride)
    {
        CheckPositive(n, inChannels, height, width, outChannels, stride);
        CheckLength(x, (long)n * inChannels * height * width, nameof(x));
        if (outChannels < inChannels)
            throw new ArgumentException($"outChannels {outChannels} < inChannels {inChannels}");
        int ho = ShortcutOutputSize(height, stride);
        int wo = ShortcutOutputSize(width, stride);
        int before = (outChannels - inChannels) / 2;

        double[] y = new double[n * outChannels * ho * wo];
        for (int b = 0; b < n; b++)
        for (int c = 0; c < inChannels; c++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
            y[((b * outChannels + before + c) * ho + i) * wo + j] = x[((b * inChannels + c) * height + i * stride) * width + j * stride];
        return y;
    }

    /// <summary>dx[n, c, i*stride, j*stride] = dy[n, p + c, i, j]; every other dx is zero.</summary>
    public static double[] ZeroPadShortcutBackward(
        int n, int inChannels, int height, int width, int outChannels, int stride, double[] dy)
    {
        CheckPositive(n, inChannels, height, width, outChannels, stride);
        if (outChannels < inChannels)
            throw new ArgumentException($"outChannels {outChannels} < inChannels {inChannels}");
        int ho = ShortcutOutputSize(height, stride);
        int wo = ShortcutOutputSize(width, stride);
        CheckLength(dy, (long)n * outChannels * ho * wo, nameof(dy));
        int before = (outChannels - inChannels) / 2;

        double[] dx = new double[n * inChannels * height * width];
        for (int b = 0; b < n; b++)
        for (int c = 0; c < inChannels; c++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
            dx[((b * inChannels + c) * height + i * stride) * width + j * stride] = dy[((b * outChannels + before + c) * ho + i) * wo + j];
        return dx;
    }

    // ----------------------------------------------------------------------------------------------------------
    // Linear (torch.nn.Linear: y = x W^T + b)
    // ----------------------------------------------------------------------------------------------------------

    /// <summary>y[b,o] = bias[o] + sum_i x[b,i] * weight[o,i]; x [n,inFeatures], weight [outFeatures,inFeatures], bias [outFeatures] or null.</summary>
    public static double[] LinearForward(double[] x, int n, int inFeatures, double[] weight, int outFeatures, double[]? bias)
    {
        CheckPositive(n, inFeatures, outFeatures);
        CheckLength(x, (long)n * inFeatures, nameof(x));
        CheckLength(weight, (long)outFeatures * inFeatures, nameof(weight));
        if (bias is not null)
            CheckLength(bias, outFeatures, nameof(bias));
        double[] y = new double[n * outFeatures];
        for (int b = 0; b < n; b++)
        for (int o = 0; o < outFeatures; o++)
        {
            double sum = bias is null ? 0.0 : bias[o];
            for (int i = 0; i < inFeatures; i++)
                sum += x[b * inFeatures + i] * weight[o * inFeatures + i];
            y[b * outFeatures + o] = sum;
        }
        return y;
    }

    /// <summary>dx = dy W [n,inFeatures]; dw = dy^T x [outFeatures,inFeatures]; db = sum over the batch of dy [outFeatures].</summary>
    public static (double[] Dx, double[] Dw, double[] Db) LinearBackward(
        double[] x, int n, int inFeatures, double[] weight, int outFeatures, double[] dy)
    {
        CheckPositive(n, inFeatures, outFeatures);
        CheckLength(x, (long)n * inFeatures, nameof(x));
        CheckLength(weight, (long)outFeatures * inFeatures, nameof(weight));
        CheckLength(dy, (long)n * outFeatures, nameof(dy));
        double[] dx = new double[x.Length];
        double[] dw = new double[weight.Length];
        double[] db = new double[outFeatures];
        for (int b = 0; b < n; b++)
        for (int o = 0; o < outFeatures; o++)
        {
            double g = dy[b * outFeatures + o];
            db[o] += g;
            for (int i = 0; i < inFeatures; i++)
            {
                dx[b * inFeatures + i] += g * weight[o * inFeatures + i];
                dw[o * inFeatures + i] += g * x[b * inFeatures + i];
            }
        }
        return (dx, dw, db);
    }

    // ----------------------------------------------------------------------------------------------------------
    // Softmax cross-entropy (torch.nn.functional.cross_entropy, integer targets, reduction = mean)
    // ----------------------------------------------------------------------------------------------------------

    /// <summary>
    /// loss = (1/n) sum_b [log sum_k exp(z[b,k]) - z[b,label_b]], computed stably (max subtracted);
    /// DLogits = d loss / d z = (softmax(z) - onehot(label)) / n, shape [n,classes].
    /// </summary>
    public static (double Loss, double[] DLogits) SoftmaxCrossEntropy(double[] logits, int n, int classes, int[] labels)
    {
        CheckPositive(n, classes);
        CheckLength(logits, (long)n * classes, nameof(logits));
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Length != n)
            throw new ArgumentException($"labels has {labels.Length} elements, expected {n}", nameof(labels));

        double loss = 0;
        double[] dlogits = new double[logits.Length];
        for (int b = 0; b < n; b++)
        {
            int label = labels[b];
            if (label < 0 || label >= classes)
                throw new ArgumentOutOfRangeException(nameof(labels), $"label {label} of sample {b} is outside [0, {classes})");
            double max = double.NegativeInfinity;
            for (int k = 0; k < classes; k++)
                max = Math.Max(max, logits[b * classes + k]);
            double sumExp = 0;
            for (int k = 0; k < classes; k++)
                sumExp += Math.Exp(logits[b * classes + k] - max);
            double logSumExp = max + Math.Log(sumExp);
            loss += logSumExp - logits[b * classes + label];
            for (int k = 0; k < classes; k++)
            {
                double p = Math.Exp(logits[b * classes + k] - logSumExp);
                dlogits[b * classes + k] = (p - (k == label ? 1.0 : 0.0)) / n;
            }
        }
        return (loss / n, dlogits);
    }

    // ----------------------------------------------------------------------------------------------------------
    // Dropout with an explicit keep mask
    // ----------------------------------------------------------------------------------------------------------

    private static double DropoutScale(double rate)
    {
        if (!(rate >= 0 && rate <= 1))
            throw new ArgumentOutOfRangeException(nameof(rate), $"dropout rate {rate} is outside [0, 1]");
        // PyTorch returns zeros for p == 1 rather than 0 * inf.
        return rate == 1 ? 0.0 : 1.0 / (1.0 - rate);
    }

    /// <summary>y = keep ? x / (1 - rate) : 0 (all zeros when rate == 1, as PyTorch).</summary>
    public static double[] DropoutForward(double[] x, bool[] keep, double rate)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(keep);
        if (keep.Length != x.Length)
            throw new ArgumentException($"keep has {keep.Length} elements, expected {x.Length}", nameof(keep));
        double scale = DropoutScale(rate);
        double[] y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            y[i] = keep[i] ? x[i] * scale : 0.0;
        return y;
    }

    /// <summary>dx = keep ? dy / (1 - rate) : 0.</summary>
    public static double[] DropoutBackward(double[] dy, bool[] keep, double rate) => DropoutForward(dy, keep, rate);
}
