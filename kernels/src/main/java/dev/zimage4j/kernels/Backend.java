package dev.zimage4j.kernels;

import dev.zimage4j.safetensors.TensorView;

/**
 * Every numeric operation the Z-Image pipeline needs, behind one interface.
 *
 * <p>Implementations: {@code CpuBackend} (JDK Vector API, all cores) and {@code CudaBackend} (CUDA
 * driver through FFM, kernels emitted as PTX by Java). Model code (text encoder, DiT, VAE) is written
 * once against this interface.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>Activations are {@link Tensor}s: logically float32, row-major, contiguous. An implementation
 *       may store them in another precision (the CUDA backend may compute in bf16) within the
 *       documented tolerances.</li>
 *   <li>Ops may be asynchronous: they are enqueued in program order and observe each other's
 *       results. {@link #download} and {@link #sync} wait for everything enqueued before them.</li>
 *   <li>Ops never allocate device or heap memory in steady state: callers allocate their workspace
 *       once (per resolution) with {@link #alloc}; kernels use only preallocated scratch.</li>
 *   <li>"Rows" of a tensor are its last axis; a row-wise op runs over {@code t.rows()} rows of
 *       {@code t.cols()} elements. Output and input may alias only where an op says so.</li>
 *   <li>Shape mismatches throw {@link IllegalArgumentException} naming the op and the shapes.</li>
 * </ul>
 */
public interface Backend extends AutoCloseable {

    /** Short name for logs and metrics: {@code "cpu"}, {@code "cuda:0"}. */
    String name();

    /**
     * Whether this backend multiplies in reduced precision (bf16 operands, f32 accumulation), so that results
     * are held to the fixtures README's GPU tolerance rather than the float32 one. False unless overridden.
     */
    default boolean reducedPrecision() {
        return false;
    }

    // ---------------------------------------------------------------- memory

    /** A new zero-filled tensor. Allocate workspaces once, not per call. */
    Tensor alloc(int... shape);

    /**
     * A new zero-filled tensor used only as a matrix-product operand: written only by {@link #rmsNorm},
     * {@link #layerNorm}, {@link #rmsNormRope}, and as {@code y} of {@link #linear} and {@link #linearSwiGLU} and
     * {@code out} of {@link #attention}; read only as {@code x} of {@link #linear}, {@link #linearAdd},
     * {@link #linearSwiGLU} and as {@code q, k, v} of {@link #attention} (and moved by upload, download, copy).
     * A backend may store it in its multiplication precision, so that the producer writes what the
     * tensor cores read and no conversion pass runs in between (the CUDA backend: bf16 when the last axis is a
     * multiple of 8); other ops may reject it. The default is a plain {@link #alloc}.
     */
    default Tensor allocOperand(int... shape) {
        return alloc(shape);
    }

    /**
     * Whether tensors live in separate device memory, so that moving activations to the host and back costs
     * transfers and a synchronisation: callers then keep loop state (the sampler's latents) on the backend.
     * False unless overridden.
     */
    default boolean deviceResident() {
        return false;
    }

    /** A point in the op stream: {@link #await()} returns once every op enqueued before it has finished. */
    interface Fence {
        /** Blocks until the ops before this fence have finished. */
        void await();
    }

    /**
     * A fence after every op enqueued so far, for following progress without draining the queue (wait for step
     * i − 1 while step i runs). Not inside {@link #replay}. The default waits for everything ({@link #sync}).
     */
    default Fence fence() {
        return this::sync;
    }

    /** Copies {@code src} (length {@code dst.numel()}) into {@code dst}. May be asynchronous. */
    void upload(Tensor dst, float[] src);

    /** Copies {@code src} into {@code dst} (length ≥ {@code src.numel()}), waiting for pending work first. */
    void download(Tensor src, float[] dst);

    /** Copies {@code src} into {@code dst}; equal element counts. */
    void copy(Tensor dst, Tensor src);

    /** Waits until every enqueued op has finished. */
    void sync();

    /**
     * Prepares a checkpoint tensor for use by this backend (see {@link Weight}). {@code scale} multiplies
     * every element (the per-tensor scale of F8 checkpoints); pass 1 otherwise.
     */
    Weight weight(TensorView stored, float scale);

    /** {@link #weight(TensorView, float)} with scale 1. */
    default Weight weight(TensorView stored) {
        return weight(stored, 1f);
    }

