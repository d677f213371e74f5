package dev.zimage4j.dit;

import dev.zimage4j.check.TestFixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.zimage4j.check.Errors;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.Safetensors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** Every {@code dit_cases} entry of the fixtures, from both checkpoint layouts, within the README's 1e-4. */
class ZImageTransformerTest {
    static final Path TINY = TestFixtures.tinyA();
    static final double TOLERANCE = 1e-4;

    static Backend backend;
    static Checkpoint expected;
    static DitConfig config;
    static ZImageTransformer diffusers, singleFile;

    @BeforeAll
    static void load() throws Exception {
        backend = Backends.cpu();
        expected = Safetensors.open(TINY.resolve("expected.safetensors"));
        config = DitConfig.load(TINY.resolve("transformer"));
        diffusers = ZImageTransformer.load(TINY, backend); // pipeline root → transformer/
        singleFile = ZImageTransformer.load(Safetensors.open(TINY.resolve("single_file")), config, backend);
    }

    @AfterAll
    static void close() {
        diffusers.close();
        singleFile.close();
        expected.close();
        backend.close();
    }

    static float[] tensor(String name) {
        var t = expected.get(name);
        float[] out = new float[Math.toIntExact(t.numel())];
        FloatConversion.toFloat(t.dtype(), t.data(), 0, out, 0, out.length);
        return out;
    }

    static Stream<Arguments> cases() throws Exception {
        JsonNode root = new ObjectMapper().readTree(TINY.resolve("cases.json").toFile());
        List<Arguments> out = new ArrayList<>();
        for (String layout : List.of("transformer", "single_file"))
            for (JsonNode c : root.get("dit_cases")) out.add(Arguments.of(layout, c.get("out").asText(), c));
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void matchesDiffusers(String layout, String outName, JsonNode c) {
        ZImageTransformer model = layout.equals("transformer") ? diffusers : singleFile;
        int[] xs = expected.get(c.get("x").asText()).intShape(); // [16, 1, H, W]
        int h = xs[2], w = xs[3];
        int lc = expected.get(c.get("cap").asText()).intShape()[0];
        float[] out = model.forward(tensor(c.get("x").asText()), h, w, (float) c.get("t").asDouble(), tensor(c.get("cap").asText()), lc);
        double err = Errors.relMax(out, tensor(outName));
        assertTrue(err <= TOLERANCE, layout + " " + outName + ": error " + err + " > " + TOLERANCE);
    }

    /** The padded case really pads: 35 image tokens → 64, 9 caption tokens → 32. */
    @Test
    void paddedCaseIsPadded() {
        int[] xs = expected.get("dit.1.x").intShape();
        TokenLayout l = new TokenLayout(xs[2], xs[3], 2, expected.get("dit.1.cap").intShape()[0]);
        assertTrue(l.paddedImageTokens() > l.imageTokens(), "image tokens padded");
        assertTrue(l.paddedCaptionTokens() > l.capLen(), "caption tokens padded");
    }

    /**
     * A workspace is reused across calls, shapes can alternate, and results do not depend on history. (Equal
     * to float rounding only, not bitwise: the CPU kernels' results move by ~1e-7 while the JIT compiles them.)
     */
    @Test
    void workspacesAreReusableAndIndependent() {
        float[] x0 = tensor("dit.0.x"), c0 = tensor("dit.0.cap"), x1 = tensor("dit.1.x"), c1 = tensor("dit.1.cap");
        try (DitWorkspace a = diffusers.allocate(16, 16, 10); DitWorkspace b = diffusers.allocate(10, 14, 9)) {
            float[] first = new float[x0.length], again = new float[x0.length], other = new float[x1.length];
            diffusers.forward(a, x0, 0.35f, c0, first);
            diffusers.forward(b, x1, 0.9f, c1, other);
            diffusers.forward(a, x0, 0.35f, c0, again);
            assertTrue(Errors.relMax(again, first) <= 1e-6, "same inputs, same workspace: " + Errors.relMax(again, first));
            assertTrue(Errors.relMax(first, tensor("dit.0.t35.out")) <= TOLERANCE);
            assertTrue(Errors.relMax(other, tensor("dit.1.t90.out")) <= TOLERANCE);
        }
    }

    @Test
    void rejectsBadInputs() {
        float[] x0 = tensor("dit.0.x"), c0 = tensor("dit.0.cap");
        var e = assertThrows(IllegalArgumentException.class, () -> diffusers.forward(x0, 16, 15, 0f, c0, 10));
        assertTrue(e.getMessage().contains("16×15"), e.getMessage());
        var n = assertThrows(IllegalArgumentException.class, () -> diffusers.forward(x0, 16, 16, 0f, c0, 9));
        assertTrue(n.getMessage().contains("caption"), n.getMessage());
        float[] nan = x0.clone();
        nan[3] = Float.NaN;
        assertThrows(IllegalArgumentException.class, () -> diffusers.forward(nan, 16, 16, 0f, c0, 10));
    }

    /** A lone single file of a non-Z-Image head size cannot be configured from its shapes: say so. */
    @Test
    void loneSingleFileWithoutConfigAsksForIt() {
        var e = assertThrows(IllegalArgumentException.class, () -> ZImageTransformer.load(TINY.resolve("single_file"), backend));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
    }
}
