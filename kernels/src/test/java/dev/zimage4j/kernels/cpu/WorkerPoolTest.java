package dev.zimage4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WorkerPoolTest {

    @Test
    void everyTaskRunsExactlyOnce() {
        try (WorkerPool pool = new WorkerPool(3)) {
            for (int round = 0; round < 50; round++) {
                AtomicIntegerArray hits = new AtomicIntegerArray(97);
                pool.run(97, (t, w) -> {
                    assertTrue(w >= 0 && w < 3, "worker id " + w);
                    hits.incrementAndGet(t);
                });
                for (int t = 0; t < 97; t++) assertEquals(1, hits.get(t), "task " + t);
            }
        }
    }

    @Test
    void smallWorkRunsOnTheCallingThread() {
        try (WorkerPool pool = new WorkerPool(4)) {
            Thread me = Thread.currentThread();
            var threads = ConcurrentHashMap.newKeySet();
            var workers = ConcurrentHashMap.newKeySet();
            pool.run(64, WorkerPool.PARALLEL_MIN_WORK - 1, (t, w) -> {
                threads.add(Thread.currentThread());
                workers.add(w);
            });
            assertEquals(java.util.Set.of(me), threads);
            assertEquals(java.util.Set.of(0), workers, "inline tasks use the caller's scratch (worker 0)");
        }
    }

    @Test
    void aFailingTaskIsRethrownAndThePoolStaysUsable() {
        try (WorkerPool pool = new WorkerPool(2)) {
            assertThrows(IllegalStateException.class, () -> pool.run(16, (t, w) -> {
                if (t == 7) throw new IllegalStateException("task 7");
            }));
            AtomicIntegerArray hits = new AtomicIntegerArray(16);
            pool.run(16, (t, w) -> hits.incrementAndGet(t));
            for (int t = 0; t < 16; t++) assertEquals(1, hits.get(t));
        }
    }
}