    /** Frees a weight's owned memory (device memory, packed copies). The mapped checkpoint is not touched. */
    void release(Weight w);

    /** Frees a tensor allocated by {@link #alloc} (views need no release). */
    void release(Tensor t);

    /**
     * Runs {@code launches}, a fixed sequence of ops on fixed tensors, identified by {@code key}. A GPU
     * backend records it the first time (a CUDA graph) and replays the recording for the same key
     * afterwards; the CPU backend just runs it. Inputs that change between calls must be uploaded into
     * the same tensors before calling, never passed as Java values captured by the lambda.
     */
    default void replay(Object key, Runnable launches) {
        launches.run();
    }

    // ---------------------------------------------------------------- linear algebra

    /** {@code y[M,N] = x[M,K] · w[N,K]ᵀ (+ bias[N])}. {@code bias} may be null. */
    void linear(Tensor y, Tensor x, Weight w, Weight bias);

    /** {@code y[M,N] += x[M,K] · w[N,K]ᵀ (+ bias[N])}: a residual add fused into the GEMM epilogue. */
    void linearAdd(Tensor y, Tensor x, Weight w, Weight bias);

    /** SwiGLU front half: {@code y[M,F] = silu(x·wGateᵀ) ⊙ (x·wUpᵀ)}, both weights {@code [F,K]}. */
    void linearSwiGLU(Tensor y, Tensor x, Weight wGate, Weight wUp);

    /** {@code y[M,N] = x[M,K] · w[N,K]ᵀ} where the weight is itself an activation (attention-style products, tests). */
    void matmulTransposed(Tensor y, Tensor x, Tensor w);

    /** Copies rows {@code ids[i]} of an embedding table {@code [V, D]} into row i of {@code y [ids.length, D]}. */
    void embeddingLookup(Tensor y, Weight table, int[] ids);

    /** Copies the vector {@code row [1, D]} (or {@code [D]}) into every row of {@code y [R, D]} (pad tokens). */
    void fillRows(Tensor y, Weight row);

    // ---------------------------------------------------------------- attention

    /**
     * Scaled-dot-product attention, flash-style (memory O(S·d), never the full score matrix).
     * {@code q [Sq, heads·D]}, {@code k,v [Sk, kvHeads·D]}, {@code out [Sq, heads·D]}.
     */
    void attention(Tensor out, Tensor q, Tensor k, Tensor v, AttentionSpec spec);

    // ---------------------------------------------------------------- norms and modulation

    /**
     * Row-wise RMSNorm with weight and optional adaLN scale:
     * {@code y = x / sqrt(mean(x²) + eps) ⊙ w ⊙ (1 + scale)}. {@code w} has {@code x.cols()} elements
     * (for per-head QK norm pass {@code x} reshaped to {@code [S·H, D]}); {@code scale} is a tensor of
     * {@code x.cols()} elements broadcast over rows, or null. {@code y} may alias {@code x}.
     */
    void rmsNorm(Tensor y, Tensor x, Weight w, Tensor scale, float eps);

    /**
     * The attention Q/K path: per-head RMSNorm (weight {@code w} of {@code D = x.cols()/heads} elements, no
     * scale) followed by the rotary embedding, {@code y = rope(rmsNorm(x))} on {@code x [S, heads·D]}, same
     * arithmetic as {@link #rmsNorm} on {@code x} seen as {@code [S·heads, D]} then {@link #rope} (which is
     * the default). {@code y} may alias {@code x}, or be an {@link #allocOperand} tensor for {@link #attention}.
     */
    default void rmsNormRope(Tensor y, Tensor x, Weight w, Tensor cos, Tensor sin, int heads, Rope layout, float eps) {
        int s = x.rows(), d = heads > 0 ? x.cols() / heads : 0;
        if (heads <= 0 || d * heads != x.cols() || y.numel() != x.numel() || y.cols() != x.cols())
            throw new IllegalArgumentException("rmsNormRope: shapes do not match: y " + Tensor.shapeString(y.shape()) + " x "
                    + Tensor.shapeString(x.shape()) + " heads " + heads);
        rmsNorm(y.reshape(s * heads, d), x.reshape(s * heads, d), w, null, eps);
        rope(y, cos, sin, heads, layout);
    }

    /** Row-wise LayerNorm without affine, optional adaLN scale: {@code y = (x − μ)/sqrt(σ² + eps) ⊙ (1 + scale)}. */
    void layerNorm(Tensor y, Tensor x, Tensor scale, float eps);

