using System;
using DslResNet.Kernels.Simd;
using Xunit;

namespace DslResNet.Tests.Kernels;

/// <summary>
/// The prefetch schedule of a batch-1 1x1 forward (<see cref="AheadSchedule"/>): the blocks over an output-channel group
/// prefetch the next group's weights between them, every line exactly once, spread over steps. A prefetch changes no result,
/// so the convolution tests cannot see a schedule that misses lines or fetches them again; this walks the steps as the
/// micro-kernel's <see cref="AheadStore{TE}"/> does.
/// </summary>
public sealed class AheadScheduleTests
{
    /// <summary>Every line of the next group is prefetched once, whatever the blocks, rows and alignment of the
    /// weights.</summary>
    [Theory]
    [InlineData(4, 512)]
    [InlineData(4, 256)]
    [InlineData(4, 1024)]
    [InlineData(2, 64)]
    [InlineData(1, 16)]
    [InlineData(4, 7)]
    public void EachLineOnce(int vectors, int rows)
    {
        for (int blocks = vectors; blocks <= 40; blocks++)
        {
            // Groups start 64-byte aligned; their position within a larger power of two varies.
            foreach (nint weights in new nint[] { 0x10000, 0x10000 + (64 * vectors), 0x10000 + (192 * vectors), 0x12340 })
            {
                int[] fetched = Walk(blocks, vectors, rows, weights, out int active, out int most);
                for (int line = 0; line < fetched.Length; line++)
                {
                    Assert.True(
                        fetched[line] == 1,
                        $"{blocks} blocks of {vectors} vectors over {rows} rows from 0x{weights:x}: line {line} prefetched {fetched[line]} times");
                }

                Assert.InRange(active, vectors, blocks);
            }
        }
    }

    /// <summary>With many blocks the prefetches are spread: ResNet-50's 256x14x14->1024 layer at batch 1 (21 blocks of 6
    /// pixels, 4 vectors, 256 rows) prefetches from 16 blocks, each at one step in four, not a line a step in every
    /// block.</summary>
    [Fact]
    public void SpreadOverBlocks()
    {
        Walk(21, 4, 256, 0x10000, out int active, out int most);
        Assert.Equal(16, active);
        Assert.Equal(64, most);

        // ResNet-50's 512x7x7->2048 layer: 9 blocks (49 pixels), 512 rows: 8 blocks, every other step.
        Walk(9, 4, 512, 0x10000, out active, out most);
        Assert.Equal(8, active);
        Assert.Equal(256, most);
    }

    // How often each line of the next group (rows x vectors lines) is prefetched; the blocks that prefetch at all and the
    // most prefetches one block makes.
    private static int[] Walk(int blocks, int vectors, int rows, nint weights, out int active, out int most)
    {
        int[] fetched = new int[rows * vectors];
        active = 0;
        most = 0;
        nint step = 64 * vectors;
        for (int b = 0; b < blocks; b++)
        {
            if (!AheadSchedule.For(b, blocks, vectors, out nint line, out nint mask, out nint phase))
            {
                continue;
            }

            active++;
            int count = 0;
            for (int row = 0; row < rows; row++)
            {
                nint at = weights + (row * step);
                if ((at & mask) == phase)
                {
                    // The prefetched float's offset from the next group's start: the row's, plus the line's.
                    long floats = ((long)row * 16 * vectors) + line;
                    Assert.Equal(0, floats % 16);
                    fetched[floats / 16]++;
                    count++;
                }
            }

            most = Math.Max(most, count);
        }

        return fetched;
    }
}
