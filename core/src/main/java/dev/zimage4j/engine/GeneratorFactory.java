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
     * Loads model {@code modelId} onto {@code device}, one of the devices {@link #open} returned; the engine calls
     * it from that device's worker (or while prewarming / loading on its behalf). The default ignores the device
     * (factories whose generators need no device, e.g. the test generator).
     */
    default ImageGenerator load(String modelId, Path dir, Device device, ComponentReporter reporter) throws Exception {
        return load(modelId, dir, reporter);
    }

    /**
     * Opens the configured devices before any worker starts and returns the concrete ones (one worker each):
     * {@link Device#AUTO} becomes the visible devices. The default, for factories without devices, turns
     * {@code auto} into one CPU worker and keeps the rest.
     *
     * @throws ConfigException when a configured device cannot be opened (the message names it and says why)
     */
    default java.util.List<Device> open(java.util.List<Device> configured) {
        return configured.equals(java.util.List.of(Device.AUTO)) ? java.util.List.of(Device.cpu()) : configured;
    }

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
