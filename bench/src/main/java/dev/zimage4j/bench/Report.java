package dev.zimage4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.zimage4j.bench.chart.Charts;
import dev.zimage4j.bench.chart.Raster;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;

/** Writes {@code bench-BACKEND.json}, {@code bench-BACKEND.md} and the three charts of one {@code zimage bench} run. */
final class Report {
    private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    private Report() {
    }

    static void write(Path dir, String backend, Map<String, Object> report, List<BenchCommand.BareStart> bare, List<BenchCommand.ColdRun> cold, BenchCommand.SteadyState steady,
                      BenchCommand.Alternation alt, BenchCommand.Setup s, PrintStream out) throws IOException {
        Files.createDirectories(dir);
        String stem = "bench-" + backend;
        atomicWrite(dir.resolve(stem + ".json"), JSON.writeValueAsBytes(report));
        atomicWrite(dir.resolve(stem + "-latency.png"), Charts.histogram("Warm request latency, " + steady.latency().n() + " sequential (" + backend + ", " + s.size() + ")",
                "ms", steady.latencyMs(), 20, List.of(
                        new Charts.Marker("P50", steady.latency().p50(), Charts.PALETTE[2]),
                        new Charts.Marker("P95", steady.latency().p95(), Charts.PALETTE[1]),
                        new Charts.Marker("max", steady.latency().max(), Charts.PALETTE[3]))).toPng("zimage bench latency histogram"));
        atomicWrite(dir.resolve(stem + "-stages.png"), stagesChart(cold, steady, backend, s).toPng("zimage bench per-stage times"));
        atomicWrite(dir.resolve(stem + "-cold-vs-warm.png"), coldChart(cold, steady, backend, s).toPng("zimage bench cold vs warm"));
        atomicWrite(dir.resolve(stem + ".md"), markdown(stem, backend, report, bare, cold, steady, alt, s).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        out.println("wrote " + dir.resolve(stem + ".md") + ", .json and 3 charts");
    }

    private static List<BenchCommand.ColdRun> runs(List<BenchCommand.ColdRun> cold, String jvm) {
        return cold.stream().filter(r -> r.jvm().equals(jvm)).toList();
    }

    private static double med(List<BenchCommand.ColdRun> runs, ToDoubleFunction<BenchCommand.ColdRun> f) {
        return runs.isEmpty() ? Double.NaN : Stats.median(runs.stream().mapToDouble(f).toArray());
    }

    /** Median time of {@code stage} in the cold runs' first requests. */
    private static double firstStage(List<BenchCommand.ColdRun> runs, String stage) {
        double[] v = runs.stream().filter(r -> r.firstTimingsMs().containsKey(stage)).mapToDouble(r -> r.firstTimingsMs().get(stage)).toArray();
        return v.length == 0 ? Double.NaN : Stats.median(v);
    }

    private static List<BenchCommand.ColdRun> preferred(List<BenchCommand.ColdRun> cold) {
        List<BenchCommand.ColdRun> aot = runs(cold, "aot");
        return aot.isEmpty() ? runs(cold, "no-aot") : aot;
    }

    private static Raster stagesChart(List<BenchCommand.ColdRun> cold, BenchCommand.SteadyState steady, String backend, BenchCommand.Setup s) {
        List<BenchCommand.ColdRun> first = preferred(cold);
        Set<String> stages = new LinkedHashSet<>(steady.stagesMs().keySet());
        first.forEach(r -> stages.addAll(r.firstTimingsMs().keySet()));
        stages.remove("total");
        stages.removeIf(Report::isStep);
        List<Charts.Row> rows = new ArrayList<>();
        for (String st : stages) {
            Stats w = steady.stagesMs().get(st);
            rows.add(new Charts.Row(st, firstStage(first, st), w == null ? Double.NaN : w.p50()));
        }
        return Charts.bars("Per-stage time, first request after ready vs warm (" + backend + ", " + s.size() + ")", "ms",
                List.of("first request after ready (median of " + first.size() + ")", "warm P50"), rows);
    }

    /** The JVM / kernel-cache configurations present in {@code cold}, in the order they were run. */
    private static List<String> modes(List<BenchCommand.ColdRun> cold) {
        return cold.stream().map(BenchCommand.ColdRun::jvm).distinct().toList();
    }

    private static String modeName(String mode) {
        return switch (mode) {
            case BenchCommand.AOT -> "with AOT cache";
            case BenchCommand.NO_AOT -> "without AOT cache";
            default -> mode.replace("aot", "AOT cache").replace("kernels cold", "empty kernel cache");
        };
    }

    private static Raster coldChart(List<BenchCommand.ColdRun> cold, BenchCommand.SteadyState steady, String backend, BenchCommand.Setup s) {
        List<String> modes = modes(cold);
        record Metric(String label, ToDoubleFunction<BenchCommand.ColdRun> f) {
        }
        List<Metric> metrics = List.of(new Metric("start -> listening", BenchCommand.ColdRun::listeningMs),
                new Metric("start -> ready", BenchCommand.ColdRun::readyMs), new Metric("CPU time to ready", BenchCommand.ColdRun::cpuAtReadyMs),
                new Metric("first request", BenchCommand.ColdRun::firstMs), new Metric("second request", BenchCommand.ColdRun::secondMs));
        List<Charts.Row> rows = new ArrayList<>();
        for (Metric m : metrics) rows.add(new Charts.Row(m.label(), modes.stream().mapToDouble(md -> med(runs(cold, md), m.f())).toArray()));
        rows.add(new Charts.Row("warm P50 (" + steady.latency().n() + " req)", modes.stream().mapToDouble(md -> md.equals(steady.jvm()) ? steady.latency().p50() : Double.NaN).toArray()));
        rows.add(new Charts.Row("start -> first image", modes.stream().mapToDouble(md -> med(runs(cold, md), BenchCommand.ColdRun::firstImageMs)).toArray()));
        return Charts.bars("Cold start vs warm, medians (" + backend + ", " + s.size() + ")", "ms", modes.stream().map(Report::modeName).toList(), rows);
    }

    private static String ms(double v) {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%.0f ms", v);
    }

    private static String mib(double bytes) {
        return Double.isNaN(bytes) ? "–" : String.format(Locale.ROOT, "%.0f MiB", bytes / 1048576.0);
    }

    @SuppressWarnings("unchecked")
    private static String markdown(String stem, String backend, Map<String, Object> report, List<BenchCommand.BareStart> bare, List<BenchCommand.ColdRun> cold,
                                   BenchCommand.SteadyState steady, BenchCommand.Alternation alt, BenchCommand.Setup s) {
        Map<String, Object> machine = (Map<String, Object>) report.get("machine");
        List<BenchCommand.ColdRun> aot = runs(cold, "aot"), no = runs(cold, "no-aot");
        StringBuilder b = new StringBuilder();
        b.append("# zimage bench: ").append(backend).append(", ").append(s.size()).append(", ").append(s.steps()).append(" steps\n\n");
        b.append("Produced by `./zimage bench --backend ").append(backend).append(" --size ").append(s.size()).append(" --steps ").append(s.steps())
                .append("` (settings: ").append(report.get("settings")).append(").\n");
        b.append("Model: `").append(s.model()).append("`. Finished ").append(report.get("finished_at")).append(".\n\n");
        b.append("Machine: ").append(machine.get("cpu")).append(", ").append(machine.get("cores")).append(" cores, ").append(machine.get("memory"))
                .append(", ").append(machine.get("os")).append(", Java ").append(machine.get("java")).append(", commit ").append(machine.get("commit")).append(".\n");
        b.append("Load average (1/5/15 min) at start ").append(report.get("load_average_at_start")).append(", at end ")
                .append(report.get("load_average_at_end")).append(". On a shared machine these figures are noisy: compare ratios within one run.\n\n");

        b.append("## JVM and server alone (nothing loaded)\n\n");
        b.append("`./zimage serve --model MODEL --no-prewarm`: ready as soon as the HTTP server runs, the model is not loaded. ")
                .append("This is what the JVM's AOT cache acts on. Medians of ").append(bare.size() / Math.max(1, (int) bare.stream().map(BenchCommand.BareStart::jvm).distinct().count()))
                .append(" runs each, interleaved.\n\n| what | with AOT cache | without | ratio |\n|---|---|---|---|\n");
        List<BenchCommand.BareStart> ba = bare.stream().filter(x -> x.jvm().equals(BenchCommand.AOT)).toList();
        List<BenchCommand.BareStart> bn = bare.stream().filter(x -> x.jvm().equals(BenchCommand.NO_AOT)).toList();
        bareRow(b, "process start → listening", ba, bn, BenchCommand.BareStart::listeningMs);
        bareRow(b, "**process start → ready**", ba, bn, BenchCommand.BareStart::readyMs);
        bareRow(b, "CPU time (user + sys) at ready", ba, bn, BenchCommand.BareStart::cpuAtReadyMs);
        b.append("| resident memory at ready | ").append(mib(medB(ba, x -> x.rssAtReadyBytes()))).append(" | ").append(mib(medB(bn, x -> x.rssAtReadyBytes()))).append(" | |\n\n");

        b.append("## Cold start (process start → ready → first image)\n\n");
        b.append("Each run spawns `./zimage serve --model MODEL --prewarm ").append(s.size()).append("` (ZIMAGE_NO_BUILD=1) and polls `/healthz` and `/readyz` every 5 ms; ")
                .append("`ZIMAGE_NO_AOT=1` for the runs without the AOT cache")
                .append(backend.equals("cpu") ? "" : "; on the GPU each round starts once with an empty kernel cache (`ZIMAGE_KERNEL_CACHE` = a new directory, `CUDA_CACHE_DISABLE=1`), then restarts reusing it")
                .append(". Medians of ").append(Math.max(aot.size(), no.size())).append(" runs each, interleaved.\n\n");
        List<String> modes = modes(cold);
        b.append("| what | ").append(String.join(" | ", modes.stream().map(Report::modeName).toList())).append(" | anchor |\n|---|");
        b.append("---|".repeat(modes.size())).append("---|\n");
        coldRow(b, cold, modes, "process start → listening (`/healthz`)", BenchCommand.ColdRun::listeningMs, false, "");
        coldRow(b, cold, modes, "**process start → ready** (load + prewarm)", BenchCommand.ColdRun::readyMs, true,
                backend.equals("cpu") ? "target ≤ 1.5 s (CPU demo model, with AOT cache)" : "target ≤ 6 s (GPU, 1024² graph captured)");
        coldRow(b, cold, modes, "CPU time (user + sys) at ready", BenchCommand.ColdRun::cpuAtReadyMs, false, "");
        coldRow(b, cold, modes, "model load (log: startup prewarm load total)", r -> r.loadMs().getOrDefault("total", Double.NaN), false,
                "diffusers: load 1.3 s + copy to GPU 3.3 s");
        coldRow(b, cold, modes, "prewarm generation(s) (log)", BenchCommand.ColdRun::prewarmMs, false, "torch.compile: 48.8 s at 1024²");
        b.append("| resident memory at ready |");
        for (String md : modes) b.append(' ').append(mib(med(runs(cold, md), r -> r.rssAtReadyBytes()))).append(" |");
        b.append(" |\n");
        coldRow(b, cold, modes, "first request after ready", BenchCommand.ColdRun::firstMs, false, "diffusers 2.49 s vs 1.31 s warm (GPU, 1024²)");
        coldRow(b, cold, modes, "second request", BenchCommand.ColdRun::secondMs, false, "");
        coldRow(b, cold, modes, "**process start → first image**", BenchCommand.ColdRun::firstImageMs, true,
                "diffusers ≥ 7.1 s (GPU, weights in page cache, imports excluded)");
        double firstMed = med(aot.isEmpty() ? no : aot, BenchCommand.ColdRun::firstMs);
        b.append(String.format(Locale.ROOT, "%nFirst request after ready / warm P50 = %.0f / %.0f ms = **%.2f×** (target ≤ 1.10×; anchor: ComfyUI resident 0.41 s vs 3.55 s reloading).%n%n",
                firstMed, steady.latency().p50(), firstMed / steady.latency().p50()));
        b.append("![cold vs warm](").append(stem).append("-cold-vs-warm.png)\n\n");
        b.append("<details><summary>every run</summary>\n\n| JVM | listening | ready | CPU at ready | RSS at ready | first | second | load | prewarm |\n|---|---|---|---|---|---|---|---|---|\n");
        for (BenchCommand.ColdRun r : cold)
            b.append("| ").append(r.jvm()).append(" | ").append(ms(r.listeningMs())).append(" | ").append(ms(r.readyMs())).append(" | ").append(ms(r.cpuAtReadyMs()))
                    .append(" | ").append(mib(r.rssAtReadyBytes())).append(" | ").append(ms(r.firstMs())).append(" | ").append(ms(r.secondMs()))
                    .append(" | ").append(ms(r.loadMs().getOrDefault("total", Double.NaN))).append(" | ").append(ms(r.prewarmMs())).append(" |\n");
        b.append("\n</details>\n\n");

        Stats l = steady.latency();
        b.append("## ").append(l.n()).append(" sequential requests on one resident server (").append(steady.jvm()).append(")\n\n");
        b.append("| P50 | P95 | max | mean | min | anchor: ComfyUI on H800, resident (default) |\n|---|---|---|---|---|---|\n");
        b.append(String.format(Locale.ROOT, "| **%.1f ms** | **%.1f ms** | %.1f ms | %.1f ms | %.1f ms | P50 0.38 s, P95 0.45 s (3.42 s, 4.17 s) |%n%n", l.p50(), l.p95(), l.max(), l.mean(), l.min()));
        b.append("![latency](").append(stem).append("-latency.png)\n\n");

        b.append("## Per-stage breakdown\n\n");
        b.append("From each response's `timings_ms` (the pipeline's stages plus the engine's `queue_wait`, `model_acquire`, `png`, `total`) and `/metrics` ")
                .append("(`zimage_stage_seconds` sum / count after the run, which includes the first requests).\n\n");
        b.append("Per-step times (`step N`, inside `denoise`) are in the JSON.\n\n");
        b.append("| stage | first request after ready (median) | warm P50 | warm P95 | mean from /metrics |\n|---|---|---|---|---|\n");
        Set<String> stages = new LinkedHashSet<>(steady.stagesMs().keySet());
        preferred(cold).forEach(r -> stages.addAll(r.firstTimingsMs().keySet()));
        stages.removeIf(Report::isStep);
        for (String st : stages) {
            Stats w = steady.stagesMs().get(st);
            b.append("| ").append(st).append(" | ").append(String.format(Locale.ROOT, "%.1f ms", firstStage(preferred(cold), st))).append(" | ")
                    .append(w == null ? "–" : String.format(Locale.ROOT, "%.1f ms | %.1f ms", w.p50(), w.p95())).append(" | ")
                    .append(steady.metricsMeanMs().containsKey(st) ? String.format(Locale.ROOT, "%.1f ms", steady.metricsMeanMs().get(st)) : "–").append(" |\n");
        }
        b.append("\nModel load at startup (log, median over the cold runs): ");
        Set<String> comps = new LinkedHashSet<>();
        preferred(cold).forEach(r -> comps.addAll(r.loadMs().keySet()));
        List<String> parts = new ArrayList<>();
        for (String c : comps) parts.add(c + " " + ms(med(preferred(cold), r -> r.loadMs().getOrDefault(c, Double.NaN))));
        b.append(parts.isEmpty() ? "not logged" : String.join(", ", parts)).append(".\n\n");
        b.append("![stages](").append(stem).append("-stages.png)\n\n");

        b.append("## 3 models alternating\n\n");
        b.append("Three directories from `zimage make-random-model --preset tiny --seed 1|2|3`, requested in turn, ").append(alt.rounds()).append(" rounds.\n\n");
        b.append("| configuration | total | per request P50 / P95 | loads per model | anchor (ComfyUI, H800, 3 workflows × 20) |\n|---|---|---|---|---|\n");
        b.append(String.format(Locale.ROOT, "| resident (`max_cached_models 3`, all prewarmed) | **%.1f s** | %.0f / %.0f ms | %s | 42 s |%n",
                alt.residentTotalMs() / 1e3, alt.residentMs().p50(), alt.residentMs().p95(), alt.residentLoads()));
        b.append(String.format(Locale.ROOT, "| reload per request (`keep_model_in_memory false`) | %.1f s | %.0f / %.0f ms | %s | 210 s |%n%n",
                alt.reloadTotalMs() / 1e3, alt.reloadMs().p50(), alt.reloadMs().p95(), alt.reloadLoads()));

        b.append("## Resident memory (VmRSS of the server process)\n\n");
        b.append("| idle after ready | peak while generating (sampled every 10 ms) | after the run | anchor (ComfyUI, real model, GPU) |\n|---|---|---|---|\n");
        b.append("| ").append(mib(steady.rssIdleBytes())).append(" | ").append(mib(steady.rssPeakBytes())).append(" | ").append(mib(steady.rssAfterBytes()))
                .append(" | 11.2 GB idle, 12.8 GB generating |\n");
        return b.toString();
    }

    /** "step 3": one denoising step, already inside "denoise" (kept in the JSON, left out of tables and charts). */
    static boolean isStep(String stage) {
        return stage.matches("step \\d+");
    }

    private static double medB(List<BenchCommand.BareStart> runs, ToDoubleFunction<BenchCommand.BareStart> f) {
        return runs.isEmpty() ? Double.NaN : Stats.median(runs.stream().mapToDouble(f).toArray());
    }

    private static void bareRow(StringBuilder b, String what, List<BenchCommand.BareStart> a, List<BenchCommand.BareStart> n,
                                ToDoubleFunction<BenchCommand.BareStart> f) {
        double x = medB(a, f), y = medB(n, f);
        b.append("| ").append(what).append(" | ").append(ms(x)).append(" | ").append(ms(y)).append(" | ")
                .append(Double.isNaN(x) || Double.isNaN(y) ? "–" : String.format(Locale.ROOT, "%.2f×", x / y)).append(" |\n");
    }

    private static void coldRow(StringBuilder b, List<BenchCommand.ColdRun> cold, List<String> modes, String what,
                                ToDoubleFunction<BenchCommand.ColdRun> f, boolean bold, String anchor) {
        b.append("| ").append(what).append(" |");
        for (String md : modes) {
            String v = ms(med(runs(cold, md), f));
            b.append(' ').append(bold ? "**" + v + "**" : v).append(" |");
        }
        b.append(' ').append(anchor).append(" |\n");
    }

    private static void row(StringBuilder b, String what, String a, String c, String anchor) {
        b.append("| ").append(what).append(" | ").append(a).append(" | ").append(c).append(" | ").append(anchor).append(" |\n");
    }

    /** Writes {@code bytes} to a temporary sibling, then renames it over {@code target}. */
    static void atomicWrite(Path target, byte[] bytes) throws IOException {
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
        try {
            Files.write(tmp, bytes);
            try {
                Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--")); // a report, not a secret
            } catch (UnsupportedOperationException e) {
                // not a POSIX file system: keep the default
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
