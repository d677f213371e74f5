package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.cuda.GemmKernel.ASource;
import dev.zimage4j.kernels.cuda.GemmKernel.Config;
import dev.zimage4j.kernels.cuda.GemmKernel.Epilogue;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GEMM and attention variants that write a bf16 matrix operand (no GPU needed): every variant the backend can pick
 * for the model's shapes is in the catalog (so the ptxas test assembles it), the epilogues that read or transpose y
 * refuse a bf16 output, and the generated stores are 2-byte (pairs packed into one {@code bf16x2} word) with rounding to
 * nearest even, where the f32 variants keep their f32 stores.
 */
class Bf16OutputVariantsTest {

    private static final int H200_SMS = 132;

    /** DiT at 1024² and 512² (image + caption tokens), the refiners' caption rows, text encoder lengths. */
    private static final int[] ROWS = {4128, 4096, 1056, 1024, 32, 27, 1, 512};
    /** DiT v / attention out (3840), FFN hidden (10240); Qwen3-4B kv (1024), q (4096), MLP (9728); test widths. */
    private static final int[] COLS = {3840, 10240, 1024, 4096, 9728, 200, 264, 64};

    @Test
    void everyGemmVariantTheBackendPicksForABf16OutputIsInTheCatalog() {
        List<Config> catalog = GemmKernel.allConfigs();
        for (Epilogue e : new Epilogue[]{Epilogue.STORE, Epilogue.SWIGLU}) {
            for (int m : ROWS)
                for (int n : COLS) {
                    assertTrue(catalog.contains(GemmKernel.tmaConfig(e, m, n, H200_SMS).withYBf16(true)), e + " " + m + "x" + n);
                    assertTrue(catalog.contains(GemmKernel.tmaClusterConfig(e, m, n, H200_SMS).withYBf16(true)), e + " " + m + "x" + n);
                }
            assertTrue(catalog.contains(GemmKernel.wgmmaConfig(e).withYBf16(true)));
            for (ASource a : new ASource[]{ASource.BF16, ASource.DENSE})
                for (boolean vec : new boolean[]{true, false}) {
                    if (a == ASource.BF16 && !vec) continue; // bf16 A is always loaded by cp.async
                    assertTrue(catalog.contains(GemmKernel.config(a, false, e, vec).withYBf16(true)), a + " " + e + " vec " + vec);
                }
        }
    }

    @Test
    void onlyStoreAndSwigluWriteBf16() {
        assertThrows(IllegalArgumentException.class, () -> GemmKernel.config(ASource.BF16, false, Epilogue.ADD, true).withYBf16(true));
        assertThrows(IllegalArgumentException.class, () -> GemmKernel.config(ASource.IM2COL, false, Epilogue.STORE_TRANSPOSED, true).withYBf16(true));
        assertThrows(IllegalArgumentException.class, () -> GemmKernel.tmaConfig(Epilogue.ADD, 4128, 3840, H200_SMS).withYBf16(true));
    }

    @Test
    void tmaEpiloguePacksColumnPairsIntoBf16Words() {
        for (Epilogue e : new Epilogue[]{Epilogue.STORE, Epilogue.SWIGLU}) {
            Config f32 = GemmKernel.tmaConfig(e, 4128, e == Epilogue.SWIGLU ? 10240 : 3840, H200_SMS), bf16 = f32.withYBf16(true);
            assertNotEquals(f32.entry(), bf16.entry());
            String p = GemmKernel.generate(bf16).build(), q = GemmKernel.generate(f32).build();
            int pairs = bf16.bn() / 8;
            // one bf16x2 word per (row half, 8-column group): 2·bn/8 stores, 16 B apart along a row
            assertTrue(count(p, "cvt.rn.bf16x2.f32") == 2 * pairs, bf16.entry());
            assertTrue(count(p, "st.global.b32") == 2 * pairs, bf16.entry());
            assertTrue(p.contains("+" + 16 * (pairs - 1) + "]"), bf16.entry() + ": last column group at +" + 16 * (pairs - 1));
            assertFalse(p.contains("st.global.v2.f32"), bf16.entry());
            assertTrue(q.contains("st.global.v2.f32") && !q.contains("st.global.b32"), f32.entry());
        }
    }

    @Test
    void registerStagedAndCpAsyncEpiloguesStoreBf16Elements() {
        for (Config c : List.of(GemmKernel.config(ASource.DENSE, false, Epilogue.STORE, false), GemmKernel.config(ASource.BF16, false, Epilogue.SWIGLU, true),
                GemmKernel.wgmmaConfig(Epilogue.STORE))) {
            String p = GemmKernel.generate(c.withYBf16(true)).build();
            assertTrue(p.contains("cvt.rn.bf16.f32") && p.contains("st.global.b16"), c.entry());
            assertFalse(p.contains("st.global.f32"), c.entry());
        }
    }

    @Test
    void attentionVariantsTheBackendPicksForABf16OutputAreInTheCatalog() {
        List<AttentionKernel.Config> catalog = AttentionKernel.allConfigs();
        for (int sq : new int[]{4128, 1056, 32, 27, 300})
            for (int heads : new int[]{30, 32, 1, 4})
                for (int d : new int[]{64, 128, 512}) {
                    AttentionKernel.Config w = AttentionKernel.wgmmaConfig(d, sq, heads);
                    assertTrue(catalog.contains(w.withOutBf16(true)), w.entry());
                }
        for (int d : new int[]{16, 20, 32, 64, 128, 512}) {
            assertTrue(catalog.contains(AttentionKernel.config(d, false).withOutBf16(true)), "d " + d);
            if (d % 8 == 0) assertTrue(catalog.contains(AttentionKernel.config(d, true).withOutBf16(true)), "d " + d);
        }
    }

    @Test
    void attentionStoresBf16() {
        AttentionKernel.Config w = AttentionKernel.wgmmaConfig(128, 4128, 30);
        String p = AttentionKernel.generate(w.withOutBf16(true)).build();
        // 2 row halves × 16 column groups of the 128-wide head: one bf16x2 word each (P's packing adds its own cvts)
        assertTrue(count(p, "st.global.b32") == 2 * 128 / 8, w.entry());
        assertFalse(p.contains("st.global.v2.f32"));
        assertTrue(AttentionKernel.generate(w).build().contains("st.global.v2.f32"));
        String s = AttentionKernel.generate(AttentionKernel.config(128, true).withOutBf16(true)).build();
        assertTrue(s.contains("st.global.b16") && !s.contains("st.global.f32"));
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) n++;
        return n;
    }
}
