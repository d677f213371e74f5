package dev.zimage4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.zimage4j.cli.Args;
import dev.zimage4j.cli.Command;
import dev.zimage4j.cli.UsageException;
import dev.zimage4j.pipeline.DemoModel;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * {@code zimage bench}: the cold-start table of the anchors (docs/performance.md) measured against this
 * project, over real HTTP against {@code zimage serve} processes started through the launcher:
 * <ol>
 *   <li>cold start: process start → listening → ready (load + prewarm) → first image, with and without the
 *       JVM's AOT cache, several runs each, interleaved; against the warm latency;</li>
 *   <li>N sequential requests on one server: P50 / P95 / max, per-stage breakdown (the server's
 *       {@code timings_ms} and {@code /metrics}), resident memory idle and while generating;</li>
 *   <li>3 models alternating: resident ({@code max_cached_models 3}, all prewarmed) against reloading per
 *       request ({@code keep_model_in_memory false}).</li>
 * </ol>
 * Writes {@code bench-BACKEND.json}, {@code bench-BACKEND.md} and three PNG charts into {@code --out}.
 * Not a test: on a shared machine the figures are noisy; the report records the load average.
 */
public final class BenchCommand implements Command {
    private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();
    private static final Duration READY_TIMEOUT = Duration.ofMinutes(10);
    private static final Pattern LOAD_LINE = Pattern.compile("load \\S+ \\(trigger: startup prewarm\\):(.*) total (\\d+) ms");
    private static final Pattern LOAD_COMPONENT = Pattern.compile(" (\\S+) (\\d+) ms [\\d.]+ MiB,");
    private static final Pattern PREWARM_LINE = Pattern.compile("prewarm \\S+ \\d+x\\d+, \\d+ steps: (\\d+) ms");

    @Override
    public String name() {
        return "bench";
    }

    @Override
    public String summary() {
        return "cold start vs warm, P50/P95/max, 3 models alternating, memory, per-stage; JSON + Markdown + PNG charts";
    }

    @Override
    public String usage() {
        return """
                usage: zimage bench [--backend cpu|cuda] [--model DIR] [--size WxH] [--steps N] [--cold-runs N]
                                    [--requests N] [--rounds N] [--out DIR] [--quick]
                  --backend     compute backend of the servers (default cpu)
                  --model       model directory (default: the built-in demo model)
                  --size WxH    image size of every request and of the prewarm (default 64x64 on cpu, 1024x1024 on cuda)
                  --steps N     denoising steps (default 8)
                  --cold-runs N process starts per JVM configuration (with / without the AOT cache; default 5)
                  --requests N  sequential requests on one server for P50/P95/max (default 100)
                  --rounds N    rounds of the 3-model alternation, each one request per model (default 20)
                  --out DIR     where the report goes (default docs/results)
                  --quick       1 cold run, 5 requests, 1 round (a smoke run)
                Servers are started with the launcher (./zimage serve) with ZIMAGE_NO_BUILD=1; ZIMAGE_NO_AOT=1
                selects the run without the AOT cache (./zimage aot-train makes it).""";
    }

    /** Where one benchmark run writes and what it runs. */
    record Setup(Path root, Path launcher, Path work, Path model, String backend, int width, int height, int steps) {
        String body(int seed, String modelId) {
            return String.format("{\"prompt\":\"a lighthouse on a cliff at dusk\",\"seed\":%d,\"width\":%d,\"height\":%d,\"steps\":%d,"
                    + "\"model\":\"%s\",\"output\":\"url\"}", seed, width, height, steps, modelId);
        }

        String size() {
            return width + "x" + height;
        }

        Path aotCache() {
            return root.resolve("bench/target/dist/zimage.aot");
        }

        /** The environment of every child: never build, no daemon registration in the user's home. */
        Map<String, String> env(boolean aot) {
            Map<String, String> env = new LinkedHashMap<>();
            env.put("ZIMAGE_NO_BUILD", "1");
            env.put("ZIMAGE_HOME", work.resolve("home").toString());
            if (!aot) env.put("ZIMAGE_NO_AOT", "1");
            return env;
        }

        List<String> serveArgs(List<String> more) {
            List<String> a = new ArrayList<>(List.of("--backend", backend, "--default-steps", Integer.toString(steps)));
            a.addAll(more);
            return a;
        }
    }

