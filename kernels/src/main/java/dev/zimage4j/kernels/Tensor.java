package dev.zimage4j.kernels;

import java.util.Arrays;

/**
 * An activation tensor owned by a {@link Backend}: logically float32, row-major, contiguous.
 *
 * <p>Model code never touches the storage directly; it passes tensors to backend ops and moves data
 * across with {@link Backend#upload} / {@link Backend#download}. A tensor may be a {@linkplain #view
 * view} into another one (same storage, an element offset and a new shape), which is how the model
 * addresses row ranges (image tokens vs. caption tokens of the joint sequence), reshapes {@code [S, H·D]}
 * into {@code [S·H, D]} for per-head norms, or splits the adaLN modulation vector into its chunks, all
 * without copies.
 */
public interface Tensor {

    /** The shape, outermost first. Never empty; every dim is ≥ 1. */
    int[] shape();

    /** Number of elements, the product of {@link #shape()}. */
    default long numel() {
        long n = 1;
        for (int d : shape()) n *= d;
        return n;
    }

    /** Size of the last axis: the row width for row-wise ops (norms, softmax, linear). */
    default int cols() {
        int[] s = shape();
        return s[s.length - 1];
    }

    /** Number of rows: {@link #numel()} / {@link #cols()}. */
    default int rows() {
        return Math.toIntExact(numel() / cols());
    }

    /**
     * A contiguous view of {@code numel(shape)} elements starting {@code elementOffset} elements into
     * this tensor, with a new shape. Throws {@link IllegalArgumentException} if it does not fit.
     */
    Tensor view(long elementOffset, int... shape);

    /** Rows {@code [start, start + count)} of this tensor seen as {@code [rows, cols]}. */
    default Tensor rows(int start, int count) {
        return view((long) start * cols(), count, cols());
    }

    /** The same elements with another shape of equal element count. */
    default Tensor reshape(int... shape) {
        return view(0, shape);
    }

    /** Formats a shape as {@code [a, b, c]} for error messages. */
    static String shapeString(int... shape) {
        return Arrays.toString(shape);
    }
}
