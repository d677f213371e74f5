package dev.zimage4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zimage4j.cli.Main;
import dev.zimage4j.pipeline.GenerationRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The server as separate processes: the supervisor restarting a killed or hung server that then finishes
 * the journaled job, SIGTERM draining, and the background daemon of the CLI.
 */
class ProcessTest {
    @TempDir
    Path dir;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final List<Process> started = new ArrayList<>();

    @BeforeEach
    void properties() throws IOException {
        for (String m : new String[]{"tiny-a", "tiny-b"}) Files.createDirectories(dir.resolve("models").resolve(m));
        System.setProperty("zimage.cache.dir", dir.resolve("home").toString());
        System.setProperty("zimage.generator.factory", TestGeneratorFactory.class.getName());
        System.setProperty("zimage.test.stepMillis", "100");
        System.setProperty("zimage.supervisor.checkMillis", "250");
    }

    @AfterEach
    void cleanUp() throws InterruptedException {
        for (Process p : started) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        System.clearProperty("zimage.cache.dir");
        System.clearProperty("zimage.generator.factory");
        System.clearProperty("zimage.test.stepMillis");
        System.clearProperty("zimage.supervisor.checkMillis");
    }

    private List<String> serveArgs(int port) {
        return new ArrayList<>(List.of("serve", "--port", Integer.toString(port), "--model-root", dir.resolve("models").toString(),
                "--output-dir", dir.resolve("out").toString(), "--default-size", "64x64", "--default-steps", "2", "--drain-seconds", "20"));
    }

    private Process start(List<String> args) throws IOException {
        Process p = new ProcessBuilder(JavaProcess.zimage(args)).inheritIO().start();
        started.add(p);
        return p;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private String submit(int port, String body) throws Exception {
        var r = http.send(HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + "/v1/generate?async=true"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(202, r.statusCode(), r.body());
        return TestServer.JSON.readTree(r.body()).get("id").asText();
    }

    /** Polls {@code path} until {@code test} holds, riding over refused connections (a restarting server). */
    private JsonNode await(int port, String path, java.util.function.Predicate<JsonNode> test, int seconds) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            try {
                var r = get(port, path);
                last = TestServer.JSON.readTree(r.body());
                if (test.test(last)) return last;
            } catch (IOException e) {
                // not listening (yet / again)
            }
            Thread.sleep(50);
        }
        throw new AssertionError(path + " never satisfied the condition; last answer " + last);
    }

    private long serverPid(int port) throws Exception {
        return await(port, "/healthz", j -> j.has("pid"), 30).get("pid").asLong();
    }

