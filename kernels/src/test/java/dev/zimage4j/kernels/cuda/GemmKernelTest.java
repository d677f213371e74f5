package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.cuda.GemmKernel.Config;
import dev.zimage4j.kernels.cuda.GemmKernel.Epilogue;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The TMA GEMM's per-shape choice and variant rules (no GPU needed; the device sweep in docs/gpu.md backs the widths). */
class GemmKernelTest {

    private static final int H200_SMS = 132;

    @Test
    void widthPerShapeIsTheOneTheDeviceSweepMeasuredBest() {
        // 1024²: N 3840 and 11520 → 192 (5 / 15 even waves), N 10240 → 256 (10 even waves)
        assertEquals(192, GemmKernel.tmaConfig(Epilogue.STORE, 4224, 3840, H200_SMS).bn());
        assertEquals(192, GemmKernel.tmaConfig(Epilogue.STORE, 4224, 11520, H200_SMS).bn());
        assertEquals(256, GemmKernel.tmaConfig(Epilogue.STORE, 4224, 10240, H200_SMS).bn());
        // 512²: wave quantisation makes 144 beat 192 at N 3840 (1.8 waves of 243 tiles against 2 of 180)
        assertEquals(144, GemmKernel.tmaConfig(Epilogue.STORE, 1088, 3840, H200_SMS).bn());
        assertEquals(256, GemmKernel.tmaConfig(Epilogue.STORE, 1088, 10240, H200_SMS).bn());
        assertEquals(128, GemmKernel.tmaConfig(Epilogue.SWIGLU, 4224, 10240, H200_SMS).bn());
        assertEquals(120, GemmKernel.tmaConfig(Epilogue.SWIGLU, 1088, 10240, H200_SMS).bn());
        // few rows: the narrowest tile spreads the work over the most SMs
        assertEquals(32, GemmKernel.tmaConfig(Epilogue.STORE, 128, 3840, H200_SMS).bn());
    }

    @Test
    void persistentGridNeverExceedsTheSmsAndClustersComeInPairs() {
        Config c = GemmKernel.tmaConfig(Epilogue.STORE, 4224, 3840, H200_SMS);
        assertTrue(c.persistent());
        assertEquals(H200_SMS, c.gridX(4224, 3840, H200_SMS));
        assertEquals(3, c.gridX(77, 500, H200_SMS)); // fewer tiles than SMs: one CTA per tile
        Config pair = GemmKernel.tmaClusterConfig(Epilogue.STORE, 4224, 3840, H200_SMS);
        assertEquals(2, pair.cluster());
        assertEquals(0, pair.gridX(4224, 3840, 131) % 2);
        assertEquals(2, pair.gridX(77, 100, H200_SMS)); // one unit: the pair, its second tile wholly past M
        assertTrue(GemmKernel.generate(pair).build().contains(".reqnctapercluster 2, 1, 1"));
    }

    @Test
    void everyTmaVariantFitsSharedMemoryWithItsBarriers() {
        for (Epilogue e : new Epilogue[]{Epilogue.STORE, Epilogue.ADD, Epilogue.SWIGLU})
            for (var list : java.util.List.of(GemmKernel.tmaCandidates(e), GemmKernel.tmaClusterCandidates(e), GemmKernel.tmaOneShotCandidates(e)))
                for (Config c : list) {
                    assertTrue(c.dynamicSmem() <= GemmKernel.SMEM_OPTIN, c.entry());
                    assertEquals(384, c.threads(), c.entry());
                    assertTrue(c.bn() * (c.dual() ? 2 : 1) <= 256, c.entry() + ": at most 128 accumulators per consumer thread");
                }
    }

    @Test
    void invalidVariantsAreRejected() {
        // a cluster's B slices must stay whole 1-KiB swizzle atoms (bn/2 a multiple of 8 rows)
        assertThrows(IllegalArgumentException.class, () -> new Config(128, 120, 8, 1, GemmKernel.ASource.BF16, false, Epilogue.SWIGLU,
                true, 64, 4, true, true, true, 2));
        // clusters only with the persistent TMA loop; TMA only on the wgmma path
        assertThrows(IllegalArgumentException.class, () -> new Config(128, 128, 8, 1, GemmKernel.ASource.BF16, false, Epilogue.STORE,
                true, 64, 4, true, true, false, 2));
        assertThrows(IllegalArgumentException.class, () -> new Config(128, 128, 8, 1, GemmKernel.ASource.BF16, false, Epilogue.STORE,
                true, 64, 4, false, true, false, 1));
        // SwiGLU's two accumulator sets: 2 × 192 columns would need 192 accumulators per thread
        assertThrows(IllegalArgumentException.class, () -> new Config(128, 192, 8, 1, GemmKernel.ASource.BF16, false, Epilogue.SWIGLU,
                true, 64, 4, true, true, true, 1));
    }
}
