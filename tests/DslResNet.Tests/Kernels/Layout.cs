namespace DslResNet.Tests.Kernels;

/// <summary>NCHW and NHWC, pixels flattened.</summary>
internal static class Layout
{
    /// <summary>NCHW to NHWC.</summary>
    public static float[] ToNhwc(float[] a, int n, int channels, int pixels)
    {
        float[] result = new float[a.Length];
        for (int b = 0; b < n; b++)
        {
            for (int c = 0; c < channels; c++)
            {
                for (int p = 0; p < pixels; p++)
                {
                    result[(((b * pixels) + p) * channels) + c] = a[(((b * channels) + c) * pixels) + p];
                }
            }
        }

        return result;
    }

    /// <summary>NHWC to NCHW.</summary>
    public static float[] ToNchw(float[] a, int n, int channels, int pixels)
    {
        float[] result = new float[a.Length];
        for (int b = 0; b < n; b++)
        {
            for (int c = 0; c < channels; c++)
            {
                for (int p = 0; p < pixels; p++)
                {
                    result[(((b * channels) + c) * pixels) + p] = a[(((b * pixels) + p) * channels) + c];
                }
            }
        }

        return result;
    }
}
