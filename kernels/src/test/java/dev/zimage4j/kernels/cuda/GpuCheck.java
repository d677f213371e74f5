package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.AttentionSpec;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Conv2dSpec;
import dev.zimage4j.kernels.Rope;
import dev.zimage4j.kernels.Tensor;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.kernels.cpu.CpuBackend;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.TensorView;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

/**
 * GPU correctness runner (needs an NVIDIA GPU; run by scripts/gpu-run.sh on the device machine): every
 * {@link dev.zimage4j.kernels.Backend} op on {@link CudaBackend} against {@link CpuBackend} (itself
 * tested against scalar references) on fresh random inputs, odd sizes that do not fill the tiles, outputs
 * poisoned with NaN first. bf16-compute ops (GEMM, attention, conv) are held to the fixtures' GPU
 * tolerance (max |a−b| / max |b| ≤ 2e-2 and cosine ≥ 0.999); f32 ops to 1e-4. Exit status 1 on any failure.
 */
public final class GpuCheck {

    static final double TOL_BF16 = 2e-2, COS_BF16 = 0.999, TOL_F32 = 1e-4;

    private final CpuBackend cpu = new CpuBackend();
    private final Backend gpu;
    private final List<String> failures = new ArrayList<>();
    private int passed;

    GpuCheck(Backend gpu) {
        this.gpu = gpu;
    }

    /**
     * {@code GpuCheck [--cpu-vs-cpu] [GROUP…]}: all groups by default; {@code --cpu-vs-cpu} checks the harness
     * itself without a GPU (the CPU backend against itself).
     */
    public static void main(String[] args) {
        List<String> rest = new ArrayList<>(Arrays.asList(args));
        boolean self = rest.remove("--cpu-vs-cpu");
        Backend gpu = self ? new CpuBackend() : CudaBackend.create(0);
        if (gpu instanceof CudaBackend cb) System.out.println("device: " + cb.describe());
        GpuCheck c = new GpuCheck(gpu);
        long t0 = System.nanoTime();
        if (rest.isEmpty()) c.runAll();
        else for (String g : rest) c.run(g);
        System.out.printf("%nGPU check: %d passed, %d failed (%.1f s)%n", c.passed, c.failures.size(), (System.nanoTime() - t0) / 1e9);
        for (String f : c.failures) System.out.println("  FAILED " + f);
        if (gpu instanceof CudaBackend cb) {
            System.out.printf("PTX JIT total %.1f ms over %d kernels; graph capture total %.1f ms%n",
                    cb.totalJitMs(), cb.jitTimes().size(), cb.totalGraphCaptureMs());
            System.out.print(cb.kernelReport());
        }
        gpu.close();
        c.cpu.close();
        System.exit(c.failures.isEmpty() ? 0 : 1);
    }

    // ------------------------------------------------------------------ helpers

