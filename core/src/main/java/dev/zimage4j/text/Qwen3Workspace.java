package dev.zimage4j.text;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Activation buffers of the text encoder for up to {@link #capacity()} tokens, allocated once, plus
 * the RoPE angle table for those positions. A shorter sequence uses views of the first rows (row-major,
 * so the first {@code L} rows are contiguous); the views for each length are made once and kept, so
 * every call at a given length runs on the very same tensors (what a recorded GPU graph needs).
 */
final class Qwen3Workspace {
    /** The tensors of one sequence length. */
    record Views(int length, Tensor x, Tensor normed, Tensor q, Tensor k, Tensor v,
                 Tensor attn, Tensor mlp, Tensor cos, Tensor sin) {
    }

    private final Backend backend;
    private final Qwen3Config config;
    private final int capacity;
    private final Tensor x, normed, q, k, v, attn, mlp, cos, sin;
    private final Map<Integer, Views> views = new HashMap<>();
    private final List<Tensor> owned = new ArrayList<>();

    Qwen3Workspace(Backend backend, Qwen3Config c, int capacity) {
        this.backend = backend;
        this.config = c;
        this.capacity = capacity;
        int qw = c.numHeads() * c.headDim(), kvw = c.numKvHeads() * c.headDim(), half = c.headDim() / 2;
        try {
            x = own(backend.alloc(capacity, c.hiddenSize()));
            normed = own(backend.allocOperand(capacity, c.hiddenSize())); // written by norms, read by GEMMs only
            q = own(backend.alloc(capacity, qw));
            k = own(backend.alloc(capacity, kvw));
            // matrix operands (bf16 on a GPU): each written by a GEMM or attention and read only by attention or a GEMM
            v = own(backend.allocOperand(capacity, kvw));
            attn = own(backend.allocOperand(capacity, qw));
            mlp = own(backend.allocOperand(capacity, c.intermediateSize()));
            cos = own(backend.alloc(capacity, half));
            sin = own(backend.alloc(capacity, half));
            float[][] table = ropeTable(c.ropeTheta(), c.headDim(), capacity);
            backend.upload(cos, table[0]);
            backend.upload(sin, table[1]);
        } catch (RuntimeException | OutOfMemoryError e) {
            release(); // free what was allocated before the failure (e.g. device memory running out)
            throw e;
        }
    }

    private Tensor own(Tensor t) {
        owned.add(t);
        return t;
    }

    int capacity() {
        return capacity;
    }

    /** The buffers for a sequence of {@code length} ≤ capacity tokens. */
    Views views(int length) {
        return views.computeIfAbsent(length, l -> {
            return new Views(l, x.rows(0, l), normed.rows(0, l), q.rows(0, l), k.rows(0, l), v.rows(0, l),
                    attn.rows(0, l), mlp.rows(0, l), cos.rows(0, l), sin.rows(0, l));
        });
    }

    /**
     * {@code cos, sin [positions, headDim/2]} of the angles {@code pos · θ^(−2i/headDim)}, rounded at the
     * same steps as transformers' float32 computation (inverse frequencies in float32, their product
     * with the position in float32, then cos/sin).
     */
    static float[][] ropeTable(double theta, int headDim, int positions) {
        int half = headDim / 2;
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / (float) headDim;
            invFreq[i] = (float) (1.0 / (float) Math.pow(theta, exponent));
        }
        float[] cos = new float[positions * half], sin = new float[positions * half];
        for (int p = 0; p < positions; p++)
            for (int i = 0; i < half; i++) {
                float angle = (float) p * invFreq[i];
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        return new float[][]{cos, sin};
    }

    /** Frees every buffer. */
    void release() {
        for (Tensor t : owned) backend.release(t);
        owned.clear();
        views.clear();
    }
}
