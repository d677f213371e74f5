package dev.zimage4j.engine;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One compute device the engine runs a worker on (config key {@code devices}, docs/server.md).
 *
 * @param name     the worker's label in metrics and {@code /healthz}: {@code "cuda:1"}, {@code "cpu"}, {@code "cpu:0"}
 * @param kind     what it is
 * @param ordinal  the CUDA device ordinal, or the CPU worker's index
 * @param cpuShare how many CPU workers share the cores (a CPU worker's thread pool gets {@code cores / cpuShare})
 */
public record Device(String name, Kind kind, int ordinal, int cpuShare) {

    /** CPU, one CUDA device, or "every visible CUDA device, else one CPU worker" (resolved when the devices are opened). */
    public enum Kind { CPU, CUDA, AUTO }

    /** {@code "auto"}: every visible CUDA device, else one CPU worker. */
    public static final Device AUTO = new Device("auto", Kind.AUTO, 0, 1);

    private static final Pattern ENTRY = Pattern.compile("(cpu|cuda)(?::(\\d{1,4}))?");

    /** The single CPU worker over every core. */
    public static Device cpu() {
        return new Device("cpu", Kind.CPU, 0, 1);
    }

    /** CUDA device {@code ordinal}. */
    public static Device cuda(int ordinal) {
        return new Device("cuda:" + ordinal, Kind.CUDA, ordinal, 1);
    }

    /** {@code n} CPU workers sharing the cores ({@code n == 1} is {@link #cpu()}). */
    public static List<Device> cpus(int n) {
        if (n == 1) return List.of(cpu());
        List<Device> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new Device("cpu:" + i, Kind.CPU, i, n));
        return out;
    }

    /**
     * Parses the {@code devices} entries: {@code "auto"} (alone), {@code "cpu"} (one CPU worker), {@code "cpu:N"}
     * (N CPU workers sharing the cores), {@code "cuda"} (= {@code "cuda:0"}) and {@code "cuda:N"} (one worker on
     * CUDA device N). A device listed twice, CPU workers mixed with CUDA ones, or an unknown name is a
     * {@link ConfigException} naming the entry.
     */
    public static List<Device> parse(List<String> entries) {
        if (entries == null || entries.isEmpty())
            throw new ConfigException("devices must name at least one device (\"auto\", \"cpu\", \"cpu:N\", \"cuda:N\")");
        List<Device> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        boolean cpu = false, cuda = false;
        for (String raw : entries) {
            String e = raw == null ? "" : raw.trim().toLowerCase(Locale.ROOT);
            if (e.equals("auto")) {
                if (entries.size() > 1) throw new ConfigException("devices: \"auto\" must be the only entry, got " + entries);
                return List.of(AUTO);
            }
            Matcher m = ENTRY.matcher(e);
            if (!m.matches())
                throw new ConfigException("devices: unknown device '" + raw + "'; use \"auto\", \"cpu\", \"cpu:N\" (N CPU workers) or \"cuda:N\" (CUDA device N)");
            if (!seen.add(m.group(1)) && m.group(1).equals("cpu"))
                throw new ConfigException("devices: '" + raw + "' lists the CPU again; write \"cpu:N\" once for N CPU workers");
            if (m.group(1).equals("cpu")) {
                int n = m.group(2) == null ? 1 : Integer.parseInt(m.group(2));
                if (n < 1 || n > 256) throw new ConfigException("devices: '" + raw + "' must ask for 1..256 CPU workers");
                out.addAll(cpus(n));
                cpu = true;
            } else {
                int ordinal = m.group(2) == null ? 0 : Integer.parseInt(m.group(2));
                if (!seen.add("cuda:" + ordinal))
                    throw new ConfigException("devices: 'cuda:" + ordinal + "' is listed twice; each device runs exactly one worker");
                out.add(cuda(ordinal));
                cuda = true;
            }
        }
        if (cpu && cuda)
            throw new ConfigException("devices: " + entries + " mixes CPU and CUDA workers; a CPU worker would take jobs from the one queue at a small fraction of a GPU's speed");
        return List.copyOf(out);
    }

    /** Threads for a CPU worker's pool: {@code threads} (all cores, or {@code -Dzimage.cpu.threads}) shared among {@code cpuShare} workers. */
    public int cpuThreads(int threads) {
        return Math.max(1, threads / cpuShare);
    }
}
