package dev.zimage4j.text;

import dev.zimage4j.check.TestFixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.zimage4j.check.Errors;
import dev.zimage4j.check.Fixtures;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.Safetensors;
import dev.zimage4j.safetensors.SafetensorsWriter;
import dev.zimage4j.safetensors.TensorView;
import dev.zimage4j.tokenizer.PromptEncoder;
import dev.zimage4j.tokenizer.QwenTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.*;

/** The Qwen3 encoder against the fixtures, in every checkpoint layout it accepts, and its errors. */
class Qwen3TextEncoderTest {
    static final double TOL = 1e-4;
    static Path tinyA;
    static Backend backend;
    static Fixtures fixtures;
    static PromptEncoder prompts;

    @BeforeAll
    static void setUp() {
        tinyA = TestFixtures.tinyA();
        backend = Backends.cpu();
        fixtures = Fixtures.open(tinyA);
        prompts = new PromptEncoder(QwenTokenizer.bundled());
    }

    @AfterAll
    static void tearDown() {
        fixtures.close();
        backend.close();
    }

    /** Every text_encoder_cases tensor within 1e-4 through {@code encoder}. */
    static void assertMatchesFixtures(Qwen3TextEncoder encoder) {
        JsonNode cases = fixtures.cases().path("text_encoder_cases");
        assertFalse(cases.isEmpty());
        for (JsonNode c : cases) {
            int[] ids = prompts.encode(c.path("prompt").asText()).ids();
            String tensor = c.path("tensor").asText();
            assertArrayEquals(new int[]{ids.length, encoder.config().hiddenSize()}, fixtures.shape(tensor));
            double err = Errors.relMax(encoder.encode(ids), fixtures.tensor(tensor));
            assertTrue(err <= TOL, tensor + ": error " + err);
        }
    }

    @Test
    void modelDirectoryMatchesEveryCase() {
        try (Qwen3TextEncoder enc = Qwen3TextEncoder.load(tinyA, backend)) {
            assertEquals(3, enc.config().numLayers());
            assertEquals(2, enc.config().layersUsed());
            assertEquals(1e6, enc.config().ropeTheta());
            assertMatchesFixtures(enc);
            assertTrue(enc.ownedWeightBytes() < 64 * 1024, "matrices stay mapped; only norm vectors are converted");
        }
    }

    @Test
    void workspaceIsReusedAcrossLengthsAndOutputsAreCausal() {
        try (Qwen3TextEncoder enc = Qwen3TextEncoder.load(tinyA.resolve("text_encoder"), backend)) {
            int[] longIds = prompts.encode("a red fox in the snow, 35mm photo, with a long tail and a lot of fur").ids();
            int h = enc.config().hiddenSize();
            float[] full = enc.encode(longIds);
            // shorter prefixes after a longer one reuse the buffers; causal ⇒ the prefix rows are unchanged
            for (int len : new int[]{1, 5, longIds.length - 1}) {
                float[] prefix = enc.encode(Arrays.copyOf(longIds, len));
                assertTrue(Errors.relMax(prefix, Arrays.copyOf(full, len * h)) < 1e-6, "prefix " + len);
            }
            // a longer sequence grows the workspace; the earlier result is reproduced exactly afterwards
            int[] longer = new int[100];
            for (int i = 0; i < longer.length; i++) longer[i] = longIds[i % longIds.length];
            enc.encode(longer);
            assertArrayEquals(full, enc.encode(longIds));
        }
    }

    @Test
    void layoutsWithoutModelPrefixShardedAndSingleFileAgree(@TempDir Path tmp) throws Exception {
        try (Checkpoint src = Safetensors.open(tinyA.resolve("text_encoder"))) {
            // bare keys, one file, no config.json: the ComfyUI-style lone file, config inferred from shapes
            Path bare = tmp.resolve("qwen_3_4b.safetensors");
            copy(src, n -> true, n -> n.substring("model.".length())).write(bare);
            try (Qwen3TextEncoder enc = Qwen3TextEncoder.load(bare, backend)) {
                assertEquals(new Qwen3Config(32, 3, 4, 2, 16, 64, 151936, 1e-6, 1e6), enc.config());
                assertMatchesFixtures(enc);
            }
            // sharded text_encoder/ with an index and config.json, model. prefix
            Path dir = tmp.resolve("te");
            copy(src, n -> true, n -> n).writeSharded(dir, "model", 2_000_000);
            Files.copy(tinyA.resolve("text_encoder/config.json"), dir.resolve("config.json"));
            assertTrue(Files.list(dir).filter(p -> p.toString().endsWith(".safetensors")).count() > 1);
            try (Qwen3TextEncoder enc = Qwen3TextEncoder.load(dir, backend)) {
                assertMatchesFixtures(enc);
            }
        }
    }

