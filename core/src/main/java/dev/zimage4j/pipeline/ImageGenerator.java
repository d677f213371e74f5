package dev.zimage4j.pipeline;

import java.util.List;

/**
 * A loaded, ready text-to-image model: what the engine caches and the server calls. Implemented by
 * {@code ZImagePipeline}. Not thread-safe: one generation at a time per instance (the engine runs one
 * worker per compute device).
 */
public interface ImageGenerator extends AutoCloseable {

    /** The model id it was loaded as. */
    String modelId();

    /** Generates {@code request.count()} images, reporting each step, checking {@code cancel} between steps. */
    List<GeneratedImage> generate(GenerationRequest request, ProgressListener progress, CancellationToken cancel);

    /**
     * Denoising steps of a prewarm generation that warms everything a {@code steps}-step request uses (kernels,
     * graphs, workspaces, the JIT). The default is {@code steps}.
     */
    default int prewarmSteps(int steps) {
        return steps;
    }

    /** Bytes of memory this model holds beyond the page-cache-backed mapping (heap copies, device memory). */
    long residentBytes();

    @Override
    void close();
}
