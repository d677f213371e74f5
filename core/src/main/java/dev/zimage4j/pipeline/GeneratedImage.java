package dev.zimage4j.pipeline;

import java.util.Map;

/**
 * One finished image.
 *
 * @param width       pixels
 * @param height      pixels
 * @param rgb         8-bit RGB, row-major HWC, {@code width·height·3} bytes
 * @param request     the request it answers
 * @param seed        the seed of this image (request seed + index)
 * @param stageMillis wall time per stage ("text", "denoise", "vae", …), in order
 */
public record GeneratedImage(int width, int height, byte[] rgb, GenerationRequest request, long seed,
                             Map<String, Double> stageMillis) {
}
