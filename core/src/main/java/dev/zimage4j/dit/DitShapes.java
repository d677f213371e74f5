package dev.zimage4j.dit;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every tensor a DiT checkpoint must hold, by diffusers name, with its shape (spec §2.6).
 *
 * <p>Widths that upstream hard-codes rather than configures are parameters here, because tiny test
 * models change them: the adaLN width ({@code min(dim, 256)}), the timestep-MLP hidden width (1024) and
 * the sinusoid size (256). Loaders take them from the {@code t_embedder} tensor shapes.
 *
 * @param config      the configuration
 * @param adaLnWidth  width of the timestep embedding fed to every adaLN Linear
 * @param tHidden     hidden width of the timestep MLP
 * @param tFreqDim    size of the timestep sinusoid
 */
public record DitShapes(DitConfig config, int adaLnWidth, int tHidden, int tFreqDim) {

    public DitShapes {
        if (adaLnWidth < 1 || tHidden < 1 || tFreqDim < 2 || tFreqDim % 2 != 0)
            throw new IllegalArgumentException("bad timestep widths: adaLN " + adaLnWidth + ", MLP hidden " + tHidden
                    + ", sinusoid " + tFreqDim + " (sinusoid must be even)");
    }

    /** The reference's hard-coded widths: adaLN {@code min(dim, 256)}, MLP hidden 1024, sinusoid 256. */
    public static DitShapes standard(DitConfig config) {
        return new DitShapes(config, config.defaultAdaLnWidth(), 1024, 256);
    }

    /** Expected tensors in checkpoint order (names sorted within the usual groups). */
    public Map<String, long[]> expected() {
        DitConfig c = config;
        long d = c.dim(), f = c.ffnHidden(), hd = c.headDim(), pv = c.patchVector();
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("all_x_embedder.2-1.weight", new long[]{d, pv});
        m.put("all_x_embedder.2-1.bias", new long[]{d});
        m.put("t_embedder.mlp.0.weight", new long[]{tHidden, tFreqDim});
        m.put("t_embedder.mlp.0.bias", new long[]{tHidden});
        m.put("t_embedder.mlp.2.weight", new long[]{adaLnWidth, tHidden});
        m.put("t_embedder.mlp.2.bias", new long[]{adaLnWidth});
        m.put("cap_embedder.0.weight", new long[]{c.capFeatDim()});
        m.put("cap_embedder.1.weight", new long[]{d, c.capFeatDim()});
        m.put("cap_embedder.1.bias", new long[]{d});
        m.put("x_pad_token", new long[]{1, d});
        m.put("cap_pad_token", new long[]{1, d});
        for (int i = 0; i < c.nRefinerLayers(); i++) block(m, "noise_refiner." + i + ".", true, d, f, hd);
        for (int i = 0; i < c.nRefinerLayers(); i++) block(m, "context_refiner." + i + ".", false, d, f, hd);
        for (int i = 0; i < c.nLayers(); i++) block(m, "layers." + i + ".", true, d, f, hd);
        m.put("all_final_layer.2-1.adaLN_modulation.1.weight", new long[]{d, adaLnWidth});
        m.put("all_final_layer.2-1.adaLN_modulation.1.bias", new long[]{d});
        m.put("all_final_layer.2-1.linear.weight", new long[]{pv, d});
        m.put("all_final_layer.2-1.linear.bias", new long[]{pv});
        return m;
    }

    private void block(Map<String, long[]> m, String p, boolean modulated, long d, long f, long hd) {
        m.put(p + "attention.to_q.weight", new long[]{d, d});
        m.put(p + "attention.to_k.weight", new long[]{d, d});
        m.put(p + "attention.to_v.weight", new long[]{d, d});
        m.put(p + "attention.to_out.0.weight", new long[]{d, d});
        m.put(p + "attention.norm_q.weight", new long[]{hd});
        m.put(p + "attention.norm_k.weight", new long[]{hd});
        m.put(p + "attention_norm1.weight", new long[]{d});
        m.put(p + "attention_norm2.weight", new long[]{d});
        m.put(p + "ffn_norm1.weight", new long[]{d});
        m.put(p + "ffn_norm2.weight", new long[]{d});
        m.put(p + "feed_forward.w1.weight", new long[]{f, d});
        m.put(p + "feed_forward.w2.weight", new long[]{d, f});
        m.put(p + "feed_forward.w3.weight", new long[]{f, d});
        if (modulated) {
            m.put(p + "adaLN_modulation.0.weight", new long[]{4 * d, adaLnWidth});
            m.put(p + "adaLN_modulation.0.bias", new long[]{4 * d});
        }
    }

    /** Total parameter count. */
    public long parameters() {
        long n = 0;
        for (long[] s : expected().values()) {
            long k = 1;
            for (long x : s) k *= x;
            n += k;
        }
        return n;
    }
}
