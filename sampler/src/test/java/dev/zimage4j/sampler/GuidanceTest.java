package dev.zimage4j.sampler;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GuidanceTest {

    @Test
    void combinesAsPosPlusGTimesDifference() {
        Guidance g = Guidance.of(3.0);
        float[] out = new float[2];
        g.combine(new float[]{1f, 2f}, new float[]{0.5f, 3f}, g.scaleAt(0.2f), out);
        assertArrayEquals(new float[]{1f + 3f * 0.5f, 2f + 3f * -1f}, out);
    }

    @Test
    void zeroScaleIsOff() {
        assertFalse(Guidance.OFF.enabled());
        assertEquals(0f, Guidance.OFF.scaleAt(0.5f));
    }

    @Test
    void truncationDropsGuidanceLateInSampling() {
        Guidance g = new Guidance(4.0, 0, 0.5);
        assertEquals(4f, g.scaleAt(0.5f));
        assertEquals(0f, g.scaleAt(0.7f));
        assertEquals(4f, new Guidance(4.0, 0, 1.5).scaleAt(0.99f), "a threshold above 1 never truncates");
    }

    @Test
    void normalizationCapsThePredictionNorm() {
        Guidance g = new Guidance(2.0, 1.0, 1);
        float[] pos = {3f, 4f};                   // ‖pos‖ = 5
        float[] out = new float[2];
        g.combine(pos, new float[]{0f, 0f}, 2f, out); // pred = 3·pos, ‖pred‖ = 15 → scaled to 5
        assertEquals(3f, out[0], 1e-6);
        assertEquals(4f, out[1], 1e-6);
        new Guidance(2.0, 4.0, 1).combine(pos, new float[]{0f, 0f}, 2f, out); // cap 20 > 15: unchanged
        assertArrayEquals(new float[]{9f, 12f}, out);
    }

    @Test
    void rejectsBadValues() {
        assertThrows(IllegalArgumentException.class, () -> Guidance.of(-1));
        assertThrows(IllegalArgumentException.class, () -> new Guidance(1, -1, 1));
    }
}
