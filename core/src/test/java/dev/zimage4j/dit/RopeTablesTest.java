package dev.zimage4j.dit;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class RopeTablesTest {
    static final DitConfig TINY = new DitConfig(16, 2, 1, 64, 2, 2, 2, 2, 1e-5f, 32, 256.0,
            new int[]{8, 12, 12}, new int[]{1536, 512, 512}, 1000f);

    /** The padded fixture case: latent 10×14 → 5×7 = 35 image tokens (29 pads), 9 caption tokens (23 pads). */
    @Test
    void positionIdsOfAPaddedSequence() {
        TokenLayout l = new TokenLayout(10, 14, 2, 9);
        assertEquals(35, l.imageTokens());
        assertEquals(64, l.paddedImageTokens());
        assertEquals(32, l.paddedCaptionTokens());
        assertEquals(96, l.sequence());
        int[] ids = RopeTables.positionIds(l);
        // image token (h, w) = (Lcp + 1, h, w); token 8 is row 1, column 1
        assertArrayEquals(new int[]{33, 0, 0}, slice(ids, 0));
        assertArrayEquals(new int[]{33, 1, 1}, slice(ids, 8));
        assertArrayEquals(new int[]{33, 4, 6}, slice(ids, 34));
        // image pad tokens sit at (0, 0, 0)
        for (int n = 35; n < 64; n++) assertArrayEquals(new int[]{0, 0, 0}, slice(ids, n));
        // caption token j (pads included) at (1 + j, 0, 0)
        for (int j = 0; j < 32; j++) assertArrayEquals(new int[]{1 + j, 0, 0}, slice(ids, 64 + j));
    }

    private static int[] slice(int[] ids, int token) {
        return new int[]{ids[3 * token], ids[3 * token + 1], ids[3 * token + 2]};
    }

    @Test
    void anglesAreInterleavedPerAxisInFloat64ThenFloat32() {
        TokenLayout l = new TokenLayout(4, 6, 2, 3); // 2×3 tokens, Lcp 32
        RopeTables r = RopeTables.build(TINY, l);
        int half = TINY.headDim() / 2; // 16 = 4 + 6 + 6
        int token = 5; // (h, w) = (1, 2), p0 = 33
        int[] pos = {33, 1, 2};
        int[] dims = {8, 12, 12};
        int k = 0;
        for (int a = 0; a < 3; a++) {
            for (int m = 0; m < dims[a] / 2; m++, k++) {
                double omega = 1.0 / Math.pow(256.0, 2.0 * m / dims[a]);
                float angle = (float) (pos[a] * omega);
                assertEquals((float) Math.cos(angle), r.cos()[token * half + k], 0f, "cos " + k);
                assertEquals((float) Math.sin(angle), r.sin()[token * half + k], 0f, "sin " + k);
            }
        }
        // pad tokens: identity rotation
        int pad = 10;
        for (int i = 0; i < half; i++) {
            assertEquals(1f, r.cos()[pad * half + i]);
            assertEquals(0f, r.sin()[pad * half + i]);
        }
    }

    @Test
    void rejectsGridsBeyondTheTables() {
        DitConfig small = new DitConfig(16, 2, 1, 64, 1, 1, 2, 2, 1e-5f, 32, 256.0, new int[]{8, 12, 12}, new int[]{40, 4, 4}, 1000f);
        var e = assertThrows(IllegalArgumentException.class, () -> RopeTables.build(small, new TokenLayout(10, 8, 2, 3)));
        assertTrue(e.getMessage().contains("axes_lens"), e.getMessage());
        var c = assertThrows(IllegalArgumentException.class, () -> RopeTables.build(small, new TokenLayout(4, 4, 2, 40)));
        assertTrue(c.getMessage().contains("caption"), c.getMessage());
    }

    @Test
    void rejectsLatentsNotMultiplesOfThePatch() {
        var e = assertThrows(IllegalArgumentException.class, () -> new TokenLayout(10, 7, 2, 3));
        assertTrue(e.getMessage().contains("10×7"), e.getMessage());
    }
}
