package dev.zimage4j.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.zimage4j.engine.Engine;
import dev.zimage4j.engine.EngineConfig;
import dev.zimage4j.engine.Job;
import dev.zimage4j.engine.Log;
import dev.zimage4j.engine.ModelCache;
import dev.zimage4j.engine.ModelInUseException;
import dev.zimage4j.engine.ModelLoadException;
import dev.zimage4j.engine.QueueFullException;
import dev.zimage4j.engine.ShuttingDownException;
import dev.zimage4j.engine.UnknownModelException;
import dev.zimage4j.pipeline.InvalidRequestException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The HTTP API on the JDK's {@code com.sun.net.httpserver}, one virtual thread per exchange. Endpoints
 * and their answers are listed in docs/server.md. Every error is JSON
 * {@code {"error": {"message", "type", "param"}}} with the status that fits (400 naming the field,
 * 401, 404, 405, 409, 413, 429 with Retry-After, 500, 503, 504).
 */
public final class ApiServer implements AutoCloseable {
    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private static final long START = System.currentTimeMillis();

    private final Engine engine;
    private final EngineConfig config;
    private final HttpServer http;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final byte[] token;

    private ApiServer(Engine engine, HttpServer http) {
        this.engine = engine;
        this.config = engine.config();
        this.http = http;
        this.token = config.authToken() == null ? null : ("Bearer " + config.authToken()).getBytes(StandardCharsets.UTF_8);
    }

    /** Binds {@code host:port} of the engine's configuration and starts answering. */
    public static ApiServer start(Engine engine) throws IOException {
        EngineConfig c = engine.config();
        HttpServer http = HttpServer.create(new InetSocketAddress(c.host(), c.port()), 128);
        ApiServer s = new ApiServer(engine, http);
        http.setExecutor(s.executor);
        http.createContext("/", s::handle);
        http.start();
        return s;
    }

    /** The bound port (useful with port 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    /** The base URI, e.g. {@code http://127.0.0.1:8777}. */
    public URI uri() {
        String h = config.host().contains(":") ? "[" + config.host() + "]" : config.host();
        return URI.create("http://" + h + ":" + port());
    }

    /** Stops listening, giving open exchanges up to {@code seconds} to finish. */
    public void stop(int seconds) {
        http.stop(seconds);
        executor.shutdownNow();
    }

    @Override
    public void close() {
        stop(0);
    }

    // ---------------------------------------------------------------- dispatch

    private void handle(HttpExchange ex) {
        try (ex) {
            try {
                route(ex);
            } catch (HttpError e) {
                error(ex, e.status, e.param, e.getMessage(), Map.of());
            } catch (InvalidRequestException e) {
                error(ex, 400, e.field(), e.getMessage(), Map.of());
            } catch (UnknownModelException e) {
                error(ex, 404, "model", e.getMessage(), Map.of());
            } catch (QueueFullException e) {
                error(ex, 429, null, e.getMessage(), Map.of("Retry-After", Integer.toString(e.retryAfterSeconds())));
            } catch (ShuttingDownException e) {
                error(ex, 503, null, e.getMessage(), Map.of("Retry-After", "5"));
            } catch (ModelInUseException e) {
                error(ex, 409, "model", e.getMessage(), Map.of());
            } catch (ModelLoadException e) {
                error(ex, 500, "model", e.getMessage(), Map.of());
            } catch (IOException e) {
                // the client went away mid-answer: nothing to tell it
            } catch (RuntimeException e) {
                Log.info(ex.getRequestMethod() + " " + ex.getRequestURI() + " failed: " + e);
                error(ex, 500, null, "internal error: " + e, Map.of());
            }
        } catch (IOException e) {
            // could not even send the error: the client is gone
        }
    }

