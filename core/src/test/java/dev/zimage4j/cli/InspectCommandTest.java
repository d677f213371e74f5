package dev.zimage4j.cli;

import dev.zimage4j.check.TestFixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.Safetensors;
import dev.zimage4j.safetensors.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class InspectCommandTest {
    @TempDir
    Path dir;

    private static Path tiny() {
        return TestFixtures.tinyA();
    }

    /** Exit status, stdout and stderr of {@code zimage args…}. */
    private record Result(int status, String out, String err) {
    }

    private static Result zimage(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void tableOfAFileListsEveryTensorAndTotals() {
        Path file = tiny().resolve("transformer/diffusion_pytorch_model.safetensors");
        Result r = zimage("inspect", file.toString());
        assertEquals(0, r.status(), r.err());
        try (Checkpoint c = Safetensors.open(file)) {
            for (String n : c.names()) assertTrue(r.out().contains(n + " "), "lists " + n);
        }
        assertTrue(r.out().lines().anyMatch(l -> l.matches("layers\\.0\\.attention\\.to_q\\.weight\\s+BF16\\s+\\[64, 64]\\s+8,192")),
                "row with name, dtype, shape, bytes:\n" + r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("\\s+BF16\\s+101 tensors\\s+706,144 elements\\s+1,412,288 bytes.*")),
                "per-dtype total:\n" + r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("\\s+layers\\s+30 tensors\\s+131,968 elements\\s+263,936 bytes.*")),
                "per-prefix total:\n" + r.out());
    }

    @Test
    void jsonOfAModelDirectoryCoversEveryComponent() throws Exception {
        Result r = zimage("inspect", tiny().toString(), "--json");
        assertEquals(0, r.status(), r.err());
        JsonNode root = JsonMapper.builder().build().readTree(r.out());
        List<String> labels = new ArrayList<>();
        long tensors = 0, bytes = 0;
        for (JsonNode c : root.get("components")) {
            labels.add(c.get("component").asText());
            try (Checkpoint cp = Safetensors.open(Path.of(c.get("source").asText()))) {
                assertEquals(cp.names().size(), c.get("tensors").size());
                JsonNode first = c.get("tensors").get(0);
                assertEquals(cp.names().first(), first.get("name").asText());
                assertEquals(cp.get(first.get("name").asText()).data().byteSize(), first.get("bytes").asLong());
                long sum = 0;
                for (JsonNode t : c.get("tensors")) sum += t.get("bytes").asLong();
                assertEquals(sum, c.get("totals").get("bytes").asLong());
                long byPrefix = 0;
                for (JsonNode p : c.get("totals").get("by_prefix")) byPrefix += p.get("bytes").asLong();
                assertEquals(sum, byPrefix, "prefix totals add up");
                tensors += cp.names().size();
                bytes += sum;
            }
        }
        assertEquals(List.of("expected.safetensors", "single_file", "text_encoder", "transformer", "vae"), labels);
        assertEquals(tensors, root.get("totals").get("tensors").asLong());
        assertEquals(bytes, root.get("totals").get("bytes").asLong());
        assertEquals(9_798_272, root.get("components").get(2).get("totals").get("by_dtype").get("BF16").get("bytes").asLong());
        assertEquals("pt", root.get("components").get(3).get("metadata").get("format").asText());
    }

    @Test
    void shardedIndexAndItsDirectory() throws Exception {
        Path index = new SafetensorsWriter()
                .add("encoder.a", DType.F32, new long[]{4, 4}, s -> s.put(new byte[64], 0, 64))
                .add("encoder.b", DType.F16, new long[]{8}, s -> s.put(new byte[16], 0, 16))
                .add("decoder.c", DType.I64, new long[]{2, 3}, s -> s.put(new byte[48], 0, 48))
                .writeSharded(dir.resolve("model"), "diffusion_pytorch_model", 64);
        for (Path p : List.of(index, index.getParent())) {
            Result r = zimage("inspect", p.toString(), "--json");
            assertEquals(0, r.status(), r.err());
            JsonNode c = JsonMapper.builder().build().readTree(r.out()).get("components");
            assertEquals(1, c.size(), "one checkpoint over its shards: " + r.out());
            assertEquals(3, c.get(0).get("tensors").size());
            assertEquals(80, c.get(0).get("totals").get("by_prefix").get("encoder").get("bytes").asLong());
            assertEquals(48, c.get(0).get("totals").get("by_dtype").get("I64").get("bytes").asLong());
        }
        // inside a model directory the shards are shown once, through their index
        Files.writeString(dir.resolve("model_index.json"), "{}");
        Result r = zimage("inspect", dir.toString());
        assertEquals(0, r.status(), r.err());
        assertEquals(1, r.out().lines().filter(l -> l.startsWith("== ")).count(), r.out());
    }

    @Test
    void errorsAreOneLineWithStatus() throws Exception {
        Result missing = zimage("inspect", dir.resolve("nope").toString());
        assertEquals(2, missing.status());
        assertTrue(missing.err().contains("no such file"), missing.err());
        assertEquals(2, zimage("inspect").status());
        assertEquals(2, zimage("inspect", "a", "b").status());
        Path bad = Files.write(dir.resolve("bad.safetensors"), new byte[]{1, 2, 3});
        Result r = zimage("inspect", bad.toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("bad.safetensors") && r.err().contains("too short"), r.err());
    }
}
