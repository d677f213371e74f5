package dev.zimage4j.dit;

import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.Safetensors;
import dev.zimage4j.safetensors.TensorView;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class DitKeyMappingTest {
    static final Path TINY = TestFixtures.tinyA();

    @Test
    void renamesSingleFileKeys() {
        assertEquals("all_x_embedder.2-1.weight", DitKeyMapping.rename("x_embedder.weight"));
        assertEquals("all_final_layer.2-1.adaLN_modulation.1.bias", DitKeyMapping.rename("final_layer.adaLN_modulation.1.bias"));
        assertEquals("layers.7.attention.to_out.0.weight", DitKeyMapping.rename("layers.7.attention.out.weight"));
        assertEquals("noise_refiner.1.attention.norm_q.weight", DitKeyMapping.rename("noise_refiner.1.attention.q_norm.weight"));
        assertEquals("context_refiner.0.attention.norm_k.weight", DitKeyMapping.rename("context_refiner.0.attention.k_norm.weight"));
        assertEquals("layers.0.feed_forward.w2.weight", DitKeyMapping.rename("layers.0.feed_forward.w2.weight"));
        assertEquals("cap_pad_token", DitKeyMapping.rename("cap_pad_token"));
    }

    @Test
    void toSingleFileInvertsRename() {
        for (String n : DitShapes.standard(DitConfig.Z_IMAGE_TURBO).expected().keySet()) {
            String s = DitKeyMapping.toSingleFile(n);
            if (n.matches(".*attention\\.to_[qkv]\\.weight")) assertNull(s, n);
            else assertEquals(n, DitKeyMapping.rename(s), n);
        }
    }

    @Test
    void detectsLayout() {
        assertEquals(DitKeyMapping.Layout.DIFFUSERS, DitKeyMapping.detect(List.of("layers.0.attention.to_q.weight", "x_pad_token")));
        assertEquals(DitKeyMapping.Layout.SINGLE_FILE, DitKeyMapping.detect(List.of("layers.0.attention.qkv.weight")));
        assertEquals(DitKeyMapping.Layout.SINGLE_FILE, DitKeyMapping.detect(List.of("model.diffusion_model.x_pad_token")));
    }

    /** The fixture's two layouts hold the same weights: mapping the single file gives byte-identical tensors. */
    @Test
    void singleFileMapsOntoTheDiffusersCheckpoint() {
        try (Checkpoint diff = Safetensors.open(TINY.resolve("transformer"));
             Checkpoint single = Safetensors.open(TINY.resolve("single_file"))) {
            DitKeyMapping.Mapped a = DitKeyMapping.map(diff), b = DitKeyMapping.map(single);
            assertEquals(DitKeyMapping.Layout.DIFFUSERS, a.layout());
            assertEquals(DitKeyMapping.Layout.SINGLE_FILE, b.layout());
            assertTrue(b.problems().isEmpty(), b.problems().toString());
            assertEquals(a.tensors().keySet(), b.tensors().keySet());
            for (Map.Entry<String, TensorView> e : a.tensors().entrySet()) {
                TensorView x = e.getValue(), y = b.tensors().get(e.getKey());
                assertArrayEquals(x.shape(), y.shape(), e.getKey());
                assertEquals(x.dtype(), y.dtype(), e.getKey());
                assertEquals(-1, x.data().mismatch(y.data()), e.getKey() + " differs from " + y.name());
            }
            assertTrue(b.tensors().get("layers.1.attention.to_k.weight").name().endsWith("attention.qkv.weight[k]"));
        }
    }

    @Test
    void expectedShapesMatchTheFixtureCheckpoint() throws Exception {
        DitConfig c = DitConfig.load(TINY.resolve("transformer/config.json"));
        try (Checkpoint diff = Safetensors.open(TINY.resolve("transformer"))) {
            DitShapes shapes = DitWeights.deriveShapes(c, DitKeyMapping.map(diff).tensors());
            assertEquals(64, shapes.adaLnWidth());
            assertEquals(1024, shapes.tHidden());
            assertEquals(256, shapes.tFreqDim());
            assertEquals(DitShapes.standard(c), shapes);
            Map<String, long[]> expected = shapes.expected();
            assertEquals(diff.names(), new java.util.TreeSet<>(expected.keySet()));
            for (String n : diff.names()) assertArrayEquals(expected.get(n), diff.get(n).shape(), n);
        }
    }

    @Test
    void realShapesCountTheSpecsParameters() {
        DitShapes s = DitShapes.standard(DitConfig.Z_IMAGE_TURBO);
        assertEquals(6_154_908_736L, s.parameters());
        assertEquals(521, s.expected().size());
        long singleFileTensors = s.expected().keySet().stream().filter(n -> !n.matches(".*attention\\.to_[kv]\\.weight")).count();
        assertEquals(453, singleFileTensors);
        assertEquals(10240, DitConfig.Z_IMAGE_TURBO.ffnHidden());
        assertEquals(256, s.adaLnWidth());
        assertTrue(Arrays.equals(new int[]{32, 48, 48}, DitConfig.Z_IMAGE_TURBO.axesDims()));
    }
}