    private void route(HttpExchange ex) throws IOException {
        String method = ex.getRequestMethod();
        List<String> p = segments(ex.getRequestURI().getRawPath());
        if (p.equals(List.of("healthz"))) {
            allow(method, "GET");
            List<Map<String, Object>> workers = new ArrayList<>();
            for (Engine.WorkerStatus w : engine.workers()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("device", w.device());
                m.put("state", w.state());
                m.put("job", w.job());
                m.put("jobs_done", w.jobsDone());
                m.put("busy_s", Math.round(w.busySeconds() * 1000) / 1000.0);
                m.put("models", w.models());
                workers.add(m);
            }
            json(ex, 200, Map.of("status", "ok", "pid", ProcessHandle.current().pid(), "uptime_s", (System.currentTimeMillis() - START) / 1000, "workers", workers));
            return;
        }
        if (p.equals(List.of("readyz"))) {
            allow(method, "GET");
            boolean ready = engine.ready();
            json(ex, ready ? 200 : 503, Map.of("ready", ready, "state", ready ? "ready" : engine.accepting() ? "prewarming" : "draining"));
            return;
        }
        if (method.equals("GET") && (p.isEmpty() || p.size() == 1 && !p.getFirst().equals("metrics"))) {
            // the web page (docs/server.md): public like /healthz, its API calls carry the token
            var asset = WebPage.find(ex.getRequestURI().getPath()).orElseThrow(() -> HttpError.notFound("no endpoint " + ex.getRequestURI().getPath() + " (see docs/server.md)"));
            send(ex, 200, asset.contentType(), asset.bytes());
            return;
        }
        authorize(ex);
        if (p.equals(List.of("metrics"))) {
            allow(method, "GET");
            send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", engine.metrics().render().getBytes(StandardCharsets.UTF_8));
            return;
        }
        if (p.size() < 2 || !p.getFirst().equals("v1")) throw HttpError.notFound("no endpoint " + ex.getRequestURI().getPath() + " (see docs/server.md)");
        switch (p.get(1)) {
            case "generate" -> {
                requireLength(p, 2, ex);
                allow(method, "POST");
                generate(ex, GenerateParams.parse(readJson(ex), config), "true".equals(query(ex, "async")), false);
            }
            case "jobs" -> jobs(ex, method, p);
            case "images" -> {
                if (p.size() == 3 && p.get(2).equals("generations")) {
                    allow(method, "POST");
                    generate(ex, GenerateParams.parseOpenAi(readJson(ex), config), false, true);
                } else if (p.size() == 2) {
                    allow(method, "GET");
                    String limit = query(ex, "limit");
                    json(ex, 200, RecentImages.list(engine, limit == null ? RecentImages.DEFAULT_LIMIT : parseLimit(limit)));
                } else {
                    requireLength(p, 3, ex);
                    allow(method, "GET");
                    var file = engine.store().find(p.get(2)).orElseThrow(() -> HttpError.notFound("no image '" + p.get(2) + "'"));
                    send(ex, 200, "image/png", Files.readAllBytes(file));
                }
            }
            case "models" -> models(ex, method, p);
            default -> throw HttpError.notFound("no endpoint " + ex.getRequestURI().getPath() + " (see docs/server.md)");
        }
    }

    private static void requireLength(List<String> p, int n, HttpExchange ex) {
        if (p.size() != n) throw HttpError.notFound("no endpoint " + ex.getRequestURI().getPath());
    }

    private static void allow(String method, String allowed) {
        if (!method.equals(allowed)) throw new HttpError(405, null, "method " + method + " not allowed here; use " + allowed);
    }

