package dev.zimage4j.engine;

import dev.zimage4j.pipeline.ImageGenerator;

import java.nio.file.Path;

/**
 * Loads a model directory into a ready {@link ImageGenerator}. The engine calls it only on a cache
 * miss; the factory reports each component it loads so the load trace can show where the time went.
 */
@FunctionalInterface
public interface GeneratorFactory {

    /** Receives one line per loaded component (e.g. "text_encoder", "transformer", "vae"). */
    @FunctionalInterface
    interface ComponentReporter {
        /**
         * @param component the part loaded
         * @param millis    wall time it took
         * @param bytes     memory it holds beyond the page-cache-backed mapping
         */
        void loaded(String component, double millis, long bytes);
    }

    /**
     * Loads model {@code modelId} from {@code dir}.
     *
     * @throws Exception with a message saying what is missing or malformed in {@code dir}
     */
    ImageGenerator load(String modelId, Path dir, ComponentReporter reporter) throws Exception;

    /**
     * The factory this process uses: the class named by system property {@code zimage.generator.factory}
     * (a public no-argument class; tests use it to run servers on a deterministic test generator), else
     * the Z-Image pipeline on backend {@code backend} ("cpu", "cuda", "auto").
     */
    static GeneratorFactory fromSystem(String backend) {
        String cls = System.getProperty("zimage.generator.factory");
        if (cls == null) return new PipelineGeneratorFactory(backend);
        try {
            return (GeneratorFactory) Class.forName(cls).getConstructor().newInstance();
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw new ConfigException("zimage.generator.factory=" + cls + " is not a public GeneratorFactory class with a no-argument constructor: " + e);
        }
    }
}
