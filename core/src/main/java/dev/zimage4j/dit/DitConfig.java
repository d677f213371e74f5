package dev.zimage4j.dit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The DiT hyper-parameters of {@code transformer/config.json} (spec §2.1).
 *
 * @param inChannels      latent channels (16)
 * @param patchSize       spatial patch side (2)
 * @param fPatchSize      frame patch (1; only 1 is supported: images)
 * @param dim             model width d
 * @param nLayers         main (joint) blocks
 * @param nRefinerLayers  noise-refiner blocks, and separately context-refiner blocks
 * @param nHeads          attention heads (head_dim = dim / nHeads)
 * @param nKvHeads        key/value heads (equal to nHeads in every Z-Image checkpoint)
 * @param normEps         eps of every RMSNorm in the DiT
 * @param capFeatDim      caption feature width (the text encoder's hidden size)
 * @param ropeTheta       RoPE base (256)
 * @param axesDims        RoPE dims per axis (frame/sequence, height, width); sum = head_dim
 * @param axesLens        RoPE table length per axis: every position id must be below it
 * @param tScale          the model multiplies its time input by this before the sinusoid
 */
public record DitConfig(int inChannels, int patchSize, int fPatchSize, int dim, int nLayers, int nRefinerLayers,
                        int nHeads, int nKvHeads, float normEps, int capFeatDim, double ropeTheta,
                        int[] axesDims, int[] axesLens, float tScale) {

    /** Sequence lengths are padded to a multiple of this with the learned pad tokens (hard-coded upstream). */
    public static final int SEQ_MULTI_OF = 32;

    /** The shipped Z-Image-Turbo configuration. */
    public static final DitConfig Z_IMAGE_TURBO = new DitConfig(16, 2, 1, 3840, 30, 2, 30, 30, 1e-5f, 2560, 256.0,
            new int[]{32, 48, 48}, new int[]{1536, 512, 512}, 1000f);

    public DitConfig {
        List<String> bad = new ArrayList<>();
        if (inChannels < 1) bad.add("in_channels " + inChannels + " must be positive");
        if (patchSize < 1) bad.add("all_patch_size " + patchSize + " must be positive");
        if (fPatchSize != 1) bad.add("all_f_patch_size " + fPatchSize + " is not supported (images need 1)");
        if (dim < 1 || nHeads < 1 || dim % nHeads != 0) bad.add("dim " + dim + " must be a positive multiple of n_heads " + nHeads);
        if (nKvHeads != nHeads) bad.add("n_kv_heads " + nKvHeads + " must equal n_heads " + nHeads + " (Z-Image uses plain multi-head attention)");
        if (nLayers < 1) bad.add("n_layers " + nLayers + " must be at least 1");
        if (nRefinerLayers < 0) bad.add("n_refiner_layers " + nRefinerLayers + " must not be negative");
        if (capFeatDim < 1) bad.add("cap_feat_dim " + capFeatDim + " must be positive");
        if (!(normEps > 0)) bad.add("norm_eps " + normEps + " must be positive");
        if (!(ropeTheta > 0)) bad.add("rope_theta " + ropeTheta + " must be positive");
        if (axesDims == null || axesDims.length != 3) bad.add("axes_dims must have 3 entries");
        else {
            int sum = 0;
            for (int a : axesDims) {
                if (a < 2 || a % 2 != 0) bad.add("axes_dims entry " + a + " must be even and positive");
                sum += a;
            }
            if (nHeads > 0 && dim % nHeads == 0 && sum != dim / nHeads)
                bad.add("axes_dims sum " + sum + " must equal head_dim " + dim / Math.max(1, nHeads));
        }
        if (axesLens == null || axesLens.length != 3) bad.add("axes_lens must have 3 entries");
        if (!bad.isEmpty()) throw new IllegalArgumentException("invalid DiT config: " + String.join("; ", bad));
        axesDims = axesDims.clone();
        axesLens = axesLens.clone();
    }

    /** Dims per attention head. */
    public int headDim() {
        return dim / nHeads;
    }

    /** SwiGLU hidden width {@code int(dim / 3 · 8)} (10240 for dim 3840). */
    public int ffnHidden() {
        return (int) (dim / 3.0 * 8);
    }

    /** Length of one patch vector: {@code patch² · in_channels} (64). */
    public int patchVector() {
        return patchSize * patchSize * inChannels;
    }

    /** The adaLN width rule of the reference, {@code min(dim, 256)}; loaders take it from tensor shapes. */
    public int defaultAdaLnWidth() {
        return Math.min(dim, 256);
    }

    /** Value equality, arrays compared by content. */
    @Override
    public boolean equals(Object o) {
        return o instanceof DitConfig c && inChannels == c.inChannels && patchSize == c.patchSize
                && fPatchSize == c.fPatchSize && dim == c.dim && nLayers == c.nLayers && nRefinerLayers == c.nRefinerLayers
                && nHeads == c.nHeads && nKvHeads == c.nKvHeads && Float.compare(normEps, c.normEps) == 0
                && capFeatDim == c.capFeatDim && Double.compare(ropeTheta, c.ropeTheta) == 0
                && java.util.Arrays.equals(axesDims, c.axesDims) && java.util.Arrays.equals(axesLens, c.axesLens)
                && Float.compare(tScale, c.tScale) == 0;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(inChannels, patchSize, dim, nLayers, nRefinerLayers, nHeads, capFeatDim,
                java.util.Arrays.hashCode(axesDims), java.util.Arrays.hashCode(axesLens));
    }

    @Override
    public String toString() {
        return "DitConfig[dim " + dim + ", heads " + nHeads + ", layers " + nLayers + ", refiners " + nRefinerLayers
                + ", cap " + capFeatDim + ", axes " + java.util.Arrays.toString(axesDims) + " / "
                + java.util.Arrays.toString(axesLens) + ", theta " + ropeTheta + ", eps " + normEps + ", t_scale " + tScale + "]";
    }

    @Override
    public int[] axesDims() {
        return axesDims.clone();
    }

    @Override
    public int[] axesLens() {
        return axesLens.clone();
    }

    /** Reads {@code config.json} of a diffusers {@code transformer/} folder (or the file itself). */
    public static DitConfig load(Path configJson) throws IOException {
        Path file = Files.isDirectory(configJson) ? configJson.resolve("config.json") : configJson;
        if (!Files.isRegularFile(file)) throw new IOException("DiT config not found: " + file);
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException("cannot parse DiT config " + file + ": " + e.getMessage(), e);
        }
        try {
            return parse(n);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Builds a config from parsed {@code config.json}; absent keys take the Z-Image-Turbo value. */
    public static DitConfig parse(JsonNode n) {
        DitConfig d = Z_IMAGE_TURBO;
        return new DitConfig(
                intKey(n, "in_channels", d.inChannels),
                firstOfList(n, "all_patch_size", d.patchSize),
                firstOfList(n, "all_f_patch_size", d.fPatchSize),
                intKey(n, "dim", d.dim),
                intKey(n, "n_layers", d.nLayers),
                intKey(n, "n_refiner_layers", d.nRefinerLayers),
                intKey(n, "n_heads", d.nHeads),
                intKey(n, "n_kv_heads", intKey(n, "n_heads", d.nKvHeads)),
                (float) doubleKey(n, "norm_eps", d.normEps),
                intKey(n, "cap_feat_dim", d.capFeatDim),
                doubleKey(n, "rope_theta", d.ropeTheta),
                intList(n, "axes_dims", d.axesDims),
                intList(n, "axes_lens", d.axesLens),
                (float) doubleKey(n, "t_scale", d.tScale));
    }

    private static int intKey(JsonNode n, String key, int def) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.canConvertToInt() || !v.isIntegralNumber()) throw new IllegalArgumentException(key + " must be an integer, got " + v);
        return v.intValue();
    }

    private static double doubleKey(JsonNode n, String key, double def) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.isNumber()) throw new IllegalArgumentException(key + " must be a number, got " + v);
        return v.doubleValue();
    }

    private static int firstOfList(JsonNode n, String key, int def) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.isArray() || v.size() != 1 || !v.get(0).isIntegralNumber())
            throw new IllegalArgumentException(key + " must be a one-element integer list, got " + v);
        return v.get(0).intValue();
    }

    private static int[] intList(JsonNode n, String key, int[] def) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.isArray()) throw new IllegalArgumentException(key + " must be a list, got " + v);
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            if (!v.get(i).isIntegralNumber()) throw new IllegalArgumentException(key + " must hold integers, got " + v);
            out[i] = v.get(i).intValue();
        }
        return out;
    }

    /**
     * Infers the configuration of a checkpoint that comes without {@code config.json} (a lone single-file
     * DiT) from its tensor shapes (diffusers names, see {@link DitKeyMapping}): width, layer counts,
     * caption width and head_dim ({@code norm_q}). The RoPE split is not stored in the weights, so only
     * head_dim 128 is accepted (Z-Image's [32, 48, 48]); other models need their {@code config.json}.
     *
     * @throws IllegalArgumentException when the shapes do not identify a Z-Image DiT
     */
    public static DitConfig infer(java.util.Map<String, dev.zimage4j.safetensors.TensorView> t, String source) {
        var x = t.get("all_x_embedder.2-1.weight");
        var normQ = t.get("layers.0.attention.norm_q.weight");
        var cap = t.get("cap_embedder.0.weight");
        if (x == null || normQ == null || cap == null || x.shape().length != 2 || normQ.shape().length != 1 || cap.shape().length != 1)
            throw new IllegalArgumentException(source + ": cannot infer a DiT config (x_embedder, layers.0 norm_q or cap_embedder "
                    + "missing or not of the expected rank); put the model's config.json next to it");
        int dim = Math.toIntExact(x.shape()[0]), headDim = Math.toIntExact(normQ.shape()[0]);
        if (headDim != 128)
            throw new IllegalArgumentException(source + ": head_dim " + headDim + " is not Z-Image's 128, so the RoPE axes "
                    + "cannot be inferred; put the model's config.json next to it");
        int patchVector = Math.toIntExact(x.shape()[1]);
        if (patchVector % 4 != 0) throw new IllegalArgumentException(source + ": x_embedder input " + patchVector + " is not 2·2·channels");
        DitConfig d = Z_IMAGE_TURBO;
        return new DitConfig(patchVector / 4, 2, 1, dim, count(t, "layers."), count(t, "noise_refiner."), dim / headDim,
                dim / headDim, d.normEps, Math.toIntExact(cap.shape()[0]), d.ropeTheta, d.axesDims, d.axesLens, d.tScale);
    }

    /** Number of blocks {@code prefix0.}, {@code prefix1.}, … present (by their attention_norm1). */
    private static int count(java.util.Map<String, ?> t, String prefix) {
        int n = 0;
        while (t.containsKey(prefix + n + ".attention_norm1.weight")) n++;
        return n;
    }

    /** The {@code config.json} text for this configuration (what make-random-model writes). */
    public String toJson() {
        return """
                {
                  "_class_name": "ZImageTransformer2DModel",
                  "_diffusers_version": "0.40.0.dev0",
                  "all_f_patch_size": [%d],
                  "all_patch_size": [%d],
                  "axes_dims": [%d, %d, %d],
                  "axes_lens": [%d, %d, %d],
                  "cap_feat_dim": %d,
                  "dim": %d,
                  "in_channels": %d,
                  "n_heads": %d,
                  "n_kv_heads": %d,
                  "n_layers": %d,
                  "n_refiner_layers": %d,
                  "norm_eps": %s,
                  "qk_norm": true,
                  "rope_theta": %s,
                  "siglip_feat_dim": null,
                  "t_scale": %s
                }
                """.formatted(fPatchSize, patchSize, axesDims[0], axesDims[1], axesDims[2], axesLens[0], axesLens[1],
                axesLens[2], capFeatDim, dim, inChannels, nHeads, nKvHeads, nLayers, nRefinerLayers,
                Float.toString(normEps), Double.toString(ropeTheta), Float.toString(tScale));
    }
}
