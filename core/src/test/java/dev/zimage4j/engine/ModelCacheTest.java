package dev.zimage4j.engine;

import dev.zimage4j.pipeline.CancellationToken;
import dev.zimage4j.pipeline.GeneratedImage;
import dev.zimage4j.pipeline.GenerationRequest;
import dev.zimage4j.pipeline.ImageGenerator;
import dev.zimage4j.pipeline.ProgressListener;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelCacheTest {
    /** Counts loads and closes; loading takes {@code loadMillis}. */
    static final class Counting implements GeneratorFactory {
        final List<String> loads = new ArrayList<>(), closes = new ArrayList<>();
        final long loadMillis;

        Counting(long loadMillis) {
            this.loadMillis = loadMillis;
        }

        @Override
        public synchronized ImageGenerator load(String id, Path dir, ComponentReporter reporter) throws Exception {
            if (id.equals("broken")) throw new IllegalStateException("transformer/config.json is missing");
            Thread.sleep(loadMillis);
            loads.add(id);
            return new ImageGenerator() {
                public String modelId() {
                    return id;
                }

                public List<GeneratedImage> generate(GenerationRequest r, ProgressListener p, CancellationToken c) {
                    return List.of();
                }

                public long residentBytes() {
                    return 100;
                }

                public void close() {
                    synchronized (Counting.this) {
                        closes.add(id);
                    }
                }
            };
        }
    }

    private static ModelCache cache(Counting f, int max, boolean keep) {
        return new ModelCache(id -> Path.of("/models", id), f, new LoadTrace(), max, keep);
    }

    @Test
    void concurrentRequestsForOneModelLoadItOnce() throws Exception {
        Counting f = new Counting(200);
        ModelCache c = cache(f, 2, true);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> all = new ArrayList<>();
        for (int i = 0; i < 8; i++)
            all.add(pool.submit(() -> {
                go.await();
                try (ModelCache.Lease l = c.acquire("m", "test")) {
                    assertEquals("m", l.generator().modelId());
                }
                return null;
            }));
        go.countDown();
        for (Future<?> x : all) x.get();
        pool.shutdown();
        assertEquals(List.of("m"), f.loads);
        assertEquals(1, c.misses());
        assertEquals(7, c.hits());
    }

    @Test
    void evictsTheLeastRecentlyUsedIdleModelNeverOneInUse() {
        Counting f = new Counting(0);
        ModelCache c = cache(f, 2, true);
        c.acquire("a", "t").close();
        c.acquire("b", "t").close();
        c.acquire("a", "t").close();          // a is now more recent than b
        c.acquire("c", "t").close();          // evicts b
        assertEquals(List.of("b"), f.closes);
        assertTrue(c.isLoaded("a"));
        assertFalse(c.isLoaded("b"));

        ModelCache.Lease holdA = c.acquire("a", "t");
        ModelCache.Lease holdC = c.acquire("c", "t");
        ModelCache.Lease holdD = c.acquire("d", "t");   // all in use: the cache goes over its limit rather than evict
        assertEquals(3, c.cached().size());
        assertThrows(ModelInUseException.class, () -> c.unload("a"));
        holdA.close();                                   // a becomes idle and least recent: evicted
        assertEquals(List.of("b", "a"), f.closes);
        holdC.close();
        holdD.close();
        assertEquals(2, c.cached().size());
        assertEquals(List.of("a", "b", "c", "d"), f.loads);
    }

    @Test
    void withoutKeepInMemoryEveryRequestReloads() {
        Counting f = new Counting(0);
        ModelCache c = cache(f, 2, false);
        c.acquire("a", "t").close();
        c.acquire("a", "t").close();
        assertEquals(List.of("a", "a"), f.loads);
        assertEquals(List.of("a", "a"), f.closes);
    }

    @Test
    void aFailedLoadIsReportedAndNotCached() {
        ModelCache c = cache(new Counting(0), 2, true);
        var e = assertThrows(ModelLoadException.class, () -> c.acquire("broken", "t"));
        assertTrue(e.getMessage().contains("transformer/config.json is missing"), e.getMessage());
        assertTrue(c.cached().isEmpty());
    }
}
