using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace DslResNet.Kernels.Simd;

/// <summary>
/// Pooling on NHWC tensors (max, average with padding counted, global average). The forward passes are vectorised over
/// the channels (contiguous in NHWC), windowed ones split by output row so that one image keeps every thread busy; the
/// backward passes are split by image. Per channel, every value is computed in the same order as a scalar loop would,
/// so the results do not depend on the vector width.
/// </summary>
internal sealed unsafe class SimdPooling : IParallelWork, IPooling, IRelocatable
{
    private readonly SimdPool _pool;
    private readonly PoolShape _s;
    private readonly float* _dy, _dx;
    private float* _x, _y; // the bound tensors, or for one call those given to ForwardAt
    private bool _backward;

    /// <summary>Binds the pooling.</summary>
    /// <param name="pool">Threads.</param>
    /// <param name="shape">Shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Output gradient.</param>
    /// <param name="dx">Input gradient (accumulated into).</param>
    public SimdPooling(SimdPool pool, PoolShape shape, IntPtr x, IntPtr y, IntPtr dy, IntPtr dx)
    {
        _pool = pool;
        _s = shape;
        _x = (float*)x;
        _y = (float*)y;
        _dy = (float*)dy;
        _dx = (float*)dx;
    }

    /// <summary>Forward for the first <paramref name="images"/> images.</summary>
    /// <param name="images">Images.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(int images)
    {
        _backward = false;
        _pool.Run(this, _s.Kind == PoolKind.GlobalAverage ? images : images * _s.OutHeight, balanced: true);
    }

    /// <inheritdoc />
    public void ForwardAt(IntPtr x, IntPtr y, IntPtr residual, int images, bool weightsChanged)
    {
        float* boundX = _x, boundY = _y;
        _x = (float*)x;
        _y = (float*)y;
        try
        {
            Forward(images);
        }
        finally
        {
            _x = boundX;
            _y = boundY;
        }
    }

    /// <summary>Backward (accumulates).</summary>
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
        if (!_backward && _s.Kind != PoolKind.GlobalAverage)
        {
            ForwardRows(start, end);
            return;
        }