    private void authorize(HttpExchange ex) {
        if (token == null) return;
        String h = ex.getRequestHeaders().getFirst("Authorization");
        if (h == null || !MessageDigest.isEqual(token, h.getBytes(StandardCharsets.UTF_8))) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
            throw new HttpError(401, null, h == null ? "missing Authorization: Bearer TOKEN" : "wrong bearer token");
        }
    }

    // ---------------------------------------------------------------- generation

    private void generate(HttpExchange ex, GenerateParams params, boolean async, boolean openAi) throws IOException {
        Job job = engine.submit(params.request(), params.model(), origin(ex));
        if (async) {
            ex.getResponseHeaders().set("Location", "/v1/jobs/" + job.id());
            Map<String, Object> body = new LinkedHashMap<>(job.describe());
            body.put("links", Map.of("self", "/v1/jobs/" + job.id(), "events", "/v1/jobs/" + job.id() + "/events"));
            json(ex, 202, body);
            return;
        }
        // synchronous: this client owns the job; if it leaves, the job is cancelled
        ex.getResponseHeaders().set("Connection", "close");
        try (DisconnectWatcher ignored = DisconnectWatcher.watch(ex, () -> {
            if (engine.cancel(job.id(), "client disconnected")) Log.info("job " + job.id() + " cancelled: client disconnected");
        })) {
            job.finished().get(config.syncTimeoutSeconds(), TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            engine.cancel(job.id(), "sync_timeout_seconds exceeded");
            throw new HttpError(504, null, "job " + job.id() + " did not finish within " + config.syncTimeoutSeconds() + " s (sync_timeout_seconds); it was cancelled");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HttpError(503, null, "server is shutting down");
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        ex.getResponseHeaders().set("X-Job-Id", job.id());
        switch (job.state()) {
            case DONE -> answerImages(ex, job, params.output(), openAi);
            case CANCELLED -> throw new HttpError(409, null, "job " + job.id() + " was cancelled: " + job.error());
            default -> throw new HttpError(500, null, "job " + job.id() + " failed: " + job.error());
        }
    }

    private void answerImages(HttpExchange ex, Job job, GenerateParams.Output output, boolean openAi) throws IOException {
        List<Job.Image> images = job.images();
        if (output == GenerateParams.Output.PNG) {
            ex.getResponseHeaders().set("X-Seed", Long.toString(images.getFirst().seed()));
            send(ex, 200, "image/png", readImage(images.getFirst()));
            return;
        }
        List<Map<String, Object>> data = new ArrayList<>();
        for (Job.Image i : images) {
            Map<String, Object> m = new LinkedHashMap<>();
            if (output == GenerateParams.Output.BASE64) m.put(openAi ? "b64_json" : "b64_png", Base64.getEncoder().encodeToString(readImage(i)));
            m.put("url", "/v1/images/" + i.name());
            if (!openAi) {
                m.put("name", i.name());
                m.put("seed", i.seed());
                m.put("width", i.width());
                m.put("height", i.height());
            }
            data.add(m);
        }
        if (openAi) {
            json(ex, 200, Map.of("created", Instant.now().getEpochSecond(), "data", data));
        } else {
            Map<String, Object> body = new LinkedHashMap<>(job.describe());
            body.put("images", data);
            json(ex, 200, body);
        }
    }

    private byte[] readImage(Job.Image i) throws IOException {
        return Files.readAllBytes(engine.store().find(i.name()).orElseThrow(() -> new IOException("image " + i.name() + " vanished")));
    }

    // ---------------------------------------------------------------- jobs

    private void jobs(HttpExchange ex, String method, List<String> p) throws IOException {
        if (p.size() < 3 || p.size() > 4) throw HttpError.notFound("no endpoint " + ex.getRequestURI().getPath());
        Job job = engine.job(p.get(2)).orElseThrow(() -> HttpError.notFound("no job '" + p.get(2) + "'"));
        if (p.size() == 4) {
            if (!p.get(3).equals("events")) throw HttpError.notFound("no endpoint " + ex.getRequestURI().getPath());
            allow(method, "GET");
            events(ex, job);
            return;
        }
        switch (method) {
            case "GET" -> json(ex, 200, job.describe());
            case "DELETE" -> {
                if (!engine.cancel(job.id(), "cancelled by DELETE"))
                    throw new HttpError(409, null, "job " + job.id() + " already " + job.state().json());
                json(ex, 202, Map.of("id", job.id(), "cancelling", true));
            }
            default -> throw new HttpError(405, null, "method " + method + " not allowed here; use GET or DELETE");
        }
    }

    /** Server-Sent Events: the job's current state, then every change until it finishes. */
    private void events(HttpExchange ex, Job job) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, 0);
        BlockingQueue<Job.Event> q = new LinkedBlockingQueue<>();
        Runnable unsubscribe = job.subscribe(q::add);
        try (OutputStream os = ex.getResponseBody()) {
            while (true) {
                Job.Event e = q.poll(15, TimeUnit.SECONDS);
                if (e == null) {
                    os.write(": keep-alive\n\n".getBytes(StandardCharsets.UTF_8));
                } else {
                    os.write(("event: " + e.type() + "\ndata: " + JSON.writeValueAsString(e.data()) + "\n\n").getBytes(StandardCharsets.UTF_8));
                }
                os.flush();
                if (e != null && e.terminal()) break;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            unsubscribe.run();
        }
    }

    // ---------------------------------------------------------------- models

    private void models(HttpExchange ex, String method, List<String> p) throws IOException {
        if (p.size() == 2) {
            allow(method, "GET");
            // per device: id -> its cache entry; the top-level fields summarise over devices
            Map<String, Map<String, ModelCache.Cached>> byDevice = new LinkedHashMap<>();
            engine.caches().forEach((device, cache) -> {
                Map<String, ModelCache.Cached> m = new LinkedHashMap<>();
                for (ModelCache.Cached c : cache.cached()) m.put(c.id(), c);
                byDevice.put(device, m);
            });
            List<Map<String, Object>> data = new ArrayList<>();
            for (String id : engine.registry().ids()) {
                ModelCache.Cached c = null;
                long residentBytes = 0;
                int inUse = 0;
                boolean warm = false;
                Map<String, Object> devices = new LinkedHashMap<>();
                for (var e : byDevice.entrySet()) {
                    ModelCache.Cached d = e.getValue().get(id);
                    if (d == null) continue;
                    if (c == null || c.loading()) c = d;
                    residentBytes += d.residentBytes();
                    inUse += d.users();
                    warm |= d.warm();
                    devices.put(e.getKey(), Map.of("loaded", !d.loading(), "warm", d.warm(), "in_use", d.users()));
                }
                if (c != null) c = new ModelCache.Cached(id, c.loading(), inUse, residentBytes, warm);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("id", id);
                m.put("object", "model");
                m.put("path", engine.registry().resolve(id).toString());
                m.put("default", id.equals(engine.defaultModel()));
                m.put("loaded", c != null && !c.loading());
                m.put("warm", c != null && c.warm());
                m.put("in_use", c == null ? 0 : c.users());
                m.put("resident_bytes", c == null ? 0 : c.residentBytes());
                m.put("loads", engine.loadTrace().count(id));
                m.put("devices", devices);
                data.add(m);
            }
            json(ex, 200, Map.of("object", "list", "data", data));
            return;
        }
        if (p.size() != 4) throw HttpError.notFound("no endpoint " + ex.getRequestURI().getPath());
        String id = p.get(2);
        allow(method, "POST");
        switch (p.get(3)) {
            case "load" -> {
                long t0 = System.nanoTime();
                engine.load(id, origin(ex));
                json(ex, 200, Map.of("id", id, "loaded", true, "loads", engine.loadTrace().count(id), "millis", (System.nanoTime() - t0) / 1_000_000));
            }
            case "unload" -> json(ex, 200, Map.of("id", id, "unloaded", engine.unload(id)));
            default -> throw HttpError.notFound("no endpoint " + ex.getRequestURI().getPath());
        }
    }

    // ---------------------------------------------------------------- plumbing

    /** "cli" for requests of the zimage command line ({@link LocalClient} sends {@code X-Zimage-Client: cli}), else "api". */
    private static String origin(HttpExchange ex) {
        return "cli".equals(ex.getRequestHeaders().getFirst(LocalClient.CLIENT_HEADER)) ? "cli" : "api";
    }

    private static List<String> segments(String rawPath) {
        List<String> out = new ArrayList<>();
        for (String s : rawPath.split("/")) if (!s.isEmpty()) out.add(URLDecoder.decode(s, StandardCharsets.UTF_8));
        return out;
    }

    private static String query(HttpExchange ex, String name) {
        String q = ex.getRequestURI().getRawQuery();
        if (q == null) return null;
        for (String kv : q.split("&")) {
            int eq = kv.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
            if (k.equals(name)) return eq < 0 ? "true" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
        }
        return null;
    }

    /** Reads the body as JSON, refusing more than {@code max_body_bytes} (413) and malformed JSON (400). */
    private JsonNode readJson(HttpExchange ex) throws IOException {
        long max = config.maxBodyBytes();
        String cl = ex.getRequestHeaders().getFirst("Content-Length");
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            if (cl != null && parseLong(cl) > max) {
                ex.getResponseHeaders().set("Connection", "close");
                // read what the client sends (up to 64 MiB) so it gets to read the answer
                byte[] sink = new byte[65536];
                for (long left = 64L << 20; left > 0; ) {
                    int n = in.read(sink);
                    if (n < 0) break;
                    left -= n;
                }
                throw new HttpError(413, null, "request body is " + cl + " bytes; the limit is " + max + " (max_body_bytes)");
            }
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            byte[] chunk = new byte[16384];
            for (int n; (n = in.read(chunk)) > 0; ) {
                buf.write(chunk, 0, n);
                if (buf.size() > max) {
                    ex.getResponseHeaders().set("Connection", "close");
                    throw new HttpError(413, null, "request body exceeds " + max + " bytes (max_body_bytes)");
                }
            }
            body = buf.toByteArray();
        }
        if (body.length == 0) throw HttpError.badRequest(null, "request body is empty; send a JSON object");
        try {
            return JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw HttpError.badRequest(null, "malformed JSON: " + e.getOriginalMessage() + " at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr());
        }
    }

    private static int parseLimit(String s) {
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw HttpError.badRequest("limit", "limit must be a whole number, got '" + s + "'");
        }
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw HttpError.badRequest(null, "bad Content-Length '" + s + "'");
        }
    }

    private static void json(HttpExchange ex, int status, Object body) throws IOException {
        send(ex, status, "application/json", JSON.writeValueAsBytes(body));
    }

    private static void error(HttpExchange ex, int status, String param, String message, Map<String, String> headers) throws IOException {
        if (ex.getResponseCode() != -1) return;   // an answer is already under way (e.g. an event stream)
        headers.forEach((k, v) -> ex.getResponseHeaders().set(k, v));
        Map<String, Object> err = new LinkedHashMap<>();
        err.put("message", message);
        err.put("type", switch (status) {
            case 400, 404, 405, 409, 413 -> "invalid_request_error";
            case 401 -> "authentication_error";
            case 429 -> "rate_limit_error";
            default -> "server_error";
        });
        err.put("param", param);
        err.put("status", status);
        json(ex, status, Map.of("error", err));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream os = ex.getResponseBody()) {
                os.write(body);
            }
        }
    }
}
