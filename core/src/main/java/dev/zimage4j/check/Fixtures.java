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
