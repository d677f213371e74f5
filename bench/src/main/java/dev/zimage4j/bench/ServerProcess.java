package dev.zimage4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One {@code zimage serve} child process under measurement, started through the launcher exactly as a user
 * would start it, so "process start" includes the launcher script and JVM start-up. Times are milliseconds
 * since just before the process was spawned.
 */
final class ServerProcess implements AutoCloseable {
    private static final ObjectMapper JSON = JsonMapper.builder().build();
    /** Linux clock ticks per second for /proc/PID/stat CPU times (USER_HZ, 100 on every mainstream kernel). */
    private static final double TICKS_PER_SECOND = 100;

    /** The answer to one synchronous generation. */
    record Generation(double millis, Map<String, Double> timingsMs) {
    }

    private final Process process;
    private final URI base;
    private final long startNanos;
    private final Path log;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private ServerProcess(Process process, URI base, long startNanos, Path log) {
        this.process = process;
        this.base = base;
        this.startNanos = startNanos;
        this.log = log;
    }

    /**
     * Starts {@code launcher serve --port P --output-dir WORK/out-P ARGS…} with {@code env} added to this
     * process's environment; its output goes to {@code WORK/server-P.log}.
     */
    static ServerProcess start(Path launcher, Path work, List<String> args, Map<String, String> env) throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        List<String> cmd = new ArrayList<>(List.of(launcher.toString(), "serve", "--port", Integer.toString(port),
                "--output-dir", work.resolve("out-" + port).toString()));
        cmd.addAll(args);
        Path log = work.resolve("server-" + port + ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        long t0 = System.nanoTime();
        Process p = pb.start();
        return new ServerProcess(p, URI.create("http://127.0.0.1:" + port), t0, log);
    }

    long pid() {
        return process.pid();
    }

    Path log() {
        return log;
    }

    private double sinceStart() {
        return (System.nanoTime() - startNanos) / 1e6;
    }

    /** Milliseconds from process start until GET {@code path} answers 200 (polled every 5 ms). */
    double await(String path, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!process.isAlive())
                throw new IOException("zimage serve exited with status " + process.exitValue() + " before " + path + " answered; its log " + log + " ends:\n" + tail());
            try {
                if (get(path).statusCode() == 200) return sinceStart();
            } catch (IOException e) {
                // not listening yet
            }
            if (System.nanoTime() > deadline) throw new IOException(path + " did not answer 200 within " + timeout + "; log " + log + ":\n" + tail());
            Thread.sleep(5);
        }
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(base.resolve(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** One synchronous generation ({@code output: url}): client-side wall time and the server's per-stage timings. */
    Generation generate(String body) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        HttpResponse<String> r = post("/v1/generate", body);
        double ms = (System.nanoTime() - t0) / 1e6;
        if (r.statusCode() != 200) throw new IOException("POST /v1/generate answered " + r.statusCode() + ": " + r.body());
        Map<String, Double> timings = new LinkedHashMap<>();
        JsonNode t = JSON.readTree(r.body()).path("timings_ms");
        t.properties().forEach(e -> timings.put(e.getKey(), e.getValue().asDouble()));
        return new Generation(ms, timings);
    }

    /** The process's resident set size in bytes (VmRSS), or 0 once it is gone. */
    long rssBytes() {
        return dev.zimage4j.engine.Metrics.residentSetBytes(process.pid());
    }

    /** CPU time (user + system) the process has used so far, milliseconds; -1 without /proc. */
    double cpuMillis() {
        try {
            String stat = Files.readString(Path.of("/proc/" + process.pid() + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // after "pid (comm) ": state is field 3, utime field 14, stime field 15 (1-based over the whole line)
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 1000 / TICKS_PER_SECOND;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** The log so far (the server's stdout and stderr). */
    String logText() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "";
        }
    }

    private String tail() {
        String s = logText();
        return s.length() > 3000 ? "…" + s.substring(s.length() - 3000) : s;
    }

    /** SIGTERM (the server drains and exits), waiting up to 60 s before killing it. */
    @Override
    public void close() throws InterruptedException {
        close(Duration.ofSeconds(60));
    }

    /** SIGTERM, waiting up to {@code grace} for the process to exit before killing it. */
    void close(Duration grace) throws InterruptedException {
        if (!process.isAlive()) return;
        process.destroy();
        if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
