package dev.zimage4j.kernels;

/**
 * Geometry of a 2-D convolution over a single image in CHW layout.
 *
 * @param inChannels  C_in
 * @param height      input height
 * @param width       input width
 * @param outChannels C_out
 * @param kernel      square kernel size (1 or 3 in this model)
 * @param stride      stride on both axes
 * @param padTop      zero rows above
 * @param padLeft     zero columns on the left
 * @param padBottom   zero rows below
 * @param padRight    zero columns on the right
 */
public record Conv2dSpec(int inChannels, int height, int width, int outChannels, int kernel, int stride,
                         int padTop, int padLeft, int padBottom, int padRight) {

    /** Stride 1, symmetric "same" padding {@code kernel/2}. */
    public static Conv2dSpec same(int inChannels, int height, int width, int outChannels, int kernel) {
        int p = kernel / 2;
        return new Conv2dSpec(inChannels, height, width, outChannels, kernel, 1, p, p, p, p);
    }

    /** The VAE encoder's downsample: pad right and bottom by 1, 3×3, stride 2. */
    public static Conv2dSpec downsample(int channels, int height, int width) {
        return new Conv2dSpec(channels, height, width, channels, 3, 2, 0, 0, 1, 1);
    }

    public int outHeight() {
        return (height + padTop + padBottom - kernel) / stride + 1;
    }

    public int outWidth() {
        return (width + padLeft + padRight - kernel) / stride + 1;
    }
}
