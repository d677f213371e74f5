package dev.zimage4j.check;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ToleranceTest {

    @Test
    void float32BackendKeepsTheStageTolerance() {
        try (CpuBackend cpu = new CpuBackend()) {
            Tolerance t = Tolerance.of(1e-4, cpu);
            assertEquals(1e-4, t.maxRelError());
            assertTrue(Double.isNaN(t.minCosine()));
            assertFalse(t.judge("dit", "x", new float[]{1, 2.001f}, new float[]{1, 2}, "").pass()); // 5e-4 > 1e-4
            assertTrue(t.judge("dit", "x", new float[]{1, 2.0001f}, new float[]{1, 2}, "").pass());
        }
    }

    @Test
    void bf16BackendGetsTheReadmeGpuCriterion() {
        Backend gpu = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class},
                (p, m, a) -> {
                    if (m.getName().equals("reducedPrecision")) return true;
                    throw new UnsupportedOperationException(m.getName());
                });
        Tolerance t = Tolerance.of(1e-4, gpu);
        assertEquals(2e-2, t.maxRelError());
        assertEquals(0.999, t.minCosine());
        CaseResult close = t.judge("dit", "x", new float[]{1, 2.02f, -1}, new float[]{1, 2, -1}, "");
        assertTrue(close.pass(), close.toString()); // rel 1e-2, cosine ≈ 1
        float[] ref = new float[100], out = new float[100];
        for (int i = 0; i < ref.length; i++) {
            ref[i] = i == 0 ? 100 : (i % 2 == 0 ? 1 : -1);
            out[i] = i == 0 ? 100 : -ref[i] * 0.99f; // within 2e-2 of max|ref|, yet every small value has the wrong sign
        }
        CaseResult skewed = t.judge("dit", "y", out, ref, "");
        assertTrue(skewed.error() <= 2e-2, skewed.toString());
        assertTrue(skewed.cosine() < 0.999, skewed.toString());
        assertFalse(skewed.pass());
    }
}
