package dev.zimage4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.engine.Device;
import dev.zimage4j.engine.Engine;
import dev.zimage4j.engine.EngineConfig;
import dev.zimage4j.engine.GeneratorFactory;
import dev.zimage4j.engine.Job;
import dev.zimage4j.engine.ModelRegistry;
import dev.zimage4j.pipeline.CancellationToken;
import dev.zimage4j.pipeline.GeneratedImage;
import dev.zimage4j.pipeline.GenerationRequest;
import dev.zimage4j.pipeline.ImageGenerator;
import dev.zimage4j.pipeline.ProgressListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several workers behind the one queue (config key {@code devices}), on CPU "devices" with the deterministic
 * test generator: every job runs exactly once, both workers take jobs, no worker ever runs two at once, and the
 * images are the same as with one worker.
 */
class MultiWorkerEngineTest {
    @TempDir
    Path dir;

    /** Wraps each device's generators to record which device ran which job and how many ran at once per device. */
    static final class TrackingFactory implements GeneratorFactory {
        final TestGeneratorFactory inner = new TestGeneratorFactory(3, 0);
        final Map<String, AtomicInteger> running = new ConcurrentHashMap<>(), maxRunning = new ConcurrentHashMap<>();
        final Map<String, String> deviceOfPrompt = new ConcurrentHashMap<>();
        final AtomicInteger generations = new AtomicInteger();
        final Set<String> loadedOn = ConcurrentHashMap.newKeySet();

        @Override
        public ImageGenerator load(String modelId, Path dir, ComponentReporter reporter) {
            throw new AssertionError("the engine must load models for a device");
        }

        @Override
        public ImageGenerator load(String modelId, Path dir, Device device, ComponentReporter reporter) throws Exception {
            ImageGenerator g = inner.load(modelId, dir, reporter);
            loadedOn.add(modelId + "@" + device.name());
            AtomicInteger now = running.computeIfAbsent(device.name(), k -> new AtomicInteger());
            AtomicInteger max = maxRunning.computeIfAbsent(device.name(), k -> new AtomicInteger());
            return new ImageGenerator() {
                public String modelId() {
                    return g.modelId();
                }

                public List<GeneratedImage> generate(GenerationRequest r, ProgressListener p, CancellationToken c) {
                    max.accumulateAndGet(now.incrementAndGet(), Math::max);
                    try {
                        if (!r.prompt().equals("prewarm")) {
                            generations.incrementAndGet();
                            String before = deviceOfPrompt.put(r.prompt(), device.name());
                            if (before != null) throw new AssertionError("job '" + r.prompt() + "' ran twice (" + before + ", " + device.name() + ")");
                        }
                        return g.generate(r, p, c);
                    } finally {
                        now.decrementAndGet();
                    }
                }

                public long residentBytes() {
                    return g.residentBytes();
                }

                public void close() {
                    g.close();
                }
            };
        }
    }

    private Engine engine(String devices, GeneratorFactory factory, String out) throws Exception {
        Path models = dir.resolve("models");
        Files.createDirectories(models.resolve("tiny-a"));
        ObjectNode o = TestServer.JSON.createObjectNode();
        o.put("port", 0);
        o.putArray("model_roots").add(models.toString());
        o.put("output_dir", dir.resolve(out).toString());
        o.put("default_size", "64x64");
        o.put("default_steps", 4);
        o.put("queue_capacity", 64);
        o.put("devices", devices);
        EngineConfig config = EngineConfig.load(null, o);
        Engine e = Engine.open(config, ModelRegistry.of(config), factory);
        e.prewarmAndStart();
        return e;
    }

