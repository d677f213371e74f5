package dev.zimage4j.kernels;

/** The two rotary-embedding layouts the model uses (spec §2.4 and §3.2 step 4; pitfall 5). */
public enum Rope {
    /** DiT: rotate consecutive pairs {@code (x[2m], x[2m+1])} by angle m. */
    INTERLEAVED,
    /** Qwen3: rotate {@code (x[i], x[i + D/2])} by angle i ("rotate_half"). */
    HALF
}
