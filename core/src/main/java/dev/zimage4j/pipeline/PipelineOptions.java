package dev.zimage4j.pipeline;

/**
 * Sampling settings that are fixed per loaded pipeline rather than per request.
 *
 * @param cfgNormalization  diffusers' {@code cfg_normalization}: cap ‖guided‖ at k·‖conditional‖ (0 = off, the default)
 * @param cfgTruncation     diffusers' {@code cfg_truncation}: no guidance once model time t exceeds it (1.0 = never, the default)
 * @param bf16ModelInput    round the float32 latents to bfloat16 before each DiT call, as diffusers does when the
 *                          pipeline runs in bf16 (spec §1.4 step 8); off by default, which matches the float32 reference
 */
public record PipelineOptions(double cfgNormalization, double cfgTruncation, boolean bf16ModelInput) {
    /** No normalization, no truncation, float32 model input. */
    public static final PipelineOptions DEFAULT = new PipelineOptions(0, 1.0, false);
}
