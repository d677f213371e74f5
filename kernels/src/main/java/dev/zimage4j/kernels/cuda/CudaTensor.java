package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.Tensor;

import java.util.Arrays;

/**
 * An activation in device memory: a base allocation, an element offset into it, and a shape. Float32, or
 * bf16 for a matrix-product operand ({@link dev.zimage4j.kernels.Backend#allocOperand}). Views share the
 * allocation ({@code root}); only roots are freed.
 */
final class CudaTensor implements Tensor {

    final long base;         // device address of the allocation
    final long capacity;     // elements in the allocation
    final long offset;       // elements from base
    final int[] shape;
    final CudaTensor root;   // null for a root
    final CudaBackend owner;
    final boolean bf16;      // stored as bf16 (2 bytes per element) rather than f32
    boolean released;

    CudaTensor(CudaBackend owner, long base, long capacity, long offset, int[] shape, CudaTensor root) {
        this(owner, base, capacity, offset, shape, root, false);
    }

    CudaTensor(CudaBackend owner, long base, long capacity, long offset, int[] shape, CudaTensor root, boolean bf16) {
        this.owner = owner;
        this.bf16 = bf16;
        this.base = base;
        this.capacity = capacity;
        this.offset = offset;
        this.shape = shape;
        this.root = root;
    }

    /** Device address of element 0 of this tensor. */
    long ptr() {
        CudaTensor r = root == null ? this : root;
        if (r.released) throw new IllegalStateException("tensor " + Tensor.shapeString(shape) + " used after release");
        return base + elementBytes() * offset;
    }

    /** 2 for a bf16 tensor, 4 for f32. */
    int elementBytes() {
        return bf16 ? 2 : 4;
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    @Override
    public Tensor view(long elementOffset, int... newShape) {
        long n = 1;
        for (int d : newShape) {
            if (d < 1) throw new IllegalArgumentException("view shape " + Arrays.toString(newShape) + " has a dim < 1");
            n *= d;
        }
        if (elementOffset < 0 || elementOffset + n > numel())
            throw new IllegalArgumentException("view of " + n + " elements at offset " + elementOffset + " does not fit in "
                    + Tensor.shapeString(shape));
        return new CudaTensor(owner, base, capacity, offset + elementOffset, newShape.clone(), root == null ? this : root, bf16);
    }

    @Override
    public String toString() {
        return "CudaTensor" + Tensor.shapeString(shape) + (bf16 ? " (bf16)" : "");
    }
}
