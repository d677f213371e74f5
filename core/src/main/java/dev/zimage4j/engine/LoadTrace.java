package dev.zimage4j.engine;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Every model load of this process: what triggered it, how long each component took and the memory it
 * holds. Each load is logged as it happens; {@link #count(String)} lets tests prove a loaded model is
 * never loaded again.
 */
public final class LoadTrace {

    /** One component of a load. */
    public record Component(String name, double millis, long bytes) {
    }

    /**
     * One model load.
     *
     * @param modelId       the model
     * @param trigger       what asked for it: "startup prewarm", "request JOBID", "api", "cli"
     * @param at            when it finished
     * @param components    per-component times and memory, in load order
     * @param totalMillis   wall time of the whole load
     * @param residentBytes what the loaded model holds ({@code ImageGenerator.residentBytes()})
     */
    public record Load(String modelId, String trigger, Instant at, List<Component> components, double totalMillis,
                       long residentBytes) {
    }

    private final List<Load> loads = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicLong> perModel = new ConcurrentHashMap<>();

    void record(Load load) {
        loads.add(load);
        perModel.computeIfAbsent(load.modelId(), k -> new AtomicLong()).incrementAndGet();
        StringBuilder sb = new StringBuilder("load ").append(load.modelId()).append(" (trigger: ").append(load.trigger()).append("):");
        for (Component c : load.components())
            sb.append(String.format(" %s %.0f ms %s,", c.name(), c.millis(), mib(c.bytes())));
        sb.append(String.format(" total %.0f ms, resident %s", load.totalMillis(), mib(load.residentBytes())));
        Log.info(sb.toString());
    }

    private static String mib(long bytes) {
        return String.format("%.1f MiB", bytes / (1024.0 * 1024));
    }

    /** Loads of every model so far. */
    public long count() {
        return loads.size();
    }

    /** Loads of {@code modelId} so far. */
    public long count(String modelId) {
        AtomicLong n = perModel.get(modelId);
        return n == null ? 0 : n.get();
    }

    /** Every load, oldest first. */
    public List<Load> loads() {
        return List.copyOf(loads);
    }
}
