package dev.zimage4j.dit;

import dev.zimage4j.check.TestFixtures;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class DitConfigTest {
    static final Path TINY = TestFixtures.tinyA();

    @Test
    void readsTheFixtureConfigAndRoundTrips() throws Exception {
        DitConfig c = DitConfig.load(TINY.resolve("transformer/config.json"));
        assertEquals(64, c.dim());
        assertEquals(32, c.headDim());
        assertEquals(170, c.ffnHidden());
        assertArrayEquals(new int[]{8, 12, 12}, c.axesDims());
        assertEquals(1e-5f, c.normEps());
        assertEquals(c, DitConfig.parse(new ObjectMapper().readTree(c.toJson())));
        assertEquals(c.hashCode(), DitConfig.parse(new ObjectMapper().readTree(c.toJson())).hashCode());
    }

    @Test
    void rejectsInconsistentConfigsNamingTheKey() {
        var e = assertThrows(IllegalArgumentException.class, () -> DitConfig.parse(new ObjectMapper().readTree(
                "{\"dim\": 64, \"n_heads\": 2, \"axes_dims\": [8, 12, 10]}")));
        assertTrue(e.getMessage().contains("axes_dims sum 30 must equal head_dim 32"), e.getMessage());
        var k = assertThrows(IllegalArgumentException.class, () -> DitConfig.parse(new ObjectMapper().readTree(
                "{\"dim\": 64, \"n_heads\": 2, \"n_kv_heads\": 1, \"axes_dims\": [8, 12, 12]}")));
        assertTrue(k.getMessage().contains("n_kv_heads"), k.getMessage());
        var t = assertThrows(IllegalArgumentException.class, () -> DitConfig.parse(new ObjectMapper().readTree("{\"dim\": \"wide\"}")));
        assertTrue(t.getMessage().contains("dim must be an integer"), t.getMessage());
    }

    @Test
    void infersTheRealConfigFromShapes() {
        // shapes-only stand-ins: DitConfig.infer reads names and shapes
        var shapes = DitShapes.standard(DitConfig.Z_IMAGE_TURBO).expected();
        var views = new java.util.HashMap<String, dev.zimage4j.safetensors.TensorView>();
        shapes.forEach((n, s) -> views.put(n, new dev.zimage4j.safetensors.TensorView(n, dev.zimage4j.safetensors.DType.BF16, s,
                java.lang.foreign.MemorySegment.NULL)));
        assertEquals(DitConfig.Z_IMAGE_TURBO, DitConfig.infer(views, "test"));
    }
}
