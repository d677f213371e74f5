package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.DType;

/**
 * A checkpoint tensor resident on the device: matrices, conv kernels and embedding tables as bf16,
 * vectors (one row: norm weights, biases, pad tokens) as f32 so norms keep full precision.
 */
final class CudaWeight implements Weight {
    final String name;
    final DType stored;
    final int[] shape;
    final long ptr;
    final long bytes;
    final boolean f32;
    boolean released;

    CudaWeight(String name, DType stored, int[] shape, long ptr, long bytes, boolean f32) {
        this.name = name;
        this.stored = stored;
        this.shape = shape;
        this.ptr = ptr;
        this.bytes = bytes;
        this.f32 = f32;
    }

    long ptr() {
        if (released) throw new IllegalStateException("weight " + name + " used after release");
        return ptr;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public DType dtype() {
        return stored;
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    @Override
    public long ownedBytes() {
        return bytes;
    }

    @Override
    public String toString() {
        return name + (f32 ? " (f32 on device)" : " (bf16 on device)");
    }
}
