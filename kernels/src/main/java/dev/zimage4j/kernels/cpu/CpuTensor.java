package dev.zimage4j.kernels.cpu;

import dev.zimage4j.kernels.Tensor;

/**
 * A {@link Tensor} of the CPU backend: a window {@code [offset, offset + numel)} of a heap {@code float[]}.
 * Views share the array; a fresh {@link CpuBackend#alloc} owns a new one.
 */
public final class CpuTensor implements Tensor {
    final float[] data;
    final int offset;
    private final int[] shape;
    final int numel;

    CpuTensor(float[] data, int offset, int[] shape) {
        this.data = data;
        this.offset = offset;
        this.shape = shape.clone();
        this.numel = checkedNumel(shape);
    }

    static int checkedNumel(int[] shape) {
        if (shape.length == 0) throw new IllegalArgumentException("a tensor needs at least one dimension");
        long n = 1;
        for (int d : shape) {
            if (d < 1) throw new IllegalArgumentException("dims must be >= 1, got " + Tensor.shapeString(shape));
            n *= d;
            if (n > Integer.MAX_VALUE - 16)
                throw new IllegalArgumentException("tensor " + Tensor.shapeString(shape) + " exceeds the CPU backend's 2^31 element limit");
        }
        return (int) n;
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    @Override
    public long numel() {
        return numel;
    }

    @Override
    public int cols() {
        return shape[shape.length - 1];
    }

    @Override
    public int rows() {
        return numel / shape[shape.length - 1];
    }

    @Override
    public Tensor view(long elementOffset, int... newShape) {
        int n = checkedNumel(newShape);
        if (elementOffset < 0 || elementOffset + n > numel)
            throw new IllegalArgumentException("view at " + elementOffset + " of shape " + Tensor.shapeString(newShape)
                    + " does not fit in a tensor of shape " + Tensor.shapeString(shape));
        return new CpuTensor(data, offset + (int) elementOffset, newShape);
    }

    /** The backing array (shared with every view of the same storage). */
    public float[] array() {
        return data;
    }

    /** Index of element 0 of this tensor in {@link #array()}. */
    public int offset() {
        return offset;
    }

    @Override
    public String toString() {
        return "CpuTensor" + Tensor.shapeString(shape);
    }
}