    /** One cold start: process start → listening → ready → first image, and what the log says about the ready phase. */
    record ColdRun(String jvm, double listeningMs, double readyMs, double cpuAtReadyMs, long rssAtReadyBytes, double firstMs,
                   double secondMs, Map<String, Double> firstTimingsMs, Map<String, Double> loadMs, double prewarmMs) {
        double firstImageMs() {
            return readyMs + firstMs;
        }
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argList, Set.of("--backend", "--model", "--size", "--steps", "--cold-runs", "--requests", "--rounds", "--out"), Set.of("--quick"));
        if (!a.positional().isEmpty()) throw new UsageException("unexpected argument " + a.positional().getFirst());
        String backend = a.get("--backend", "cpu");
        if (!Set.of("cpu", "cuda").contains(backend)) throw new UsageException("--backend must be cpu or cuda, not " + backend);
        boolean quick = a.flag("--quick");
        String size = a.get("--size", backend.equals("cpu") ? "64x64" : "1024x1024");
        Matcher m = Pattern.compile("(\\d+)x(\\d+)").matcher(size);
        if (!m.matches()) throw new UsageException("--size must be WxH (e.g. 64x64), not " + size);
        int steps = positive(a, "--steps", 8);
        int coldRuns = positive(a, "--cold-runs", quick ? 1 : 5);
        int requests = positive(a, "--requests", quick ? 5 : 100);
        int rounds = positive(a, "--rounds", quick ? 1 : 20);
        String rootProp = System.getProperty("zimage.root");
        if (rootProp == null) throw new UsageException("zimage bench needs -Dzimage.root (run it through ./zimage)");
        Path root = Path.of(rootProp).toAbsolutePath();
        Path launcher = root.resolve("zimage");
        if (!Files.isExecutable(launcher)) throw new UsageException("launcher " + launcher + " not found or not executable");
        Path outDir = a.get("--out", null) == null ? root.resolve("docs/results") : Path.of(a.get("--out", null)).toAbsolutePath();
        Path model = a.get("--model", null) == null ? DemoModel.ensure(err::println) : Path.of(a.get("--model", null)).toAbsolutePath();
        if (!Files.isDirectory(model)) throw new UsageException("--model " + model + " is not a directory");
        Path work = Files.createTempDirectory("zimage-bench-");
        Setup s = new Setup(root, launcher, work, model, backend, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), steps);

        Map<String, Object> report = new LinkedHashMap<>();
        report.put("machine", Machine.describe(root));
        report.put("load_average_at_start", Machine.loadAverage());
        report.put("settings", Map.of("backend", backend, "model", model.toString(), "size", s.size(), "steps", steps,
                "cold_runs", coldRuns, "requests", requests, "rounds", rounds));
        out.printf("zimage bench: %s, %s, %d steps, model %s; load average %s%n", backend, s.size(), steps, model, Machine.loadAverage());
        try {
            List<BareStart> bare = bareStarts(s, coldRuns, out);
            report.put("bare_starts", bare);
            List<ColdRun> cold = coldStarts(s, coldRuns, out);
            report.put("cold_runs", cold);
            SteadyState steady = SteadyState.measure(s, requests, out);
            report.put("steady", steady);
            Alternation alt = Alternation.measure(s, rounds, out);
            report.put("alternation", alt);
            report.put("load_average_at_end", Machine.loadAverage());
            report.put("finished_at", Instant.now().toString());
            Report.write(outDir, backend, report, bare, cold, steady, alt, s, out);
        } finally {
            deleteTree(work);
        }
        return 0;
    }

    private static int positive(Args a, String flag, int def) {
        int v = a.getInt(flag, def);
        if (v < 1) throw new UsageException(flag + " must be at least 1, not " + v);
        return v;
    }

    /** JVM AOT cache label of the cold runs with it, without it, and (GPU) with it but with an empty kernel cache. */
    static final String AOT = "aot", NO_AOT = "no-aot", AOT_KERNELS_COLD = "aot, kernels cold";

    /**
     * {@code runs} cold starts with the AOT cache and as many without, interleaved so load drifts hit both
     * alike. On the GPU each round first starts with an empty kernel cache (and the driver's JIT cache off:
     * every kernel is compiled), then twice reusing what that start stored: a restart that does not recompile.
     */
    static List<ColdRun> coldStarts(Setup s, int runs, PrintStream out) throws Exception {
        boolean haveAot = Files.isRegularFile(s.aotCache());
        if (!haveAot) out.println("(no AOT cache at " + s.aotCache() + ": run ./zimage aot-train to measure with it)");
        boolean gpu = !s.backend().equals("cpu");
        List<ColdRun> result = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            Path kernels = s.work().resolve("kernels-" + i);
            List<String> modes = new ArrayList<>();
            if (gpu) modes.add(haveAot ? AOT_KERNELS_COLD : NO_AOT + ", kernels cold");
            if (haveAot) modes.add(AOT);
            modes.add(NO_AOT);
            for (String mode : modes) {
                Map<String, String> env = s.env(mode.startsWith(AOT));
                if (gpu) {
                    env.put("ZIMAGE_KERNEL_CACHE", kernels.toString()); // fresh for the first start of the round
                    env.put("CUDA_CACHE_DISABLE", "1");                 // only our cubin cache may help
                }
                ColdRun r = coldStart(s, mode, env);
                out.printf("cold %-18s run %d: listening %5.0f ms, ready %6.0f ms (cpu %6.0f ms), first request %6.0f ms, second %6.0f ms%n",
                        r.jvm(), i + 1, r.listeningMs(), r.readyMs(), r.cpuAtReadyMs(), r.firstMs(), r.secondMs());
                result.add(r);
            }
        }
        return result;
    }

    /** One start of the server with nothing to load ({@code --no-prewarm}): the JVM and the server alone. */
    record BareStart(String jvm, double listeningMs, double readyMs, double cpuAtReadyMs, long rssAtReadyBytes) {
    }

    /** {@code runs} bare starts with and without the AOT cache, interleaved: what the AOT cache does for the JVM itself. */
    static List<BareStart> bareStarts(Setup s, int runs, PrintStream out) throws Exception {
        boolean haveAot = Files.isRegularFile(s.aotCache());
        List<BareStart> result = new ArrayList<>();
        for (int i = 0; i < runs; i++)
            for (boolean aot : haveAot ? List.of(true, false) : List.of(false)) {
                try (ServerProcess p = ServerProcess.start(s.launcher(), s.work(), s.serveArgs(List.of("--model", s.model().toString(), "--no-prewarm")), s.env(aot))) {
                    double listening = p.await("/healthz", READY_TIMEOUT);
                    double ready = p.await("/readyz", READY_TIMEOUT);
                    BareStart b = new BareStart(aot ? AOT : NO_AOT, listening, ready, p.cpuMillis(), p.rssBytes());
                    out.printf("bare %-7s run %d: listening %5.0f ms, ready %5.0f ms (cpu %5.0f ms)%n", b.jvm(), i + 1, listening, ready, b.cpuAtReadyMs());
                    result.add(b);
                }
            }
        return result;
    }

    private static ColdRun coldStart(Setup s, String mode, Map<String, String> env) throws Exception {
        try (ServerProcess p = ServerProcess.start(s.launcher(), s.work(), s.serveArgs(List.of("--model", s.model().toString(), "--prewarm", s.size())), env)) {
            double listening = p.await("/healthz", READY_TIMEOUT);
            double ready = p.await("/readyz", READY_TIMEOUT);
            double cpu = p.cpuMillis();
            long rss = p.rssBytes();
            String id = s.model().getFileName().toString();
            ServerProcess.Generation first = p.generate(s.body(1, id));
            ServerProcess.Generation second = p.generate(s.body(2, id));
            String log = p.logText();
            return new ColdRun(mode, listening, ready, cpu, rss, first.millis(), second.millis(), first.timingsMs(),
                    loadComponents(log), prewarmMillis(log));
        }
    }

    /** Component load times of the startup-prewarm load in a server log (empty if none was logged). */
    static Map<String, Double> loadComponents(String log) {
        Map<String, Double> r = new LinkedHashMap<>();
        Matcher m = LOAD_LINE.matcher(log);
        if (!m.find()) return r;
        Matcher c = LOAD_COMPONENT.matcher(m.group(1));
        while (c.find()) r.put(c.group(1), Double.parseDouble(c.group(2)));
        r.put("total", Double.parseDouble(m.group(2)));
        return r;
    }

    /** Sum of the prewarm generations' times in a server log. */
    static double prewarmMillis(String log) {
        Matcher m = PREWARM_LINE.matcher(log);
        double sum = 0;
        while (m.find()) sum += Double.parseDouble(m.group(1));
        return sum;
    }

    /** The per-request latencies and per-stage timings of N sequential requests on one resident server. */
    record SteadyState(String jvm, double readyMs, long rssIdleBytes, long rssPeakBytes, long rssAfterBytes, double[] latencyMs,
                       Stats latency, Map<String, Stats> stagesMs, Map<String, Double> metricsMeanMs) {

        static SteadyState measure(Setup s, int requests, PrintStream out) throws Exception {
            boolean aot = Files.isRegularFile(s.aotCache());
            try (ServerProcess p = ServerProcess.start(s.launcher(), s.work(), s.serveArgs(List.of("--model", s.model().toString(), "--prewarm", s.size())), s.env(aot))) {
                double ready = p.await("/readyz", READY_TIMEOUT);
                Thread.sleep(500); // let prewarm garbage settle before reading the idle footprint
                long idle = p.rssBytes();
                AtomicLong peak = new AtomicLong(idle);
                Thread sampler = Thread.ofPlatform().daemon().name("rss-sampler").start(() -> {
                    while (!Thread.currentThread().isInterrupted()) {
                        peak.accumulateAndGet(p.rssBytes(), Math::max);
                        try {
                            Thread.sleep(10);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                });
                String id = s.model().getFileName().toString();
                double[] lat = new double[requests];
                Map<String, List<Double>> stages = new LinkedHashMap<>();
                for (int i = 0; i < requests; i++) {
                    ServerProcess.Generation g = p.generate(s.body(100 + i, id));
                    lat[i] = g.millis();
                    g.timingsMs().forEach((k, v) -> stages.computeIfAbsent(k, x -> new ArrayList<>()).add(v));
                }
                sampler.interrupt();
                sampler.join();
                long after = p.rssBytes();
                Map<String, Stats> stageStats = new LinkedHashMap<>();
                stages.forEach((k, v) -> stageStats.put(k, Stats.of(v)));
                Map<String, Double> metrics = metricsMeans(p.get("/metrics").body());
                SteadyState st = new SteadyState(aot ? "aot" : "no-aot", ready, idle, peak.get(), after, lat, Stats.of(lat), stageStats, metrics);
                out.printf("%d sequential requests: P50 %.1f ms, P95 %.1f ms, max %.1f ms; RSS idle %.0f MiB, peak %.0f MiB%n", requests,
                        st.latency().p50(), st.latency().p95(), st.latency().max(), idle / 1048576.0, peak.get() / 1048576.0);
                return st;
            }
        }
    }

    /** Mean milliseconds per stage from the Prometheus text of {@code /metrics} (sum / count of each stage histogram). */
    static Map<String, Double> metricsMeans(String prometheus) {
        Map<String, Double> sum = new LinkedHashMap<>(), count = new LinkedHashMap<>();
        Pattern p = Pattern.compile("^zimage_stage_seconds_(sum|count)\\{stage=\"([^\"]+)\"} (\\S+)$", Pattern.MULTILINE);
        Matcher m = p.matcher(prometheus);
        while (m.find()) (m.group(1).equals("sum") ? sum : count).put(m.group(2), Double.parseDouble(m.group(3)));
        Map<String, Double> mean = new LinkedHashMap<>();
        sum.forEach((k, v) -> {
            Double n = count.get(k);
            if (n != null && n > 0) mean.put(k, v / n * 1000);
        });
        return mean;
    }

    /** 3 models alternating, resident against reloaded per request. */
    record Alternation(int rounds, double residentTotalMs, Stats residentMs, Map<String, Long> residentLoads,
                       double reloadTotalMs, Stats reloadMs, Map<String, Long> reloadLoads) {

        static Alternation measure(Setup s, int rounds, PrintStream out) throws Exception {
            List<Path> models = ModelSet.ensure(s.root(), 3, out);
            List<String> ids = models.stream().map(p -> p.getFileName().toString()).toList();
            Path config = s.work().resolve("alternate.json");
            Files.writeString(config, JSON.writeValueAsString(Map.of("prewarm_on_startup", Map.of("models", ids, "resolutions", List.of(s.size())))));
            List<String> modelArgs = new ArrayList<>();
            for (Path m : models) modelArgs.addAll(List.of("--model", m.toString()));
            List<String> resident = new ArrayList<>(modelArgs);
            resident.addAll(List.of("--config", config.toString(), "--max-cached-models", "3"));
            List<String> reload = new ArrayList<>(modelArgs);
            reload.addAll(List.of("--no-keep-model-in-memory", "--no-prewarm"));
            boolean aot = Files.isRegularFile(s.aotCache());
            double[] res = new double[rounds * 3], rel = new double[rounds * 3];
            Map<String, Long> resLoads = run(s, resident, aot, ids, rounds, res), relLoads = run(s, reload, aot, ids, rounds, rel);
            Alternation alt = new Alternation(rounds, sum(res), Stats.of(res), resLoads, sum(rel), Stats.of(rel), relLoads);
            out.printf("3 models alternating × %d rounds: resident %.1f s (loads %s), reloading %.1f s (loads %s)%n", rounds,
                    alt.residentTotalMs() / 1e3, resLoads, alt.reloadTotalMs() / 1e3, relLoads);
            return alt;
        }

        private static Map<String, Long> run(Setup s, List<String> args, boolean aot, List<String> ids, int rounds, double[] lat) throws Exception {
            try (ServerProcess p = ServerProcess.start(s.launcher(), s.work(), s.serveArgs(args), s.env(aot))) {
                p.await("/readyz", READY_TIMEOUT);
                for (int r = 0; r < rounds; r++)
                    for (int i = 0; i < ids.size(); i++) lat[r * ids.size() + i] = p.generate(s.body(r, ids.get(i))).millis();
                Map<String, Long> loads = new LinkedHashMap<>();
                for (var node : JSON.readTree(p.get("/v1/models").body()).path("data"))
                    loads.put(node.path("id").asText(), node.path("loads").asLong());
                return loads;
            }
        }

        private static double sum(double[] v) {
            double t = 0;
            for (double x : v) t += x;
            return t;
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
