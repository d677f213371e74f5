package dev.zimage4j.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Image comparisons for pipeline tests. */
final class Images {
    private Images() {
    }

    /**
     * The same image up to the CPU backend's run-to-run float noise: every byte within one level and at most
     * 1% of them off at all. (The backend's vectorised exp in attention gives results that differ in the last
     * bit between interpreted and JIT-compiled code, so two identical computations in one JVM can round a
     * pixel differently; a real difference — another seed, another draw order — changes most pixels.)
     */
    static void assertSameImage(byte[] expected, byte[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": size");
        int off = 0;
        for (int i = 0; i < expected.length; i++) {
            int d = Math.abs((expected[i] & 0xff) - (actual[i] & 0xff));
            assertTrue(d <= 1, what + ": byte " + i + " differs by " + d);
            if (d != 0) off++;
        }
        assertTrue(off <= expected.length / 100, what + ": " + off + " of " + expected.length + " bytes differ");
    }
}
