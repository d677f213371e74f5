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
    private final Map<String, Histogram> deviceSteps = new ConcurrentHashMap<>();
    private final Map<String, java.util.function.Supplier<String>> gauges = new ConcurrentHashMap<>();
    private final Map<String, String> help = new ConcurrentHashMap<>();

    /** Records {@code seconds} for pipeline stage {@code stage}. */
    public void observeStage(String stage, double seconds) {
        stages.computeIfAbsent(stage, k -> new Histogram()).observe(seconds);
    }

    /** Records one denoising step of {@code seconds} on worker device {@code device} ({@code zimage_device_step_seconds}). */
    public void observeDeviceStep(String device, double seconds) {
        deviceSteps.computeIfAbsent(device, k -> new Histogram()).observe(seconds);
    }

    /** The number of step observations on {@code device} so far (tests). */
    public long deviceStepCount(String device) {
        Histogram h = deviceSteps.get(device);
        return h == null ? 0 : h.count.get();
    }

    /** Adds one to counter {@code name} (a full Prometheus series name, labels included). */
    public void increment(String name) {
        counters.computeIfAbsent(name, k -> new AtomicLong()).incrementAndGet();
    }

    /** Registers a gauge or externally kept counter read at scrape time. */
    public void gauge(String name, String description, LongSupplier value) {
        gauges.put(name, () -> Long.toString(value.getAsLong()));
        help.put(family(name), description);
    }

    /**
     * {@link #gauge} for a fractional value (e.g. seconds). {@code name} may carry labels
     * ({@code zimage_device_busy_seconds_total{device="cuda:0"}}); HELP and TYPE are written once per family.
     */
    public void gaugeDouble(String name, String description, java.util.function.DoubleSupplier value) {
        gauges.put(name, () -> fmt(value.getAsDouble()));
        help.put(family(name), description);
    }

    private static String family(String series) {
        return series.replaceAll("\\{.*", "");
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
        new TreeMap<>(stages).forEach((stage, h) -> histogram(sb, "zimage_stage_seconds", "stage", stage, h));
        if (!deviceSteps.isEmpty()) {
            sb.append("# HELP zimage_device_step_seconds Wall time per denoising step, by worker device.\n# TYPE zimage_device_step_seconds histogram\n");
            new TreeMap<>(deviceSteps).forEach((device, h) -> histogram(sb, "zimage_device_step_seconds", "device", device, h));
        }
        Map<String, Long> sortedCounters = new TreeMap<>();
        counters.forEach((k, v) -> sortedCounters.put(k, v.get()));
        String lastFamily = "";
        for (var e : sortedCounters.entrySet()) {
            String family = family(e.getKey());
            if (!family.equals(lastFamily)) sb.append("# TYPE ").append(family).append(" counter\n");
            lastFamily = family;
            sb.append(e.getKey()).append(' ').append(e.getValue()).append('\n');
        }
        lastFamily = "";
        for (var e : new TreeMap<>(gauges).entrySet()) {
            String name = e.getKey(), family = family(name);
            if (!family.equals(lastFamily)) {
                sb.append("# HELP ").append(family).append(' ').append(help.get(family)).append('\n');
                sb.append("# TYPE ").append(family).append(' ').append(family.endsWith("_total") ? "counter" : "gauge").append('\n');
            }
            lastFamily = family;
            sb.append(name).append(' ').append(e.getValue().get()).append('\n');
        }
        return sb.toString();
    }

    private static void histogram(StringBuilder sb, String family, String label, String value, Histogram h) {
        long cum = 0;
        for (int i = 0; i <= BUCKETS.length; i++) {
            cum += h.counts.get(i);
            String le = i < BUCKETS.length ? fmt(BUCKETS[i]) : "+Inf";
            sb.append(family).append("_bucket{").append(label).append("=\"").append(value).append("\",le=\"").append(le).append("\"} ").append(cum).append('\n');
        }
        sb.append(family).append("_sum{").append(label).append("=\"").append(value).append("\"} ").append(fmt(h.sumNanos.get() / 1e9)).append('\n');
        sb.append(family).append("_count{").append(label).append("=\"").append(value).append("\"} ").append(h.count.get()).append('\n');
    }

    private static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) + ".0" : Double.toString(d);
    }

    /** This process's resident set size from /proc (0 where there is no /proc). */
    public static long residentSetBytes() {
        return residentSetBytes(ProcessHandle.current().pid());
    }

    /** Process {@code pid}'s resident set size (VmRSS) from /proc, or 0 where there is none (no /proc, process gone). */
    public static long residentSetBytes(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status")))
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }
}
