package dev.zimage4j.modelgen;

import dev.zimage4j.check.TestFixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.zimage4j.check.Errors;
import dev.zimage4j.cli.Main;
import dev.zimage4j.dit.DitConfig;
import dev.zimage4j.dit.ZImageTransformer;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.Safetensors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class RandomModelWriterTest {
    static final Path TINY_A = TestFixtures.tinyA();
    static Backend backend;

    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() {
        backend = Backends.cpu();
    }

    @AfterAll
    static void tearDown() {
        backend.close();
    }

    private static void assertSameTensors(Map<String, long[]> shapes, Path checkpoint) {
        try (Checkpoint c = Safetensors.open(checkpoint)) {
            assertEquals(c.names(), new java.util.TreeSet<>(shapes.keySet()), checkpoint.toString());
            for (String n : c.names()) assertArrayEquals(c.get(n).shape(), shapes.get(n), n);
        }
    }

    /** The tiny preset has exactly the fixture's tensors, in all three components. */
    @Test
    void tinyPresetHasTheFixtureShapes() throws IOException {
        assertSameTensors(dev.zimage4j.dit.DitShapes.standard(ModelPreset.TINY.dit()).expected(), TINY_A.resolve("transformer"));
        assertSameTensors(ModelPreset.TINY.text().tensors(), TINY_A.resolve("text_encoder"));
        assertSameTensors(ModelPreset.TINY.vae().tensors(), TINY_A.resolve("vae"));
        DitConfig fixture = DitConfig.load(TINY_A.resolve("transformer"));
        assertEquals(fixture.toJson(), ModelPreset.TINY.dit().toJson());
    }

    @Test
    void realPresetHasTheSpecsSizes() {
        long vae = 0, text = 0;
        for (long[] s : VaeShapes.FLUX.tensors().values()) vae += numel(s);
        for (long[] s : Qwen3Shapes.QWEN3_4B.tensors().values()) text += numel(s);
        assertEquals(83_819_683L, vae);
        assertEquals(244, VaeShapes.FLUX.tensors().size());
        assertEquals(4_022_468_096L, text);
        assertEquals(398, Qwen3Shapes.QWEN3_4B.tensors().size());
    }

    private static long numel(long[] s) {
        long n = 1;
        for (long d : s) n *= d;
        return n;
    }

    private static float[] input(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** Same seed → same weights in both layouts (and sharded); outputs finite and unit-scale. */
    @Test
    void layoutsAndShardsGiveTheSameModel() throws IOException {
        Path diff = tmp.resolve("diff"), single = tmp.resolve("single"), sharded = tmp.resolve("sharded");
        RandomModelWriter.write(ModelPreset.TINY, diff, DType.BF16, RandomModelWriter.DitLayout.DIFFUSERS, 7, s -> { });
        RandomModelWriter.write(ModelPreset.TINY, single, DType.BF16, RandomModelWriter.DitLayout.SINGLE_FILE, 7, s -> { });
        RandomModelWriter.write(ModelPreset.TINY, sharded, DType.BF16, RandomModelWriter.DitLayout.DIFFUSERS, 7, 300_000, s -> { });
        assertTrue(Files.exists(sharded.resolve("transformer/diffusion_pytorch_model.safetensors.index.json")));
        assertTrue(Files.exists(sharded.resolve("text_encoder/model.safetensors.index.json")));
        assertTrue(Files.exists(single.resolve("transformer/z_image_turbo_bf16.safetensors")));
        try (Checkpoint c = Safetensors.open(single.resolve("transformer"))) {
            assertTrue(c.names().contains("model.diffusion_model.layers.0.attention.qkv.weight"));
        }
        float[] x = input(16 * 12 * 8, 1), cap = input(11 * 32, 2);
        float[] a, b, c;
        try (ZImageTransformer m = ZImageTransformer.load(diff, backend)) {
            a = m.forward(x, 12, 8, 0.4f, cap, 11);
        }
        try (ZImageTransformer m = ZImageTransformer.load(single, backend)) {
            b = m.forward(x, 12, 8, 0.4f, cap, 11);
        }
        try (ZImageTransformer m = ZImageTransformer.load(sharded, backend)) {
            c = m.forward(x, 12, 8, 0.4f, cap, 11);
        }
        assertTrue(Errors.relMax(b, a) <= 1e-6, "single-file vs diffusers " + Errors.relMax(b, a));
        assertTrue(Errors.relMax(c, a) <= 1e-6, "sharded vs single " + Errors.relMax(c, a));
        double max = 0;
        for (float v : a) {
            assertTrue(Float.isFinite(v));
            max = Math.max(max, Math.abs(v));
        }
        assertTrue(max > 1e-2 && max < 100, "output scale " + max);
    }

    @Test
    void seedDeterminesTheBytes() throws IOException {
        Path a = tmp.resolve("a"), b = tmp.resolve("b"), c = tmp.resolve("c");
        RandomModelWriter.write(ModelPreset.TINY, a, DType.F32, RandomModelWriter.DitLayout.DIFFUSERS, 3, s -> { });
        RandomModelWriter.write(ModelPreset.TINY, b, DType.F32, RandomModelWriter.DitLayout.DIFFUSERS, 3, s -> { });
        RandomModelWriter.write(ModelPreset.TINY, c, DType.F32, RandomModelWriter.DitLayout.DIFFUSERS, 4, s -> { });
        for (String f : new String[]{"transformer/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors",
                "vae/diffusion_pytorch_model.safetensors"}) {
            assertEquals(-1, Files.mismatch(a.resolve(f), b.resolve(f)), f);
            assertNotEquals(-1, Files.mismatch(a.resolve(f), c.resolve(f)), f);
        }
        try (Checkpoint ck = Safetensors.open(a.resolve("vae"))) {
            assertEquals(DType.F32, ck.get("decoder.conv_in.weight").dtype());
            assertEquals(1f, ck.get("decoder.conv_norm_out.weight").getFloat(5));
            assertEquals(0f, ck.get("decoder.conv_in.bias").getFloat(5));
        }
    }

    @Test
    void writesConfigsReadersAccept() throws IOException {
        Path out = tmp.resolve("m");
        RandomModelWriter.write(ModelPreset.TINY, out, DType.BF16, RandomModelWriter.DitLayout.DIFFUSERS, 0, s -> { });
        ObjectMapper json = new ObjectMapper();
        JsonNode te = json.readTree(out.resolve("text_encoder/config.json").toFile());
        assertEquals(16, te.get("head_dim").asInt());
        assertEquals(1e6, te.get("rope_theta").asDouble());
        assertEquals(2, te.get("num_key_value_heads").asInt());
        JsonNode vae = json.readTree(out.resolve("vae/config.json").toFile());
        assertEquals(json.readTree(TINY_A.resolve("vae/config.json").toFile()), vae);
        assertEquals(json.readTree(TINY_A.resolve("scheduler/scheduler_config.json").toFile()),
                json.readTree(out.resolve("scheduler/scheduler_config.json").toFile()));
        assertEquals(json.readTree(TINY_A.resolve("model_index.json").toFile()), json.readTree(out.resolve("model_index.json").toFile()));
        assertEquals(ModelPreset.TINY.dit().toJson(), DitConfig.load(out.resolve("transformer")).toJson());
    }

    @Test
    void refusesANonEmptyDirectory() throws IOException {
        Files.writeString(tmp.resolve("keep.txt"), "x");
        var e = assertThrows(IOException.class,
                () -> RandomModelWriter.write(ModelPreset.TINY, tmp, DType.BF16, RandomModelWriter.DitLayout.DIFFUSERS, 0, s -> { }));
        assertTrue(e.getMessage().contains("not empty"), e.getMessage());
    }

    @Test
    void commandLine() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int rc = Main.run(new String[]{"make-random-model", "--preset", "tiny", "--out", tmp.resolve("cli").toString(),
                "--layout", "single-file", "--seed", "5"}, new PrintStream(out), new PrintStream(err));
        assertEquals(0, rc, err.toString());
        assertTrue(out.toString().contains("written to"), out.toString());
        assertEquals(2, Main.run(new String[]{"make-random-model", "--preset", "huge", "--out", "x"},
                new PrintStream(out), new PrintStream(err)));
        assertTrue(err.toString().contains("--preset must be tiny or real"), err.toString());
        assertEquals(2, Main.run(new String[]{"make-random-model", "--preset", "tiny"}, new PrintStream(out), new PrintStream(err)));
    }
}