        int c = _s.Channels;
        int inPixels = _s.Height * _s.Width;
        int outPixels = _s.OutHeight * _s.OutWidth;
        for (int n = start; n < end; n++)
        {
            if (_s.Kind == PoolKind.Max)
            {
                MaxBackward(n);
                continue;
            }

            float* x = _x + ((long)n * inPixels * c);
            float* y = _y + ((long)n * outPixels * c);
            if (_s.Kind == PoolKind.GlobalAverage)
            {
                float scale = 1f / inPixels;
                if (!_backward)
                {
                    GlobalAverage(x, y, c, inPixels, scale);
                }
                else
                {
                    float* dy = _dy + ((long)n * c);
                    float* dx = _dx + ((long)n * inPixels * c);
                    for (int p = 0; p < inPixels; p++)
                    {
                        for (int k = 0; k < c; k++)
                        {
                            dx[((long)p * c) + k] += dy[k] * scale;
                        }
                    }
                }

                continue;
            }

            for (int oy = 0; oy < _s.OutHeight; oy++)
            {
                for (int ox = 0; ox < _s.OutWidth; ox++)
                {
                    long o = (((long)oy * _s.OutWidth) + ox) * c;
                    for (int k = 0; k < c; k++)
                    {
                        Window(n, oy, ox, k, o + k);
                    }
                }
            }
        }
    }

    // Each channel's sum runs over the pixels in order, as the scalar loop did; the vector covers neighbouring channels.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GlobalAverage(float* x, float* y, int c, int pixels, float scale)
    {
        int width = Vector<float>.Count;
        int k = 0;
        for (; k + width <= c; k += width)
        {
            Vector<float> sum = Vector<float>.Zero;
            for (int p = 0; p < pixels; p++)
            {
                sum += Vector.Load(x + ((long)p * c) + k);
            }

            (sum * scale).Store(y + k);
        }

        for (; k < c; k++)
        {
            float sum = 0f;
            for (int p = 0; p < pixels; p++)
            {
                sum += x[((long)p * c) + k];
            }

            y[k] = sum * scale;
        }
    }

    // Windowed pooling forward for output rows [start, end) of the batch (unit = image x output row).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardRows(int start, int end)
    {
        int c = _s.Channels;
        int width = Vector<float>.Count;
        bool max = _s.Kind == PoolKind.Max;
        float area = _s.Kernel * _s.Kernel;
        for (int unit = start; unit < end; unit++)
        {
            int n = unit / _s.OutHeight;
            int oy = unit % _s.OutHeight;
            float* image = _x + ((long)n * _s.Height * _s.Width * c);
            float* yRow = _y + ((((long)n * _s.OutHeight) + oy) * _s.OutWidth * c);
            int y0 = Math.Max(0, (oy * _s.Stride) - _s.Padding);
            int y1 = Math.Min(_s.Height, (oy * _s.Stride) - _s.Padding + _s.Kernel);
            for (int ox = 0; ox < _s.OutWidth; ox++)
            {
                int x0 = Math.Max(0, (ox * _s.Stride) - _s.Padding);
                int x1 = Math.Min(_s.Width, (ox * _s.Stride) - _s.Padding + _s.Kernel);
                float* y = yRow + ((long)ox * c);
                if (y0 >= y1 || x0 >= x1)
                {
                    // A window wholly in the padding (as the scalar loop: 0 for max and for the average).
                    new Span<float>(y, c).Clear();
                    continue;
                }

                int k = 0;
                for (; max && k + width <= c; k += width)
                {
                    // The hardware's maximum, v > acc ? v : acc (the first of equal values stays, as in the rule below),
                    // with the window's sum beside it: a NaN in the window (or infinities of both signs) leaves the sum
                    // NaN, and then the rule below runs for these channels. Three operations a value instead of seven:
                    // `profile resnet50-224 infer 2 48 ab`, twice, the pooling 0.90 and 0.80 of its time (ResNet-50's
                    // 64x112x112 max pool at batch 8, about 2 ms a call).
                    Vector<float> acc = Vector.Load(image + ((((long)y0 * _s.Width) + x0) * c) + k);
                    Vector<float> sum = Vector<float>.Zero;
                    for (int iy = y0; iy < y1; iy++)
                    {
                        float* row = image + ((long)iy * _s.Width * c) + k;
                        for (int ix = x0; ix < x1; ix++)
                        {
                            Vector<float> v = Vector.Load(row + ((long)ix * c));
                            acc = Vector.MaxNative(v, acc);
                            sum += v;
                        }
                    }

                    if (!Vector.EqualsAll(sum, sum))
                    {
                        break;
                    }

                    acc.Store(y + k);
                }

                for (; k + width <= c; k += width)
                {
                    // Row-major over the window, as the scalar rule: a NaN wins over numbers and stays.
                    Vector<float> acc = max ? Vector.Load(image + ((((long)y0 * _s.Width) + x0) * c) + k) : Vector<float>.Zero;
                    for (int iy = y0; iy < y1; iy++)
                    {
                        float* row = image + ((long)iy * _s.Width * c) + k;
                        for (int ix = x0; ix < x1; ix++)
                        {
                            Vector<float> v = Vector.Load(row + ((long)ix * c));
                            if (max)
                            {
                                Vector<int> take = Vector.GreaterThan(v, acc) | (~Vector.Equals(v, v) & Vector.Equals(acc, acc));
                                acc = Vector.ConditionalSelect(take, v, acc);
                            }
                            else
                            {
                                acc += v;
                            }
                        }
                    }

                    (max ? acc : acc / area).Store(y + k);
                }

                for (; k < c; k++)
                {
                    float acc = max ? image[((((long)y0 * _s.Width) + x0) * c) + k] : 0f;
                    for (int iy = y0; iy < y1; iy++)
                    {
                        for (int ix = x0; ix < x1; ix++)
                        {
                            float v = image[((((long)iy * _s.Width) + ix) * c) + k];
                            if (!max)
                            {
                                acc += v;
                            }
                            else if (v > acc || (float.IsNaN(v) && !float.IsNaN(acc)))
                            {
                                acc = v;
                            }
                        }
                    }

                    y[k] = max ? acc : acc / area;
                }
            }
        }
    }

    // Max pooling's backward for image n: each output's gradient goes to its window's winner, the first maximum in
    // row-major order (the first NaN where there is one), as Window takes it. Vectorised over channels: the window's
    // maximum as the forward takes it, then the first position that holds it; Window for the tail. (One channel at a time,
    // reloading the shape for every value, this was 17 ms a call of ResNet-50's 64x112x112 pool at batch 8.) Units are
    // images, so the overlapping windows' additions into the image's gradient stay on one thread.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MaxBackward(int n)
    {
        int c = _s.Channels, height = _s.Height, width = _s.Width, kernel = _s.Kernel, stride = _s.Stride, padding = _s.Padding;
        int outHeight = _s.OutHeight, outWidth = _s.OutWidth;
        int lanes = Vector<float>.Count;
        float* x = _x + ((long)n * height * width * c);
        float* dx = _dx + ((long)n * height * width * c);
        float* dy = _dy + ((long)n * outHeight * outWidth * c);
        for (int oy = 0; oy < outHeight; oy++)
        {
            int y0 = Math.Max(0, (oy * stride) - padding);
            int y1 = Math.Min(height, (oy * stride) - padding + kernel);
            for (int ox = 0; ox < outWidth; ox++)
            {
                int x0 = Math.Max(0, (ox * stride) - padding);
                int x1 = Math.Min(width, (ox * stride) - padding + kernel);
                if (y0 >= y1 || x0 >= x1)
                {
                    continue; // a window wholly in the padding has no input to send its gradient to
                }

                float* g = dy + ((((long)oy * outWidth) + ox) * c);
                int k = 0;
                for (; k + lanes <= c; k += lanes)
                {
                    Vector<float> best = Vector.Load(x + ((((long)y0 * width) + x0) * c) + k);
                    for (int iy = y0; iy < y1; iy++)
                    {
                        for (int ix = x0; ix < x1; ix++)
                        {
                            Vector<float> v = Vector.Load(x + ((((long)iy * width) + ix) * c) + k);
                            Vector<int> take = Vector.GreaterThan(v, best) | (~Vector.Equals(v, v) & Vector.Equals(best, best));
                            best = Vector.ConditionalSelect(take, v, best);
                        }
                    }

                    Vector<float> gradient = Vector.Load(g + k);
                    Vector<int> nan = ~Vector.Equals(best, best);
                    Vector<int> done = Vector<int>.Zero;
                    for (int iy = y0; iy < y1; iy++)
                    {
                        for (int ix = x0; ix < x1; ix++)
                        {
                            long at = ((((long)iy * width) + ix) * c) + k;
                            Vector<float> v = Vector.Load(x + at);
                            Vector<int> hit = (Vector.Equals(v, best) | (nan & ~Vector.Equals(v, v))) & ~done;
                            Vector<float> d = Vector.Load(dx + at);
                            Vector.ConditionalSelect(hit, d + gradient, d).Store(dx + at);
                            done |= hit;
                        }
                    }
                }

                for (; k < c; k++)
                {
                    Window(n, oy, ox, k, ((((long)oy * outWidth) + ox) * c) + k);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Window(int n, int oy, int ox, int k, long o)
    {
        int c = _s.Channels;
        long imageIn = (long)n * _s.Height * _s.Width * c;
        long imageOut = (long)n * _s.OutHeight * _s.OutWidth * c;
        float best = 0f;
        long winner = -1;
        float sum = 0f;
        for (int ky = 0; ky < _s.Kernel; ky++)
        {
            int iy = (oy * _s.Stride) - _s.Padding + ky;
            if (iy < 0 || iy >= _s.Height)
            {
                continue;
            }

            for (int kx = 0; kx < _s.Kernel; kx++)
            {
                int ix = (ox * _s.Stride) - _s.Padding + kx;
                if (ix < 0 || ix >= _s.Width)
                {
                    continue;
                }

                long i = imageIn + ((((long)iy * _s.Width) + ix) * c) + k;
                float v = _x[i];
                if (_s.Kind == PoolKind.Max)
                {
                    // The first maximum in row-major order wins, as in the reference kernels.
                    if (winner < 0 || v > best || (float.IsNaN(v) && !float.IsNaN(best)))
                    {
                        best = v;
                        winner = i;
                    }
                }
                else if (_backward)
                {
                    _dx[i] += _dy[imageOut + o] / (_s.Kernel * _s.Kernel);
                }
                else
                {
                    sum += v;
                }
            }
        }

        if (_s.Kind == PoolKind.Max)
        {
            if (_backward)
            {
                _dx[winner] += _dy[imageOut + o];
            }
            else
            {
                _y[imageOut + o] = best;
            }
        }
        else if (!_backward)
        {
            _y[imageOut + o] = sum / (_s.Kernel * _s.Kernel);
        }
    }
}

/// <summary>The option-A shortcut (stride, then zero channels on both sides) on NHWC tensors.</summary>
internal sealed unsafe class SimdShortcut : IParallelWork, IShortcut
{
    private readonly SimdPool _pool;
    private readonly ShortcutShape _s;
    private readonly float* _x, _y, _dy, _dx;
    private bool _backward;

    /// <summary>Binds the shortcut.</summary>
    /// <param name="pool">Threads.</param>
    /// <param name="shape">Shape.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Output gradient.</param>
    /// <param name="dx">Input gradient (accumulated into).</param>
    public SimdShortcut(SimdPool pool, ShortcutShape shape, IntPtr x, IntPtr y, IntPtr dy, IntPtr dx)
    {
        _pool = pool;
        _s = shape;
        _x = (float*)x;
        _y = (float*)y;
        _dy = (float*)dy;
        _dx = (float*)dx;
    }

    /// <summary>Forward for the first <paramref name="images"/> images.</summary>
    /// <param name="images">Images.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(int images)
    {
        _backward = false;
        _pool.Run(this, images, balanced: true);
    }

    /// <summary>Backward (accumulates).</summary>
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
        int ci = _s.InChannels;
        int co = _s.OutChannels;
        int pad = _s.PadBefore;
        for (int n = start; n < end; n++)
        {
            for (int oy = 0; oy < _s.OutHeight; oy++)
            {
                for (int ox = 0; ox < _s.OutWidth; ox++)
                {
                    float* x = _x + ((((((long)n * _s.Height) + (oy * _s.Stride)) * _s.Width) + (ox * _s.Stride)) * ci);
                    float* y = _y + ((((((long)n * _s.OutHeight) + oy) * _s.OutWidth) + ox) * co);
                    if (!_backward)
                    {
                        new Span<float>(y, co).Clear();
                        new ReadOnlySpan<float>(x, ci).CopyTo(new Span<float>(y + pad, ci));
                    }
                    else
                    {
                        float* dx = _dx + (x - _x);
                        float* dy = _dy + (y - _y) + pad;
                        for (int k = 0; k < ci; k++)
                        {
                            dx[k] += dy[k];
                        }
                    }
                }
            }
        }
    }
}

/// <summary>Copies, flatten and dropout on NHWC tensors: flatten orders a map's values as PyTorch does (channel-major), and
/// dropout draws each value's mask from its channel-major index, so masks match the reference kernels.</summary>
internal sealed unsafe class SimdCopy : IParallelWork, ICopy, IDropout
{
    private readonly SimdPool _pool;
    private readonly int _channels;
    private readonly int _spatial;
    private readonly int _perImage;
    private readonly int _batch;
    private readonly bool _flatten;
    private readonly float _rate;
    private readonly int _seed;
    private readonly float* _x, _y, _dy, _dx;
    private bool _backward;
    private bool _dropout;
    private int _step;

    /// <summary>Binds the copy.</summary>
    /// <param name="pool">Threads.</param>
    /// <param name="batch">Images the tensors hold.</param>
    /// <param name="channels">Channels of the input map.</param>
    /// <param name="spatial">Pixels of the input map.</param>
    /// <param name="flatten">Whether the output is flat (channel-major order).</param>
    /// <param name="rate">Dropout rate (0 for a copy).</param>
    /// <param name="seed">Dropout seed.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output.</param>
    /// <param name="dy">Output gradient.</param>
    /// <param name="dx">Input gradient (accumulated into).</param>
    public SimdCopy(SimdPool pool, int batch, int channels, int spatial, bool flatten, float rate, int seed, IntPtr x, IntPtr y, IntPtr dy, IntPtr dx)
    {
        _pool = pool;
        _batch = batch;
        _channels = channels;
        _spatial = spatial;
        _perImage = channels * spatial;
        _flatten = flatten && channels > 1 && spatial > 1;
        _rate = rate;
        _seed = seed;
        _x = (float*)x;
        _y = (float*)y;
        _dy = (float*)dy;
        _dx = (float*)dx;
    }

    /// <summary>Forward for the first <paramref name="images"/> images.</summary>
    /// <param name="images">Images.</param>
    /// <param name="dropout">Whether to drop (training) or copy.</param>
    /// <param name="step">The dropout counter.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(int images, bool dropout, long step)
    {
        (_backward, _dropout, _step) = (false, dropout, unchecked((int)step));
        _pool.Run(this, Math.Min(images, _batch), balanced: true);
    }

    /// <summary>Backward (accumulates).</summary>
    /// <param name="dropout">Whether the forward dropped.</param>
    /// <param name="step">The forward's counter.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Backward(bool dropout, long step)
    {
        (_backward, _dropout, _step) = (true, dropout, unchecked((int)step));
        _pool.Run(this, _batch, balanced: true);
    }

    /// <inheritdoc />
    void ICopy.Forward(int images) => Forward(images, false, 0);

    /// <inheritdoc />
    void ICopy.Backward() => Backward(false, 0);

    /// <inheritdoc />
    void IDropout.Forward(long step) => Forward(int.MaxValue, true, step);

    /// <inheritdoc />
    void IDropout.Backward(long step) => Backward(true, step);

    /// <summary>Nothing to free: the tensors belong to the network.</summary>
    public void Dispose()
    {
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(int start, int end, int thread)
    {
        float scale = 1f / (1f - _rate);
        for (int n = start; n < end; n++)
        {
            long image = (long)n * _perImage;
            for (int p = 0; p < _spatial; p++)
            {
                for (int c = 0; c < _channels; c++)
                {
                    long nhwc = image + ((long)p * _channels) + c;
                    long nchw = image + ((long)c * _spatial) + p;
                    float factor = 1f;
                    if (_dropout)
                    {
                        factor = DropoutMask.Uniform(_seed, _step, (int)nchw) >= _rate ? scale : 0f;
                    }

                    long o = _flatten ? nchw : nhwc;
                    if (_backward)
                    {
                        _dx[nhwc] += _dy[o] * factor;
                    }
                    else
                    {
                        _y[o] = _x[nhwc] * factor;
                    }
                }
            }
        }
    }
}
