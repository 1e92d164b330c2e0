using ILGPU;

namespace DslResNet.Kernels.Ilgpu;

/// <summary>The register micro-tile the tiled kernels accumulate in.</summary>
internal static partial class TiledConvKernels
{
    /// <summary>Four accumulators of a micro-tile's row.</summary>
    private readonly struct Row(float c0, float c1, float c2, float c3)
    {
        public float Get(int j) => j == 0 ? c0 : j == 1 ? c1 : j == 2 ? c2 : c3;
    }

    /// <summary>A thread's 4 x 4 accumulators: rows <c>tx + 16 i</c> of the tile, columns <c>ty + 16 j</c>.</summary>
    private struct MicroTile
    {
        private float _c00, _c01, _c02, _c03, _c10, _c11, _c12, _c13, _c20, _c21, _c22, _c23, _c30, _c31, _c32, _c33;

        /// <summary>Adds the tiles' product over one K-step: <c>c[i,j] += sum over kk of a[kk, tx+16i] b[kk, ty+16j]</c>.</summary>
        public void Multiply(ArrayView<float> a, ArrayView<float> b, int tx, int ty)
        {
            for (int kk = 0; kk < TileK; kk++)
            {
                int ao = (kk * TileM) + tx;
                int bo = (kk * TileN) + ty;
                float a0 = a[ao];
                float a1 = a[ao + MicroStride];
                float a2 = a[ao + (2 * MicroStride)];
                float a3 = a[ao + (3 * MicroStride)];
                float b0 = b[bo];
                float b1 = b[bo + MicroStride];
                float b2 = b[bo + (2 * MicroStride)];
                float b3 = b[bo + (3 * MicroStride)];
                _c00 += a0 * b0;
                _c01 += a0 * b1;
                _c02 += a0 * b2;
                _c03 += a0 * b3;
                _c10 += a1 * b0;
                _c11 += a1 * b1;
                _c12 += a1 * b2;
                _c13 += a1 * b3;
                _c20 += a2 * b0;
                _c21 += a2 * b1;
                _c22 += a2 * b2;
                _c23 += a2 * b3;
                _c30 += a3 * b0;
                _c31 += a3 * b1;
                _c32 += a3 * b2;
                _c33 += a3 * b3;
            }
        }

        /// <summary>Row <paramref name="i"/> of the micro-tile.</summary>
        public readonly Row GetRow(int i) => i switch
        {
            0 => new Row(_c00, _c01, _c02, _c03),
            1 => new Row(_c10, _c11, _c12, _c13),
            2 => new Row(_c20, _c21, _c22, _c23),
            _ => new Row(_c30, _c31, _c32, _c33),
        };
    }
}
