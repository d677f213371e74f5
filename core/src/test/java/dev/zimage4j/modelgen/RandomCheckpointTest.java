package dev.zimage4j.modelgen;

import dev.zimage4j.dit.DitShapes;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.MissingTensorException;
import dev.zimage4j.safetensors.TensorView;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RandomCheckpointTest {

    @Test
    void realKeyNamesShapesAndScales() {
        Map<String, long[]> shapes = DitShapes.standard(ModelPreset.TINY.dit()).expected();
        try (RandomCheckpoint c = RandomCheckpoint.create(shapes, 7, "tiny DiT")) {
            assertEquals(shapes.keySet(), c.names());
            for (var e : shapes.entrySet()) {
                TensorView v = c.get(e.getKey());
                assertEquals(DType.BF16, v.dtype());
                assertArrayEquals(e.getValue(), v.shape(), e.getKey());
                float[] f = values(v);
                if (e.getValue().length <= 1) {
                    float want = e.getKey().endsWith(".bias") ? 0f : 1f;
                    for (float x : f) assertEquals(want, x, e.getKey());
                } else if (v.numel() >= 4096) { // std of the uniform draw = 1/sqrt(fan_in) (pad tokens: 1)
                    double want = e.getKey().endsWith("pad_token") ? 1 : 1 / Math.sqrt(v.numel() / (double) e.getValue()[0]);
                    double ss = 0;
                    for (float x : f) {
                        ss += (double) x * x;
                        assertTrue(Math.abs(x) <= Math.sqrt(3) * want * 1.01, e.getKey() + ": " + x);
                    }
                    assertEquals(want, Math.sqrt(ss / f.length), 0.05 * want, e.getKey());
                }
            }
            assertThrows(MissingTensorException.class, () -> c.get("no.such.weight"));
        }
    }

    @Test
    void valuesDependOnSeedAndNameOnly() {
        Map<String, long[]> one = Map.of("a.weight", new long[]{300, 400}), two = Map.of("a.weight", new long[]{300, 400}, "b.weight", new long[]{8, 8});
        try (RandomCheckpoint x = RandomCheckpoint.create(one, 1, "x"); RandomCheckpoint y = RandomCheckpoint.create(two, 1, "y");
             RandomCheckpoint z = RandomCheckpoint.create(one, 2, "z")) {
            float[] a = values(x.get("a.weight"));
            assertArrayEquals(a, values(y.get("a.weight")));
            assertFalse(Arrays.equals(a, values(z.get("a.weight"))));
        }
    }

    private static float[] values(TensorView v) {
        float[] f = new float[(int) v.numel()];
        for (int i = 0; i < f.length; i++) f[i] = FloatConversion.bf16ToFloat(v.data().getAtIndex(ValueLayout.JAVA_SHORT, i));
        return f;
    }
}
