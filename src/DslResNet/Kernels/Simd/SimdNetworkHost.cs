using System;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace DslResNet.Kernels.Simd;

/// <summary>
/// The SIMD backend's <see cref="INetworkHost"/>: the buffers are host memory, addressed once; images are kept channels-last;
/// the loss is computed in place; a large gradient buffer is cleared by every thread; calls return when done.
/// </summary>
internal sealed unsafe class SimdNetworkHost : INetworkHost
{
    private readonly SimdPool _pool;
    private readonly HostBinding _b;
    private readonly float* _input;
    private readonly int* _labels;
    private readonly float* _loss;
    private readonly float* _correct;
    private readonly ClearWork _clear;
    private readonly ChannelsLastWork _layout = new();

    /// <summary>Addresses the network's buffers.</summary>
    /// <param name="pool">The device's threads.</param>
    /// <param name="binding">The buffers.</param>
    public SimdNetworkHost(SimdPool pool, HostBinding binding)
    {
        (_pool, _b) = (pool, binding);
        _input = (float*)HostView.Address(binding.Input);
        _labels = (int*)binding.Labels.LoadEffectiveAddressAsPtr();
        _loss = (float*)HostView.Address(binding.Loss);
        _correct = (float*)HostView.Address(binding.Correct);
        _clear = new ClearWork();
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void LoadImages(ReadOnlySpan<float> images, int count)
    {
        // Copied in place, channels-last, nothing allocated: runs of pixels shared out to the pool's threads, each pixel's
        // channels gathered from the planes and stored side by side (channel by channel, plane after plane, the stores
        // went 12 bytes apart; a batch of 8 ImageNet images took 6 ms on the calling thread, 2% of a ResNet-50 inference).
        var input = new Span<float>(_input, images.Length);
        int channels = _b.Channels, pixels = _b.Pixels;
        if (channels > 1 && pixels > 1)
        {
            fixed (float* source = images)
            {
                _layout.Source = source;
                _layout.Target = _input;
                _layout.Channels = channels;
                _layout.Pixels = pixels;
                _layout.Images = count;
                _layout.Parts = (int)Math.Clamp((long)count * pixels * channels / 16384, 1, _pool.Threads * 8);
                _pool.Run(_layout, _layout.Parts, balanced: true);
                _layout.Source = null;
            }
        }
        else
        {
            images.CopyTo(input);
        }
    }

    /// <inheritdoc />
    public void LoadLabels(ReadOnlySpan<int> labels) => labels.CopyTo(new Span<int>(_labels, labels.Length));

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void SoftmaxCrossEntropy(ArrayView<float> logitsView, int count, ArrayView<float> gradientView)
    {
        // The ILGPU kernel's arithmetic on host memory: loss, whether the top class is right, and the gradient.
        int k = _b.Classes, batch = _b.BatchSize;
        var logits = new Span<float>((void*)HostView.Address(logitsView), batch * k);
        var dz = new Span<float>((void*)HostView.Address(gradientView), batch * k);
        var labels = new Span<int>(_labels, batch);
        var loss = new Span<float>(_loss, batch);
        var correct = new Span<float>(_correct, batch);
        float scale = 1f / count;
        for (int n = 0; n < batch; n++)
        {
            Span<float> z = logits.Slice(n * k, k);
            Span<float> g = dz.Slice(n * k, k);
            if (n >= count)
            {
                g.Clear();
                continue;
            }

            float max = z[0];
            int best = 0;
            for (int j = 1; j < k; j++)
            {
                if (z[j] > max || (float.IsNaN(z[j]) && !float.IsNaN(max)))
                {
                    max = z[j];
                    best = j;
                }
            }

            float sum = 0f;
            for (int j = 0; j < k; j++)
            {
                sum += MathF.Exp(z[j] - max);
            }

            int label = labels[n];
            loss[n] = MathF.Log(sum) - (z[label] - max);
            correct[n] = best == label ? 1f : 0f;
            for (int j = 0; j < k; j++)
            {
                g[j] = ((MathF.Exp(z[j] - max) / sum) - (j == label ? 1f : 0f)) * scale;
            }
        }
    }

    /// <inheritdoc />
    public (double Sum, int Hits) ReadLoss(int count)
    {
        double total = 0;
        int hits = 0;
        for (int i = 0; i < count; i++)
        {
            total += _loss[i];
            hits += _correct[i] > 0.5f ? 1 : 0;
        }

        return (total, hits);
    }

    /// <inheritdoc />
    public void Read(ArrayView<float> source, Span<float> target) =>
        new ReadOnlySpan<float>((void*)HostView.Address(source), target.Length).CopyTo(target);

    /// <inheritdoc />
    public void ReadImages(ArrayView<float> source, Span<float> target)
    {
        var stored = new ReadOnlySpan<float>((void*)HostView.Address(source), target.Length);
        int channels = _b.Channels, pixels = _b.Pixels, elements = channels * pixels;
        if (channels == 1 || pixels == 1)
        {
            stored.CopyTo(target);
            return;
        }

        // Kept channels-last; callers get PyTorch's order.
        for (int n = 0; n < target.Length / elements; n++)
        {
            for (int p = 0; p < pixels; p++)
            {
                for (int c = 0; c < channels; c++)
                {
                    target[(n * elements) + (c * pixels) + p] = stored[(n * elements) + (p * channels) + c];
                }
            }
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ClearGradient(ArrayView<float> gradient)
    {
        // Slices of at least 32 K floats (128 KiB), so that a small buffer is not spread over threads that would each
        // clear a few cache lines.
        _clear.Start = HostView.Address(gradient);
        _clear.Floats = gradient.Length;
        _clear.Parts = (int)Math.Clamp(gradient.Length / 32768, 1, _pool.Threads * 16);
        _pool.Run(_clear, _clear.Parts, balanced: true);
    }

    /// <inheritdoc />
    public void Synchronize()
    {
        // The SIMD backend's calls return when done.
    }

    // Images NCHW into NHWC: parts of the batch's pixels (image by image within a part).
    private sealed class ChannelsLastWork : IParallelWork
    {
        public float* Source { get; set; }

        public float* Target { get; set; }

        public int Channels { get; set; }

        public int Pixels { get; set; }

        public int Images { get; set; }

        public int Parts { get; set; } = 1;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end, int thread)
        {
            int channels = Channels, pixels = Pixels;
            long total = (long)Images * pixels;
            for (int u = first; u < end; u++)
            {
                long from = total * u / Parts;
                long to = total * (u + 1) / Parts;
                while (from < to)
                {
                    long n = from / pixels;
                    int p0 = (int)(from - (n * pixels));
                    int p1 = (int)Math.Min(pixels, to - (n * pixels));
                    float* image = Source + (n * pixels * channels);
                    float* target = Target + (n * pixels * channels);
                    if (channels == 3)
                    {
                        float* r = image, g = image + pixels, b = image + (2 * pixels);
                        for (int p = p0; p < p1; p++)
                        {
                            float* t = target + (3 * p);
                            t[0] = r[p];
                            t[1] = g[p];
                            t[2] = b[p];
                        }
                    }
                    else
                    {
                        for (int p = p0; p < p1; p++)
                        {
                            float* t = target + ((long)p * channels);
                            for (int c = 0; c < channels; c++)
                            {
                                t[c] = image[((long)c * pixels) + p];
                            }
                        }
                    }

                    from = (n * pixels) + p1;
                }
            }
        }

        public override string ToString() => "images into channels-last order";
    }

    private sealed class ClearWork : IParallelWork
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end, int thread)
        {
            long total = Floats;
            for (int u = first; u < end; u++)
            {
                long from = total * u / Parts;
                long to = total * (u + 1) / Parts;
                new Span<float>((float*)Start + from, checked((int)(to - from))).Clear();
            }
        }

        public IntPtr Start { get; set; }

        public long Floats { get; set; }

        public int Parts { get; set; } = 1;

        public override string ToString() => "clear gradient buffers";
    }
}
