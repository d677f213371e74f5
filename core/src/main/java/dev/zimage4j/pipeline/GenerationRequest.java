package dev.zimage4j.pipeline;

/**
 * What to generate. Validated by {@link #validate()}; every error names the offending field.
 *
 * @param prompt         the text prompt (non-empty)
 * @param negativePrompt negative prompt for classifier-free guidance ("" for none)
 * @param width          image width in pixels, a multiple of 16
 * @param height         image height in pixels, a multiple of 16
 * @param steps          denoising steps (Turbo: 8)
 * @param guidance       CFG weight as in the reference pipeline (0 = off, Turbo default)
 * @param seed           seed of the initial noise (torch CPU generator compatible)
 * @param count          images for this prompt (seeds {@code seed, seed+1, …})
 * @param initImage      img2img source as RGB bytes HWC of {@code width×height}, or null for txt2img
 * @param strength       img2img strength in (0, 1]; ignored without an init image
 */
public record GenerationRequest(String prompt, String negativePrompt, int width, int height, int steps,
                                double guidance, long seed, int count, byte[] initImage, double strength) {

    public static final int MIN_SIZE = 16;
    public static final int MAX_SIZE = 4096;
    public static final int MAX_STEPS = 100;
    public static final int MAX_COUNT = 16;

    /** A Turbo-default txt2img request: 1024², 8 steps, no guidance, one image. */
    public static GenerationRequest of(String prompt, long seed) {
        return new GenerationRequest(prompt, "", 1024, 1024, 8, 0.0, seed, 1, null, 0.6);
    }

    public GenerationRequest withSize(int w, int h) {
        return new GenerationRequest(prompt, negativePrompt, w, h, steps, guidance, seed, count, initImage, strength);
    }

    public GenerationRequest withSteps(int n) {
        return new GenerationRequest(prompt, negativePrompt, width, height, n, guidance, seed, count, initImage, strength);
    }

    /**
     * Checks every field.
     *
     * @throws InvalidRequestException naming the first bad field and the accepted range
     */
    public GenerationRequest validate() {
        if (prompt == null || prompt.isBlank()) throw new InvalidRequestException("prompt", "must not be empty");
        if (negativePrompt == null) throw new InvalidRequestException("negative_prompt", "must be a string (\"\" for none)");
        checkSize("width", width);
        checkSize("height", height);
        if (steps < 1 || steps > MAX_STEPS) throw new InvalidRequestException("steps", "must be 1.." + MAX_STEPS + ", got " + steps);
        if (!Double.isFinite(guidance) || guidance < 0 || guidance > 30)
            throw new InvalidRequestException("guidance", "must be a number in 0..30, got " + guidance);
        if (count < 1 || count > MAX_COUNT) throw new InvalidRequestException("count", "must be 1.." + MAX_COUNT + ", got " + count);
        if (initImage != null) {
            if (initImage.length != (long) width * height * 3)
                throw new InvalidRequestException("image", "must be " + width + "×" + height + " RGB");
            if (!(strength > 0 && strength <= 1)) throw new InvalidRequestException("strength", "must be in (0, 1], got " + strength);
        }
        return this;
    }

    private static void checkSize(String field, int v) {
        if (v < MIN_SIZE || v > MAX_SIZE || v % 16 != 0)
            throw new InvalidRequestException(field, "must be a multiple of 16 in " + MIN_SIZE + ".." + MAX_SIZE + ", got " + v);
    }
}
