package dev.zimage4j.server;

import dev.zimage4j.engine.GeneratorFactory;
import dev.zimage4j.pipeline.CancellationToken;
import dev.zimage4j.pipeline.GeneratedImage;
import dev.zimage4j.pipeline.GenerationRequest;
import dev.zimage4j.pipeline.ImageGenerator;
import dev.zimage4j.pipeline.ProgressListener;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A deterministic stand-in generator for server tests: the image is a pure function of (model id,
 * prompt, seed, pixel), each step sleeps {@code stepMillis} and checks cancellation, so tests can run
 * real HTTP round trips fast and still catch mixed-up or lost results. Child-process tests select it
 * with {@code -Dzimage.generator.factory=dev.zimage4j.server.TestGeneratorFactory} and tune it with
 * {@code -Dzimage.test.stepMillis}. Loading requires the model directory to exist.
 */
public final class TestGeneratorFactory implements GeneratorFactory {
    /** A prompt that makes the generator throw a {@link NoClassDefFoundError}. */
    static final String THROW_ERROR = "!throw-error!";
    final long stepMillis;
    final long loadMillis;
    final AtomicInteger open = new AtomicInteger();
    /** Generations running at once on any generator of this factory (must never exceed 1). */
    final AtomicInteger concurrent = new AtomicInteger();
    final AtomicInteger maxConcurrent = new AtomicInteger();
    /** Generations started on any generator of this factory. */
    final AtomicInteger generations = new AtomicInteger();

    public TestGeneratorFactory() {
        this(Long.getLong("zimage.test.stepMillis", 0), Long.getLong("zimage.test.loadMillis", 0));
    }

    TestGeneratorFactory(long stepMillis, long loadMillis) {
        this.stepMillis = stepMillis;
        this.loadMillis = loadMillis;
    }

    @Override
    public ImageGenerator load(String modelId, Path dir, ComponentReporter reporter) throws Exception {
        if (!Files.isDirectory(dir)) throw new java.io.FileNotFoundException("model directory " + dir + " does not exist");
        for (String c : List.of("text_encoder", "transformer", "vae")) {
            long t0 = System.nanoTime();
            Thread.sleep(loadMillis / 3);
            reporter.loaded(c, (System.nanoTime() - t0) / 1e6, 1 << 20);
        }
        open.incrementAndGet();
        return new Gen(modelId);
    }

    /** The image {@link Gen} makes for these inputs (tests compare served bytes against it). */
    static byte[] expectedRgb(String model, String prompt, long seed, int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        long k = (model + "\u0000" + prompt).hashCode() * 0x9E3779B97F4A7C15L + seed;
        for (int i = 0; i < rgb.length; i++) {
            long x = k + i * 0xBF58476D1CE4E5B9L;
            x ^= x >>> 31;
            x *= 0x94D049BB133111EBL;
            rgb[i] = (byte) (x >>> 56);
        }
        return rgb;
    }

    final class Gen implements ImageGenerator {
        private final String id;
        private boolean closed;

        Gen(String id) {
            this.id = id;
        }

        @Override
        public String modelId() {
            return id;
        }

        @Override
        public List<GeneratedImage> generate(GenerationRequest r, ProgressListener progress, CancellationToken cancel) {
            if (closed) throw new IllegalStateException("generator " + id + " used after close");
            generations.incrementAndGet();
            // a JVM Error escaping a generation (seen: NoClassDefFoundError) must fail the job, not the worker
            if (r.prompt().equals(THROW_ERROR)) throw new NoClassDefFoundError("simulated missing class");
            int now = concurrent.incrementAndGet();
            maxConcurrent.accumulateAndGet(now, Math::max);
            try {
                List<GeneratedImage> out = new ArrayList<>();
                for (int i = 0; i < r.count(); i++) {
                    long t0 = System.nanoTime();
                    for (int s = 1; s <= r.steps(); s++) {
                        cancel.check();
                        if (stepMillis > 0) sleep(stepMillis);
                        progress.onStep(i, s, r.steps());
                    }
                    Map<String, Double> stages = new LinkedHashMap<>();
                    stages.put("text", 0.1);
                    stages.put("denoise", (System.nanoTime() - t0) / 1e6);
                    stages.put("vae", 0.2);
                    out.add(new GeneratedImage(r.width(), r.height(), expectedRgb(id, r.prompt(), r.seed() + i, r.width(), r.height()),
                            r, r.seed() + i, stages));
                }
                return out;
            } finally {
                concurrent.decrementAndGet();
            }
        }

        private static void sleep(long ms) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public long residentBytes() {
            return 3 << 20;
        }

        @Override
        public void close() {
            closed = true;
            open.decrementAndGet();
        }
    }
}
