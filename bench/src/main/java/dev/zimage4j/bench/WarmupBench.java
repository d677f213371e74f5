package dev.zimage4j.bench;

import dev.zimage4j.cli.Args;
import dev.zimage4j.cli.Command;
import dev.zimage4j.cli.UsageException;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.pipeline.CancellationToken;
import dev.zimage4j.pipeline.DemoModel;
import dev.zimage4j.pipeline.GenerationRequest;
import dev.zimage4j.pipeline.ProgressListener;
import dev.zimage4j.pipeline.ZImagePipeline;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code zimage bench-warmup}: where a fresh JVM's CPU goes on its way to JIT-warm generations, in one process
 * (no server, no HTTP): the pipeline load, then generations one after the other, each with its wall time and the
 * CPU time of each group of threads from {@code /proc/self/task} (the generating thread, the CPU backend's pool
 * workers, the C1 and C2 compiler threads, GC and VM threads) and the classes loaded meanwhile. CPU time is much
 * less sensitive to a loaded machine than wall time, so it shows what a warm-up strategy costs even on a shared
 * machine. Linux only (reads /proc); run it through {@code ./zimage} so the JVM flags (AOT cache included) are the
 * server's.
 */
public final class WarmupBench implements Command {

    @Override
    public String name() {
        return "bench-warmup";
    }

    @Override
    public String summary() {
        return "JIT warm-up in one fresh JVM: per generation wall time and CPU of the generating thread, pool, C1, C2, GC";
    }

    @Override
    public String usage() {
        return """
                usage: zimage bench-warmup [--model DIR] [--size WxH] [--steps N] [--runs N] [--prompt TEXT]
                  --model DIR    model directory (default: the built-in demo model)
                  --size WxH     image size (default 64x64)
                  --steps N      denoising steps (default 8)
                  --runs N       generations, one after the other (default 8)
                  --prompt TEXT  prompt of every generation (default: a lighthouse on a cliff at dusk)
                Threads of the CPU backend: all cores, or -Dzimage.cpu.threads=N (ZIMAGE_JAVA_OPTS).""";
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argList, Set.of("--model", "--size", "--steps", "--runs", "--prompt"), Set.of());
        if (!a.positional().isEmpty()) throw new UsageException("unexpected argument " + a.positional().getFirst());
        String size = a.get("--size", "64x64");
        if (!size.matches("\\d+x\\d+")) throw new UsageException("--size must be WxH (e.g. 64x64), not " + size);
        String[] wh = size.split("x");
        int steps = a.getInt("--steps", 8), runs = a.getInt("--runs", 8);
        if (runs < 1) throw new UsageException("--runs must be at least 1, not " + runs);
        if (!Files.isDirectory(Path.of("/proc/self/task"))) throw new UsageException("bench-warmup reads /proc/self/task (Linux only)");
        Path model = a.get("--model", null) == null ? DemoModel.ensure(err::println) : Path.of(a.get("--model", null));
        GenerationRequest r = new GenerationRequest(a.get("--prompt", "a lighthouse on a cliff at dusk"), "", Integer.parseInt(wh[0]),
                Integer.parseInt(wh[1]), steps, 0.0, 7, 1, null, 0.6).validate();

        ThreadCpu cpu = new ThreadCpu();
        long start = System.nanoTime();
        out.printf("%-12s %8s  %s%n", "", "wall", "CPU ms by thread group since the previous line; classes loaded");
        try (ZImagePipeline p = ZImagePipeline.load(model, Backends.cpu())) {
            out.printf("%-12s %6.0f ms  %s%n", "JVM + load", (System.nanoTime() - start) / 1e6, cpu.since()); // CPU since process start, wall of the load
            List<Double> times = new ArrayList<>();
            for (int i = 1; i <= runs; i++) {
                long t0 = System.nanoTime();
                p.generate(r, ProgressListener.NONE, new CancellationToken());
                double ms = (System.nanoTime() - t0) / 1e6;
                times.add(ms);
                out.printf("%-12s %6.0f ms  %s%n", "generation " + i, ms, cpu.since());
            }
            List<Double> rest = new ArrayList<>(times.subList(times.size() / 2, times.size()));
            rest.sort(null);
            double settled = rest.get(rest.size() / 2);
            out.printf("process %.0f ms, CPU %s; generation 1 / median of the second half: %.2f, generation 2: %.2f%n",
                    (System.nanoTime() - start) / 1e6, cpu.total(), times.getFirst() / settled,
                    times.size() > 1 ? times.get(1) / settled : Double.NaN);
        }
        return 0;
    }

    /** CPU time of this process's threads by group, from /proc/self/task (clock ticks of 10 ms). */
    static final class ThreadCpu {
        private Map<String, Long> last = new TreeMap<>();
        private long lastClasses;

        static String group(String thread) {
            if (thread.startsWith("C2 Compiler")) return "C2";
            if (thread.startsWith("C1 Compiler")) return "C1";
            if (thread.startsWith("GC") || thread.startsWith("ParGC") || thread.startsWith("G1") || thread.equals("VM Thread")) return "gc/vm";
            if (thread.startsWith("zimage-cpu")) return "pool";
            if (thread.equals("main") || thread.equals("java")) return "main";
            return "other";
        }

        Map<String, Long> now() throws IOException {
            Map<String, Long> m = new TreeMap<>();
            try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
                for (Path t : tasks) {
                    String st;
                    try {
                        st = Files.readString(t.resolve("stat"));
                    } catch (IOException gone) {
                        continue; // the thread ended
                    }
                    String name = st.substring(st.indexOf('(') + 1, st.lastIndexOf(')'));
                    String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
                    m.merge(group(name), (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10, Long::sum);
                }
            }
            return m;
        }

        String since() throws IOException {
            Map<String, Long> m = now();
            StringBuilder sb = new StringBuilder();
            for (var e : m.entrySet()) sb.append(String.format("%s %5d  ", e.getKey(), e.getValue() - last.getOrDefault(e.getKey(), 0L)));
            long classes = ManagementFactory.getClassLoadingMXBean().getTotalLoadedClassCount();
            sb.append("classes +").append(classes - lastClasses);
            last = m;
            lastClasses = classes;
            return sb.toString();
        }

        String total() throws IOException {
            StringBuilder sb = new StringBuilder();
            for (var e : now().entrySet()) sb.append(String.format("%s %d ms, ", e.getKey(), e.getValue()));
            return sb.substring(0, sb.length() - 2);
        }
    }
}
