using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DslResNet.Kernels.Simd;

/// <summary>
/// The channel-wise scale <c>y = x * s</c> on NHWC maps, split by image: each pixel's C channels are multiplied by the image's
/// C scales, eight at a time. Backward adds <c>dy * s</c> into dx and, per channel, <c>dy * x</c> over the pixels into ds; one
/// thread owns an image, so it adds into that image's row of ds directly.
/// </summary>
internal sealed unsafe class SimdChannelScale : IParallelWork, IChannelScale
{
    private readonly SimdPool _pool;
    private readonly ChannelScaleShape _s;
    private readonly float* _x, _scale, _y, _dy, _dx, _ds;
    private bool _backward;

    /// <summary>Binds the scale.</summary>
    /// <param name="pool">Threads.</param>
    /// <param name="shape">Shape.</param>
    /// <param name="t">The tensors.</param>
    public SimdChannelScale(SimdPool pool, ChannelScaleShape shape, ChannelScaleBinding t)
    {
        _pool = pool;
        _s = shape;
        _x = (float*)HostView.Address(t.X);
        _scale = (float*)HostView.Address(t.S);
        _y = (float*)HostView.Address(t.Y);
        _dy = (float*)HostView.Address(t.Dy);
        _dx = (float*)HostView.Address(t.Dx);
        _ds = (float*)HostView.Address(t.Ds);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(int images)
    {
        _backward = false;
        _pool.Run(this, images, balanced: true);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Backward()
    {
        _backward = true;
        _pool.Run(this, _s.N, balanced: true);
    }

    /// <summary>Nothing to free: the tensors belong to the network.</summary>
    public void Dispose()
    {
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(int start, int end, int thread)
    {
        int c = _s.Channels;
        int vectors = Vector256.IsHardwareAccelerated ? c - (c % 8) : 0;
        for (int n = start; n < end; n++)
        {
            long image = (long)n * c * _s.Spatial;
            float* s = _scale + ((long)n * c);
            for (int p = 0; p < _s.Spatial; p++)
            {
                long at = image + ((long)p * c);
                if (!_backward)
                {
                    float* x = _x + at, y = _y + at;
                    int k = 0;
                    for (; k < vectors; k += 8)
                    {
                        Vector256.Store(Vector256.Load(x + k) * Vector256.Load(s + k), y + k);
                    }

                    for (; k < c; k++)
                    {
                        y[k] = x[k] * s[k];
                    }
                }
                else
                {
                    float* x = _x + at, dy = _dy + at, dx = _dx + at, ds = _ds + ((long)n * c);
                    int k = 0;
                    for (; k < vectors; k += 8)
                    {
                        Vector256<float> g = Vector256.Load(dy + k);
                        Vector256.Store(Vector256.Load(dx + k) + (g * Vector256.Load(s + k)), dx + k);
                        Vector256.Store(Vector256.Load(ds + k) + (g * Vector256.Load(x + k)), ds + k);
                    }

                    for (; k < c; k++)
                    {
                        dx[k] += dy[k] * s[k];
                        ds[k] += dy[k] * x[k];
                    }
                }
            }
        }
    }
}