    static float[] rand(Random r, int n, float amp) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (r.nextFloat() * 2 - 1) * amp;
        return f;
    }

    /** A checkpoint-like view of {@code values} stored as {@code dtype}. */
    static TensorView view(String name, DType dtype, float[] values, long... shape) {
        long bytes = (long) values.length * dtype.bytes();
        MemorySegment seg = Arena.ofAuto().allocate(bytes, 16);
        for (int i = 0; i < values.length; i++) {
            if (dtype == DType.BF16) seg.setAtIndex(ValueLayout.JAVA_SHORT, i, FloatConversion.floatToBf16(values[i]));
            else seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, values[i]);
        }
        return new TensorView(name, dtype, shape, seg);
    }

    static Tensor in(Backend b, float[] data, int... shape) {
        Tensor t = b.alloc(shape);
        b.upload(t, data);
        return t;
    }

    static Tensor poisoned(Backend b, int... shape) {
        Tensor t = b.alloc(shape);
        float[] nan = new float[(int) t.numel()];
        Arrays.fill(nan, Float.NaN);
        b.upload(t, nan);
        return t;
    }

    static float[] get(Backend b, Tensor t) {
        float[] f = new float[(int) t.numel()];
        b.download(t, f);
        return f;
    }

    /** Runs {@code f} on both backends and compares; {@code bf16} selects the tolerance. */
    void check(String name, boolean bf16, Function<Backend, float[]> f) {
        float[] ref, got;
        try {
            ref = f.apply(cpu);
            got = f.apply(gpu);
        } catch (RuntimeException e) {
            failures.add(name + ": " + e);
            System.out.printf("%-58s ERROR %s%n", name, e);
            if (e instanceof CudaException ce && ce.sticky()) throw e;
            return;
        }
        double maxDiff = 0, maxRef = 0, dot = 0, na = 0, nb = 0;
        int nan = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.isNaN(got[i]) || Float.isInfinite(got[i])) {
                nan++;
                continue;
            }
            maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i]));
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
            dot += (double) got[i] * ref[i];
            na += (double) got[i] * got[i];
            nb += (double) ref[i] * ref[i];
        }
        double rel = maxDiff / Math.max(maxRef, 1e-30), cos = dot / Math.sqrt(Math.max(na * nb, 1e-300));
        boolean ok = nan == 0 && (bf16 ? rel <= TOL_BF16 && cos >= COS_BF16 : rel <= TOL_F32);
        System.out.printf("%-58s %s rel %.2e cos %.6f%s%n", name, ok ? "ok  " : "FAIL", rel, cos, nan > 0 ? " non-finite " + nan : "");
        if (ok) passed++;
        else failures.add(String.format("%s: rel %.3e cos %.6f non-finite %d", name, rel, cos, nan));
    }

    // ------------------------------------------------------------------ cases

    /** The case groups, runnable one per process ({@code GpuCheck GROUP…}) so a sticky fault loses only its group. */
    static final List<String> GROUPS = List.of("gemm", "attention", "norms", "elementwise", "conv", "images", "graphs", "variants");

    void runAll() {
        for (String g : GROUPS) run(g);
    }

    void run(String group) {
        Random r = new Random(20261129L + group.hashCode());
        switch (group) {
            case "gemm" -> {
                for (int[] mnk : new int[][]{{77, 200, 136}, {1, 64, 32}, {300, 130, 100}, {256, 384, 512}, {130, 264, 1000}})
                    linearCases(r, mnk[0], mnk[1], mnk[2]);
                matmulTransposed(r, 70, 90, 48);
                matmulTransposed(r, 33, 17, 20);
                gemmIntoOperand(r, 77, 200, 136, 96);  // bf16 y from the default variant (TMA on sm_90), read by the next GEMM
                gemmIntoOperand(r, 300, 264, 1000, 40);
                gemmIntoOperand(r, 1, 64, 32, 24);
                gemmIntoOperand(r, 77, 200, 100, 48);  // K % 8 != 0: f32 A through registers (mma.sync), bf16 y
                gemmVariantsIntoOperand(r, 200, 264, 328);
            }
            case "attention" -> {
                for (int[] a : new int[][]{{2, 2, 16, 19, 19, 0, 19}, {4, 2, 128, 200, 200, 1, 200}, {4, 4, 128, 130, 150, 0, 120},
                        {30, 30, 128, 333, 333, 0, 333}, {2, 1, 64, 70, 70, 1, 60}, {1, 1, 512, 150, 150, 0, 150}, {3, 3, 32, 65, 257, 0, 257}, {2, 2, 20, 50, 50, 1, 50}, {1, 1, 512, 70, 70, 0, 40}})
                    attention(r, a[0], a[1], a[2], a[3], a[4], a[5] == 1, a[6]);
                attentionVariants(r);
                attentionIntoOperand(r, null, 4, 2, 128, 333, false, 333);        // the default variant (wgmma on sm_90)
                attentionIntoOperand(r, null, 30, 30, 128, 333, false, 333);      // the DiT's head count
                attentionIntoOperand(r, null, 4, 2, 128, 200, true, 190);         // text encoder style: GQA, causal, key padding
                attentionIntoOperand(r, null, 2, 2, 20, 50, true, 50);            // head dim not a multiple of 8: f32 q/k/v, bf16 out
                attentionIntoOperand(r, null, 1, 1, 512, 150, false, 150);        // the VAE's head (512-wide chunks)
                for (AttentionKernel.Config c : operandAttentionConfigs())
                    attentionIntoOperand(r, c, 4, 2, c.headDim(), 333, false, 326);
            }
            case "norms" -> {
                norms(r, 37, 3840);
                norms(r, 133, 128);
                norms(r, 5, 40);
                norms(r, 7, 30); // cols not a multiple of 4: the scalar row kernels
                operandNorms(r, 37, 3840, 3840);
                operandNorms(r, 133, 128, 128);
                operandNorms(r, 5, 40, 40);
                operandNorms(r, 7, 36, 8);  // cols not a multiple of 8: an f32 "operand"; 36 % 4 == 0: vec4 kernels
                operandNorms(r, 6, 30, 8);  // scalar row kernels
                rmsNormRope(r, 21, 3, 32);
                rmsNormRope(r, 33, 30, 128);
                rmsNormRope(r, 5, 2, 20);
                rmsNormRope(r, 4, 3, 6);
                groupNorm(r, 64, 33, 17, 32);
                groupNorm(r, 12, 9, 7, 4);
                groupNorm(r, 64, 160, 161, 8);   // 13 partial blocks per group
                groupNorm(r, 32, 300, 257, 32);
                groupNorm(r, 64, 32, 20, 32);    // HW % 4 == 0: the vec4 kernels
                groupNorm(r, 16, 200, 164, 4);   // vec4, several partial blocks per group
            }
            case "elementwise" -> {
                elementwise(r, 10_000);
                rope(r, 21, 3, 32);
                rope(r, 7, 2, 128);
                timestep(r);
                axpyByTensor(r, 10_000);
            }
            case "conv" -> {
                conv(r, Conv2dSpec.same(16, 19, 23, 40, 3));
                conv(r, Conv2dSpec.same(32, 16, 16, 24, 1));
                conv(r, Conv2dSpec.downsample(8, 17, 18));
                conv(r, Conv2dSpec.same(3, 12, 10, 130, 3));
                conv(r, Conv2dSpec.same(64, 20, 36, 130, 3));   // patch matrix + wgmma on sm_90: two 128-row tiles of output channels
                conv(r, Conv2dSpec.same(16, 7, 9, 8, 3));        // HW % 4 != 0: scalar bias pass
                // the tiled patch matrix (sm_90, K % 8 == 0): 64-pixel tiles crossing output rows, a last partial tile,
                // k chunks past K, stride 2 with symmetric and one-sided padding, no padding, ks 1, several tiles per CTA
                conv(r, new Conv2dSpec(40, 33, 47, 24, 3, 2, 1, 1, 1, 1));   // K 360 (5 chunks + 40), out 17×24
                conv(r, Conv2dSpec.downsample(128, 30, 41));                  // K 1152, stride 2, pad right/bottom only
                conv(r, new Conv2dSpec(24, 15, 21, 16, 3, 1, 0, 0, 0, 0));    // K 216, valid convolution, out 13×19
                conv(r, Conv2dSpec.same(256, 13, 29, 72, 1));                 // ks 1, K 256, 377 pixels
                conv(r, Conv2dSpec.same(520, 5, 11, 16, 1));                  // ks 1, K 520 = 8 chunks + 8
                conv(r, Conv2dSpec.same(128, 64, 80, 32, 3));                 // K 1152: 80 tiles × 18 chunks, ≥ 2 tiles per CTA (both buffers)
                conv(r, Conv2dSpec.same(16, 128, 100, 64, 3));                // conv_in shape (K 144) over 200 tiles
            }
            case "images" -> {
                images(r);
                embedding(r);
            }
            case "graphs" -> {
                graphs(r);
                graphOfOperands(r);
            }
            case "variants" -> variants(r);
            default -> throw new IllegalArgumentException("unknown group " + group + "; groups: " + GROUPS);
        }
    }

    void linearCases(Random r, int M, int N, int K) {
        float[] x = rand(r, M * K, 1f), w = rand(r, N * K, 0.1f), w2 = rand(r, N * K, 0.1f), bias = rand(r, N, 0.5f), y0 = rand(r, M * N, 1f);
        TensorView wv = view("w", DType.BF16, w, N, K), wv2 = view("w2", DType.BF16, w2, N, K), bv = view("b", DType.BF16, bias, N);
        String dims = " M=" + M + " N=" + N + " K=" + K;
        check("linear" + dims, true, b -> {
            Tensor y = poisoned(b, M, N);
            b.linear(y, in(b, x, M, K), b.weight(wv), null);
            return get(b, y);
        });
        check("linear+bias" + dims, true, b -> {
            Tensor y = poisoned(b, M, N);
            b.linear(y, in(b, x, M, K), b.weight(wv), b.weight(bv));
            return get(b, y);
        });
        check("linearAdd+bias" + dims, true, b -> {
            Tensor y = in(b, y0, M, N);
            b.linearAdd(y, in(b, x, M, K), b.weight(wv), b.weight(bv));
            return get(b, y);
        });
        check("linearSwiGLU" + dims, true, b -> {
            Tensor y = poisoned(b, M, N);
            b.linearSwiGLU(y, in(b, x, M, K), b.weight(wv), b.weight(wv2));
            return get(b, y);
        });
    }

    void matmulTransposed(Random r, int M, int N, int K) {
        float[] x = rand(r, M * K, 1f), w = rand(r, N * K, 1f);
        check("matmulTransposed M=" + M + " N=" + N + " K=" + K, true, b -> {
            Tensor y = poisoned(b, M, N);
            b.matmulTransposed(y, in(b, x, M, K), in(b, w, N, K));
            return get(b, y);
        });
    }

    void attention(Random r, int heads, int kvHeads, int D, int sq, int sk, boolean causal, int valid) {
        float[] q = rand(r, sq * heads * D, 1f), k = rand(r, sk * kvHeads * D, 1f), v = rand(r, sk * kvHeads * D, 1f);
        AttentionSpec spec = new AttentionSpec(heads, kvHeads, D, (float) (1 / Math.sqrt(D)) * 2f, causal, valid);
        check("attention h=" + heads + "/" + kvHeads + " D=" + D + " Sq=" + sq + " Sk=" + sk + (causal ? " causal" : "") + " valid=" + valid, true, b -> {
            Tensor o = poisoned(b, sq, heads * D);
            b.attention(o, in(b, q, sq, heads * D), in(b, k, sk, kvHeads * D), in(b, v, sk, kvHeads * D), spec);
            return get(b, o);
        });
    }

    void norms(Random r, int rows, int cols) {
        float[] x = rand(r, rows * cols, 2f), h = rand(r, rows * cols, 2f), w = rand(r, cols, 1f), sc = rand(r, cols, 0.5f), x0 = rand(r, rows * cols, 1f);
        TensorView wv = view("w", DType.F32, w, cols);
        String dims = " " + rows + "x" + cols;
        check("rmsNorm" + dims, false, b -> {
            Tensor y = poisoned(b, rows, cols);
            b.rmsNorm(y, in(b, x, rows, cols), b.weight(wv), null, 1e-6f);
            return get(b, y);
        });
        check("rmsNorm+scale in place" + dims, false, b -> {
            Tensor t = in(b, x, rows, cols);
            b.rmsNorm(t, t, b.weight(wv), in(b, sc, cols), 1e-5f);
            return get(b, t);
        });
        check("layerNorm" + dims, false, b -> {
            Tensor y = poisoned(b, rows, cols);
            b.layerNorm(y, in(b, x, rows, cols), null, 1e-6f);
            return get(b, y);
        });
        check("layerNorm+scale" + dims, false, b -> {
            Tensor y = poisoned(b, rows, cols);
            b.layerNorm(y, in(b, x, rows, cols), in(b, sc, cols), 1e-6f);
            return get(b, y);
        });
        check("gatedResidualRmsNorm" + dims, false, b -> {
            Tensor t = in(b, x0, rows, cols);
            b.gatedResidualRmsNorm(t, in(b, h, rows, cols), b.weight(wv), in(b, sc, cols), 1e-5f);
            return get(b, t);
        });
        check("gatedResidualRmsNorm no gate" + dims, false, b -> {
            Tensor t = in(b, x0, rows, cols);
            b.gatedResidualRmsNorm(t, in(b, h, rows, cols), b.weight(wv), null, 1e-5f);
            return get(b, t);
        });
        check("softmax" + dims, false, b -> {
            Tensor t = in(b, x, rows, cols);
            b.softmax(t);
            return get(b, t);
        });
    }

    /**
     * Norms writing an {@link Backend#allocOperand} tensor (bf16 on the GPU when cols % 8 == 0), read back
     * directly and through the GEMMs that consume it (q, k, v style: three GEMMs of one operand).
     */
    void operandNorms(Random r, int rows, int cols, int n) {
        float[] x = rand(r, rows * cols, 2f), w = rand(r, cols, 1f), sc = rand(r, cols, 0.5f), wm = rand(r, n * cols, 0.1f), wm2 = rand(r, n * cols, 0.1f);
        TensorView wv = view("w", DType.F32, w, cols), mv = view("wm", DType.BF16, wm, n, cols), mv2 = view("wm2", DType.BF16, wm2, n, cols);
        String dims = " " + rows + "x" + cols;
        check("rmsNorm+scale -> operand" + dims, true, b -> {
            Tensor y = b.allocOperand(rows, cols);
            b.upload(y, nanArray(rows * cols));
            b.rmsNorm(y, in(b, x, rows, cols), b.weight(wv), in(b, sc, cols), 1e-5f);
            return get(b, y);
        });
        check("layerNorm+scale -> operand" + dims, true, b -> {
            Tensor y = b.allocOperand(rows, cols);
            b.upload(y, nanArray(rows * cols));
            b.layerNorm(y, in(b, x, rows, cols), in(b, sc, cols), 1e-6f);
            return get(b, y);
        });
        check("rmsNorm -> operand -> linear, linear, linearSwiGLU" + dims + " N=" + n, true, b -> {
            Tensor y = b.allocOperand(rows, cols), o1 = poisoned(b, rows, n), o2 = poisoned(b, rows, n), o3 = poisoned(b, rows, n);
            Weight a = b.weight(mv), a2 = b.weight(mv2);
            b.rmsNorm(y, in(b, x, rows, cols), b.weight(wv), in(b, sc, cols), 1e-5f);
            b.linear(o1, y, a, null);
            b.linear(o2, y, a2, null);
            b.linearSwiGLU(o3, y, a, a2);
            float[] all = new float[3 * rows * n];
            System.arraycopy(get(b, o1), 0, all, 0, rows * n);
            System.arraycopy(get(b, o2), 0, all, rows * n, rows * n);
            System.arraycopy(get(b, o3), 0, all, 2 * rows * n, rows * n);
            return all;
        });
    }

    static float[] nanArray(int n) {
        float[] f = new float[n];
        Arrays.fill(f, Float.NaN);
        return f;
    }

    /** QK-norm + RoPE in one op: f32 out of place and in place, into an operand, and feeding attention. */
    void rmsNormRope(Random r, int S, int heads, int D) {
        float[] x = rand(r, S * heads * D, 2f), w = rand(r, D, 1f), ang = rand(r, S * D / 2, 6f), v = rand(r, S * heads * D, 1f);
        float[] cos = new float[ang.length], sin = new float[ang.length];
        for (int i = 0; i < ang.length; i++) {
            cos[i] = (float) Math.cos(ang[i]);
            sin[i] = (float) Math.sin(ang[i]);
        }
        TensorView wv = view("qn", DType.F32, w, D);
        for (Rope layout : Rope.values()) {
            String dims = " " + layout + " S=" + S + " heads=" + heads + " D=" + D;
            check("rmsNormRope" + dims, false, b -> {
                Tensor y = poisoned(b, S, heads * D);
                b.rmsNormRope(y, in(b, x, S, heads * D), b.weight(wv), in(b, cos, S, D / 2), in(b, sin, S, D / 2), heads, layout, 1e-6f);
                return get(b, y);
            });
            check("rmsNormRope in place" + dims, false, b -> {
                Tensor t = in(b, x, S, heads * D);
                b.rmsNormRope(t, t, b.weight(wv), in(b, cos, S, D / 2), in(b, sin, S, D / 2), heads, layout, 1e-6f);
                return get(b, t);
            });
            check("rmsNormRope -> operand" + dims, true, b -> {
                Tensor y = b.allocOperand(S, heads * D);
                b.upload(y, nanArray(S * heads * D));
                b.rmsNormRope(y, in(b, x, S, heads * D), b.weight(wv), in(b, cos, S, D / 2), in(b, sin, S, D / 2), heads, layout, 1e-6f);
                return get(b, y);
            });
            if (D % 8 == 0)
                check("rmsNormRope -> operand q, k -> attention" + dims, true, b -> {
                    Tensor q = b.allocOperand(S, heads * D), k = b.allocOperand(S, heads * D), o = poisoned(b, S, heads * D);
                    Tensor c = in(b, cos, S, D / 2), s = in(b, sin, S, D / 2);
                    b.rmsNormRope(q, in(b, x, S, heads * D), b.weight(wv), c, s, heads, layout, 1e-6f);
                    b.rmsNormRope(k, in(b, v, S, heads * D), b.weight(wv), c, s, heads, layout, 1e-6f);
                    b.attention(o, q, k, in(b, v, S, heads * D), AttentionSpec.full(heads, D, S));
                    return get(b, o);
                });
            if (D % 8 == 0)
                check("rmsNormRope -> f32 q in place, operand k -> attention (the DiT's)" + dims, true, b -> {
                    Tensor q = in(b, x, S, heads * D), k = b.allocOperand(S, heads * D), o = poisoned(b, S, heads * D);
                    Tensor c = in(b, cos, S, D / 2), s = in(b, sin, S, D / 2);
                    b.rmsNormRope(q, q, b.weight(wv), c, s, heads, layout, 1e-6f);
                    b.rmsNormRope(k, in(b, v, S, heads * D), b.weight(wv), c, s, heads, layout, 1e-6f);
                    b.attention(o, q, k, in(b, v, S, heads * D), AttentionSpec.full(heads, D, S));
                    return get(b, o);
                });
        }
    }

    /** {@code y += alpha[0]·x} with the factor on the backend. */
    void axpyByTensor(Random r, int n) {
        float[] a = rand(r, n, 4f), c = rand(r, n, 4f);
        check("axpy by tensor n=" + n, false, b -> {
            Tensor y = in(b, a, n);
            b.axpy(y, in(b, new float[]{-0.37f}, 1), in(b, c, n));
            return get(b, y);
        });
    }

    void groupNorm(Random r, int C, int H, int W, int groups) {
        float[] x = rand(r, C * H * W, 3f), g = rand(r, C, 1f), be = rand(r, C, 1f);
        for (int i = 0; i < x.length; i++) x[i] += 1.5f;
        TensorView gv = view("g", DType.F32, g, C), bv = view("b", DType.F32, be, C);
        for (boolean silu : new boolean[]{false, true})
            check("groupNorm C=" + C + " " + H + "x" + W + " groups=" + groups + (silu ? " +silu" : ""), false, b -> {
                Tensor t = in(b, x, C, H, W);
                b.groupNorm(t, t, groups, b.weight(gv), b.weight(bv), 1e-6f, silu);
                return get(b, t);
            });
    }

    void elementwise(Random r, int n) {
        float[] a = rand(r, n, 4f), c = rand(r, n, 4f);
        check("silu n=" + n, false, b -> {
            Tensor y = poisoned(b, n);
            b.silu(y, in(b, a, n));
            return get(b, y);
        });
        check("add n=" + n, false, b -> {
            Tensor y = poisoned(b, n);
            b.add(y, in(b, a, n), in(b, c, n));
            return get(b, y);
        });
        check("axpy n=" + n, false, b -> {
            Tensor y = in(b, a, n);
            b.axpy(y, -0.37f, in(b, c, n));
            return get(b, y);
        });
        check("scale n=" + n, false, b -> {
            Tensor y = poisoned(b, n);
            b.scale(y, in(b, a, n), 1.7f, -0.2f);
            return get(b, y);
        });
        check("copy n=" + n, false, b -> {
            Tensor y = poisoned(b, n);
            b.copy(y, in(b, a, n));
            return get(b, y);
        });
    }

    void rope(Random r, int S, int heads, int D) {
        float[] x = rand(r, S * heads * D, 1f), ang = rand(r, S * D / 2, 6f);
        float[] cos = new float[ang.length], sin = new float[ang.length];
        for (int i = 0; i < ang.length; i++) {
            cos[i] = (float) Math.cos(ang[i]);
            sin[i] = (float) Math.sin(ang[i]);
        }
        for (Rope layout : Rope.values())
            check("rope " + layout + " S=" + S + " heads=" + heads + " D=" + D, false, b -> {
                Tensor t = in(b, x, S, heads * D);
                b.rope(t, in(b, cos, S, D / 2), in(b, sin, S, D / 2), heads, layout);
                return get(b, t);
            });
    }

    void timestep(Random r) {
        for (float tv : new float[]{0f, 0.37f, 0.999f})
            check("timestepEmbedding t=" + tv + " dim=256", false, b -> {
                Tensor y = poisoned(b, 256);
                b.timestepEmbedding(y, in(b, new float[]{tv}, 1), 1000f, 10000f);
                return get(b, y);
            });
    }

    void conv(Random r, Conv2dSpec s) {
        int K = s.inChannels() * s.kernel() * s.kernel();
        float[] x = rand(r, s.inChannels() * s.height() * s.width(), 1f), w = rand(r, s.outChannels() * K, 0.2f), bias = rand(r, s.outChannels(), 0.5f);
        TensorView wv = view("cw", DType.BF16, w, s.outChannels(), s.inChannels(), s.kernel(), s.kernel());
        TensorView bv = view("cb", DType.BF16, bias, s.outChannels());
        check("conv2d " + s.inChannels() + "x" + s.height() + "x" + s.width() + " -> " + s.outChannels() + " k" + s.kernel() + " s" + s.stride(), true, b -> {
            Tensor y = poisoned(b, s.outChannels(), s.outHeight(), s.outWidth());
            b.conv2d(y, in(b, x, s.inChannels(), s.height(), s.width()), b.weight(wv), b.weight(bv), s);
            return get(b, y);
        });
    }

    void images(Random r) {
        int C = 5, H = 6, W = 10, p = 2;
        float[] x = rand(r, C * H * W, 1f);
        check("transpose 37x53", false, b -> {
            float[] m = rand(new Random(5), 37 * 53, 1f);
            Tensor y = poisoned(b, 53, 37);
            b.transpose(y, in(b, m, 37, 53));
            return get(b, y);
        });
        check("upsampleNearest2x", false, b -> {
            Tensor y = poisoned(b, C, 2 * H, 2 * W);
            b.upsampleNearest2x(y, in(b, x, C, H, W), C, H, W);
            return get(b, y);
        });
        float[] x12 = rand(r, 3 * 7 * 12, 1f);
        check("upsampleNearest2x W % 4 == 0 (quads)", false, b -> {
            Tensor y = poisoned(b, 3, 14, 24);
            b.upsampleNearest2x(y, in(b, x12, 3, 7, 12), 3, 7, 12);
            return get(b, y);
        });
        check("patchify", false, b -> {
            Tensor y = poisoned(b, (H / p) * (W / p), p * p * C);
            b.patchify(y, in(b, x, C, H, W), C, H, W, p);
            return get(b, y);
        });
        check("unpatchify", false, b -> {
            Tensor y = poisoned(b, C, H, W);
            b.unpatchify(y, in(b, x, (H / p) * (W / p), p * p * C), C, H, W, p);
            return get(b, y);
        });
    }

    void embedding(Random r) {
        int V = 300, D = 72;
        float[] table = rand(r, V * D, 1f), pad = rand(r, D, 1f);
        TensorView tv = view("emb", DType.BF16, table, V, D), pv = view("pad", DType.BF16, pad, 1, D);
        int[] ids = {0, 299, 17, 17, 150, 3};
        check("embeddingLookup", false, b -> {
            Tensor y = poisoned(b, ids.length, D);
            b.embeddingLookup(y, b.weight(tv), ids);
            return get(b, y);
        });
        check("fillRows", false, b -> {
            Tensor y = poisoned(b, 9, D);
            b.fillRows(y, b.weight(pv));
            return get(b, y);
        });
    }

    /** Every tile variant the benchmark sweeps computes the same function (GPU only; skipped for --cpu-vs-cpu). */
    void variants(Random r) {
        if (!(gpu instanceof CudaBackend cuda)) return;
        int M = 200, N = 264, K = 328;
        float[] x = rand(r, M * K, 1f), w = rand(r, N * K, 0.1f), w2 = rand(r, N * K, 0.1f);
        TensorView wv = view("w", DType.BF16, w, N, K), wv2 = view("w2", DType.BF16, w2, N, K);
        for (GemmKernel.Epilogue e : new GemmKernel.Epilogue[]{GemmKernel.Epilogue.STORE, GemmKernel.Epilogue.SWIGLU})
            for (GemmKernel.Config c : java.util.stream.Stream.concat(GemmKernel.candidates(e).stream(),
                    java.util.stream.Stream.concat(GemmKernel.wgmmaCandidates(e).stream(),
                            java.util.stream.Stream.concat(GemmKernel.tmaCandidates(e).stream(),
                                    java.util.stream.Stream.concat(GemmKernel.tmaOneShotCandidates(e).stream(), GemmKernel.tmaClusterCandidates(e).stream())))).toList()) {
                boolean swiglu = e == GemmKernel.Epilogue.SWIGLU;
                check(c.entry() + " M=" + M + " N=" + N + " K=" + K, true, b -> {
                    Tensor y = poisoned(b, M, N), xt = in(b, x, M, K);
                    Weight a = b.weight(wv), a2 = b.weight(wv2);
                    if (b == cuda) cuda.linearWith(c, y, xt, a, swiglu ? a2 : null);
                    else if (swiglu) b.linearSwiGLU(y, xt, a, a2);
                    else b.linear(y, xt, a, null);
                    return get(b, y);
                });
            }
    }

    /** Every attention variant (mma.sync tile shapes; on Hopper the wgmma ones) computes the same function (GPU only). */
    void attentionVariants(Random r) {
        if (!(gpu instanceof CudaBackend cuda)) return;
        boolean hopper = cuda.context().computeCapability() == 90;
        List<AttentionKernel.Config> configs = new java.util.ArrayList<>(AttentionKernel.candidates128());
        if (hopper) configs.addAll(AttentionKernel.wgmmaCandidates128());
        for (AttentionKernel.Config c : configs)
            for (boolean causal : new boolean[]{false, true}) {
                attentionWith(cuda, r, c, 4, 2, 333, causal, 333 - 7);
                if (c.wgmma()) attentionWith(cuda, r, c, 2, 2, 1100, causal, 1090); // many tiles: every ring stage reused
            }
        if (hopper)
            for (AttentionKernel.Config c : AttentionKernel.wgmmaCandidates512()) {
                attentionWith(cuda, r, c, 1, 1, 150, false, 150);
                attentionWith(cuda, r, c, 1, 1, 300, false, 290);
            }
    }

    /** One attention case (self-attention, S tokens, key padding at {@code valid}) with the CUDA backend forced to variant {@code c}. */
    private void attentionWith(CudaBackend cuda, Random r, AttentionKernel.Config c, int H, int kvH, int S, boolean causal, int valid) {
        int D = c.headDim();
        float[] q = rand(r, S * H * D, 1f), k = rand(r, S * kvH * D, 1f), v = rand(r, S * kvH * D, 1f);
        AttentionSpec spec = new AttentionSpec(H, kvH, D, (float) (1 / Math.sqrt(D)), causal, valid);
        check(c.entry() + (causal ? " causal" : "") + " h=" + H + "/" + kvH + " S=" + S + " valid=" + valid, true, b -> {
            Tensor o = poisoned(b, S, H * D);
            if (b == cuda) cuda.forcedAttention = c;
            try {
                b.attention(o, in(b, q, S, H * D), in(b, k, S, kvH * D), in(b, v, S, kvH * D), spec);
            } finally {
                if (b == cuda) cuda.forcedAttention = null;
            }
            return get(b, o);
        });
    }

    /**
     * GEMMs into {@link Backend#allocOperand} outputs (bf16 on the GPU when the columns are a multiple of 8): {@code linear} (+bias)
     * and {@code linearSwiGLU} write the operand, which is then read back and fed to the next GEMM (the DiT's v, FFN hidden and
     * attention-output chains). The operands start poisoned with NaN, so a missed element shows.
     */
    void gemmIntoOperand(Random r, int M, int N, int K, int N2) {
        float[] x = rand(r, M * K, 1f), w = rand(r, N * K, 0.1f), w2 = rand(r, N * K, 0.1f), bias = rand(r, N, 0.5f), wn = rand(r, N2 * N, 0.1f);
        TensorView wv = view("w", DType.BF16, w, N, K), wv2 = view("w2", DType.BF16, w2, N, K), bv = view("b", DType.BF16, bias, N),
                nv = view("wn", DType.BF16, wn, N2, N);
        String dims = " M=" + M + " N=" + N + " K=" + K + " N2=" + N2;
        check("linear+bias -> operand -> linear" + dims, true, b -> {
            Tensor h = operandPoisoned(b, M, N), y = poisoned(b, M, N2);
            b.linear(h, in(b, x, M, K), b.weight(wv), b.weight(bv));
            b.linear(y, h, b.weight(nv), null);
            return concat(get(b, h), get(b, y));
        });
        check("linearSwiGLU -> operand -> linear" + dims, true, b -> {
            Tensor h = operandPoisoned(b, M, N), y = poisoned(b, M, N2);
            b.linearSwiGLU(h, in(b, x, M, K), b.weight(wv), b.weight(wv2));
            b.linear(y, h, b.weight(nv), null);
            return concat(get(b, h), get(b, y));
        });
        check("linear -> operand -> linearAdd" + dims, true, b -> {
            Tensor h = operandPoisoned(b, M, N), y = in(b, rand(new Random(7), M * N2, 1f), M, N2);
            b.linear(h, in(b, x, M, K), b.weight(wv), null);
            b.linearAdd(y, h, b.weight(nv), null);
            return concat(get(b, h), get(b, y));
        });
        if (gpu instanceof CudaBackend && N % 8 == 0)
            check("linearAdd into a bf16 operand is refused" + dims, false, b -> {
                if (b == cpu) return new float[]{1};
                Tensor h = b.allocOperand(M, N);
                try {
                    b.linearAdd(h, in(b, x, M, K), b.weight(wv), null);
                } catch (IllegalArgumentException e) {
                    System.out.println("  (refused: " + e.getMessage() + ")");
                    return new float[]{1};
                }
                return new float[]{0};
            });
    }

    /**
     * Every GEMM variant the backend may pick for a bf16 output (TMA widths and cluster pairs, the cp.async wgmma default, mma.sync), forced,
     * writing an operand that the default GEMM then reads (GPU only).
     */
    void gemmVariantsIntoOperand(Random r, int M, int N, int K) {
        if (!(gpu instanceof CudaBackend cuda)) return;
        boolean hopper = cuda.context().computeCapability() == 90;
        int N2 = 56;
        float[] x = rand(r, M * K, 1f), w = rand(r, N * K, 0.1f), w2 = rand(r, N * K, 0.1f), wn = rand(r, N2 * N, 0.1f);
        TensorView wv = view("w", DType.BF16, w, N, K), wv2 = view("w2", DType.BF16, w2, N, K), nv = view("wn", DType.BF16, wn, N2, N);
        for (GemmKernel.Config c : GemmKernel.bf16OutputConfigs()) {
            if (c.a() != GemmKernel.ASource.BF16 || (c.wgmma() && !hopper)) continue; // forced variants take bf16 A
            boolean swiglu = c.epi() == GemmKernel.Epilogue.SWIGLU;
            check(c.entry() + " -> operand -> linear M=" + M + " N=" + N + " K=" + K, true, b -> {
                Tensor h = operandPoisoned(b, M, N), y = poisoned(b, M, N2), xt = in(b, x, M, K);
                Weight a = b.weight(wv), a2 = b.weight(wv2);
                if (b == cuda) cuda.linearWith(c, h, xt, a, swiglu ? a2 : null);
                else if (swiglu) b.linearSwiGLU(h, xt, a, a2);
                else b.linear(h, xt, a, null);
                b.linear(y, h, b.weight(nv), null);
                return concat(get(b, h), get(b, y));
            });
        }
    }

    /** The attention variants with a bf16 output the backend may choose, beyond the defaults of the shapes above (mma.sync, the long-sequence wgmma). */
    List<AttentionKernel.Config> operandAttentionConfigs() {
        if (!(gpu instanceof CudaBackend cuda)) return List.of();
        List<AttentionKernel.Config> out = new ArrayList<>(List.of(AttentionKernel.config(128, true), AttentionKernel.config(64, true),
                AttentionKernel.config(512, true)));
        if (cuda.context().computeCapability() == 90) {
            out.add(AttentionKernel.wgmmaConfig(128, 4224, 30)); // three decoupled warpgroups: the DiT's 1024² attention
            out.add(AttentionKernel.wgmmaConfig(128, 1088, 30));
            out.add(AttentionKernel.wgmmaConfig(64, 64, 1));
        }
        return out;
    }

    /**
     * The DiT's attention chain: v written by a GEMM into an operand, attention (f32 q, f32 k) into an operand, which the out
     * projection reads. {@code forced} (GPU only) selects the attention variant; null = the backend's choice.
     */
    void attentionIntoOperand(Random r, AttentionKernel.Config forced, int heads, int kvHeads, int D, int S, boolean causal, int valid) {
        int C = 48, W = heads * D, Wkv = kvHeads * D, N2 = 40;
        float[] x = rand(r, S * C, 1f), q = rand(r, S * W, 1f), k = rand(r, S * Wkv, 1f), wv = rand(r, Wkv * C, 0.2f), wo = rand(r, N2 * W, 0.05f);
        TensorView vW = view("wv", DType.BF16, wv, Wkv, C), oW = view("wo", DType.BF16, wo, N2, W);
        AttentionSpec spec = new AttentionSpec(heads, kvHeads, D, (float) (1 / Math.sqrt(D)), causal, valid);
        String name = (forced != null ? forced.entry() : "attention") + " h=" + heads + "/" + kvHeads + " D=" + D + " S=" + S
                + (causal ? " causal" : "") + " valid=" + valid;
        check("linear -> operand v, " + name + " -> operand -> linear", true, b -> {
            Tensor v = D % 8 == 0 ? operandPoisoned(b, S, Wkv) : poisoned(b, S, Wkv); // f32 v for head dims the bf16 kernels refuse
            Tensor o = operandPoisoned(b, S, W), y = poisoned(b, S, N2);
            b.linear(v, in(b, x, S, C), b.weight(vW), null);
            CudaBackend cuda = b instanceof CudaBackend cb && forced != null ? cb : null;
            if (cuda != null) cuda.forcedAttention = forced;
            try {
                b.attention(o, in(b, q, S, W), in(b, k, S, Wkv), v, spec);
            } finally {
                if (cuda != null) cuda.forcedAttention = null;
            }
            b.linear(y, o, b.weight(oW), null);
            return concat(get(b, o), get(b, y));
        });
    }

    /** A recorded graph of the operand chain (GEMM → operand → SwiGLU → operand → GEMM), replayed after a fresh upload. */
    void graphOfOperands(Random r) {
        int M = 40, K = 64, N = 96, F = 136;
        float[] x = rand(r, M * K, 1f), w = rand(r, N * K, 0.1f), g = rand(r, F * N, 0.1f), u = rand(r, F * N, 0.1f), d = rand(r, N * F, 0.1f);
        TensorView wv = view("ow", DType.BF16, w, N, K), gv = view("og", DType.BF16, g, F, N), uv = view("ou", DType.BF16, u, F, N),
                dv = view("od", DType.BF16, d, N, F);
        check("replay x2 (linear -> operand, SwiGLU -> operand, linearAdd) vs eager, fresh input", true, b -> {
            Tensor xt = b.alloc(M, K), h = b.allocOperand(M, N), f = b.allocOperand(M, F), acc = in(b, rand(new Random(9), M * N, 1f), M, N);
            Weight wt = b.weight(wv), gt = b.weight(gv), ut = b.weight(uv), dt = b.weight(dv);
            for (int i = 0; i < 2; i++) {
                b.upload(xt, i == 0 ? rand(new Random(11), M * K, 1f) : x);
                b.replay("graph-test-operands", () -> {
                    b.linear(h, xt, wt, null);
                    b.linearSwiGLU(f, h, gt, ut);
                    b.linearAdd(acc, f, dt, null);
                });
            }
            return concat(get(b, acc), concat(get(b, h), get(b, f)));
        });
    }

    static Tensor operandPoisoned(Backend b, int... shape) {
        Tensor t = b.allocOperand(shape);
        b.upload(t, nanArray((int) t.numel()));
        return t;
    }

    static float[] concat(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** A replayed sequence must equal running it eagerly, each time (axpy accumulates, so a stale replay shows). */
    void graphs(Random r) {
        int M = 40, K = 64, N = 96;
        float[] x = rand(r, M * K, 1f), w = rand(r, N * K, 0.1f), y0 = rand(r, M * N, 1f);
        TensorView wv = view("gw", DType.BF16, w, N, K);
        check("replay x3 (linear, silu, axpy) vs eager", true, b -> {
            Tensor xt = in(b, x, M, K), h = b.alloc(M, N), acc = in(b, y0, M, N);
            Weight wt = b.weight(wv);
            for (int i = 0; i < 3; i++)
                b.replay("graph-test", () -> {
                    b.linear(h, xt, wt, null);
                    b.silu(h, h);
                    b.axpy(acc, 0.5f, h);
                });
            return get(b, acc);
        });
        check("replay with a device factor changed by copy between replays, fences", false, b -> {
            int n = 5000;
            Tensor y = in(b, rand(new Random(3), n, 1f), n), xt = in(b, rand(new Random(4), n, 1f), n);
            Tensor table = in(b, new float[]{0.5f, -1.25f, 2f}, 3), factor = b.alloc(1);
            Backend.Fence previous = null;
            for (int i = 0; i < 3; i++) {
                b.copy(factor, table.view(i, 1));
                b.replay("graph-test-3", () -> {
                    b.axpy(y, factor, xt);
                    b.silu(xt, xt);
                });
                Backend.Fence f = b.fence();
                if (previous != null) previous.await();
                previous = f;
            }
            previous.await();
            return get(b, y);
        });
        check("replay sees new uploaded input", true, b -> {
            Tensor xt = b.alloc(M, K), h = b.alloc(M, N);
            Weight wt = b.weight(wv);
            b.upload(xt, rand(new Random(1), M * K, 1f));
            b.replay("graph-test-2", () -> b.linear(h, xt, wt, null));
            b.upload(xt, x);
            b.replay("graph-test-2", () -> b.linear(h, xt, wt, null));
            return get(b, h);
        });
    }
}
