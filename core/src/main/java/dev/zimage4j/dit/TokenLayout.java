package dev.zimage4j.dit;

/**
 * How one DiT call lays out its tokens (spec §2.5): the joint sequence is {@code [image tokens (padded to
 * a multiple of 32) ; caption tokens (padded to a multiple of 32)]}.
 *
 * @param latentH  latent height (image height / 8)
 * @param latentW  latent width
 * @param patch    patch side (2)
 * @param capLen   real caption tokens Lc
 */
public record TokenLayout(int latentH, int latentW, int patch, int capLen) {

    public TokenLayout {
        if (patch < 1) throw new IllegalArgumentException("patch " + patch + " must be positive");
        if (latentH < patch || latentW < patch || latentH % patch != 0 || latentW % patch != 0)
            throw new IllegalArgumentException("latent " + latentH + "×" + latentW + " must have sides that are positive multiples of "
                    + patch + " (image sides multiples of " + 8 * patch + ")");
        if (capLen < 1) throw new IllegalArgumentException("caption length " + capLen + " must be at least 1");
    }

    /** Token rows of the image grid, Ht. */
    public int tokensH() {
        return latentH / patch;
    }

    /** Token columns of the image grid, Wt. */
    public int tokensW() {
        return latentW / patch;
    }

    /** Real image tokens N = Ht·Wt. */
    public int imageTokens() {
        return tokensH() * tokensW();
    }

    /** Image tokens after padding, Np = ceil32(N). */
    public int paddedImageTokens() {
        return ceil(imageTokens());
    }

    /** Caption tokens after padding, Lcp = ceil32(Lc). */
    public int paddedCaptionTokens() {
        return ceil(capLen);
    }

    /** Joint sequence length S = Np + Lcp. */
    public int sequence() {
        return paddedImageTokens() + paddedCaptionTokens();
    }

    private static int ceil(int n) {
        int m = DitConfig.SEQ_MULTI_OF;
        return (n + m - 1) / m * m;
    }
}