    /**
     * The modulated block's gated residual: {@code x += tanh(gate) ⊙ RMSNorm(h) ⊙ w} row-wise, where
     * {@code gate} ({@code x.cols()} elements, broadcast) may be null, meaning a gate of 1 (unmodulated blocks).
     */
    void gatedResidualRmsNorm(Tensor x, Tensor h, Weight w, Tensor gate, float eps);

    /**
     * GroupNorm over a CHW tensor {@code x [C, H·W]} (or {@code [C, H, W]}), {@code groups} groups of
     * consecutive channels, per-channel affine {@code gamma, beta}, optionally followed by SiLU.
     * {@code y} may alias {@code x}.
     */
    void groupNorm(Tensor y, Tensor x, int groups, Weight gamma, Weight beta, float eps, boolean silu);

    /** Row-wise softmax in place. */
    void softmax(Tensor x);

    // ---------------------------------------------------------------- positional

    /**
     * Rotary embedding in place on {@code x [S, heads·D]}: {@code cos, sin [S, D/2]} hold the angle table
     * per token (computed by the caller from position ids), applied identically to every head.
     */
    void rope(Tensor x, Tensor cos, Tensor sin, int heads, Rope layout);

    /**
     * Sinusoidal timestep embedding (spec §2.2): {@code y[0..dim)} = {@code [cos(s·f_k)…, sin(s·f_k)…]},
     * {@code f_k = exp(−ln(maxPeriod)·k/(dim/2))}, with {@code s = t[0] · tScale}; cos half first.
     * {@code t} is a one-element tensor so the value can change between graph replays.
     */
    void timestepEmbedding(Tensor y, Tensor t, float tScale, float maxPeriod);

    // ---------------------------------------------------------------- elementwise

    /** {@code y = silu(x)}; may alias. */
    void silu(Tensor y, Tensor x);

    /** {@code y = a + b}; equal shapes; may alias. */
    void add(Tensor y, Tensor a, Tensor b);

    /** {@code y += alpha · x} (the Euler update, CFG); equal element counts. */
    void axpy(Tensor y, float alpha, Tensor x);

    /**
     * {@code y += alpha[0] · x} with the factor in a one-element tensor, so a recorded graph ({@link #replay})
     * uses the value current when it runs (the sampler's Euler update with a per-step σ difference). The
     * default reads the factor back to the host and calls {@link #axpy(Tensor, float, Tensor)}.
     */
    default void axpy(Tensor y, Tensor alpha, Tensor x) {
        if (alpha.numel() != 1) throw new IllegalArgumentException("axpy: alpha must have one element, got " + Tensor.shapeString(alpha.shape()));
        float[] a = new float[1];
        download(alpha, a);
        axpy(y, a[0], x);
    }

    /** {@code y = alpha · x + beta}; may alias. */
    void scale(Tensor y, Tensor x, float alpha, float beta);

    // ---------------------------------------------------------------- convolution and images

    /** 2-D convolution of {@code x [C_in, H, W]} by {@code w [C_out, C_in, k, k]} (+ bias) into {@code y [C_out, H', W']}. */
    void conv2d(Tensor y, Tensor x, Weight w, Weight bias, Conv2dSpec spec);

    /** 2-D transpose: {@code y [C, R] = x [R, C]ᵀ} (CHW ↔ HWC for the VAE's mid attention). */
    void transpose(Tensor y, Tensor x);

    /** Nearest-neighbour 2× upsampling of {@code x [C, H, W]} into {@code y [C, 2H, 2W]}. */
    void upsampleNearest2x(Tensor y, Tensor x, int channels, int height, int width);

    /**
     * Patchify (spec §2.5): latent {@code x [C, H, W]} → tokens {@code y [(H/p)·(W/p), p·p·C]} with token
     * {@code h·(W/p)+w} and element {@code (ph·p + pw)·C + c} = {@code x[c, p·h+ph, p·w+pw]} (channel fastest).
     */
    void patchify(Tensor y, Tensor x, int channels, int height, int width, int patch);

    /** The inverse of {@link #patchify}: tokens {@code x [(H/p)·(W/p), p·p·C]} → latent {@code y [C, H, W]}. */
    void unpatchify(Tensor y, Tensor x, int channels, int height, int width, int patch);

    /** Releases everything this backend holds (thread pool, device context). */
    @Override
    void close();
}