    @Test
    void supervisorRestartsAKilledOrHungServerAndTheJournaledJobCompletes() throws Exception {
        int port = freePort();
        List<String> args = serveArgs(port);
        args.add("--supervise");
        Process supervisor = start(args);
        await(port, "/readyz", j -> j.path("ready").asBoolean(), 60);
        long first = serverPid(port);
        assertNotEquals(supervisor.pid(), first, "the server must run in a child process");

        String id = submit(port, "{\"prompt\":\"survivor\",\"seed\":11,\"steps\":20}");
        await(port, "/v1/jobs/" + id, j -> j.path("progress").path("step").asInt() >= 2, 20);
        ProcessHandle.of(first).orElseThrow().destroyForcibly();          // kill -9 mid-job
        JsonNode job = await(port, "/v1/jobs/" + id, j -> "done".equals(j.path("status").asText()), 60);
        long second = serverPid(port);
        assertNotEquals(first, second);
        Path png = dir.resolve("out").resolve(job.get("images").get(0).get("name").asText());
        assertEquals(64, ImageIO.read(png.toFile()).getWidth());

        // a server that stops answering /healthz (SIGSTOP) is killed and replaced
        assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(second)).start().waitFor());
        long third = await(port, "/healthz", j -> j.has("pid") && j.get("pid").asLong() != second, 40).get("pid").asLong();
        assertFalse(ProcessHandle.of(second).map(ProcessHandle::isAlive).orElse(false), "the hung server was left running");

        supervisor.destroy();                                              // SIGTERM to the supervisor stops its child too
        assertTrue(supervisor.waitFor(40, TimeUnit.SECONDS));
        assertFalse(ProcessHandle.of(third).map(ProcessHandle::isAlive).orElse(false), "child outlived its supervisor");
        assertFalse(Files.exists(DaemonFile.path()), "the supervisor left its daemon file behind");
    }

    @Test
    void sigtermFinishesTheRunningJobAndLeavesQueuedOnesToTheJournal() throws Exception {
        int port = freePort();
        Process server = start(serveArgs(port));
        await(port, "/readyz", j -> j.path("ready").asBoolean(), 60);
        String running = submit(port, "{\"prompt\":\"running\",\"steps\":15}");
        String queued = submit(port, "{\"prompt\":\"queued\",\"steps\":2}");
        await(port, "/v1/jobs/" + running, j -> "running".equals(j.path("status").asText()), 20);
        server.destroy();                                                  // SIGTERM
        assertTrue(server.waitFor(40, TimeUnit.SECONDS));
        assertEquals(143, server.exitValue());                            // 128 + SIGTERM, after the shutdown hook ran
        List<String> journal = Files.readAllLines(dir.resolve("out/journal.jsonl"));
        assertTrue(journal.stream().anyMatch(l -> l.contains("\"t\":\"done\"") && l.contains(running)), "running job not finished: " + journal);
        assertFalse(journal.stream().anyMatch(l -> !l.contains("accepted") && l.contains(queued)), "queued job should still be pending");
        assertTrue(Files.exists(dir.resolve("out/" + running + "-0.png")));

        // the next server finishes what the last one left
        Process again = start(serveArgs(port));
        await(port, "/v1/jobs/" + queued, j -> "done".equals(j.path("status").asText()), 60);
        again.destroy();
        assertTrue(again.waitFor(40, TimeUnit.SECONDS));
    }

    @Test
    void daemonStartsInTheBackgroundServesTheCliAndStops() throws Exception {
        System.setProperty("zimage.test.stepMillis", "0");
        assertTrue(LocalClient.find().isEmpty());
        Path tinyA = Path.of(System.getProperty("zimage.root")).resolve("testdata/tiny-a").toAbsolutePath().normalize();
        List<String> args = new ArrayList<>(serveArgs(0).subList(1, serveArgs(0).size()));
        args.addAll(List.of("--model", tinyA.toString(), "--no-prewarm"));
        LocalClient c = LocalClient.startDaemon(args, Duration.ofSeconds(60));
        ProcessHandle.of(c.pid()).ifPresent(h -> started.add(null));   // cleaned up by stop below
        started.remove(null);
        assertTrue(c.ready());
        List<byte[]> pngs = c.generate(new GenerationRequest("via daemon", "", 64, 64, 2, 0, 9, 2, null, 0.6), "tiny-b");
        assertEquals(2, pngs.size());
        var img = ImageIO.read(new ByteArrayInputStream(pngs.get(1)));
        byte[] expected = TestGeneratorFactory.expectedRgb("tiny-b", "via daemon", 10, 64, 64);
        int p = img.getRGB(5, 7), i = 3 * (7 * 64 + 5);
        assertEquals(expected[i] & 0xff, (p >> 16) & 0xff);
        assertEquals(c.pid(), LocalClient.find().orElseThrow().pid(), "a second lookup finds the same daemon");

        // zimage generate finds the running server serving that model directory and lets it generate
        Path png = dir.resolve("cli.png");
        ByteArrayOutputStream genOut = new ByteArrayOutputStream();
        assertEquals(0, Main.run(new String[]{"generate", "-p", "via cli", "--model", tinyA.toString(), "--seed", "3", "--width", "64",
                "--height", "48", "--steps", "2", "-o", png.toString()}, new PrintStream(genOut), System.err));
        assertTrue(genOut.toString().contains("by the local server"), genOut.toString());
        var fromCli = ImageIO.read(png.toFile());
        byte[] want = TestGeneratorFactory.expectedRgb("tiny-a", "via cli", 3, 64, 48);   // the daemon's (test) generator made it
        assertEquals(want[3 * (10 * 64 + 20)] & 0xff, (fromCli.getRGB(20, 10) >> 16) & 0xff);

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, Main.run(new String[]{"daemon", "status"}, new PrintStream(out), System.err));
        assertTrue(out.toString().contains("pid " + c.pid()), out.toString());
        assertTrue(out.toString().contains("model tiny-b (loaded, 1 load(s))"), out.toString());
        assertTrue(Files.readString(dir.resolve("home/daemon.log")).contains("load tiny-b (trigger: request j"), "load trace names the request");
        assertTrue(Files.readString(dir.resolve("home/daemon.log")).matches("(?s).*load tiny-b \\(trigger: request j[0-9a-f]+ \\(cli\\)\\).*"),
                "load trace names the CLI as the origin");
        assertEquals(0, Main.run(new String[]{"daemon", "stop"}, new PrintStream(new ByteArrayOutputStream()), System.err));
        assertFalse(ProcessHandle.of(c.pid()).map(ProcessHandle::isAlive).orElse(false));
        assertFalse(Files.exists(DaemonFile.path()), "daemon file left behind");
        assertEquals(1, Main.run(new String[]{"daemon", "status"}, new PrintStream(new ByteArrayOutputStream()), System.err));
    }
}
