package dev.zimage4j.dit;

/**
 * Position ids and the 3-axis rotary angle tables of the joint sequence (spec §2.4, §2.5).
 *
 * <p>Position ids {@code (p0, p1, p2)}: caption token j (pads included) {@code (1 + j, 0, 0)}; image token
 * (h, w) {@code (Lcp + 1, h, w)}; image pad tokens {@code (0, 0, 0)}. Angles per axis a:
 * {@code p_a · ω_{a,k}} with {@code ω_{a,k} = θ^(−2k/d_a)}, computed in float64 and rounded to float32
 * (as the reference builds its tables), cos/sin of the float32 angle.
 *
 * @param cos [S, headDim/2] row-major, joint-sequence order (image tokens first)
 * @param sin same layout
 */
public record RopeTables(float[] cos, float[] sin) {

    /** Position ids of the joint sequence, {@code [S][3]} flattened. */
    public static int[] positionIds(TokenLayout l) {
        int np = l.paddedImageTokens(), lcp = l.paddedCaptionTokens(), wt = l.tokensW();
        int[] ids = new int[3 * l.sequence()];
        for (int n = 0; n < l.imageTokens(); n++) {
            ids[3 * n] = lcp + 1;
            ids[3 * n + 1] = n / wt;
            ids[3 * n + 2] = n % wt;
        }
        // image pad tokens n ∈ [N, Np) keep (0, 0, 0): identity rotation
        for (int j = 0; j < lcp; j++) ids[3 * (np + j)] = 1 + j;
        return ids;
    }

    /**
     * The tables for {@code layout}.
     *
     * @throws IllegalArgumentException when a position id reaches the config's {@code axes_lens} (the
     *                                  reference tables end there: image or caption too long)
     */
    public static RopeTables build(DitConfig c, TokenLayout layout) {
        int[] lens = c.axesLens(), dims = c.axesDims();
        int lcp = layout.paddedCaptionTokens();
        if (lcp + 1 >= lens[0])
            throw new IllegalArgumentException("caption of " + layout.capLen() + " tokens needs position " + (lcp + 1)
                    + " but axes_lens[0] is " + lens[0]);
        if (layout.tokensH() > lens[1] || layout.tokensW() > lens[2])
            throw new IllegalArgumentException("latent " + layout.latentH() + "×" + layout.latentW() + " gives a "
                    + layout.tokensH() + "×" + layout.tokensW() + " token grid, beyond axes_lens " + lens[1] + "×" + lens[2]);
        double[] omega = frequencies(c);
        int half = omega.length, s = layout.sequence();
        int[] ids = positionIds(layout);
        float[] cos = new float[s * half], sin = new float[s * half];
        for (int i = 0; i < s; i++) {
            int k = 0;
            for (int a = 0; a < 3; a++) {
                for (int m = 0; m < dims[a] / 2; m++, k++) {
                    float angle = (float) (ids[3 * i + a] * omega[k]);
                    cos[i * half + k] = (float) Math.cos(angle);
                    sin[i * half + k] = (float) Math.sin(angle);
                }
            }
        }
        return new RopeTables(cos, sin);
    }

    /** The head_dim/2 frequencies, axis after axis: {@code 1 / θ^(2k/d_a)} in float64. */
    static double[] frequencies(DitConfig c) {
        int[] dims = c.axesDims();
        double[] omega = new double[c.headDim() / 2];
        int k = 0;
        for (int d : dims)
            for (int m = 0; m < d / 2; m++) omega[k++] = 1.0 / Math.pow(c.ropeTheta(), (2.0 * m) / d);
        return omega;
    }
}
