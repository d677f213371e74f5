package dev.zimage4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.zimage4j.cli.Args;
import dev.zimage4j.cli.Command;
import dev.zimage4j.cli.UsageException;
import dev.zimage4j.pipeline.DemoModel;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code zimage bench-server}: the cold-start table of docs/anchors for this server, measured over real
 * HTTP against real {@code zimage serve} processes:
 * <ol>
 *   <li>cold start: process start → listening → ready (prewarmed) → first image, against the warm latency;
 *       and the same without prewarm (the first request pays load and JIT);</li>
 *   <li>P50 / P95 / max over N sequential warm requests;</li>
 *   <li>3 model configurations alternating, resident ({@code max_cached_models 3}) against reloading per
 *       request ({@code keep_model_in_memory false});</li>
 *   <li>resident memory (VmRSS) idle after ready, and the peak while generating.</li>
 * </ol>
 * Prints a Markdown table. Not a test: figures on a shared machine are noisy.
 */
public final class ServerBench implements Command {
    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private PrintStream out;

    @Override
    public String name() {
        return "bench-server";
    }

    @Override
    public String summary() {
        return "measure the server: cold start vs warm, P50/P95/max, 3 models alternating, resident memory";
    }

    @Override
    public String usage() {
        return """
                usage: zimage bench-server [--model DIR] [--size WxH] [--steps N] [--requests N] [--rounds N]
                  --model DIR    model directory (default: the built-in demo model)
                  --size WxH     image size of every request (default 256x256)
                  --steps N      denoising steps (default 8)
                  --requests N   sequential warm requests for the percentiles (default 100)
                  --rounds N     rounds of the 3-model alternation (default 20)""";
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) throws Exception {
        this.out = out;
        Args a = new Args(argList, Set.of("--model", "--size", "--steps", "--requests", "--rounds"), Set.of());
        if (!a.positional().isEmpty()) throw new UsageException("unexpected argument " + a.positional().getFirst());
        Path model = a.get("--model", null) == null ? DemoModel.ensure(err::println) : Path.of(a.get("--model", null)).toAbsolutePath();
        String size = a.get("--size", "256x256");
        int steps = a.getInt("--steps", 8);
        int requests = a.getInt("--requests", 100);
        int rounds = a.getInt("--rounds", 20);
        Path work = Files.createTempDirectory("zimage-bench-");
        // three "workflows": the same weights under three ids, so each is loaded and cached on its own
        Path roots = Files.createDirectories(work.resolve("models"));
        for (String id : List.of("m1", "m2", "m3")) Files.createSymbolicLink(roots.resolve(id), model);
        String body = "{\"prompt\":\"a lighthouse on a cliff at dusk\",\"seed\":%d,\"width\":%s,\"height\":%s,\"steps\":" + steps
                + ",\"model\":\"%s\",\"output\":\"url\"}";
        String[] wh = size.split("x");
        out.printf("# zimage bench-server: model %s, %s, %d steps, %d cores, java %s%n%n", model, size, steps,
                Runtime.getRuntime().availableProcessors(), Runtime.version());

        // 1. cold start, prewarmed, then warm requests and memory
        Server s = start(work, roots, List.of("--prewarm", size, "--default-model", "m1"));
        long t1 = s.awaitPath("/healthz"), t2 = s.awaitReady();
        long rssIdle = s.rss();
        double first = s.generate(String.format(body, 0, wh[0], wh[1], "m1"));
        double[] warm = new double[requests];
        AtomicLong peak = new AtomicLong(rssIdle);
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                peak.accumulateAndGet(s.rss(), Math::max);
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        for (int i = 0; i < requests; i++) warm[i] = s.generate(String.format(body, i + 1, wh[0], wh[1], "m1"));
        sampler.interrupt();
        String stages = stageMeans(s.get("/metrics").body());
        s.stop();

        // 2. cold start without prewarm: the first request pays load + first-use costs
        Server n = start(work, roots, List.of("--no-prewarm", "--default-model", "m1"));
        long n1 = n.awaitPath("/healthz"), n2 = n.awaitReady();
        double nFirst = n.generate(String.format(body, 0, wh[0], wh[1], "m1"));
        double nSecond = n.generate(String.format(body, 1, wh[0], wh[1], "m1"));
        n.stop();

        // 3. three models alternating: resident vs reloaded per request
        double resident = alternate(work, roots, List.of("--max-cached-models", "3", "--prewarm", size, "--default-model", "m1"), body, wh, rounds, true);
        double reload = alternate(work, roots, List.of("--no-keep-model-in-memory", "--no-prewarm", "--default-model", "m1"), body, wh, rounds, false);

        double[] sorted = warm.clone();
        Arrays.sort(sorted);
        out.println("| what | this server |");
        out.println("|---|---|");
        out.printf("| process start → listening (/healthz) | %d ms |%n", t1);
        out.printf("| process start → ready (load + prewarm at %s) | %d ms |%n", size, t2);
        out.printf("| first request after ready | %.0f ms |%n", first);
        out.printf("| **process start → first image, prewarmed** | **%.0f ms** |%n", t2 + first);
        out.printf("| without prewarm: start → ready %d ms, first request %.0f ms, second %.0f ms | **%.0f ms to first image** |%n", n2, nFirst, nSecond, n2 + nFirst);
        out.printf("| warm request, %d sequential: P50 / P95 / max | %.0f / %.0f / %.0f ms |%n", requests, pct(sorted, 50), pct(sorted, 95), sorted[sorted.length - 1]);
        out.printf("| 3 models alternating × %d rounds, resident (max_cached_models 3) | %.1f s (%.0f ms per request) |%n", rounds, resident / 1e3, resident / (3.0 * rounds));
        out.printf("| same, reloading per request (keep_model_in_memory false) | %.1f s (%.0f ms per request) |%n", reload / 1e3, reload / (3.0 * rounds));
        out.printf("| resident memory (VmRSS) idle after ready / peak while generating | %.0f MiB / %.0f MiB |%n", rssIdle / 1048576.0, peak.get() / 1048576.0);
        out.println();
        out.println("server-side mean per stage over the prewarmed server's " + (requests + 1) + " requests: " + stages);
        out.printf("(n1 listening without prewarm: %d ms; n = %d; P50 of the first 10 warm requests %.0f ms)%n", n1, requests,
                pct(Arrays.stream(warm, 0, Math.min(10, warm.length)).sorted().toArray(), 50));
        return 0;
    }

