package dev.zimage4j.engine;

import dev.zimage4j.pipeline.ImageGenerator;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Loaded generators by model id, least recently used first. A model is loaded at most once while it
 * stays cached (concurrent acquirers of a loading model wait for that one load). At most
 * {@code maxCached} models stay loaded; the least recently used <em>idle</em> one is evicted, never one
 * a job holds (the cache may exceed the limit while every model is in use). With
 * {@code keepInMemory = false} a model is unloaded as soon as its last user releases it.
 */
public final class ModelCache implements AutoCloseable {

    /** A held model: generate with {@link #generator()}, then {@link #close()} to release it. */
    public final class Lease implements AutoCloseable {
        private final Entry entry;
        private boolean released;

        private Lease(Entry entry) {
            this.entry = entry;
        }

        public ImageGenerator generator() {
            return entry.loaded.join();
        }

        /** Records that a generation completed on this model, so its code paths are warm ({@code GET /v1/models} says so). */
        public void markWarm() {
            entry.warm = true;
        }

        @Override
        public void close() {
            if (!released) {
                released = true;
                release(entry);
            }
        }
    }

    /** A loaded (or loading) model and how many leases hold it. */
    private static final class Entry {
        final String id;
        final CompletableFuture<ImageGenerator> loaded = new CompletableFuture<>();
        int users;
        volatile boolean warm;

        Entry(String id) {
            this.id = id;
        }
    }

    /** One cached model as {@code GET /v1/models} shows it. */
    public record Cached(String id, boolean loading, int users, long residentBytes, boolean warm) {
    }

    private final Function<String, Path> resolver;
    private final GeneratorFactory factory;
    private final LoadTrace trace;
    private final int maxCached;
    private final boolean keepInMemory;
    private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
    private final AtomicLong hits = new AtomicLong(), misses = new AtomicLong(), evictions = new AtomicLong();

    /**
     * @param resolver     model id → directory (throws {@link UnknownModelException})
     * @param factory      what loads a directory
     * @param trace        where every load is recorded
     * @param maxCached    models kept loaded at most
     * @param keepInMemory false: unload when the last user releases
     */
    public ModelCache(Function<String, Path> resolver, GeneratorFactory factory, LoadTrace trace, int maxCached,
                      boolean keepInMemory) {
        this.resolver = resolver;
        this.factory = factory;
        this.trace = trace;
        this.maxCached = maxCached;
        this.keepInMemory = keepInMemory;
    }

    /**
     * Holds model {@code id}, loading it if it is not cached.
     *
     * @param trigger recorded in the load trace when this call loads it
     * @throws UnknownModelException   for an id the registry does not know
     * @throws ModelLoadException      when loading fails
     */
    public Lease acquire(String id, String trigger) {
        Path dir = resolver.apply(id);
        Entry e;
        boolean mustLoad;
        synchronized (this) {
            e = entries.get(id);
            mustLoad = e == null;
            if (mustLoad) {
                e = new Entry(id);
                entries.put(id, e);
                misses.incrementAndGet();
            } else {
                hits.incrementAndGet();
            }
            e.users++;
        }
        if (mustLoad) load(e, dir, trigger);
        try {
            e.loaded.join();
        } catch (CompletionException ex) {
            synchronized (this) {
                e.users--;
            }
            throw ex.getCause() instanceof ModelLoadException m ? m : new ModelLoadException(id, ex.getCause());
        }
        evictIdle();
        return new Lease(e);
    }

    private void load(Entry e, Path dir, String trigger) {
        List<LoadTrace.Component> parts = new ArrayList<>();
        long t0 = System.nanoTime();
        try {
            ImageGenerator g = factory.load(e.id, dir, (name, ms, bytes) -> parts.add(new LoadTrace.Component(name, ms, bytes)));
            double total = (System.nanoTime() - t0) / 1e6;
            if (parts.isEmpty()) parts.add(new LoadTrace.Component("model", total, g.residentBytes()));
            trace.record(new LoadTrace.Load(e.id, trigger, Instant.now(), List.copyOf(parts), total, g.residentBytes()));
            e.loaded.complete(g);
        } catch (Throwable t) {
            synchronized (this) {
                entries.remove(e.id, e);
            }
            Log.info("load " + e.id + " (trigger: " + trigger + ") failed: " + t);
            e.loaded.completeExceptionally(new ModelLoadException(e.id, t));
        }
    }

    private void release(Entry e) {
        boolean unload;
        synchronized (this) {
            e.users--;
            unload = !keepInMemory && e.users == 0 && entries.remove(e.id, e);
        }
        if (unload) close(e, "keep_model_in_memory is false");
        else evictIdle();
    }

    private void evictIdle() {
        List<Entry> evicted = new ArrayList<>();
        synchronized (this) {
            Iterator<Entry> it = entries.values().iterator();   // least recently used first
            int size = entries.size();
            while (size > maxCached && it.hasNext()) {
                Entry e = it.next();
                if (e.users == 0 && e.loaded.isDone()) {
                    it.remove();
                    evicted.add(e);
                    size--;
                }
            }
        }
        for (Entry e : evicted) {
            evictions.incrementAndGet();
            close(e, "evicted (max_cached_models = " + maxCached + ")");
        }
    }

    private static void close(Entry e, String why) {
        ImageGenerator g = e.loaded.getNow(null);
        if (g == null) return;
        try {
            g.close();
            Log.info("unloaded " + e.id + ": " + why);
        } catch (RuntimeException ex) {
            Log.info("closing " + e.id + " failed: " + ex);
        }
    }

    /**
     * Unloads model {@code id} now.
     *
     * @return false when it was not loaded
     * @throws ModelInUseException when a job holds it
     */
    public boolean unload(String id) {
        Entry e;
        synchronized (this) {
            e = entries.get(id);
            if (e == null) return false;
            if (e.users > 0) throw new ModelInUseException(id, e.users);
            entries.remove(id);
        }
        close(e, "unload requested");
        return true;
    }

    /** The cached models, least recently used first. */
    public synchronized List<Cached> cached() {
        List<Cached> out = new ArrayList<>();
        for (Entry e : entries.values()) {
            ImageGenerator g = e.loaded.isCompletedExceptionally() ? null : e.loaded.getNow(null);
            out.add(new Cached(e.id, g == null, e.users, g == null ? 0 : g.residentBytes(), e.warm));
        }
        return out;
    }

    /** True when {@code id} is loaded (not just loading). */
    public synchronized boolean isLoaded(String id) {
        // iterate rather than get(): a lookup would count as a use and reorder the LRU
        for (Entry e : entries.values())
            if (e.id.equals(id)) return e.loaded.isDone() && !e.loaded.isCompletedExceptionally();
        return false;
    }

    public long hits() {
        return hits.get();
    }

    public long misses() {
        return misses.get();
    }

    public long evictions() {
        return evictions.get();
    }

    /** Sum of {@code residentBytes()} over the loaded models. */
    public long residentBytes() {
        return cached().stream().mapToLong(Cached::residentBytes).sum();
    }

    /** Closes every idle model (models in use are left to their jobs). */
    @Override
    public void close() {
        List<Entry> all;
        synchronized (this) {
            all = new ArrayList<>(entries.values());
            entries.values().removeIf(e -> e.users == 0);
        }
        for (Entry e : all) if (e.users == 0) close(e, "server exit (unload_on_exit)");
    }
}
