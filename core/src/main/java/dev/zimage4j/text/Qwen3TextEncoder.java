package dev.zimage4j.text;

import dev.zimage4j.kernels.AttentionSpec;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Rope;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.Safetensors;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The Qwen3 text encoder as Z-Image uses it (spec §1.2, §3): token ids in, {@code hidden_states[−2]}
 * out — the raw output of decoder layer {@code numLayers − 2}, with no final norm. The last layer is
 * never computed. Every heavy operation runs on the {@link Backend}.
 *
 * <p>One layer, for the residual stream {@code x [L, hidden]} at positions {@code 0..L−1}:
 * <pre>
 *   a = RMSNorm(x) · w_input
 *   q, k, v = a·Wqᵀ, a·Wkᵀ, a·Wvᵀ                 [L, 32·128], [L, 8·128], [L, 8·128]
 *   q, k = RMSNorm per head (q_norm, k_norm)
 *   q, k = RoPE, rotate-half pairs (i, i + 64)
 *   x += Wo · causal GQA attention(q, k, v)      query head h reads kv head h / (heads / kvHeads)
 *   b = RMSNorm(x) · w_post
 *   x += W_down · (SiLU(W_gate·b) ⊙ W_up·b)
 * </pre>
 * Padding is not needed: with right padding and causal attention the real tokens' outputs equal
 * those of the unpadded sequence, so callers pass only the real ids ({@code TokenizedPrompt.ids()}).
 *
 * <p>Activation buffers are allocated once for the longest sequence seen so far (rounded up to a
 * multiple of 64) and reused; {@link #reserve} pre-allocates them. Calls are serialised.
 */
public final class Qwen3TextEncoder implements AutoCloseable {
    private static final int CAPACITY_STEP = 64;

    private final Backend backend;
    private final Qwen3Config config;
    private final Qwen3Weights weights;
    private final Checkpoint owned;
    private Qwen3Workspace workspace;
    private boolean closed;

    /** Identifies one recorded launch sequence: a workspace and a length. */
    private record ReplayKey(Qwen3Workspace workspace, int length) {
    }

    /**
     * @param owned a checkpoint to close with this encoder (the weights' memory), or null when the caller owns it
     */
    public Qwen3TextEncoder(Backend backend, Qwen3Config config, Qwen3Weights weights, Checkpoint owned) {
        if (weights.layers().size() != config.layersUsed())
            throw new IllegalArgumentException(weights.layers().size() + " layers of weights for a config that uses " + config.layersUsed());
        this.backend = backend;
        this.config = config;
        this.weights = weights;
        this.owned = owned;
    }

    /**
     * Loads a text encoder from {@code path}: a Z-Image model directory (uses its {@code text_encoder/}),
     * a {@code text_encoder/} directory ({@code config.json} and one file or a sharded index), or a lone
     * checkpoint file such as ComfyUI's {@code qwen_3_4b.safetensors} (config inferred from the shapes,
     * epsilon and RoPE base of Qwen3-4B). Keys may carry {@code model.} (or any prefix) or none.
     * Weights stay memory-mapped; the returned encoder owns the checkpoint.
     */
    public static Qwen3TextEncoder load(Path path, Backend backend) {
        Path dir = Files.isDirectory(path.resolve("text_encoder")) ? path.resolve("text_encoder") : path;
        Checkpoint ckpt = Safetensors.open(dir);
        try {
            String prefix = Qwen3Weights.prefix(ckpt);
            Path configJson = dir.resolve("config.json");
            Qwen3Config config = Files.isDirectory(dir) && Files.isRegularFile(configJson)
                    ? Qwen3Config.load(configJson) : Qwen3Config.infer(ckpt, prefix);
            return new Qwen3TextEncoder(backend, config, Qwen3Weights.load(ckpt, prefix, config, backend), ckpt);
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    public Qwen3Config config() {
        return config;
    }

    /** Allocates the activation buffers for sequences of up to {@code maxTokens} now rather than on first use. */
    public synchronized void reserve(int maxTokens) {
        workspaceFor(maxTokens);
    }

    /** {@code hidden_states[−2]} of {@code ids}: {@code [ids.length, hiddenSize]} row-major. */
    public float[] encode(int[] ids) {
        float[] out = new float[ids.length * config.hiddenSize()];
        encode(ids, out);
        return out;
    }

    /** {@link #encode(int[])} into {@code out} (at least {@code ids.length · hiddenSize} floats). */
    public synchronized void encode(int[] ids, float[] out) {
        if (closed) throw new IllegalStateException("text encoder is closed");
        checkIds(ids);
        if (out.length < (long) ids.length * config.hiddenSize())
            throw new IllegalArgumentException("output array of " + out.length + " floats for " + ids.length + " tokens × " + config.hiddenSize());
        Qwen3Workspace ws = workspaceFor(ids.length);
        Qwen3Workspace.Views w = ws.views(ids.length);
        backend.embeddingLookup(w.x(), weights.embedTokens(), ids);
        AttentionSpec causal = new AttentionSpec(config.numHeads(), config.numKvHeads(), config.headDim(),
                (float) (1 / Math.sqrt(config.headDim())), true, ids.length);
        backend.replay(new ReplayKey(ws, ids.length), () -> {
            for (Qwen3Weights.Layer layer : weights.layers()) layer(w, layer, causal);
        });
        backend.download(w.x(), out);
    }

    /** One decoder layer on the residual stream {@code w.x()}, in place. */
    private void layer(Qwen3Workspace.Views w, Qwen3Weights.Layer p, AttentionSpec causal) {
        float eps = (float) config.rmsNormEps();
        // self-attention block
        backend.rmsNorm(w.normed(), w.x(), p.inputLayernorm(), null, eps);
        backend.linear(w.q(), w.normed(), p.qProj(), null);
        backend.linear(w.k(), w.normed(), p.kProj(), null);
        backend.linear(w.v(), w.normed(), p.vProj(), null);
        backend.rmsNormRope(w.q(), w.q(), p.qNorm(), w.cos(), w.sin(), config.numHeads(), Rope.HALF, eps);   // QK-norm per head, RoPE
        backend.rmsNormRope(w.k(), w.k(), p.kNorm(), w.cos(), w.sin(), config.numKvHeads(), Rope.HALF, eps);
        backend.attention(w.attn(), w.q(), w.k(), w.v(), causal);
        backend.linearAdd(w.x(), w.attn(), p.oProj(), null);             // x += Wo · attn
        // SwiGLU MLP block
        backend.rmsNorm(w.normed(), w.x(), p.postAttentionLayernorm(), null, eps);
        backend.linearSwiGLU(w.mlp(), w.normed(), p.gateProj(), p.upProj());
        backend.linearAdd(w.x(), w.mlp(), p.downProj(), null);            // x += W_down · mlp
    }

    private void checkIds(int[] ids) {
        if (ids.length == 0) throw new IllegalArgumentException("no tokens to encode");
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= config.vocabSize())
                throw new IllegalArgumentException("token id " + ids[i] + " at position " + i + " is outside the vocabulary [0, " + config.vocabSize() + ")");
    }

    private Qwen3Workspace workspaceFor(int tokens) {
        if (tokens < 1) throw new IllegalArgumentException("token count must be positive, got " + tokens);
        if (workspace == null || workspace.capacity() < tokens) {
            if (workspace != null) workspace.release();
            workspace = null;
            workspace = new Qwen3Workspace(backend, config, (tokens + CAPACITY_STEP - 1) / CAPACITY_STEP * CAPACITY_STEP);
        }
        return workspace;
    }

    /** Bytes of backend-owned weight memory beyond the mapped checkpoint. */
    public long ownedWeightBytes() {
        return weights.ownedBytes();
    }

    /** Frees the buffers and weights; closes the checkpoint if this encoder owns it. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (workspace != null) workspace.release();
        weights.release(backend);
        if (owned != null) owned.close();
    }
}
