package dev.zimage4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.engine.EngineConfig;
import dev.zimage4j.pipeline.DemoModel;
import dev.zimage4j.pipeline.GenerationRequest;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

/**
 * A client of the local resident server, for {@code zimage generate} and {@code zimage daemon}: finds a
 * running one through {@link DaemonFile}, or starts one in the background ({@link #startDaemon}, like the
 * Gradle daemon) and waits until it is ready.
 */
public final class LocalClient {
    /** Header marking requests of the zimage command line; the load trace shows them as "cli". */
    static final String CLIENT_HEADER = "X-Zimage-Client";
    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private final DaemonFile daemon;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private LocalClient(DaemonFile daemon) {
        this.daemon = daemon;
    }

    /** The running local server, if there is one that answers {@code /healthz}. */
    public static Optional<LocalClient> find() {
        return DaemonFile.read().map(LocalClient::new).filter(LocalClient::alive);
    }

    /**
     * The running local server, or a new one started in the background with {@code serveArgs} (output to
     * {@code CACHE/daemon.log}); returns once it is ready.
     *
     * @throws IOException when it does not become ready within {@code timeout} (the message quotes its log)
     */
    public static LocalClient startDaemon(List<String> serveArgs, Duration timeout) throws IOException, InterruptedException {
        Optional<LocalClient> running = find();
        if (running.isPresent()) {
            running.get().awaitReady(timeout);
            return running.get();
        }
        Path log = EngineConfig.home().resolve("daemon.log");
        Files.createDirectories(log.getParent());
        List<String> args = new ArrayList<>(List.of("serve"));
        args.addAll(serveArgs);
        Process p = new ProcessBuilder(JavaProcess.zimage(args))
                .redirectInput(new File("/dev/null"))
                .redirectOutput(log.toFile())
                .redirectErrorStream(true)
                .start();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) throw new IOException("the background server exited with status " + p.exitValue() + ": " + tail(log));
            Optional<DaemonFile> d = DaemonFile.read();
            if (d.isPresent() && d.get().pid() == p.pid()) {
                LocalClient c = new LocalClient(d.get());
                c.awaitReady(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
                return c;
            }
            Thread.sleep(100);
        }
        throw new IOException("the background server did not start within " + timeout.toSeconds() + " s: " + tail(log));
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 10), lines.size()));
        } catch (IOException e) {
            return "(no log at " + log + ")";
        }
    }

    /** The server's base URL. */
    public URI url() {
        return daemon.url();
    }

    /** The process to signal to stop it (the supervisor when supervised). */
    public long pid() {
        return daemon.pid();
    }

    private boolean alive() {
        try {
            return send(get("/healthz")).statusCode() == 200;
        } catch (IOException e) {
            return false;
        }
    }

    /** True when {@code /readyz} says ready. */
    public boolean ready() {
        try {
            return send(get("/readyz")).statusCode() == 200;
        } catch (IOException e) {
            return false;
        }
    }

    /** Waits until ready. */
    public void awaitReady(Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!ready()) {
            if (System.nanoTime() > deadline) throw new IOException("server " + url() + " not ready after " + timeout.toSeconds() + " s");
            Thread.sleep(100);
        }
    }

    /**
     * Generates on the server: the PNG bytes of each image (same results as generating in-process).
     *
     * @param model model id, or null for the server's default
     * @throws IOException with the server's error message on a non-200 answer
     */
    public List<byte[]> generate(GenerationRequest r, String model) throws IOException {
        ObjectNode b = JSON.createObjectNode();
        b.put("prompt", r.prompt()).put("negative_prompt", r.negativePrompt()).put("width", r.width()).put("height", r.height())
                .put("steps", r.steps()).put("guidance", r.guidance()).put("seed", r.seed()).put("count", r.count()).put("output", "base64");
        if (model != null) b.put("model", model);
        HttpResponse<String> resp = send(request("/v1/generate").POST(HttpRequest.BodyPublishers.ofString(b.toString()))
                .header("Content-Type", "application/json").build());
        JsonNode n = JSON.readTree(resp.body());
        if (resp.statusCode() != 200) throw new IOException("server " + url() + " answered " + resp.statusCode() + ": " + n.path("error").path("message").asText(resp.body()));
        List<byte[]> out = new ArrayList<>();
        for (JsonNode i : n.get("images")) out.add(Base64.getDecoder().decode(i.get("b64_png").asText()));
        return out;
    }

    /**
     * What {@code zimage generate} calls: generates on the local server when one runs (or, with
     * {@code startIfNone}, after starting one) and serves {@code model}; empty when it must run in-process
     * (no server, a model given as several files, or a model the server does not serve — said on {@code log}).
     *
     * @param model the --model arguments: empty for the built-in demo model, else one model directory
     * @return the PNG bytes of each image
     */
    public static Optional<List<byte[]>> tryGenerate(GenerationRequest r, List<Path> model, boolean startIfNone, PrintStream log)
            throws IOException, InterruptedException {
        if (model.size() > 1 || r.initImage() != null) return Optional.empty();
        Path dir = model.isEmpty() ? DemoModel.ensure(log::println) : model.getFirst().toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) return Optional.empty();
        Optional<LocalClient> c = find();
        if (c.isEmpty() && startIfNone) {
            log.println("starting a background server (zimage daemon start --model " + dir + "); log in " + EngineConfig.home().resolve("daemon.log"));
            c = Optional.of(startDaemon(List.of("--model", dir.toString()), Duration.ofMinutes(10)));
        }
        if (c.isEmpty()) return Optional.empty();
        String id = null;
        for (JsonNode m : c.get().models().path("data"))
            if (Path.of(m.path("path").asText("")).equals(dir)) id = m.get("id").asText();
        if (id == null) {
            log.println("the local server at " + c.get().url() + " does not serve " + dir + "; generating in this process");
            return Optional.empty();
        }
        log.println("generating on the local server at " + c.get().url() + " (model " + id + ")");
        return Optional.of(c.get().generate(r, id));
    }

    /** The server's {@code GET /v1/models} answer. */
    public JsonNode models() throws IOException {
        return JSON.readTree(send(get("/v1/models")).body());
    }

    /** Sends SIGTERM (the server drains) and waits for the process to exit. */
    public boolean stop(Duration timeout) throws InterruptedException {
        Optional<ProcessHandle> h = ProcessHandle.of(daemon.pid());
        if (h.isEmpty()) return true;
        h.get().destroy();
        try {
            h.get().onExit().get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            return false;
        }
    }

    private HttpRequest get(String path) {
        return request(path).GET().timeout(Duration.ofSeconds(5)).build();
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(daemon.url().resolve(path)).header(CLIENT_HEADER, "cli");
        if (daemon.token() != null) b.header("Authorization", "Bearer " + daemon.token());
        return b;
    }

    private HttpResponse<String> send(HttpRequest r) throws IOException {
        try {
            return http.send(r, HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
