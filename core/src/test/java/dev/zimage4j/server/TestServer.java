package dev.zimage4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.engine.Engine;
import dev.zimage4j.engine.EngineConfig;
import dev.zimage4j.engine.ModelRegistry;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** An in-process engine + HTTP server on a loopback port, with three test models, for one test. */
final class TestServer implements AutoCloseable {
    static final ObjectMapper JSON = JsonMapper.builder().build();
    final TestGeneratorFactory factory;
    final Engine engine;
    final ApiServer api;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** Starts with {@code overrides} on top of: port 0, three models under {@code dir}/models, 64×64, 4 steps. */
    TestServer(Path dir, long stepMillis, ObjectNode overrides) throws IOException {
        this(dir, new TestGeneratorFactory(stepMillis, 0), overrides, true);
    }

    TestServer(Path dir, TestGeneratorFactory factory, ObjectNode overrides, boolean start) throws IOException {
        this.factory = factory;
        Path root = dir.resolve("models");
        for (String m : new String[]{"tiny-a", "tiny-b", "tiny-c"}) Files.createDirectories(root.resolve(m));
        ObjectNode o = JSON.createObjectNode();
        o.put("port", 0);
        o.putArray("model_roots").add(root.toString());
        o.put("output_dir", dir.resolve("out").toString());
        o.put("default_size", "64x64");
        o.put("default_steps", 4);
        o.put("drain_seconds", 5);
        if (overrides != null) o.setAll(overrides);
        EngineConfig config = EngineConfig.load(null, o);
        engine = Engine.open(config, ModelRegistry.of(config), factory);
        api = ApiServer.start(engine);
        if (start) engine.prewarmAndStart();
    }

    URI uri(String path) {
        return api.uri().resolve(path);
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<byte[]> postBytes(String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    HttpResponse<String> delete(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).DELETE().build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(HttpResponse<String> r) throws IOException {
        return JSON.readTree(r.body());
    }

    /** Polls GET /v1/jobs/ID until its status is {@code status} (10 s at most). */
    JsonNode awaitStatus(String id, String status) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        JsonNode j = null;
        while (System.nanoTime() < deadline) {
            j = json(get("/v1/jobs/" + id));
            if (j.get("status").asText().equals(status)) return j;
            Thread.sleep(10);
        }
        throw new AssertionError("job " + id + " never became " + status + ": " + j);
    }

    @Override
    public void close() {
        engine.shutdown();
        api.stop(0);
    }
}