    @Test
    void lastLayerAndFinalNormAreNeverRead(@TempDir Path tmp) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("text_encoder"));
        try (Checkpoint src = Safetensors.open(tinyA.resolve("text_encoder"))) {
            copy(src, n -> !n.startsWith("model.layers.2.") && !n.equals("model.norm.weight"), n -> n).write(dir.resolve("model.safetensors"));
        }
        Files.copy(tinyA.resolve("text_encoder/config.json"), dir.resolve("config.json"));
        try (Qwen3TextEncoder enc = Qwen3TextEncoder.load(dir, backend)) {
            assertMatchesFixtures(enc);
        }
    }

    @Test
    void scaledF8CheckpointUsesItsPerTensorScales(@TempDir Path tmp) throws Exception {
        // ComfyUI's scaled-F8 layout: matrices stored F8_E4M3 with a NAME.scale_weight scalar beside them.
        // The encoder must equal one built from the dequantized values (F8 value × scale) stored as F32.
        Path f8 = tmp.resolve("qwen_3_4b_fp8_scaled.safetensors"), f32 = tmp.resolve("dequantized.safetensors");
        SafetensorsWriter wf8 = new SafetensorsWriter(), wf32 = new SafetensorsWriter();
        try (Checkpoint src = Safetensors.open(tinyA.resolve("text_encoder"))) {
            for (String n : src.names()) {
                TensorView v = src.get(n);
                float[] x = new float[(int) v.numel()];
                dev.zimage4j.safetensors.FloatConversion.toFloat(v.dtype(), v.data(), 0, x, 0, x.length);
                if (v.shape().length != 2 || n.contains("embed_tokens")) {
                    wf8.add(v.name(), v.dtype(), v.shape(), sink -> sink.put(v.data()));
                    wf32.addFloats(n, DType.F32, v.shape(), x);
                    continue;
                }
                float max = 0;
                for (float e : x) max = Math.max(max, Math.abs(e));
                float scale = max / 448f;
                float[] q = new float[x.length], deq = new float[x.length];
                for (int i = 0; i < x.length; i++) {
                    q[i] = x[i] / scale;
                    deq[i] = dev.zimage4j.safetensors.FloatConversion.e4m3ToFloat(dev.zimage4j.safetensors.FloatConversion.floatToE4m3(q[i])) * scale;
                }
                wf8.addFloats(n, DType.F8_E4M3, v.shape(), q);
                wf8.addFloats(n.substring(0, n.length() - "weight".length()) + "scale_weight", DType.F32, new long[0], new float[]{scale});
                wf32.addFloats(n, DType.F32, v.shape(), deq);
            }
            wf8.write(f8); // while src is open: unconverted tensors are copied from its mapping
            wf32.write(f32);
        }
        int[] ids = prompts.encode("a red fox in the snow, 35mm photo").ids();
        float[] a, b;
        try (Qwen3TextEncoder enc = Qwen3TextEncoder.load(f8, backend)) {
            a = enc.encode(ids);
        }
        try (Qwen3TextEncoder enc = Qwen3TextEncoder.load(f32, backend)) {
            b = enc.encode(ids);
        }
        assertTrue(Errors.relMax(a, b) < 1e-6, "scaled F8 vs dequantized F32: " + Errors.relMax(a, b));
        // and it is not a no-op: without the scales the output is far off
        double quantizationError = Errors.relMax(a, fixtures.tensor("text.0.hidden"));
        assertTrue(quantizationError > 1e-4 && quantizationError < 0.5, "F8 quantization error " + quantizationError);
    }

    @Test
    void missingAndMisShapedTensorsAreAllNamed(@TempDir Path tmp) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("text_encoder"));
        try (Checkpoint src = Safetensors.open(tinyA.resolve("text_encoder"))) {
            SafetensorsWriter w = copy(src, n -> !n.equals("model.layers.0.mlp.up_proj.weight") && !n.equals("model.layers.1.self_attn.k_norm.weight")
                    && !n.equals("model.layers.1.self_attn.q_proj.weight"), n -> n);
            w.addFloats("model.layers.1.self_attn.q_proj.weight", DType.BF16, new long[]{32, 64}, new float[32 * 64]);
            w.write(dir.resolve("model.safetensors"));
        }
        Files.copy(tinyA.resolve("text_encoder/config.json"), dir.resolve("config.json"));
        var e = assertThrows(TextEncoderCheckpointException.class, () -> Qwen3TextEncoder.load(dir, backend));
        assertEquals(3, e.problems().size(), e.getMessage());
        assertTrue(e.getMessage().contains("missing model.layers.0.mlp.up_proj.weight [64, 32]"), e.getMessage());
        assertTrue(e.getMessage().contains("missing model.layers.1.self_attn.k_norm.weight [16]"), e.getMessage());
        assertTrue(e.getMessage().contains("model.layers.1.self_attn.q_proj.weight has shape [32, 64], expected [64, 32]"), e.getMessage());
    }

    @Test
    void configRopeThetaAtTopLevelOrUnderRopeParameters() throws Exception {
        ObjectMapper m = new ObjectMapper();
        JsonNode fixture = m.readTree(tinyA.resolve("text_encoder/config.json").toFile());
        assertEquals(1e6, Qwen3Config.fromJson(fixture, "fixture").ropeTheta());
        var top = (com.fasterxml.jackson.databind.node.ObjectNode) fixture.deepCopy();
        top.remove("rope_parameters");
        top.put("rope_theta", 5e5);
        assertEquals(5e5, Qwen3Config.fromJson(top, "top").ropeTheta());
        top.remove("head_dim");
        assertEquals(128, Qwen3Config.fromJson(top, "no head_dim").headDim(), "transformers' Qwen3 default");

        var bad = (com.fasterxml.jackson.databind.node.ObjectNode) fixture.deepCopy();
        bad.remove("rope_parameters");
        bad.remove("hidden_size");
        bad.put("attention_bias", true);
        bad.put("num_attention_heads", "four");
        var e = assertThrows(TextEncoderConfigException.class, () -> Qwen3Config.fromJson(bad, "bad.json"));
        for (String s : new String[]{"bad.json", "rope_theta is missing", "hidden_size is missing", "attention_bias", "num_attention_heads is \"four\""})
            assertTrue(e.getMessage().contains(s), e.getMessage());
        var scaled = (com.fasterxml.jackson.databind.node.ObjectNode) fixture.deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) scaled.get("rope_parameters")).put("rope_type", "yarn");
        e = assertThrows(TextEncoderConfigException.class, () -> Qwen3Config.fromJson(scaled, "yarn.json"));
        assertTrue(e.getMessage().contains("rope_type is 'yarn'"), e.getMessage());
    }

    @Test
    void badIdsAndNonQwenCheckpointsAreRefused() {
        Qwen3TextEncoder enc = Qwen3TextEncoder.load(tinyA, backend);
        try {
            var e = assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[]{1, 151936}));
            assertTrue(e.getMessage().contains("151936 at position 1"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[0]));
        } finally {
            enc.close();
        }
        assertThrows(IllegalStateException.class, () -> enc.encode(new int[]{1}));
        var e = assertThrows(TextEncoderCheckpointException.class,
                () -> Qwen3TextEncoder.load(tinyA.resolve("transformer"), backend));
        assertTrue(e.getMessage().contains("no embed_tokens.weight"), e.getMessage());
    }

    @Test
    void ropeTableMatchesTheClosedForm() {
        float[][] t = Qwen3Workspace.ropeTable(1e6, 128, 600);
        for (int p : new int[]{0, 1, 511, 599})
            for (int i : new int[]{0, 1, 31, 63}) {
                double angle = p * Math.pow(1e6, -2.0 * i / 128);
                assertEquals(Math.cos(angle), t[0][p * 64 + i], 2e-4, "cos p=" + p + " i=" + i);
                assertEquals(Math.sin(angle), t[1][p * 64 + i], 2e-4, "sin p=" + p + " i=" + i);
            }
    }

    /** A writer holding {@code src}'s tensors that pass {@code keep}, renamed. */
    static SafetensorsWriter copy(Checkpoint src, Predicate<String> keep, UnaryOperator<String> rename) {
        SafetensorsWriter w = new SafetensorsWriter();
        for (String n : src.names()) {
            if (!keep.test(n)) continue;
            TensorView v = src.get(n);
            w.add(rename.apply(n), v.dtype(), v.shape(), sink -> sink.put(v.data()));
        }
        return w;
    }
}
