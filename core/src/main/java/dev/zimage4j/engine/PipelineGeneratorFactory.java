package dev.zimage4j.engine;

import dev.zimage4j.pipeline.ImageGenerator;

import java.nio.file.Path;

/** Loads the Z-Image pipeline from a model directory (the production factory). */
final class PipelineGeneratorFactory implements GeneratorFactory {
    static final PipelineGeneratorFactory INSTANCE = new PipelineGeneratorFactory();

    @Override
    public ImageGenerator load(String modelId, Path dir, ComponentReporter reporter) {
        throw new UnsupportedOperationException("this build has no Z-Image pipeline yet (branch 'pipeline' not merged); cannot load " + dir);
    }
}
