package dev.zimage4j.sampler;

/**
 * Classifier-free guidance exactly as diffusers' {@code ZImagePipeline} applies it (spec §1.4).
 *
 * <p>With guidance on, each step runs the DiT on the prompt ({@code pos}) and on the negative prompt
 * ({@code neg}) and combines {@code pred = pos + g·(pos − neg)} in float32 — note that {@code g = 0} means
 * "conditional only" (this g is the usual CFG weight minus 1). Options:
 * <ul>
 *   <li><b>truncation</b> ({@code cfg_truncation}, default 1.0): when it is ≤ 1, steps whose model time
 *       {@code t = 1 − σ} exceeds it run without guidance (one forward);</li>
 *   <li><b>normalization</b> ({@code cfg_normalization}, default 0 = off): when {@code k > 0}, the norm of
 *       {@code pred} (over the whole latent) is capped at {@code k·‖pos‖}.</li>
 * </ul>
 *
 * @param scale         g ≥ 0; guidance is on when g > 0
 * @param normalization k ≥ 0; 0 disables the norm cap
 * @param truncation    model-time threshold; values > 1 never truncate
 */
public record Guidance(double scale, double normalization, double truncation) {

    /** No guidance (Z-Image-Turbo's default): one DiT forward per step. */
    public static final Guidance OFF = new Guidance(0, 0, 1);

    public Guidance {
        if (!Double.isFinite(scale) || scale < 0) throw new IllegalArgumentException("guidance scale must be ≥ 0, got " + scale);
        if (!Double.isFinite(normalization) || normalization < 0)
            throw new IllegalArgumentException("cfg normalization must be ≥ 0, got " + normalization);
        if (Double.isNaN(truncation)) throw new IllegalArgumentException("cfg truncation must be a number");
    }

    /** Guidance with scale g and the pipeline's default options (no normalization, truncation 1.0). */
    public static Guidance of(double scale) {
        return new Guidance(scale, 0, 1);
    }

    /** Whether the negative prompt is needed at all. */
    public boolean enabled() {
        return scale > 0;
    }

    /** The scale to use at a step fed model time {@code modelTime}; 0 means "run the prompt only". */
    public float scaleAt(float modelTime) {
        if (!enabled()) return 0f;
        if (truncation <= 1 && (double) modelTime > truncation) return 0f;
        return (float) scale;
    }

    /**
     * {@code out = pos + g·(pos − neg)}, then the optional norm cap. {@code out} may alias {@code pos}.
     *
     * @param g the step's scale from {@link #scaleAt}
     */
    public void combine(float[] pos, float[] neg, float g, float[] out) {
        if (pos.length != neg.length || out.length != pos.length)
            throw new IllegalArgumentException("guidance inputs differ in length: " + pos.length + ", " + neg.length + ", " + out.length);
        float posNorm = normalization > 0 ? norm(pos) : 0f;
        for (int i = 0; i < pos.length; i++) out[i] = pos[i] + g * (pos[i] - neg[i]);
        if (normalization > 0) {
            float maxNorm = posNorm * (float) normalization;
            float predNorm = norm(out);
            if (predNorm > maxNorm) {
                float f = maxNorm / predNorm;
                for (int i = 0; i < out.length; i++) out[i] = out[i] * f;
            }
        }
    }

    /** The Euclidean norm, accumulated in double and rounded to float32 (torch's {@code vector_norm} result dtype). */
    private static float norm(float[] v) {
        double s = 0;
        for (float x : v) s += (double) x * x;
        return (float) Math.sqrt(s);
    }
}
