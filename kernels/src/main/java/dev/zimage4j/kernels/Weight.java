package dev.zimage4j.kernels;

import dev.zimage4j.safetensors.DType;

/**
 * A parameter tensor prepared by a {@link Backend} from a checkpoint tensor: a matrix {@code [N, K]}
 * (Linear, stored as the checkpoint stores it, out-features first), a conv kernel, an embedding table,
 * or a vector (norm weight, bias, pad token).
 *
 * <p>The CPU backend keeps a zero-copy view of the memory-mapped checkpoint where it can compute
 * from the stored dtype; the CUDA backend uploads it once (bf16 on the device).
 */
public interface Weight {

    /** The checkpoint name it came from, for error messages and load traces. */
    String name();

    /** The stored dtype. */
    DType dtype();

    /** The shape as stored in the checkpoint. */
    int[] shape();

    /** Bytes this weight holds beyond the mapped checkpoint (packed copies, device memory). */
    long ownedBytes();

    /** Number of elements. */
    default long numel() {
        long n = 1;
        for (int d : shape()) n *= d;
        return n;
    }
}
