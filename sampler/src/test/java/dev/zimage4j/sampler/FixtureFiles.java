package dev.zimage4j.sampler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Test access to the fixture folders under {@code testdata/} (format: testdata/README.md) without
 * depending on the safetensors module: {@code expected.safetensors} is all F32, so reading a tensor is a
 * header lookup and a little-endian float copy.
 */
final class FixtureFiles {
    private static final ObjectMapper JSON = new ObjectMapper();

    final Path dir;
    final JsonNode cases;
    private final ByteBuffer file;
    private final JsonNode header;
    private final int dataStart;

    private FixtureFiles(Path dir) throws IOException {
        this.dir = dir;
        this.cases = JSON.readTree(dir.resolve("cases.json").toFile());
        this.file = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("expected.safetensors"))).order(ByteOrder.LITTLE_ENDIAN);
        int n = Math.toIntExact(file.getLong(0));
        byte[] h = new byte[n];
        file.get(8, h);
        this.header = JSON.readTree(h);
        this.dataStart = 8 + n;
    }

    /** Every fixture folder under {@code ${zimage.root}/testdata}. */
    static List<FixtureFiles> all() throws IOException {
        Path root = Path.of(System.getProperty("zimage.root", ".")).resolve("testdata");
        List<FixtureFiles> out = new ArrayList<>();
        try (var dirs = Files.list(root)) {
            for (Path d : dirs.sorted().toList())
                if (Files.isRegularFile(d.resolve("cases.json"))) out.add(new FixtureFiles(d));
        }
        if (out.isEmpty()) throw new IllegalStateException("no fixture folders under " + root);
        return out;
    }

    float[] tensor(String name) {
        JsonNode t = header.get(name);
        if (t == null) throw new IllegalArgumentException("no tensor " + name + " in " + dir);
        if (!t.get("dtype").asText().equals("F32")) throw new IllegalArgumentException(name + " is not F32");
        int begin = t.get("data_offsets").get(0).asInt(), end = t.get("data_offsets").get(1).asInt();
        float[] out = new float[(end - begin) / 4];
        for (int i = 0; i < out.length; i++) out[i] = file.getFloat(dataStart + begin + 4 * i);
        return out;
    }

    JsonNode config(String relative) throws IOException {
        return JSON.readTree(dir.resolve(relative).toFile());
    }

    @Override
    public String toString() {
        return dir.getFileName().toString();
    }
}
