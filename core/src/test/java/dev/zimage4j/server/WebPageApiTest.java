package dev.zimage4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the web page needs from the server, over real HTTP: its files, the recent-images list, model warmth. */
class WebPageApiTest {
    @TempDir
    Path dir;

    @Test
    void servesThePageFilesAndNothingElse() throws Exception {
        try (TestServer s = new TestServer(dir, 0, TestServer.JSON.createObjectNode().put("auth_token", "secret"))) {
            var index = s.get("/");
            assertEquals(200, index.statusCode());   // public like /healthz: the page asks for the token itself
            assertTrue(index.headers().firstValue("Content-Type").orElseThrow().startsWith("text/html"));
            assertTrue(index.body().contains("<script src=\"app.js\""), index.body());
            assertEquals(200, s.get("/index.html").statusCode());
            var js = s.get("/app.js");
            assertEquals(200, js.statusCode());
            assertTrue(js.headers().firstValue("Content-Type").orElseThrow().startsWith("text/javascript"));
            assertTrue(s.get("/style.css").headers().firstValue("Content-Type").orElseThrow().startsWith("text/css"));
            for (String p : new String[]{"/WebPage.class", "/web", "/..%2fApiServer.class", "/journal.jsonl"})
                assertEquals(404, s.get(p).statusCode(), p);
            assertEquals(401, s.get("/v1/images").statusCode(), "the API itself still needs the token");
        }
    }

    @Test
    void recentImagesListNewestFirstWithTheirParameters() throws Exception {
        try (TestServer s = new TestServer(dir, 0, null)) {
            String first = TestServer.json(s.post("/v1/generate?async=true",
                    "{\"prompt\": \"first\", \"width\": 32, \"height\": 48, \"steps\": 2, \"seed\": 5, \"count\": 2, \"output\": \"url\"}")).get("id").asText();
            s.awaitStatus(first, "done");
            String second = TestServer.json(s.post("/v1/generate?async=true",
                    "{\"prompt\": \"second\", \"negative_prompt\": \"dull\", \"width\": 64, \"height\": 64, \"steps\": 3, \"seed\": 9, \"model\": \"tiny-b\"}"))
                    .get("id").asText();
            s.awaitStatus(second, "done");
            // an image the engine no longer remembers the job of, and a file that is not an image
            Path out = dir.resolve("out");
            Files.write(out.resolve("old-0.png"), new byte[]{1});
            Files.setLastModifiedTime(out.resolve("old-0.png"), FileTime.from(Instant.parse("2020-01-01T00:00:00Z")));
            Files.writeString(out.resolve("notes.txt"), "x");
            // file times can tie on coarse file systems: order the job's images explicitly
            Files.setLastModifiedTime(out.resolve(first + "-0.png"), FileTime.from(Instant.parse("2026-01-01T00:00:00Z")));
            Files.setLastModifiedTime(out.resolve(first + "-1.png"), FileTime.from(Instant.parse("2026-01-01T00:00:01Z")));
            Files.setLastModifiedTime(out.resolve(second + "-0.png"), FileTime.from(Instant.parse("2026-01-01T00:00:02Z")));

            JsonNode list = TestServer.json(s.get("/v1/images")).get("data");
            assertEquals(4, list.size(), list.toString());
            JsonNode newest = list.get(0);
            assertEquals(second + "-0.png", newest.get("name").asText());
            assertEquals("/v1/images/" + second + "-0.png", newest.get("url").asText());
            assertEquals("second", newest.get("prompt").asText());
            assertEquals("dull", newest.get("negative_prompt").asText());
            assertEquals("tiny-b", newest.get("model").asText());
            assertEquals(3, newest.get("steps").asInt());
            assertEquals(9, newest.get("seed").asLong());
            assertEquals("2026-01-01T00:00:02Z", newest.get("created").asText());
            JsonNode secondImageOfFirst = list.get(1);
            assertEquals(first + "-1.png", secondImageOfFirst.get("name").asText());
            assertEquals(6, secondImageOfFirst.get("seed").asLong(), "each image has its own seed");
            assertEquals(32, secondImageOfFirst.get("width").asInt());
            assertEquals(48, secondImageOfFirst.get("height").asInt());
            assertEquals("tiny-a", secondImageOfFirst.get("model").asText());
            JsonNode old = list.get(3);
            assertEquals("old-0.png", old.get("name").asText());
            assertFalse(old.has("prompt"), "no parameters invented for an unknown job");

            assertEquals(2, TestServer.json(s.get("/v1/images?limit=2")).get("data").size());
            for (String bad : new String[]{"0", "501", "lots"}) {
                var r = s.get("/v1/images?limit=" + bad);
                assertEquals(400, r.statusCode(), bad);
                assertEquals("limit", TestServer.json(r).get("error").get("param").asText());
            }
        }
    }

    @Test
    void modelsSayWhichAreWarm() throws Exception {
        try (TestServer s = new TestServer(dir, 0, null)) {
            assertEquals(200, s.post("/v1/models/tiny-b/load", "").statusCode());
            JsonNode models = TestServer.json(s.get("/v1/models")).get("data");
            assertEquals("tiny-a", models.get(0).get("id").asText());
            assertTrue(models.get(0).get("warm").asBoolean(), "prewarmed at startup: " + models);
            assertTrue(models.get(1).get("loaded").asBoolean());
            assertFalse(models.get(1).get("warm").asBoolean(), "loaded but never run: " + models);
            assertFalse(models.get(2).get("warm").asBoolean());

            String id = TestServer.json(s.post("/v1/generate?async=true", "{\"prompt\": \"p\", \"model\": \"tiny-b\"}")).get("id").asText();
            s.awaitStatus(id, "done");
            assertTrue(TestServer.json(s.get("/v1/models")).get("data").get(1).get("warm").asBoolean(), "warm after a generation");
        }
    }
}
