package dev.zimage4j.dit;

import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.Safetensors;
import dev.zimage4j.safetensors.SafetensorsWriter;
import dev.zimage4j.safetensors.TensorView;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.*;

/** Copies of the fixture checkpoint with tensors removed, renamed or reshaped: one error naming all of them. */
class DitCheckpointErrorTest {
    static final Path TINY = TestFixtures.tinyA();
    static Backend backend;
    static DitConfig config;

    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() throws Exception {
        backend = Backends.cpu();
        config = DitConfig.load(TINY.resolve("transformer"));
    }

    @AfterAll
    static void tearDown() {
        backend.close();
    }

    /** Writes a copy of {@code source} where {@code edit} may drop (null), rename or reshape each tensor. */
    private Path copy(String source, UnaryOperator<TensorView> edit) {
        Path out = tmp.resolve(source + ".safetensors");
        try (Checkpoint ckpt = Safetensors.open(TINY.resolve(source))) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String n : ckpt.names()) {
                TensorView v = edit.apply(ckpt.get(n));
                if (v != null) w.add(v);
            }
            w.write(out);
        }
        return out;
    }

    private DitCheckpointException loadFails(Path file) {
        return assertThrows(DitCheckpointException.class, () -> ZImageTransformer.load(Safetensors.open(file), config, backend).close());
    }

    @Test
    void diffusersCopyLoads() {
        Path ok = copy("transformer", v -> v);
        ZImageTransformer.load(Safetensors.open(ok), config, backend).close();
    }

    @Test
    void everyProblemIsListedAtOnce() {
        Path bad = copy("transformer", v -> switch (v.name()) {
            case "layers.1.ffn_norm2.weight" -> null; // removed
            case "noise_refiner.0.attention.to_k.weight" ->
                    new TensorView("noise_refiner.0.attention.to_key.weight", v.dtype(), v.shape(), v.data()); // renamed
            case "cap_pad_token" -> v.reshape(64, 1); // reshaped
            default -> v;
        });
        DitCheckpointException e = loadFails(bad);
        assertEquals(4, e.problems().size(), e.getMessage());
        String m = e.getMessage();
        assertTrue(m.contains("missing layers.1.ffn_norm2.weight [64]"), m);
        assertTrue(m.contains("missing noise_refiner.0.attention.to_k.weight [64, 64]"), m);
        assertTrue(m.contains("unknown tensor noise_refiner.0.attention.to_key.weight"), m);
        assertTrue(m.contains("mis-shaped cap_pad_token: [64, 1], expected [1, 64]"), m);
    }

    @Test
    void extraLayerIsUnknown() {
        Path bad = copy("transformer", v -> v.name().equals("layers.0.ffn_norm1.weight")
                ? new TensorView("layers.2.ffn_norm1.weight", v.dtype(), v.shape(), v.data()) : v);
        String m = loadFails(bad).getMessage();
        assertTrue(m.contains("unknown tensor layers.2.ffn_norm1.weight"), m);
        assertTrue(m.contains("missing layers.0.ffn_norm1.weight"), m);
    }

    @Test
    void singleFileProblemsUseTheStoredNames() {
        Path bad = copy("single_file", v -> switch (v.name()) {
            case "model.diffusion_model.layers.0.attention.qkv.weight" -> v.sliceRows(v.name(), 0, 190); // not 3·64 rows
            case "model.diffusion_model.final_layer.linear.bias" -> null;
            case "model.diffusion_model.context_refiner.1.attention.q_norm.weight" -> v.reshape(2, 16);
            default -> v;
        });
        String m = loadFails(bad).getMessage();
        assertTrue(m.contains("mis-shaped model.diffusion_model.layers.0.attention.qkv.weight [190, 64]"), m);
        assertTrue(m.contains("missing layers.0.attention.to_q.weight"), m);
        assertTrue(m.contains("missing all_final_layer.2-1.linear.bias [64]"), m);
        assertTrue(m.contains("mis-shaped model.diffusion_model.context_refiner.1.attention.q_norm.weight: [2, 16], expected [32]"), m);
    }

    @Test
    void strayNormFinalIsIgnoredAndPrefixIsOptional() {
        Path file = tmp.resolve("noprefix.safetensors");
        try (Checkpoint ckpt = Safetensors.open(TINY.resolve("single_file"))) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String n : ckpt.names()) {
                TensorView v = ckpt.get(n);
                w.add(new TensorView(n.substring(DitKeyMapping.SINGLE_FILE_PREFIX.length()), v.dtype(), v.shape(), v.data()));
            }
            w.addFloats("norm_final.weight", dev.zimage4j.safetensors.DType.BF16, new long[]{64}, new float[64]);
            w.write(file);
        }
        ZImageTransformer.load(Safetensors.open(file), config, backend).close();
    }

    @Test
    void wrongConfigIsReportedAgainstTheCheckpoint() {
        DitConfig wide = new DitConfig(16, 2, 1, 64, 3, 2, 2, 2, 1e-5f, 48, 256.0, new int[]{8, 12, 12}, new int[]{1536, 512, 512}, 1000f);
        var e = assertThrows(DitCheckpointException.class,
                () -> ZImageTransformer.load(Safetensors.open(TINY.resolve("transformer")), wide, backend));
        assertTrue(e.getMessage().contains("missing layers.2."), e.getMessage());
        assertTrue(e.getMessage().contains("mis-shaped cap_embedder.0.weight: [32], expected [48]"), e.getMessage());
    }
}
