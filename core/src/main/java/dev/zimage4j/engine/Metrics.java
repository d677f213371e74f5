package dev.zimage4j.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * Counters, gauges and per-stage latency histograms, rendered as Prometheus text
 * ({@code GET /metrics}). Stage names come from the pipeline's {@code stageMillis} plus the engine's own
 * "queue_wait", "load" and "total".
 */
public final class Metrics {
    /** Histogram bucket upper bounds, seconds. */
    static final double[] BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

    /** A cumulative-bucket latency histogram. */
    static final class Histogram {
        final AtomicLongArray counts = new AtomicLongArray(BUCKETS.length + 1);
        final AtomicLong count = new AtomicLong();
        final AtomicLong sumNanos = new AtomicLong();

        void observe(double seconds) {
            int i = 0;
            while (i < BUCKETS.length && seconds > BUCKETS[i]) i++;
            counts.incrementAndGet(i);
            count.incrementAndGet();
            sumNanos.addAndGet((long) (seconds * 1e9));
        }
    }

    private final Map<String, Histogram> stages = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> counters = new ConcurrentHashMap<>();
    private final Map<String, LongSupplier> gauges = new ConcurrentHashMap<>();
    private final Map<String, String> help = new ConcurrentHashMap<>();

    /** Records {@code seconds} for pipeline stage {@code stage}. */
    public void observeStage(String stage, double seconds) {
        stages.computeIfAbsent(stage, k -> new Histogram()).observe(seconds);
    }

    /** Adds one to counter {@code name} (a full Prometheus series name, labels included). */
    public void increment(String name) {
        counters.computeIfAbsent(name, k -> new AtomicLong()).incrementAndGet();
    }

    /** Registers a gauge or externally kept counter read at scrape time. */
    public void gauge(String name, String description, LongSupplier value) {
        gauges.put(name, value);
        help.put(name, description);
    }

    /** The number of stage observations so far (tests). */
    public long stageCount(String stage) {
        Histogram h = stages.get(stage);
        return h == null ? 0 : h.count.get();
    }

    /** The Prometheus text exposition of everything. */
    public String render() {
        StringBuilder sb = new StringBuilder();
        sb.append("# HELP zimage_stage_seconds Wall time per generation stage.\n# TYPE zimage_stage_seconds histogram\n");
        new TreeMap<>(stages).forEach((stage, h) -> {
            long cum = 0;
            for (int i = 0; i <= BUCKETS.length; i++) {
                cum += h.counts.get(i);
                String le = i < BUCKETS.length ? fmt(BUCKETS[i]) : "+Inf";
                sb.append("zimage_stage_seconds_bucket{stage=\"").append(stage).append("\",le=\"").append(le).append("\"} ").append(cum).append('\n');
            }
            sb.append("zimage_stage_seconds_sum{stage=\"").append(stage).append("\"} ").append(fmt(h.sumNanos.get() / 1e9)).append('\n');
            sb.append("zimage_stage_seconds_count{stage=\"").append(stage).append("\"} ").append(h.count.get()).append('\n');
        });
        Map<String, Long> sortedCounters = new TreeMap<>();
        counters.forEach((k, v) -> sortedCounters.put(k, v.get()));
        String lastFamily = "";
        for (var e : sortedCounters.entrySet()) {
            String family = e.getKey().replaceAll("\\{.*", "");
            if (!family.equals(lastFamily)) sb.append("# TYPE ").append(family).append(" counter\n");
            lastFamily = family;
            sb.append(e.getKey()).append(' ').append(e.getValue()).append('\n');
        }
        new TreeMap<>(gauges).forEach((name, v) -> {
            String type = name.endsWith("_total") ? "counter" : "gauge";
            sb.append("# HELP ").append(name).append(' ').append(help.get(name)).append('\n');
            sb.append("# TYPE ").append(name).append(' ').append(type).append('\n');
            sb.append(name).append(' ').append(v.getAsLong()).append('\n');
        });
        return sb.toString();
    }

    private static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) + ".0" : Double.toString(d);
    }

    /** This process's resident set size from /proc (0 where there is no /proc). */
    public static long residentSetBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }
}
