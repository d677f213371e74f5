package dev.zimage4j.check;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zimage4j.safetensors.Checkpoint;

import java.nio.file.Path;

/**
 * A reference fixtures folder (format: testdata/README.md): the model pipeline directory, its
 * {@code cases.json} and the reference tensors of {@code expected.safetensors}.
 *
 * @param dir      the folder (also the model directory: transformer/, text_encoder/, vae/, …)
 * @param cases    parsed {@code cases.json}
 * @param expected {@code expected.safetensors}, F32
 */
public record Fixtures(Path dir, JsonNode cases, Checkpoint expected) implements AutoCloseable {

    /**
     * Opens the fixtures folder {@code dir}: parses {@code cases.json} and maps {@code expected.safetensors}.
     *
     * @throws IllegalArgumentException naming the folder and the file that is missing or unreadable
     */
    public static Fixtures open(Path dir) {
        if (!java.nio.file.Files.isDirectory(dir))
            throw new IllegalArgumentException("fixtures folder " + dir + " does not exist or is not a directory");
        Path cases = dir.resolve("cases.json"), expected = dir.resolve("expected.safetensors");
        for (Path p : new Path[]{cases, expected})
            if (!java.nio.file.Files.isRegularFile(p))
                throw new IllegalArgumentException("fixtures folder " + dir + " has no " + p.getFileName() + " (see testdata/README.md for the format)");
        JsonNode json;
        try {
            json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(cases.toFile());
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(cases + ": not readable JSON: " + e.getMessage(), e);
        }
        if (json == null || !json.isObject()) throw new IllegalArgumentException(cases + ": not a JSON object");
        return new Fixtures(dir, json, dev.zimage4j.safetensors.Safetensors.open(expected));
    }

    /** The reference tensor {@code name} as floats. */
    public float[] tensor(String name) {
        var t = expected.get(name);
        float[] out = new float[Math.toIntExact(t.numel())];
        dev.zimage4j.safetensors.FloatConversion.toFloat(t.dtype(), t.data(), 0, out, 0, out.length);
        return out;
    }

    /** The shape of reference tensor {@code name}. */
    public int[] shape(String name) {
        return expected.get(name).intShape();
    }

    @Override
    public void close() {
        expected.close();
    }
}
