package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.Tensor;

import java.util.Arrays;

/**
 * A float32 activation in device memory: a base allocation, an element offset into it, and a shape.
 * Views share the allocation ({@code root}); only roots are freed.
 */
final class CudaTensor implements Tensor {

    final long base;         // device address of the allocation
    final long capacity;     // elements in the allocation
    final long offset;       // elements from base
    final int[] shape;
    final CudaTensor root;   // null for a root
    final CudaBackend owner;
    boolean released;

    CudaTensor(CudaBackend owner, long base, long capacity, long offset, int[] shape, CudaTensor root) {
        this.owner = owner;
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
        return base + 4 * offset;
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
        return new CudaTensor(owner, base, capacity, offset + elementOffset, newShape.clone(), root == null ? this : root);
    }

    @Override
    public String toString() {
        return "CudaTensor" + Tensor.shapeString(shape);
    }
}