    private double alternate(Path work, Path roots, List<String> flags, String body, String[] wh, int rounds, boolean warmAll) throws Exception {
        Server s = start(work, roots, flags);
        s.awaitReady();
        if (warmAll) for (String m : List.of("m2", "m3")) s.post("/v1/models/" + m + "/load", "");
        long t0 = System.nanoTime();
        for (int r = 0; r < rounds; r++)
            for (String m : List.of("m1", "m2", "m3")) s.generate(String.format(body, r, wh[0], wh[1], m));
        double ms = (System.nanoTime() - t0) / 1e6;
        JsonNode models = JSON.readTree(s.get("/v1/models").body());
        StringBuilder loads = new StringBuilder();
        for (JsonNode m : models.get("data")) loads.append(m.get("id").asText()).append('=').append(m.get("loads").asLong()).append(' ');
        out.println("(" + String.join(" ", flags) + ": loads " + loads.toString().trim() + ")");
        s.stop();
        return ms;
    }

    /** "stage 12.3 ms, …" from the Prometheus text: sum / count of each zimage_stage_seconds series. */
    static String stageMeans(String metrics) {
        java.util.Map<String, double[]> m = new java.util.LinkedHashMap<>();
        for (String line : metrics.lines().toList()) {
            var x = java.util.regex.Pattern.compile("zimage_stage_seconds_(sum|count)\\{stage=\"([^\"]+)\"} (\\S+)").matcher(line);
            if (!x.matches()) continue;
            double[] sc = m.computeIfAbsent(x.group(2), k -> new double[2]);
            sc[x.group(1).equals("sum") ? 0 : 1] = Double.parseDouble(x.group(3));
        }
        List<String> parts = new ArrayList<>();
        m.forEach((k, v) -> parts.add(String.format("%s %.1f ms", k, v[1] == 0 ? 0 : 1e3 * v[0] / v[1])));
        return String.join(", ", parts);
    }

    private static double pct(double[] sorted, int p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
    }

    private Server start(Path work, Path roots, List<String> flags) throws IOException {
        int port;
        try (ServerSocket ss = new ServerSocket(0)) {
            port = ss.getLocalPort();
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElseThrow());
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.zimage4j.cli.Main", "serve", "--port", Integer.toString(port),
                "--model-root", roots.toString(), "--output-dir", work.resolve("out-" + port).toString()));
        cmd.addAll(flags);
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectOutput(work.resolve("server-" + port + ".log").toFile()).redirectErrorStream(true).start();
        return new Server(p, URI.create("http://127.0.0.1:" + port), t0);
    }

    /** One server process under measurement. */
    private final class Server {
        final Process process;
        final URI base;
        final long startNanos;

        Server(Process process, URI base, long startNanos) {
            this.process = process;
            this.base = base;
            this.startNanos = startNanos;
        }

        /** Milliseconds from process start until {@code path} answers 200. */
        long awaitPath(String path) throws Exception {
            while (true) {
                if (!process.isAlive()) throw new IOException("server exited with " + process.exitValue() + " (see its log)");
                try {
                    if (get(path).statusCode() == 200) return (System.nanoTime() - startNanos) / 1_000_000;
                } catch (IOException e) {
                    // not listening yet
                }
                Thread.sleep(5);
            }
        }

        long awaitReady() throws Exception {
            return awaitPath("/readyz");
        }

        HttpResponse<String> get(String path) throws IOException, InterruptedException {
            return http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        }

        HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
            return http.send(HttpRequest.newBuilder(base.resolve(path)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
        }

        /** Milliseconds of one synchronous generation. */
        double generate(String body) throws Exception {
            long t0 = System.nanoTime();
            HttpResponse<String> r = post("/v1/generate", body);
            if (r.statusCode() != 200) throw new IOException("generate answered " + r.statusCode() + ": " + r.body());
            return (System.nanoTime() - t0) / 1e6;
        }

        long rss() {
            return dev.zimage4j.engine.Metrics.residentSetBytes(process.pid());
        }

        void stop() throws InterruptedException {
            process.destroy();
            process.waitFor();
        }
    }
}
