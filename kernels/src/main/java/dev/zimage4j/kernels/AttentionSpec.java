package dev.zimage4j.kernels;

/**
 * Shape and masking of one scaled-dot-product attention call.
 *
 * @param heads     query heads
 * @param kvHeads   key/value heads; query head {@code h} reads kv head {@code h / (heads / kvHeads)}
 * @param headDim   dims per head
 * @param scale     multiplier on {@code q·k} before the softmax (usually {@code 1/sqrt(headDim)})
 * @param causal    query row {@code i} attends to keys {@code 0..i} only (queries and keys aligned at 0)
 * @param validKeys keys {@code >= validKeys} are masked out (key padding); use the key count for none
 */
public record AttentionSpec(int heads, int kvHeads, int headDim, float scale, boolean causal, int validKeys) {
    public AttentionSpec {
        if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0)
            throw new IllegalArgumentException("heads " + heads + " must be a positive multiple of kvHeads " + kvHeads);
        if (headDim < 1) throw new IllegalArgumentException("headDim " + headDim + " must be positive");
        if (validKeys < 1) throw new IllegalArgumentException("validKeys " + validKeys + " must be positive");
    }

    /** Plain bidirectional multi-head attention over all keys, scale 1/sqrt(headDim). */
    public static AttentionSpec full(int heads, int headDim, int keys) {
        return new AttentionSpec(heads, heads, headDim, (float) (1 / Math.sqrt(headDim)), false, keys);
    }
}
