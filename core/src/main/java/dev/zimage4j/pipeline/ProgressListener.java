package dev.zimage4j.pipeline;

/** Receives progress from a running generation; called on the generating thread, so keep it short. */
@FunctionalInterface
public interface ProgressListener {
    /**
     * Called after each completed denoising step.
     *
     * @param image index of the image within the request (0-based)
     * @param step  steps completed for this image (1..steps)
     * @param steps total steps per image
     */
    void onStep(int image, int step, int steps);

    ProgressListener NONE = (i, s, n) -> { };
}
