package dev.zimage4j.engine;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.pipeline.ImageGenerator;
import dev.zimage4j.pipeline.ModelFiles;
import dev.zimage4j.pipeline.PipelineOptions;
import dev.zimage4j.pipeline.ZImagePipeline;

import java.nio.file.Path;
import java.util.List;

/**
 * Loads the Z-Image pipeline from a model directory (the production factory). Every model runs on one
 * backend (the compute device the engine's worker drives), created on the first load.
 */
final class PipelineGeneratorFactory implements GeneratorFactory, AutoCloseable {
    private final String backendName;
    private Backend backend;

    /** @param backendName "cpu", "cuda" or "auto" ({@link Backends#create}) */
    PipelineGeneratorFactory(String backendName) {
        this.backendName = backendName;
    }

    @Override
    public synchronized ImageGenerator load(String modelId, Path dir, ComponentReporter reporter) {
        if (backend == null) backend = Backends.create(backendName);
        ZImagePipeline p = ZImagePipeline.load(ModelFiles.resolve(List.of(dir)), backend, PipelineOptions.DEFAULT);
        // the pipeline times each component; the memory it holds is reported for the whole model
        p.loadMillis().forEach((component, ms) -> reporter.loaded(component.replaceFirst("^load ", ""), ms, 0));
        return p;
    }

    @Override
    public synchronized void close() {
        if (backend != null) backend.close();
        backend = null;
    }
}
