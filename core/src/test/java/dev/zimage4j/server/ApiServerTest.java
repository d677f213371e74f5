package dev.zimage4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.engine.LoadTrace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every endpoint over real HTTP on loopback, against the deterministic test generator. */
class ApiServerTest {
    @TempDir
    Path dir;

    private static ObjectNode cfg() {
        return TestServer.JSON.createObjectNode();
    }

    /** Decodes a PNG and checks it is exactly the test generator's image for these inputs. */
    private static void assertImage(byte[] png, String model, String prompt, long seed, int w, int h) throws Exception {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
        assertNotNull(img, "not a PNG");
        assertEquals(w, img.getWidth());
        assertEquals(h, img.getHeight());
        byte[] expected = TestGeneratorFactory.expectedRgb(model, prompt, seed, w, h);
        byte[] got = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int p = img.getRGB(x, y), i = 3 * (y * w + x);
                got[i] = (byte) (p >> 16);
                got[i + 1] = (byte) (p >> 8);
                got[i + 2] = (byte) p;
            }
        assertArrayEquals(expected, got, "image of " + model + "/" + prompt + "/" + seed);
    }

    @Test
    void healthAndReadinessAroundPrewarm() throws Exception {
        try (TestServer s = new TestServer(dir, new TestGeneratorFactory(0, 0), null, false)) {
            assertEquals(200, s.get("/healthz").statusCode());
            var notReady = s.get("/readyz");
            assertEquals(503, notReady.statusCode());
            assertEquals("prewarming", TestServer.json(notReady).get("state").asText());
            s.engine.prewarmAndStart();
            assertEquals(200, s.get("/readyz").statusCode());
            // prewarm = load + one generation at the default size, traced as such
            LoadTrace.Load load = s.engine.loadTrace().loads().getFirst();
            assertEquals("tiny-a", load.modelId());
            assertEquals("startup prewarm", load.trigger());
            assertEquals(List.of("text_encoder", "transformer", "vae"), load.components().stream().map(LoadTrace.Component::name).toList());
        }
    }

    @Test
    void prewarmRunsUntilSettledWithinTheRunLimit() throws Exception {
        ObjectNode one = TestServer.JSON.createObjectNode();
        one.putObject("prewarm_on_startup").put("max_runs", 1);
        try (TestServer s = new TestServer(dir.resolve("one"), new TestGeneratorFactory(5, 0), one, true)) {
            assertEquals(1, s.factory.generations.get(), "max_runs 1: the single prewarm generation");
        }
        ObjectNode settle = TestServer.JSON.createObjectNode();
        settle.putObject("prewarm_on_startup").put("max_runs", 4).put("settle_tolerance", 1.0);
        try (TestServer s = new TestServer(dir.resolve("settle"), new TestGeneratorFactory(5, 0), settle, true)) {
            // any two generations are within 100 % of each other: settled after the second
            assertEquals(2, s.factory.generations.get());
        }
        ObjectNode bounded = TestServer.JSON.createObjectNode();
        bounded.putObject("prewarm_on_startup").put("max_runs", 3).put("settle_tolerance", 1e-9);
        try (TestServer s = new TestServer(dir.resolve("bounded"), new TestGeneratorFactory(5, 0), bounded, true)) {
            assertEquals(3, s.factory.generations.get(), "never settles: stops at max_runs");
            assertEquals(200, s.get("/readyz").statusCode());
        }
    }

    @Test
    void anErrorInAGenerationFailsTheJobAndTheWorkerGoesOn() throws Exception {
        try (TestServer s = new TestServer(dir, 0, null)) {
            var failed = s.post("/v1/generate", "{\"prompt\":\"" + TestGeneratorFactory.THROW_ERROR + "\",\"width\":64,\"height\":64}");
            assertEquals(500, failed.statusCode(), failed.body());
            assertTrue(failed.body().contains("simulated missing class"), failed.body());
            HttpResponse<byte[]> next = s.postBytes("/v1/generate", "{\"prompt\":\"after\",\"seed\":3,\"width\":64,\"height\":64}");
            assertEquals(200, next.statusCode());
            assertImage(next.body(), "tiny-a", "after", 3, 64, 64);
        }
    }

    @Test
    void syncPngBase64AndUrlOutputs() throws Exception {
        try (TestServer s = new TestServer(dir, 0, null)) {
            HttpResponse<byte[]> png = s.postBytes("/v1/generate", "{\"prompt\":\"a cat\",\"seed\":42,\"width\":64,\"height\":48}");
            assertEquals(200, png.statusCode());
            assertEquals("image/png", png.headers().firstValue("Content-Type").orElseThrow());
            assertEquals("42", png.headers().firstValue("X-Seed").orElseThrow());
            assertImage(png.body(), "tiny-a", "a cat", 42, 64, 48);

            JsonNode b64 = TestServer.json(s.post("/v1/generate", "{\"prompt\":\"a dog\",\"seed\":7,\"count\":2,\"output\":\"base64\",\"model\":\"tiny-b\"}"));
            assertEquals("done", b64.get("status").asText());
            assertEquals("tiny-b", b64.get("model").asText());
            assertEquals(2, b64.get("images").size());
            for (int i = 0; i < 2; i++) {
                JsonNode img = b64.get("images").get(i);
                assertEquals(7 + i, img.get("seed").asLong());
                assertImage(Base64.getDecoder().decode(img.get("b64_png").asText()), "tiny-b", "a dog", 7 + i, 64, 64);
            }

            JsonNode url = TestServer.json(s.post("/v1/generate", "{\"prompt\":\"a fox\",\"seed\":3,\"output\":\"url\"}"));
            String u = url.get("images").get(0).get("url").asText();
            HttpResponse<byte[]> file = s.http.send(HttpRequest.newBuilder(s.uri(u)).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, file.statusCode());
            assertImage(file.body(), "tiny-a", "a fox", 3, 64, 64);
            // written atomically: no temp file left behind
            try (var files = Files.list(dir.resolve("out"))) {
                assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")));
            }
        }
    }

    @Test
    void asyncJobWithEventStream() throws Exception {
        try (TestServer s = new TestServer(dir, 20, null)) {
            // a job ahead keeps ours queued long enough to see every event from "queued" on
            String ahead = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"ahead\",\"steps\":40}")).get("id").asText();
            var accepted = s.post("/v1/generate?async=true", "{\"prompt\":\"p\",\"seed\":1,\"steps\":5}");
            assertEquals(202, accepted.statusCode());
            String id = TestServer.json(accepted).get("id").asText();
            assertEquals("/v1/jobs/" + id, accepted.headers().firstValue("Location").orElseThrow());

            HttpResponse<InputStream> events = s.http.send(HttpRequest.newBuilder(s.uri("/v1/jobs/" + id + "/events")).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals("text/event-stream; charset=utf-8", events.headers().firstValue("Content-Type").orElseThrow());
            List<String> types = new ArrayList<>();
            JsonNode done = null;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(events.body(), StandardCharsets.UTF_8))) {
                String type = null;
                for (String line; (line = r.readLine()) != null; ) {
                    if (line.startsWith("event: ")) types.add(type = line.substring(7));
                    if (line.startsWith("data: ") && "done".equals(type)) done = TestServer.JSON.readTree(line.substring(6));
                }
            }
            assertEquals(List.of("queued", "started", "step", "step", "step", "step", "step", "done"), types);
            assertEquals("done", TestServer.json(s.get("/v1/jobs/" + ahead)).get("status").asText());
            assertEquals(id, done.get("id").asText());

            JsonNode job = s.awaitStatus(id, "done");
            assertEquals(1, job.get("images").size());
            assertTrue(job.get("timings_ms").has("denoise"));
            assertEquals(404, s.get("/v1/jobs/jnosuchjob").statusCode());
        }
    }

    @Test
    void queuePositionsAreReported() throws Exception {
        try (TestServer s = new TestServer(dir, 30, null)) {
            String a = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"a\",\"steps\":20}")).get("id").asText();
            String b = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"b\",\"steps\":20}")).get("id").asText();
            String c = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"c\",\"steps\":20}")).get("id").asText();
            s.awaitStatus(a, "running");
            assertEquals(1, TestServer.json(s.get("/v1/jobs/" + b)).get("queue_position").asInt());
            assertEquals(2, TestServer.json(s.get("/v1/jobs/" + c)).get("queue_position").asInt());
            for (String id : List.of(a, b, c)) s.delete("/v1/jobs/" + id);
        }
    }

    @Test
    void deleteCancelsBetweenSteps() throws Exception {
        try (TestServer s = new TestServer(dir, 20, null)) {
            String id = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"long\",\"steps\":100}")).get("id").asText();
            s.awaitStatus(id, "running");
            var del = s.delete("/v1/jobs/" + id);
            assertEquals(202, del.statusCode());
            JsonNode job = s.awaitStatus(id, "cancelled");
            assertEquals("cancelled by DELETE", job.get("error").asText());
            assertEquals(409, s.delete("/v1/jobs/" + id).statusCode());
            // a queued job is cancelled at once, and the worker goes on with the next one
            String a = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"a\",\"steps\":30}")).get("id").asText();
            String b = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"b\",\"steps\":30}")).get("id").asText();
            assertEquals(202, s.delete("/v1/jobs/" + b).statusCode());
            assertEquals("cancelled", TestServer.json(s.get("/v1/jobs/" + b)).get("status").asText());
            s.awaitStatus(a, "done");
        }
    }

    @Test
    void clientThatDisconnectsCancelsItsJob() throws Exception {
        assertTrue(DisconnectWatcher.supported(), "tests must run with --add-opens jdk.httpserver/sun.net.httpserver=ALL-UNNAMED");
        try (TestServer s = new TestServer(dir, 20, null)) {
            String body = "{\"prompt\":\"abandoned\",\"steps\":100}";
            try (Socket sock = new Socket("127.0.0.1", s.api.port())) {
                OutputStream o = sock.getOutputStream();
                o.write(("POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                        + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                o.flush();
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (s.factory.concurrent.get() == 0 && System.nanoTime() < deadline) Thread.sleep(5);
                assertEquals(1, s.factory.concurrent.get(), "job never started");
            }
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!s.engine.metrics().render().contains("zimage_jobs_finished_total{outcome=\"cancelled\"} 1") && System.nanoTime() < deadline)
                Thread.sleep(10);
            assertTrue(s.engine.metrics().render().contains("zimage_jobs_finished_total{outcome=\"cancelled\"} 1"));
            assertEquals(0, s.factory.concurrent.get());
        }
    }

    private static void assertError(HttpResponse<String> r, int status, String param, String messagePart) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        JsonNode e = TestServer.json(r).get("error");
        assertNotNull(e, r.body());
        assertEquals(param, e.get("param").isNull() ? null : e.get("param").asText(), r.body());
        assertTrue(e.get("message").asText().contains(messagePart), r.body());
    }

    @Test
    void badInputsGetTheRightStatusAndNameTheField() throws Exception {
        ObjectNode o = cfg();
        o.put("max_body_bytes", 4096);
        o.put("max_prompt_chars", 1000);
        try (TestServer s = new TestServer(dir, 0, o)) {
            assertError(s.post("/v1/generate", "{\"prompt\": \"x\""), 400, null, "malformed JSON");
            assertError(s.post("/v1/generate", ""), 400, null, "empty");
            assertError(s.post("/v1/generate", "[1,2]"), 400, null, "JSON object");
            assertError(s.post("/v1/generate", "{\"width\":64}"), 400, "prompt", "prompt is required");
            assertError(s.post("/v1/generate", "{\"prompt\":5}"), 400, "prompt", "must be a string");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"width\":\"64\"}"), 400, "width", "must be an integer");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"height\":64.5}"), 400, "height", "must be an integer");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"width\":65}"), 400, "width", "multiple of 16");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"width\":8192}"), 400, "width", "got 8192");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"height\":99999999999}"), 400, "height", "out of range");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"steps\":0}"), 400, "steps", "1..100");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"guidance\":\"high\"}"), 400, "guidance", "must be a number");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"guidance\":31}"), 400, "guidance", "0..30");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"count\":17}"), 400, "count", "1..16");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"seed\":1.5}"), 400, "seed", "must be an integer");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"output\":\"gif\"}"), 400, "output", "png, base64, url");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"count\":2}"), 400, "output", "use base64 or url");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"colour\":\"red\"}"), 400, "colour", "unknown field");
            assertError(s.post("/v1/generate", "{\"prompt\":\"" + "y".repeat(2000) + "\"}"), 400, "prompt", "at most 1000");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"model\":\"no-such-model\"}"), 404, "model", "unknown model 'no-such-model'");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"model\":\"../../etc/passwd\"}"), 404, "model", "unknown model");
            assertError(s.post("/v1/generate", "{\"prompt\":\"x\",\"model\":\"..\"}"), 404, "model", "unknown model");
            assertError(s.post("/v1/models/..%2F..%2Fetc%2Fpasswd/load", ""), 404, "model", "unknown model");
            assertError(s.get("/v1/images/..%2F..%2Fetc%2Fpasswd"), 404, null, "no image");
            assertError(s.get("/v1/images/journal.jsonl"), 404, null, "no image");
            assertError(s.post("/v1/generate", "{\"prompt\":\"" + "z".repeat(10_000) + "\"}"), 413, null, "limit is 4096");
            assertError(s.get("/v1/generate"), 405, null, "use POST");
            assertError(s.get("/v2/nothing"), 404, null, "no endpoint");
            // nothing of the above became a job
            assertFalse(s.engine.metrics().render().contains("zimage_jobs_accepted_total"));
        }
    }

    @Test
    void sixteenConcurrentClientsGetTheirOwnImagesNoneLostOrDuplicated() throws Exception {
        try (TestServer s = new TestServer(dir, 1, null)) {
            ExecutorService pool = Executors.newFixedThreadPool(16);
            List<Future<String>> results = new ArrayList<>();
            for (int c = 0; c < 16; c++) {
                int client = c;
                results.add(pool.submit((Callable<String>) () -> {
                    String prompt = "client " + client;
                    var r = s.post("/v1/generate", "{\"prompt\":\"" + prompt + "\",\"seed\":" + (1000 * client) + ",\"output\":\"base64\",\"model\":\"tiny-" + "abc".charAt(client % 3) + "\"}");
                    assertEquals(200, r.statusCode(), r.body());
                    JsonNode j = TestServer.json(r);
                    assertImage(Base64.getDecoder().decode(j.get("images").get(0).get("b64_png").asText()),
                            "tiny-" + "abc".charAt(client % 3), prompt, 1000L * client, 64, 64);
                    return j.get("id").asText();
                }));
            }
            Set<String> ids = new HashSet<>();
            for (Future<String> f : results) ids.add(f.get());
            pool.shutdown();
            assertEquals(16, ids.size(), "a job id was shared");
            assertEquals(1, s.factory.maxConcurrent.get(), "two generations ran at once on the one device");
            List<String> journal = Files.readAllLines(dir.resolve("out/journal.jsonl"));
            assertEquals(16, journal.stream().filter(l -> l.contains("\"t\":\"accepted\"")).count());
            assertEquals(16, journal.stream().filter(l -> l.contains("\"t\":\"done\"")).count());
            for (String id : ids) assertTrue(Files.exists(dir.resolve("out/" + id + "-0.png")));
            // three models, each loaded once (max_cached_models defaults to 2, so one may be reloaded after eviction)
            for (String m : List.of("tiny-a", "tiny-b", "tiny-c")) assertTrue(s.engine.loadTrace().count(m) >= 1);
        }
    }

    @Test
    void fullQueueAnswers429WithRetryAfter() throws Exception {
        ObjectNode o = cfg();
        o.put("queue_capacity", 1);
        try (TestServer s = new TestServer(dir, 20, o)) {
            String a = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"a\",\"steps\":100}")).get("id").asText();
            s.awaitStatus(a, "running");
            String b = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"b\"}")).get("id").asText();
            var full = s.post("/v1/generate?async=true", "{\"prompt\":\"c\"}");
            assertError(full, 429, null, "queue full");
            assertTrue(Integer.parseInt(full.headers().firstValue("Retry-After").orElseThrow()) >= 1);
            s.delete("/v1/jobs/" + a);
            s.awaitStatus(b, "done");
        }
    }

    @Test
    void modelsAreLoadedOnceAndEvictedLeastRecentlyUsed() throws Exception {
        try (TestServer s = new TestServer(dir, 0, null)) {
            JsonNode models = TestServer.json(s.get("/v1/models"));
            assertEquals(3, models.get("data").size());
            assertTrue(models.get("data").get(0).get("loaded").asBoolean());   // tiny-a: prewarmed
            assertTrue(models.get("data").get(0).get("default").asBoolean());
            assertEquals(1, s.engine.loadTrace().count("tiny-a"));
            for (int i = 0; i < 3; i++) assertEquals(200, s.post("/v1/generate", "{\"prompt\":\"x\",\"seed\":" + i + "}").statusCode());
            assertEquals(1, s.engine.loadTrace().count("tiny-a"), "a loaded model was loaded again");

            JsonNode load = TestServer.json(s.post("/v1/models/tiny-b/load", ""));
            assertEquals(1, load.get("loads").asLong());
            assertEquals(1, TestServer.json(s.post("/v1/models/tiny-b/load", "")).get("loads").asLong());
            assertEquals("api", s.engine.loadTrace().loads().getLast().trigger());
            // max_cached_models = 2: loading tiny-c evicts the least recently used, tiny-a
            s.post("/v1/models/tiny-c/load", "");
            assertFalse(s.engine.cache().isLoaded("tiny-a"));
            assertTrue(s.engine.cache().isLoaded("tiny-b"));
            assertEquals(2, s.factory.open.get(), "an evicted model was not closed");
            // a request for an evicted model reloads it, traced with its request id
            String id = TestServer.json(s.post("/v1/generate", "{\"prompt\":\"x\",\"output\":\"url\"}")).get("id").asText();
            assertEquals("request " + id, s.engine.loadTrace().loads().getLast().trigger());

            assertTrue(TestServer.json(s.post("/v1/models/tiny-c/unload", "")).get("unloaded").asBoolean());
            assertFalse(TestServer.json(s.post("/v1/models/tiny-c/unload", "")).get("unloaded").asBoolean());
            assertEquals(404, s.post("/v1/models/nope/unload", "").statusCode());
        }
    }

    @Test
    void modelInUseIsNeverEvictedNorUnloaded() throws Exception {
        ObjectNode o = cfg();
        o.put("max_cached_models", 1);
        try (TestServer s = new TestServer(dir, 20, o)) {
            String id = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"x\",\"steps\":100}")).get("id").asText();
            s.awaitStatus(id, "running");
            assertError(s.post("/v1/models/tiny-a/unload", ""), 409, "model", "in use");
            s.post("/v1/models/tiny-b/load", "");            // over the limit, but tiny-a is in use
            assertTrue(s.engine.cache().isLoaded("tiny-a"));
            s.delete("/v1/jobs/" + id);
            s.awaitStatus(id, "cancelled");
        }
    }

    @Test
    void aModelThatFailsToLoadFailsItsJobsWithTheReason() throws Exception {
        ObjectNode o = cfg();
        o.putObject("models").put("ghost", dir.resolve("no-such-dir").toString());
        o.put("default_model", "tiny-a");
        try (TestServer s = new TestServer(dir, 0, o)) {
            assertError(s.post("/v1/models/ghost/load", ""), 500, "model", "does not exist");
            var sync = s.post("/v1/generate", "{\"prompt\":\"x\",\"model\":\"ghost\",\"output\":\"url\"}");
            assertError(sync, 500, null, "does not exist");
            String id = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"x\",\"model\":\"ghost\"}")).get("id").asText();
            JsonNode job = s.awaitStatus(id, "failed");
            assertTrue(job.get("error").asText().contains("cannot load model 'ghost'"), job.toString());
            String events = s.get("/v1/jobs/" + id + "/events").body();
            assertTrue(events.startsWith("event: failed\ndata: {\"error\":\"cannot load model 'ghost'"), events);
            assertEquals(200, s.post("/v1/generate", "{\"prompt\":\"the server still works\"}").statusCode());
        }
    }

    @Test
    void metricsInPrometheusText() throws Exception {
        try (TestServer s = new TestServer(dir, 0, null)) {
            s.post("/v1/generate", "{\"prompt\":\"x\"}");
            String m = s.get("/metrics").body();
            for (String series : List.of("zimage_stage_seconds_bucket{stage=\"denoise\",le=\"+Inf\"} 1",
                    "zimage_stage_seconds_count{stage=\"total\"} 1", "zimage_stage_seconds_count{stage=\"queue_wait\"} 1",
                    "zimage_queue_depth 0", "zimage_model_loads_total 1", "zimage_model_cache_hits_total 1",
                    "zimage_model_cache_misses_total 1", "zimage_jobs_finished_total{outcome=\"done\"} 1", "zimage_process_resident_bytes "))
                assertTrue(m.contains(series), series + " missing in\n" + m);
        }
    }

    @Test
    void openAiImagesGenerations() throws Exception {
        try (TestServer s = new TestServer(dir, 0, null)) {
            JsonNode r = TestServer.json(s.post("/v1/images/generations", "{\"prompt\":\"a boat\",\"n\":2,\"size\":\"32x48\",\"seed\":5,\"response_format\":\"b64_json\",\"user\":\"u\"}"));
            assertEquals(2, r.get("data").size());
            assertTrue(r.get("created").asLong() > 0);
            assertImage(Base64.getDecoder().decode(r.get("data").get(1).get("b64_json").asText()), "tiny-a", "a boat", 6, 32, 48);
            JsonNode u = TestServer.json(s.post("/v1/images/generations", "{\"prompt\":\"a boat\",\"response_format\":\"url\"}"));
            assertTrue(u.get("data").get(0).get("url").asText().startsWith("/v1/images/"));
            assertError(s.post("/v1/images/generations", "{\"prompt\":\"x\",\"size\":\"big\"}"), 400, "size", "WIDTHxHEIGHT");
            assertError(s.post("/v1/images/generations", "{\"prompt\":\"x\",\"size\":\"50x50\"}"), 400, "size", "multiple of 16");
            assertError(s.post("/v1/images/generations", "{\"prompt\":\"x\",\"n\":40}"), 400, "n", "1..16");
        }
    }

    @Test
    void bearerTokenGuardsEverythingButHealth() throws Exception {
        ObjectNode o = cfg();
        o.put("auth_token", "s3cret");
        try (TestServer s = new TestServer(dir, 0, o)) {
            assertEquals(200, s.get("/healthz").statusCode());
            assertError(s.get("/v1/models"), 401, null, "Bearer");
            assertEquals(401, s.get("/metrics").statusCode());
            var wrong = s.http.send(HttpRequest.newBuilder(s.uri("/v1/models")).header("Authorization", "Bearer nope").build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, wrong.statusCode());
            var ok = s.http.send(HttpRequest.newBuilder(s.uri("/v1/models")).header("Authorization", "Bearer s3cret").build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode());
        }
    }

    @Test
    void journaledJobsRunAfterRestart() throws Exception {
        List<String> ids = new ArrayList<>();
        try (TestServer s = new TestServer(dir, new TestGeneratorFactory(0, 0), null, false)) {   // workers never start
            for (int i = 0; i < 2; i++)
                ids.add(TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\":\"kept\",\"seed\":" + i + "}")).get("id").asText());
        }
        try (TestServer s = new TestServer(dir, 0, null)) {
            for (int i = 0; i < 2; i++) {
                JsonNode j = s.awaitStatus(ids.get(i), "done");
                assertEquals(i, j.get("images").get(0).get("seed").asLong());
            }
        }
        try (TestServer s = new TestServer(dir, 0, null)) {   // finished jobs stay visible, and are not run again
            assertEquals("done", TestServer.json(s.get("/v1/jobs/" + ids.getFirst())).get("status").asText());
            assertEquals(0, s.engine.metrics().stageCount("total"));
        }
    }
}
