package dev.zimage4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** What a benchmark figure was measured on: CPU, cores, memory, JVM, commit, load. */
final class Machine {
    private Machine() {
    }

    static Map<String, Object> describe(Path root) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", procField("/proc/cpuinfo", "model name"));
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("memory", procField("/proc/meminfo", "MemTotal"));
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        m.put("java", Runtime.version().toString() + " (" + System.getProperty("java.vm.name") + ")");
        m.put("commit", git(root));
        return m;
    }

    /** The 1, 5 and 15 minute load averages, as /proc/loadavg has them. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static String procField(String file, String key) {
        try {
            for (String line : Files.readAllLines(Path.of(file)))
                if (line.startsWith(key)) return line.substring(line.indexOf(':') + 1).trim();
        } catch (IOException e) {
            // not Linux
        }
        return "unknown";
    }

    private static String git(Path root) {
        try {
            Process p = new ProcessBuilder("git", "-C", root.toString(), "describe", "--always", "--dirty").redirectErrorStream(true).start();
            String s = new String(p.getInputStream().readAllBytes()).trim();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0 ? s : "unknown";
        } catch (IOException | InterruptedException e) {
            return "unknown";
        }
    }
}
