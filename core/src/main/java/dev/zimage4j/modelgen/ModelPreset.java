package dev.zimage4j.modelgen;

import dev.zimage4j.dit.DitConfig;

/**
 * Component shapes for {@code zimage make-random-model}.
 *
 * @param name   preset name on the command line
 * @param dit    transformer configuration
 * @param text   text encoder shapes
 * @param vae    VAE shapes
 */
public record ModelPreset(String name, DitConfig dit, Qwen3Shapes text, VaeShapes vae) {

    /**
     * The built-in demo model: the sizes of the tiny-a fixtures (DiT width 64, 2 heads, RoPE axes [8, 12, 12];
     * Qwen3 width 32, 3 layers, GQA 4/2, head 16, real vocabulary; VAE [32, 32, 64, 64]).
     */
    public static final ModelPreset TINY = new ModelPreset("tiny",
            new DitConfig(16, 2, 1, 64, 2, 2, 2, 2, 1e-5f, 32, 256.0, new int[]{8, 12, 12}, new int[]{1536, 512, 512}, 1000f),
            new Qwen3Shapes(32, 3, 4, 2, 16, 64, 151936, 1_000_000.0, 1e-6),
            new VaeShapes(new int[]{32, 32, 64, 64}, 2, 8, 16, 32));

    /** The real Z-Image-Turbo shapes: 6.15 B DiT, Qwen3-4B (36 layers), FLUX VAE. */
    public static final ModelPreset REAL = new ModelPreset("real", DitConfig.Z_IMAGE_TURBO, Qwen3Shapes.QWEN3_4B, VaeShapes.FLUX);

    /** The preset called {@code name} ("tiny" or "real"). */
    public static ModelPreset named(String name) {
        return switch (name) {
            case "tiny" -> TINY;
            case "real" -> REAL;
            default -> throw new IllegalArgumentException("unknown preset '" + name + "' (known: tiny, real)");
        };
    }
}
