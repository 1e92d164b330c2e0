using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DslResNet.Kernels.Simd;

/// <summary>Raw pointers to the tensors of a fused pass <c>y = act2(act1(bn(x)) + r)</c> (null where absent), all NHWC.</summary>
/// <param name="X">Input.</param>
/// <param name="Bn">Batch norm's scale, shift, running mean, running variance (4 x channels).</param>
/// <param name="R">Residual.</param>
/// <param name="Y">Output (may equal X).</param>
/// <param name="Dy">Output gradient.</param>
/// <param name="Dx">Input gradient (accumulated into).</param>
/// <param name="Dr">Residual gradient (accumulated into).</param>
/// <param name="Dbn">Gradients of batch norm's scale and shift (overwritten).</param>
public readonly record struct EpilogueTensors(IntPtr X, IntPtr Bn, IntPtr R, IntPtr Y, IntPtr Dy, IntPtr Dx, IntPtr Dr, IntPtr Dbn);

/// <summary>The fused pass on the SIMD backend: batch statistics (or those a convolution added up), normalisation, residual add
/// and activations in one sweep, and the backward as one reduction and one sweep.</summary>
public abstract class SimdEpilogue : IDisposable, IEpilogue
{
    /// <summary>Builds the pass.</summary>
    /// <param name="pool">Threads.</param>
    /// <param name="width">Vector width.</param>
    /// <param name="shape">Shape (N is the batch the tensors hold).</param>
    /// <param name="tensors">Tensors.</param>
    /// <returns>The pass.</returns>
    public static SimdEpilogue Create(SimdPool pool, SimdWidth width, EpilogueShape shape, EpilogueTensors tensors) => width switch
    {
        SimdWidth.Vector512 => new SimdEpilogue<Simd512, System.Runtime.Intrinsics.Vector512<float>>(pool, shape, tensors),
        SimdWidth.Vector256 => new SimdEpilogue<Simd256, V256>(pool, shape, tensors),
        _ => new SimdEpilogue<SimdScalar, VScalar>(pool, shape, tensors),
    };

    /// <summary>The statistics sink a preceding convolution fills (training-mode batch norm only).</summary>
    public abstract StatisticsSink? Sink { get; }

    /// <summary>Forward for the first <paramref name="images"/> images.</summary>
    /// <param name="images">Images.</param>
    public abstract void Forward(int images);

    /// <summary>Backward (training).</summary>
    public abstract void Backward();

    /// <summary>The output again, as the last training forward wrote it (see <see cref="IEpilogue.Reapply"/>).</summary>
    public abstract void Reapply();

    /// <inheritdoc />
    public bool RunningStatistics { get; set; }

    /// <summary>The ranks whose batch statistics are combined (synchronised batch norm), or null.</summary>
    internal ICommunicator? Synchronized { get; set; }

    ICommunicator? IEpilogue.Synchronized
    {
        get => Synchronized;
        set => Synchronized = value;
    }

    /// <inheritdoc />
    public abstract void Dispose();
}

