package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.Conv2dSpec;
import dev.zimage4j.kernels.ptx.Ptx;
import dev.zimage4j.kernels.ptx.PtxInterpreter;
import dev.zimage4j.safetensors.FloatConversion;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The patch-matrix kernels' index mapping, without a GPU: the generated PTX run by {@link PtxInterpreter} (bounds-checked
 * global accesses, interleaved threads) against a direct im2col, bit for bit, with every element of the matrix written
 * exactly once. The device check of the same kernels is GpuCheck's conv group.
 */
class Im2colKernelTest {

    /** {@code dst[p][(c·ks + ky)·ks + kx] = bf16 x[c, oy·s + ky − padT, ox·s + kx − padL]}, 0 outside the image. */
    static short[] reference(float[] x, Conv2dSpec s) {
        int ks = s.kernel(), K = s.inChannels() * ks * ks, wo = s.outWidth(), M = s.outHeight() * wo;
        short[] ref = new short[M * K];
        for (int p = 0; p < M; p++)
            for (int c = 0; c < s.inChannels(); c++)
                for (int ky = 0; ky < ks; ky++)
                    for (int kx = 0; kx < ks; kx++) {
                        int iy = (p / wo) * s.stride() + ky - s.padTop(), ix = (p % wo) * s.stride() + kx - s.padLeft();
                        boolean in = iy >= 0 && iy < s.height() && ix >= 0 && ix < s.width();
                        ref[p * K + (c * ks + ky) * ks + kx] = in ? FloatConversion.floatToBf16(x[(c * s.height() + iy) * s.width() + ix]) : 0;
                    }
        return ref;
    }

    /** Runs {@code kernel} (a launch of {@code grid × block}, its arguments built by {@code args}) and compares. */
    private static void check(String what, Ptx kernel, Conv2dSpec s, int grid, int block, ArgsFn args) {
        int K = s.inChannels() * s.kernel() * s.kernel(), M = s.outHeight() * s.outWidth();
        float[] xs = GpuCheck.rand(new Random(what.hashCode()), s.inChannels() * s.height() * s.width(), 3f);
        PtxInterpreter sim = new PtxInterpreter(kernel.build());
        PtxInterpreter.Buffer x = sim.alloc(4 * xs.length), dst = sim.alloc(2 * M * K);
        for (int i = 0; i < xs.length; i++) x.setFloat(i, xs[i]);
        sim.run(grid, block, 7, args.of(dst, x, M, K));
        short[] ref = reference(xs, s);
        for (int i = 0; i < M * K; i++) {
            if (dst.writes[2 * i] != 1 || dst.writes[2 * i + 1] != 1)
                fail(what + ": element p=" + i / K + " k=" + i % K + " written " + dst.writes[2 * i] + " times");
            if (dst.getShort(i) != ref[i])
                assertEquals(ref[i], dst.getShort(i), what + ": element p=" + i / K + " k=" + i % K);
        }
    }

    private interface ArgsFn {
        Object[] of(PtxInterpreter.Buffer dst, PtxInterpreter.Buffer x, int M, int K);
    }

    private static final Conv2dSpec[] CASES = {
            Conv2dSpec.same(16, 19, 23, 8, 3),                 // K 144 = 2 chunks + 16, tiles crossing output rows, last tile partial
            new Conv2dSpec(40, 13, 17, 8, 3, 2, 1, 1, 1, 1),   // stride 2, symmetric padding, K 360
            Conv2dSpec.downsample(8, 17, 18),                  // stride 2, pad right/bottom only, K 72
            new Conv2dSpec(24, 9, 11, 8, 3, 1, 0, 0, 0, 0),    // no padding, K 216
            Conv2dSpec.same(32, 9, 15, 8, 1),                  // ks 1, K 32: one partial chunk
            Conv2dSpec.same(136, 5, 7, 8, 1),                  // ks 1, K 136 = 2 chunks + 8, M 35 < one tile
            Conv2dSpec.same(64, 16, 24, 8, 3),                 // K 576 = 9 whole chunks, 6 whole tiles
    };

    @Test
    void tiledMatchesDirectIm2colWithFewAndManyTilesPerCta() {
        for (Conv2dSpec s : CASES)
            for (int sms : new int[]{1, 132}) { // 1 SM: a few CTAs loop over every tile (both buffers, reused); 132: ≤ 1 tile each
                int M = s.outHeight() * s.outWidth(), K = s.inChannels() * s.kernel() * s.kernel();
                int[] l = ElementwiseKernels.im2colTiledLaunch(M, K, sms);
                assertEquals(0, l[0] % l[1], "grid is a multiple of the k chunks");
                check("tiled " + s + " sms " + sms, ElementwiseKernels.im2colTiled(), s, l[0], ElementwiseKernels.IM2COL_THREADS,
                        (dst, x, m, k) -> new Object[]{dst, x, l[1], l[2], m, k, s.height(), s.width(), s.kernel(), s.stride(),
                                s.padTop(), s.padLeft(), s.outWidth()});
            }
    }

    @Test
    void chunkKernelsMatchDirectIm2col() { // the one-pass kernels (chunk 16 measured correct on the device): checks the interpreter too
        for (Conv2dSpec s : CASES)
            for (int chunk : new int[]{16, 64}) {
                int M = s.outHeight() * s.outWidth(), K = s.inChannels() * s.kernel() * s.kernel();
                if (K % chunk != 0) continue;
                int units = M * (K / chunk);
                check("chunk " + chunk + " " + s, ElementwiseKernels.im2col(chunk), s, Math.min((units + 255) / 256, 3), 256,
                        (dst, x, m, k) -> new Object[]{dst, x, units, m, k, s.height(), s.width(), s.kernel(), s.stride(),
                                s.padTop(), s.padLeft(), s.outWidth()});
            }
    }
}