    /** Submits {@code n} jobs from four threads at once and waits for all; returns prompt → job. */
    private static Map<String, Job> runConcurrently(Engine e, int n) throws Exception {
        Map<String, Job> jobs = new ConcurrentHashMap<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int k = i;
                fs.add(pool.submit(() -> {
                    String prompt = "job " + k;
                    jobs.put(prompt, e.submit(GenerationRequest.of(prompt, 1000 + k).withSize(64, 64).withSteps(4), null));
                }));
            }
            for (Future<?> f : fs) f.get(10, TimeUnit.SECONDS);
        }
        for (Job j : jobs.values()) j.finished().get(20, TimeUnit.SECONDS);
        return jobs;
    }

    @Test
    void twoCpuWorkersShareTheQueueRunEachJobOnceAndMatchOneWorker() throws Exception {
        int n = 24;
        TrackingFactory two = new TrackingFactory();
        Map<String, byte[]> images2 = new HashMap<>();
        try (Engine e = engine("cpu:2", two, "out2")) {
            assertEquals(List.of("cpu:0", "cpu:1"), e.workers().stream().map(Engine.WorkerStatus::device).toList());
            Map<String, Job> jobs = runConcurrently(e, n);
            assertEquals(n, jobs.values().stream().map(Job::id).distinct().count());
            for (var en : jobs.entrySet()) {
                Job j = en.getValue();
                assertEquals(Job.State.DONE, j.state(), en.getKey() + ": " + j.error());
                assertEquals(1, j.images().size());
                images2.put(en.getKey(), Files.readAllBytes(e.store().find(j.images().getFirst().name()).orElseThrow()));
            }
            assertEquals(n, two.generations.get(), "every job generated exactly once");
            assertEquals(n, two.deviceOfPrompt.size());
            // both workers took jobs, and the per-device metrics agree with what the generators saw
            String metrics = e.metrics().render();
            long total = 0;
            for (String d : List.of("cpu:0", "cpu:1")) {
                long ran = two.deviceOfPrompt.values().stream().filter(d::equals).count();
                assertTrue(ran > 0, d + " ran no job: " + two.deviceOfPrompt);
                assertTrue(metrics.contains("zimage_device_jobs_total{device=\"" + d + "\"} " + ran), metrics);
                assertEquals(1, two.maxRunning.get(d).get(), d + " ran two jobs at once");
                assertTrue(e.metrics().deviceStepCount(d) >= ran * 3, "step latency recorded per device");
                assertTrue(two.loadedOn.contains("tiny-a@" + d), "each device loads its own copy of the model");
                total += ran;
            }
            assertEquals(n, total);
            assertTrue(metrics.contains("# TYPE zimage_device_busy_seconds_total counter"), metrics);
            assertEquals(1, metrics.lines().filter(l -> l.equals("# TYPE zimage_device_jobs_total counter")).count(), "one TYPE line per family");
            for (Engine.WorkerStatus w : e.workers()) assertTrue(w.busySeconds() > 0, w.toString());
            // /healthz shows each worker
            ApiServer api = ApiServer.start(e);
            try {
                HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(api.uri().resolve("/healthz")).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                JsonNode h = TestServer.JSON.readTree(r.body());
                assertEquals(2, h.get("workers").size(), r.body());
                assertEquals("cpu:1", h.get("workers").get(1).get("device").asText());
                assertEquals("idle", h.get("workers").get(0).get("state").asText());
                assertEquals(List.of("tiny-a"), List.of(h.get("workers").get(0).get("models").get(0).asText()));
                HttpResponse<String> m = HttpClient.newHttpClient().send(HttpRequest.newBuilder(api.uri().resolve("/v1/models")).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                JsonNode tinyA = TestServer.JSON.readTree(m.body()).get("data").get(0);
                assertTrue(tinyA.get("devices").get("cpu:0").get("loaded").asBoolean(), m.body());
                assertTrue(tinyA.get("devices").get("cpu:1").get("loaded").asBoolean(), m.body());
            } finally {
                api.close();
            }
        }
        // the same seeds with one worker give byte-identical images
        TrackingFactory one = new TrackingFactory();
        try (Engine e = engine("cpu", one, "out1")) {
            Map<String, Job> jobs = runConcurrently(e, n);
            for (var en : jobs.entrySet()) {
                byte[] png = Files.readAllBytes(e.store().find(en.getValue().images().getFirst().name()).orElseThrow());
                assertArrayEquals(images2.get(en.getKey()), png, en.getKey());
            }
            assertEquals(Set.of("cpu"), Set.copyOf(one.deviceOfPrompt.values()));
        }
    }

    @Test
    void devicesFlagOverridesTheConfig() throws Exception {
        Path cfg = Files.writeString(dir.resolve("c.json"), "{\"devices\": \"cpu\"}");
        EngineConfig c = ServeCommand.config(new dev.zimage4j.cli.Args(List.of("--config", cfg.toString(), "--devices", "cuda:0, cuda:1"),
                Set.of("--config", "--devices"), Set.of()));
        assertEquals(List.of(Device.cuda(0), Device.cuda(1)), c.deviceList());
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.zimage4j.engine.ConfigException.class, () -> ServeCommand.config(
                new dev.zimage4j.cli.Args(List.of("--devices", "cuda:1,cuda:1"), Set.of("--devices"), Set.of())));
        assertTrue(e.getMessage().contains("'cuda:1' is listed twice"), e.getMessage());
    }
}
