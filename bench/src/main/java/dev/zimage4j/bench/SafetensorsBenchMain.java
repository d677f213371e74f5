package dev.zimage4j.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs {@link SafetensorsLoadBench} and {@link Bf16ConversionBench} and prints each figure as GB/s beside its
 * {@code FileChannel.read} baseline from the same run.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp 'bench/target/dist/lib/*' dev.zimage4j.bench.SafetensorsBenchMain \
 *      [--size-mib 2048] [--convert-mib 1,64] [--dir DIR] [--keep] [--quick]
 * </pre>
 * {@code --size-mib}: the file opened and touched; {@code --convert-mib}: BF16 input sizes converted;
 * {@code --keep}: leave the big file for the next run; {@code --quick}: one short warm-up and two short
 * measurements (a smoke run; rougher figures).
 */
public final class SafetensorsBenchMain {
    private SafetensorsBenchMain() {
    }

    public static void main(String[] args) throws RunnerException {
        String sizeMiB = "2048", convertMiB = "1,64", dir = "";
        boolean keep = false, quick = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--size-mib" -> sizeMiB = args[++i];
                case "--convert-mib" -> convertMiB = args[++i];
                case "--dir" -> dir = args[++i];
                case "--keep" -> keep = true;
                case "--quick" -> quick = true;
                default -> {
                    System.err.println("usage: SafetensorsBenchMain [--size-mib N] [--convert-mib N,M…] [--dir DIR] [--keep] [--quick]");
                    System.exit(2);
                }
            }
        }
        ChainedOptionsBuilder o = new OptionsBuilder()
                .include(SafetensorsLoadBench.class.getName() + "\\.")
                .include(Bf16ConversionBench.class.getName() + "\\.")
                .param("sizeMiB", sizeMiB)
                .param("convertMiB", convertMiB.split(","))
                .param("dir", dir)
                .param("keep", Boolean.toString(keep));
        if (quick) o.warmupIterations(1).warmupTime(TimeValue.seconds(1)).measurementIterations(2).measurementTime(TimeValue.seconds(1));
        Collection<RunResult> results = new Runner(o.build()).run();

        // ms/op by benchmark name, grouped by "L<size>" (load) or "C<size>" (conversion), in that order
        Map<String, Map<String, Double>> bySize = new TreeMap<>();
        for (RunResult r : results) {
            String b = r.getParams().getBenchmark();
            String name = b.substring(b.lastIndexOf('.') + 1);
            String mib = r.getParams().getParam(b.contains("Load") ? "sizeMiB" : "convertMiB");
            bySize.computeIfAbsent(String.format("%s%012d", b.contains("Load") ? "L" : "M", Long.parseLong(mib)), k -> new TreeMap<>())
                    .put(name, r.getPrimaryResult().getScore());
        }
        System.out.printf("%nsafetensors benchmarks (GB = 1e9 bytes; conversions count BF16 input bytes)%n");
        System.out.printf("%-30s %10s %9s  %s%n", "benchmark", "ms/op", "GB/s", "vs baseline");
        bySize.forEach((key, ms) -> {
            long mib = Long.parseLong(key.substring(1));
            double bytes = mib * 1048576.0;
            if (key.startsWith("L")) {
                row(ms, "readFile", mib, bytes, null);
                row(ms, "openTouchPages", mib, bytes, "readFile");
                row(ms, "openLoad", mib, bytes, "readFile");
            } else {
                row(ms, "readChunk", mib, bytes, null);
                row(ms, "bf16ToF32Vector", mib, bytes, "readChunk");
                row(ms, "bf16ToF32Scalar", mib, bytes, "readChunk");
                if (ms.containsKey("bf16ToF32Vector") && ms.containsKey("bf16ToF32Scalar"))
                    System.out.printf("%-30s %.2fx%n", "  vector/scalar speed-up", ms.get("bf16ToF32Scalar") / ms.get("bf16ToF32Vector"));
            }
        });
    }

    private static void row(Map<String, Double> ms, String name, long mib, double bytes, String baseline) {
        Double t = ms.get(name);
        if (t == null) return;
        String vs = baseline == null ? "(baseline)"
                : ms.containsKey(baseline) ? String.format("%.2fx %s", ms.get(baseline) / t, baseline) : "";
        System.out.printf("%-30s %10.3f %9.2f  %s%n", name + " (" + mib + " MiB)", t, bytes / (t / 1e3) / 1e9, vs);
    }
}