/// <summary>The fused pass at one vector width.</summary>
/// <typeparam name="TS">The vector operations.</typeparam>
/// <typeparam name="TV">The vector type.</typeparam>
internal sealed unsafe class SimdEpilogue<TS, TV> : SimdEpilogue, IParallelWork, IGradientOverwriter
    where TS : struct, ISimd<TV>
    where TV : struct
{
    private const int PhaseStatistics = 0;
    private const int PhaseApply = 1;
    private const int PhaseReduce = 2;
    private const int PhaseBackward = 3;
    private const int Chunk = 256;

    // Pixels per unit of the passes that add up per-channel sums (statistics, reduce): each unit's sums are kept apart and
    // added in unit order, so that threads can take units as they finish and the sums still do not depend on who ran what.
    private const int SumUnit = 4 * Chunk;

    // The element-wise passes (apply, reduce, backward) take the channels in blocks of at most this many and each block a
    // pixel at a time, its channels in order: every tensor is read and written as runs of whole pixels (1 KB of a block),
    // not as one 64-byte line a pixel for one channel vector at a time across the whole range of pixels, the range once
    // for each vector (`profile resnet50-224 train 2 16 ab`: the apply passes 0.44-0.69 of their time, 37.9 -> 24.2 ms a
    // step, with the whole channel range a pixel; blocks keep a block's scale, shift and sums in L1 at 2048 channels).
    private const int BlockChannels = 256;

    private readonly SimdPool _pool;
    private readonly EpilogueShape _s;
    private readonly int _c;
    private readonly int _cp;
    private readonly bool _vector;
    private readonly float* _x, _bn, _r, _y, _dy, _dx, _dr, _dbn;
    private readonly float* _scale, _shift, _mean, _inv, _meanG, _meanGx;
    private readonly float* _local;      // per thread: 4 x CP floats
    private readonly double* _reduce;    // per unit of SumUnit pixels: 2 x CP doubles
    private readonly ushort* _positive;  // a ReLU output's lanes above zero, 16 bits a vector (see PositiveBits), or null
    private bool _disposed;
    private readonly StatisticsSink? _sink;
    private int _sinkPixels;             // pixels of the statistics pass
    private double[]? _syncBuffer;
    private double[]? _synced;
    private double _syncedCount;
    private int _phase;
    private bool _overwriteDx;           // the backward stores dx instead of adding into it (see IGradientOverwriter)
    private bool _overwriteDr;           // and dr

    public SimdEpilogue(SimdPool pool, EpilogueShape shape, EpilogueTensors t)
    {
        _pool = pool;
        _s = shape;
        _c = shape.Channels;
        _cp = (shape.Channels + 15) & ~15;
        _x = (float*)t.X;
        _bn = (float*)t.Bn;
        _r = (float*)t.R;
        _y = (float*)t.Y;
        _dy = (float*)t.Dy;
        _dx = (float*)t.Dx;
        _dr = (float*)t.Dr;
        _dbn = (float*)t.Dbn;
        _vector = (_c & 15) == 0 && shape.Act1 is Activation.None or Activation.ReLU && shape.Act2 is Activation.None or Activation.ReLU;
        _scale = Alloc(_cp);
        _shift = Alloc(_cp);
        _mean = Alloc(_cp);
        _inv = Alloc(_cp);
        _meanG = Alloc(_cp);
        _meanGx = Alloc(_cp);
        _local = Alloc(pool.Threads * 4 * _cp);
        _reduce = NativeBlocks.Allocate<double>((long)SumUnits * 2 * _cp);
        // Where the output ends in a ReLU and a backward will run, the forward keeps which of its lanes are above zero, 2
        // bytes a vector, and the backward's two passes read those bits rather than the output (64 bytes): the backward of
        // a residual block's last pass reads three tensors instead of four and writes two, its reduce reads two instead of
        // three. `profile resnet50-224 train 2 12 ab`, the passes not reading the output at all (an upper bound): those
        // reduces and backwards 0.70-0.89 of their time, ResNet-20's 0.55-0.84.
        if (_vector && shape.Act2 == Activation.ReLU && _dy is not null)
        {
            _positive = NativeBlocks.Allocate<ushort>((long)shape.N * shape.Spatial * (_c / 16));
        }

        _sink = shape.Norm && shape.Training ? new StatisticsSink(_c, Math.Max(Math.Max(8 * pool.Threads, SumUnits), pool.Threads * pool.Threads)) : null;
    }

    // The backward writes every element of dx and dr (a sweep over all pixels and channels).
    public bool OverwriteGradient(GradientTarget target)
    {
        switch (target)
        {
            case GradientTarget.Input when _dx is not null:
                _overwriteDx = true;
                return true;
            case GradientTarget.Residual when _s.Add && _dr is not null:
                _overwriteDr = true;
                return true;
            default:
                return false;
        }
    }

    // Units of the summing passes over the whole batch.
    private int SumUnits => (int)(((long)_s.N * _s.Spatial + SumUnit - 1) / SumUnit);

    // Runs of channels each unit of pixels of the reduce is split into, so that every thread has units to take where the
    // batch has few pixels (ResNet-50's last stage at batch 8: 392 pixels, one unit, one thread idle while the other added
    // up all 2048 channels); each run's totals are its own channels', so the sums are the same however they are split.
    private int ReduceParts => !_vector ? 1 : Math.Clamp(4 * _pool.Threads / SumUnits, 1, _cp / 16);

    public override StatisticsSink? Sink => _sink;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Forward(int images)
    {
        int pixels = images * _s.Spatial;
        if (_s.Norm)
        {
            if (_s.Training && RunningStatistics)
            {
                // Eval-mode batch norm in a training pass: a preceding convolution may have filled the sink; unused.
                _sink!.Filled = false;
                RunningMoments();
            }
            else if (_s.Training)
            {
                if (!_sink!.Filled)
                {
                    // Statistics around the first pixel's values (see the convolution's fused statistics).
                    int units = (pixels + SumUnit - 1) / SumUnit;
                    _sinkPixels = pixels;
                    _sink.Prepare(units);
                    new ReadOnlySpan<float>(_x, _c).CopyTo(new Span<float>(_sink.Shift, _c));
                    _phase = PhaseStatistics;
                    _pool.Run(this, units, balanced: true);
                }

                TrainingStatistics(pixels);
                _sink.Filled = false;
            }
            else
            {
                RunningMoments();
            }
        }

        _phase = PhaseApply;
        _pool.Run(this, pixels, balanced: true);
    }

    public override void Reapply()
    {
        // The scale and shift the forward computed are still in place; the apply phase alone repeats its output.
        _phase = PhaseApply;
        _pool.Run(this, _s.N * _s.Spatial, balanced: true);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Backward()
    {
        int pixels = _s.N * _s.Spatial;
        if (_s.Norm)
        {
            new Span<double>(_reduce, SumUnits * 2 * _cp).Clear();
            _phase = PhaseReduce;
            _pool.Run(this, SumUnits * ReduceParts, balanced: true);
            double count = pixels;
            double[]? shared = null;
            if (Synchronized is { } comm && !RunningStatistics)
            {
                // The two reductions over the whole distributed batch; the scale and shift gradients stay this rank's.
                shared = _syncBuffer ??= new double[(2 * _c) + 1];
                for (int c = 0; c < _c; c++)
                {
                    (shared[c], shared[_c + c]) = ReducedSums(c);
                }

                comm.AllReduceSum(shared.AsSpan(0, 2 * _c), $"the batch-norm gradient sums of {_c} channels (backward)");
                count = _syncedCount;
            }

            for (int c = 0; c < _c; c++)
            {
                (double g, double gx) = ReducedSums(c);
                if (_dbn is not null)
                {
                    _dbn[c] = (float)gx;
                    _dbn[_c + c] = (float)g;
                }

                if (shared is not null)
                {
                    g = shared[c];
                    gx = shared[_c + c];
                }

                // With running statistics the mean and variance are constants: no terms through them.
                _meanG[c] = RunningStatistics ? 0f : (float)(g / count);
                _meanGx[c] = RunningStatistics ? 0f : (float)(gx / count);
            }
        }

        _phase = PhaseBackward;
        _pool.Run(this, pixels, balanced: true);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(int start, int end, int thread)
    {
        switch (_phase)
        {
            case PhaseStatistics:
                Statistics(start, end, thread);
                break;
            case PhaseApply:
                if (_vector)
                {
                    ApplyVector(start, end);
                }
                else
                {
                    ApplyScalar(start, end);
                }

                break;
            case PhaseReduce:
                Reduce(start, end, thread);
                break;
            default:
                if (_vector)
                {
                    BackwardVector(start, end);
                }
                else
                {
                    BackwardScalar(start, end);
                }

                break;
        }
    }

    public override string ToString() =>
        $"epilogue {_c}x{_s.Spatial}{(_s.Norm ? " bn" : "")}{(_s.Add ? " add" : "")} {(_phase == PhaseStatistics ? "statistics" : _phase == PhaseApply ? "apply" : _phase == PhaseReduce ? "reduce" : "backward")}";

    public override void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (IntPtr p in new[] { (IntPtr)_scale, (IntPtr)_shift, (IntPtr)_mean, (IntPtr)_inv, (IntPtr)_meanG, (IntPtr)_meanGx, (IntPtr)_local, (IntPtr)_reduce, (IntPtr)_positive })
        {
            NativeBlocks.Free((void*)p);
        }

        _sink?.Dispose();
    }

    private static float* Alloc(int floats)
    {
        return NativeBlocks.Allocate<float>(floats);
    }

    // Sums of (x - shift) and their squares for units [start, end) of SumUnit pixels: in float over chunks of pixels, in
    // double across chunks, each unit into its own slot.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Statistics(int start, int end, int thread)
    {
        float* sums = _local + (thread * 4 * _cp);
        float* squares = sums + _cp;
        float* shift = _sink!.Shift;
        int pixels = _sinkPixels;
        for (int unit = start; unit < end; unit++)
        {
            int last = Math.Min(pixels, (unit + 1) * SumUnit);
            for (int p0 = unit * SumUnit; p0 < last; p0 += Chunk)
            {
                int p1 = Math.Min(last, p0 + Chunk);
                for (int p = p0; p < p1; p++)
                {
                    float* x = _x + ((long)p * _c);
                    for (int c = 0; c < _c; c++)
                    {
                        float d = x[c] - shift[c];
                        sums[c] += d;
                        squares[c] += d * d;
                    }
                }

                _sink.Flush(unit, sums, squares);
            }
        }
    }

    private void RunningMoments()
    {
        for (int c = 0; c < _c; c++)
        {
            float inv = 1f / MathF.Sqrt(_bn[(3 * _c) + c] + _s.Eps);
            _mean[c] = _bn[(2 * _c) + c];
            _inv[c] = inv;
            _scale[c] = _bn[c];
            _shift[c] = _bn[_c + c];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void TrainingStatistics(int pixels)
    {
        double count = pixels;
        float m = _s.Momentum;
        double[]? synced = null;
        if (Synchronized is { } comm)
        {
            count = SynchronizedMoments(comm, count);
            synced = _synced;
        }

        for (int c = 0; c < _c; c++)
        {
            (double mean, double variance) = synced is not null ? (synced[c], synced[_c + c]) : _sink!.Moments(c, count);

            float inv = 1f / MathF.Sqrt((float)variance + _s.Eps);
            _mean[c] = (float)mean;
            _inv[c] = inv;
            _scale[c] = _bn[c];
            _shift[c] = _bn[_c + c];
            _bn[(2 * _c) + c] = ((1f - m) * _bn[(2 * _c) + c]) + (m * (float)mean);
            _bn[(3 * _c) + c] = ((1f - m) * _bn[(3 * _c) + c]) + (m * (float)(variance * count / (count - 1)));
        }
    }

    // Channel c's sums of the gradient and of the gradient times the normalised input, over the units' partials in order.
    private (double G, double Gx) ReducedSums(int c)
    {
        double g = 0;
        double gx = 0;
        for (long t = 0; t < SumUnits; t++)
        {
            g += _reduce[(t * 2 * _cp) + c];
            gx += _reduce[(t * 2 * _cp) + _cp + c];
        }

        return (g, gx);
    }

    // Synchronised batch norm: every rank's sum and sum of squares (from its shifted, accurate local moments, in double)
    // and count are summed; _synced then holds the whole batch's mean and biased variance; returns the whole count.
    private double SynchronizedMoments(ICommunicator comm, double count)
    {
        double[] buffer = _syncBuffer ??= new double[(2 * _c) + 1];
        for (int c = 0; c < _c; c++)
        {
            (double mean, double variance) = _sink!.Moments(c, count);
            buffer[c] = count * mean;
            buffer[_c + c] = count * (variance + (mean * mean));
        }

        buffer[2 * _c] = count;
        comm.AllReduceSum(buffer, $"the batch-norm statistics of {_c} channels x {_s.Spatial} pixels (forward)");
        double total = buffer[2 * _c];
        double[] synced = _synced ??= new double[2 * _c];
        for (int c = 0; c < _c; c++)
        {
            double mean = buffer[c] / total;
            synced[c] = mean;
            synced[_c + c] = Math.Max(0, (buffer[_c + c] / total) - (mean * mean));
        }

        _syncedCount = total;
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ApplyVector(int start, int end)
    {
        if (_c == 16)
        {
            ApplyOneVector(start, end);
            return;
        }

        bool norm = _s.Norm;
        bool add = _s.Add;
        bool relu1 = _s.Act1 == Activation.ReLU;
        bool relu2 = _s.Act2 == Activation.ReLU;
        ushort* positive = _positive;
        for (int j0 = 0; j0 < _c; j0 += BlockChannels)
        {
            int j1 = Math.Min(_c, j0 + BlockChannels);
            for (int p = start; p < end; p++)
            {
                long i0 = (long)p * _c;
                for (int j = j0; j < j1; j += 16)
                {
                    // ((x - mean) / std) * gamma + beta, rounded step by step as the reference kernels and PyTorch do, and
                    // as the backward pass recomputes it: a ReLU that follows decides the same way in both passes.
                    long i = i0 + j;
                    TV v = TS.Load(_x + i);
                    if (norm)
                    {
                        v = Normalise(v, TS.Load(_mean + j), TS.Load(_inv + j), TS.Load(_scale + j), TS.Load(_shift + j));
                    }

                    if (relu1)
                    {
                        v = TS.Relu(v);
                    }

                    if (add)
                    {
                        v = TS.Add(v, TS.Load(_r + i));
                    }

                    if (relu2)
                    {
                        v = TS.Relu(v);
                        if (positive is not null)
                        {
                            positive[i >> 4] = TS.PositiveBits(v);
                        }
                    }

                    TS.Store(_y + i, v);
                }
            }
        }
    }

    // One vector of channels (16): its scale, shift and statistics held in registers over the pixels. A pixel's channels
    // are one line, so the blocked loop takes them in this order too, but loads the scale and shift every pixel: ResNet-20's
    // 16-channel passes read 1.3-1.6 times as slow in a profile after 5711133 as in one before (different processes);
    // `profile resnet20 train 2 80 ab`, this loop against the blocked one: apply 0.93, backward 0.64-0.91 of its time.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ApplyOneVector(int start, int end)
    {
        bool norm = _s.Norm;
        bool add = _s.Add;
        bool relu1 = _s.Act1 == Activation.ReLU;
        bool relu2 = _s.Act2 == Activation.ReLU;
        ushort* positive = _positive;
        for (int j = 0; j < _c; j += 16)
        {
            TV mean = TS.Load(_mean + j);
            TV inv = TS.Load(_inv + j);
            TV scale = TS.Load(_scale + j);
            TV shift = TS.Load(_shift + j);
            long i = ((long)start * _c) + j;
            for (int p = start; p < end; p++, i += _c)
            {
                // ((x - mean) / std) * gamma + beta, rounded step by step as the reference kernels and PyTorch do, and as
                // the backward pass recomputes it: a ReLU that follows decides the same way in both passes.
                TV v = TS.Load(_x + i);
                if (norm)
                {
                    v = Normalise(v, mean, inv, scale, shift);
                }

                if (relu1)
                {
                    v = TS.Relu(v);
                }

                if (add)
                {
                    v = TS.Add(v, TS.Load(_r + i));
                }

                if (relu2)
                {
                    v = TS.Relu(v);
                    if (positive is not null)
                    {
                        positive[i >> 4] = TS.PositiveBits(v);
                    }
                }

                TS.Store(_y + i, v);
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static TV Normalise(TV x, TV mean, TV inv, TV gamma, TV beta) => TS.Add(TS.Multiply(TS.Multiply(TS.Subtract(x, mean), inv), gamma), beta);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ApplyScalar(int start, int end)
    {
        for (int p = start; p < end; p++)
        {
            long i0 = (long)p * _c;
            for (int c = 0; c < _c; c++)
            {
                long i = i0 + c;
                float v = _x[i];
                if (_s.Norm)
                {
                    v = ((v - _mean[c]) * _inv[c] * _scale[c]) + _shift[c];
                }

                v = ActivationMath.Activate(v, _s.Act1);
                if (_s.Add)
                {
                    v += _r[i];
                }

                _y[i] = ActivationMath.Activate(v, _s.Act2);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Reduce(int start, int end, int thread)
    {
        float* sumG = _local + (thread * 4 * _cp);
        float* sumGx = sumG + _cp;
        int pixels = _s.N * _s.Spatial;
        int parts = ReduceParts;
        for (int u = start; u < end; u++)
        {
            int unit = u / parts;
            int part = u % parts;
            int c0 = parts == 1 ? 0 : part * (_cp / 16) / parts * 16;
            int c1 = parts == 1 ? _c : (part + 1) * (_cp / 16) / parts * 16;
            double* total = _reduce + ((long)unit * 2 * _cp);
            int last = Math.Min(pixels, (unit + 1) * SumUnit);
            for (int p0 = unit * SumUnit; p0 < last; p0 += Chunk)
            {
                int p1 = Math.Min(last, p0 + Chunk);
                if (_vector && c1 - c0 > 16)
                {
                    // A block of channels a pixel at a time (see BlockChannels), the sums in L1 (zero here: Flush below
                    // zeroes them), each channel's added over the pixels in order as the one-vector loop adds them.
                    bool relu1 = _s.Act1 == Activation.ReLU;
                    bool relu2 = _s.Act2 == Activation.ReLU;
                    ushort* positive = _positive;
                    for (int j0 = c0; j0 < c1; j0 += BlockChannels)
                    {
                        int j1 = Math.Min(c1, j0 + BlockChannels);
                        for (int p = p0; p < p1; p++)
                        {
                            long i0 = (long)p * _c;
                            for (int j = j0; j < j1; j += 16)
                            {
                                long i = i0 + j;
                                TV g = TS.Load(_dy + i);
                                if (relu2)
                                {
                                    g = positive is not null ? TS.SelectBits(positive[i >> 4], g) : TS.ReluMask(TS.Load(_y + i), g);
                                }

                                TV x = TS.Load(_x + i);
                                TV mean = TS.Load(_mean + j);
                                TV inv = TS.Load(_inv + j);
                                if (relu1)
                                {
                                    g = TS.ReluMask(Normalise(x, mean, inv, TS.Load(_scale + j), TS.Load(_shift + j)), g);
                                }

                                TV xhat = TS.Multiply(TS.Subtract(x, mean), inv);
                                TS.Store(sumG + j, TS.Add(TS.Load(sumG + j), g));
                                TS.Store(sumGx + j, TS.Fma(g, xhat, TS.Load(sumGx + j)));
                            }
                        }
                    }
                }
                else if (_vector)
                {
                    bool relu1 = _s.Act1 == Activation.ReLU;
                    bool relu2 = _s.Act2 == Activation.ReLU;
                    ushort* positive = _positive;
                    for (int j = c0; j < c1; j += 16)
                    {
                        TV mean = TS.Load(_mean + j);
                        TV inv = TS.Load(_inv + j);
                        TV scale = TS.Load(_scale + j);
                        TV shift = TS.Load(_shift + j);
                        TV sg = TS.Zero;
                        TV sgx = TS.Zero;
                        long i = ((long)p0 * _c) + j;
                        for (int p = p0; p < p1; p++, i += _c)
                        {
                            TV g = TS.Load(_dy + i);
                            if (relu2)
                            {
                                g = positive is not null ? TS.SelectBits(positive[i >> 4], g) : TS.ReluMask(TS.Load(_y + i), g);
                            }

                            TV x = TS.Load(_x + i);
                            if (relu1)
                            {
                                g = TS.ReluMask(Normalise(x, mean, inv, scale, shift), g);
                            }

                            TV xhat = TS.Multiply(TS.Subtract(x, mean), inv);
                            sg = TS.Add(sg, g);
                            sgx = TS.Fma(g, xhat, sgx);
                        }

                        TS.Store(sumG + j, sg);
                        TS.Store(sumGx + j, sgx);
                    }
                }
                else
                {
                    bool needs2 = ActivationMath.NeedsInput(_s.Act2);
                    for (int p = p0; p < p1; p++)
                    {
                        for (int c = 0; c < _c; c++)
                        {
                            long i = ((long)p * _c) + c;
                            float xhat = (_x[i] - _mean[c]) * _inv[c];
                            float pre1 = (xhat * _bn[c]) + _bn[_c + c];
                            float out1 = ActivationMath.Activate(pre1, _s.Act1);
                            float g = _dy[i] * ActivationMath.Gradient(needs2 ? out1 + (_s.Add ? _r[i] : 0f) : 0f, _y[i], _s.Act2);
                            g *= ActivationMath.Gradient(pre1, out1, _s.Act1);
                            sumG[c] += g;
                            sumGx[c] += g * xhat;
                        }
                    }
                }

                for (int c = c0; c < Math.Min(c1, _c); c++)
                {
                    total[c] += sumG[c];
                    total[_cp + c] += sumGx[c];
                    sumG[c] = 0f;
                    sumGx[c] = 0f;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BackwardVector(int start, int end)
    {
        if (_c == 16)
        {
            BackwardOneVector(start, end);
            return;
        }

        bool norm = _s.Norm;
        bool add = _s.Add && _dr is not null;
        bool relu1 = _s.Act1 == Activation.ReLU;
        bool relu2 = _s.Act2 == Activation.ReLU;
        ushort* positive = _positive;
        bool data = _dx is not null;
        bool overwrite = _s.OverwritesInputGradient || _overwriteDx; // _dx is _dy (each element's dy is loaded before its dx is stored), or the first writer
        bool overwriteDr = _overwriteDr;
        for (int j0 = 0; j0 < _c; j0 += BlockChannels)
        {
            int j1 = Math.Min(_c, j0 + BlockChannels);
            for (int p = start; p < end; p++)
            {
                long i0 = (long)p * _c;
                for (int j = j0; j < j1; j += 16)
                {
                    long i = i0 + j;
                    TV g = TS.Load(_dy + i);
                    if (relu2)
                    {
                        g = positive is not null ? TS.SelectBits(positive[i >> 4], g) : TS.ReluMask(TS.Load(_y + i), g);
                    }

                    if (add)
                    {
                        TS.Store(_dr + i, overwriteDr ? g : TS.Add(TS.Load(_dr + i), g));
                    }

                    if (!data)
                    {
                        continue;
                    }

                    TV x = TS.Load(_x + i);
                    if (norm)
                    {
                        TV mean = TS.Load(_mean + j);
                        TV inv = TS.Load(_inv + j);
                        if (relu1)
                        {
                            g = TS.ReluMask(Normalise(x, mean, inv, TS.Load(_scale + j), TS.Load(_shift + j)), g);
                        }

                        TV xhat = TS.Multiply(TS.Subtract(x, mean), inv);
                        TV centred = TS.Subtract(TS.Subtract(g, TS.Load(_meanG + j)), TS.Multiply(xhat, TS.Load(_meanGx + j)));
                        TV gammaInv = TS.Multiply(TS.Load(_bn + j), inv);
                        TS.Store(_dx + i, TS.Fma(gammaInv, centred, overwrite ? TS.Zero : TS.Load(_dx + i)));
                    }
                    else
                    {
                        if (relu1)
                        {
                            g = TS.ReluMask(x, g);
                        }

                        TS.Store(_dx + i, overwrite ? g : TS.Add(TS.Load(_dx + i), g));
                    }
                }
            }
        }
    }

    // One vector of channels: as ApplyOneVector.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BackwardOneVector(int start, int end)
    {
        bool norm = _s.Norm;
        bool add = _s.Add && _dr is not null;
        bool relu1 = _s.Act1 == Activation.ReLU;
        bool relu2 = _s.Act2 == Activation.ReLU;
        ushort* positive = _positive;
        bool data = _dx is not null;
        bool overwrite = _s.OverwritesInputGradient || _overwriteDx; // _dx is _dy (each element's dy is loaded before its dx is stored), or the first writer
        bool overwriteDr = _overwriteDr;
        for (int j = 0; j < _c; j += 16)
        {
            TV mean = TS.Load(_mean + j);
            TV inv = TS.Load(_inv + j);
            TV scale = TS.Load(_scale + j);
            TV shift = TS.Load(_shift + j);
            TV gammaInv = norm ? TS.Multiply(TS.Load(_bn + j), inv) : TS.Zero;
            TV meanG = TS.Load(_meanG + j);
            TV meanGx = TS.Load(_meanGx + j);
            long i = ((long)start * _c) + j;
            for (int p = start; p < end; p++, i += _c)
            {
                TV g = TS.Load(_dy + i);
                if (relu2)
                {
                    g = positive is not null ? TS.SelectBits(positive[i >> 4], g) : TS.ReluMask(TS.Load(_y + i), g);
                }

                if (add)
                {
                    TS.Store(_dr + i, overwriteDr ? g : TS.Add(TS.Load(_dr + i), g));
                }

                if (!data)
                {
                    continue;
                }

                TV x = TS.Load(_x + i);
                if (norm)
                {
                    if (relu1)
                    {
                        g = TS.ReluMask(Normalise(x, mean, inv, scale, shift), g);
                    }

                    TV xhat = TS.Multiply(TS.Subtract(x, mean), inv);
                    TV centred = TS.Subtract(TS.Subtract(g, meanG), TS.Multiply(xhat, meanGx));
                    TS.Store(_dx + i, TS.Fma(gammaInv, centred, overwrite ? TS.Zero : TS.Load(_dx + i)));
                }
                else
                {
                    if (relu1)
                    {
                        g = TS.ReluMask(x, g);
                    }

                    TS.Store(_dx + i, overwrite ? g : TS.Add(TS.Load(_dx + i), g));
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BackwardScalar(int start, int end)
    {
        // GELU and SiLU take their derivative from their input, recomputed here from x, the statistics and the residual
        // (see EpilogueKernels); the other activations from their output, as before.
        bool needs2 = ActivationMath.NeedsInput(_s.Act2);
        for (int p = start; p < end; p++)
        {
            for (int c = 0; c < _c; c++)
            {
                long i = ((long)p * _c) + c;
                float pre2 = 0f;
                if (needs2)
                {
                    float v = _s.Norm ? ((_x[i] - _mean[c]) * _inv[c] * _scale[c]) + _shift[c] : _x[i];
                    pre2 = ActivationMath.Activate(v, _s.Act1) + (_s.Add ? _r[i] : 0f);
                }

                float g = _dy[i] * ActivationMath.Gradient(pre2, _y[i], _s.Act2);
                if (_s.Add && _dr is not null)
                {
                    _dr[i] = (_overwriteDr ? 0f : _dr[i]) + g;
                }

                if (_dx is null)
                {
                    continue;
                }

                if (_s.Norm)
                {
                    float xhat = (_x[i] - _mean[c]) * _inv[c];
                    float pre1 = (xhat * _bn[c]) + _bn[_c + c];
                    g *= ActivationMath.Gradient(pre1, ActivationMath.Activate(pre1, _s.Act1), _s.Act1);
                    _dx[i] = (_s.OverwritesInputGradient || _overwriteDx ? 0f : _dx[i]) + (_bn[c] * _inv[c] * (g - _meanG[c] - (xhat * _meanGx[c])));
                }
                else
                {
                    g *= ActivationMath.Gradient(_x[i], ActivationMath.Activate(_x[i], _s.Act1), _s.Act1);
                    _dx[i] = (_s.OverwritesInputGradient || _overwriteDx ? 0f : _dx[i]) + g;
                }
            }
        }
    }
}
