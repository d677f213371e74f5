package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.AttentionSpec;
import dev.zimage4j.kernels.Tensor;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.DType;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * GPU micro-benchmark (run by scripts/gpu-run.sh): the DiT's GEMM shapes at 1024² (M = 4224 tokens) and
 * its attention (30 heads × 128), plus the VAE's 512-wide single-head attention, timed with CUDA events
 * around each launch (median of 20 after 3 warm-ups), and the per-launch cost eager vs graph replay.
 * With the argument {@code attention}, only the attention cases. Prints one {@code BENCH} line per case (tab-separated) that scripts/gpu-bench-torch.py reads to time
 * the same shapes with PyTorch (cuBLAS / SDPA) and print the ratios.
 */
public final class GpuBench {

    private static final int WARMUP = 5, REPS = 20;

    /** {@code attention}: only the attention cases; {@code --no-sweep}: no tile sweep. */
    public static void main(String[] args) {
        CudaBackend b = CudaBackend.create(0);
        System.out.println("device: " + b.describe());
        System.out.println("BENCH\tname\tkind\tM\tN\tK\tms\tTFLOPs");
        int S = 4224, D = 3840;
        boolean attentionOnly = Arrays.asList(args).contains("attention"); // GpuBench attention: only the attention cases
        if (!attentionOnly) {
            warmHostPath(b);
            ditGemms(b, "");
            for (int[] mk : new int[][]{{S, D}, {S, 10240}, {1088, D}, {1088, 10240}}) convert(b, mk[0], mk[1]);
        }
        boolean hopper = b.context().computeCapability() == 90;
        List<AttentionKernel.Config> dit = new ArrayList<>(List.of(AttentionKernel.config(128, true)));
        List<AttentionKernel.Config> vae = new ArrayList<>(List.of(AttentionKernel.config(512, true)));
        if (hopper) {
            dit.addAll(AttentionKernel.wgmmaCandidates128());
            vae.addAll(AttentionKernel.wgmmaCandidates512());
        }
        attention(b, "dit_attn", 30, 128, S, dit);
        attention(b, "dit_attn_512px", 30, 128, 1056 + 32, dit);
        attention(b, "vae_mid_attn", 1, 512, 16384, vae);
        if (!attentionOnly) {
            launchOverhead(b);
            // the other GEMM setting (2-CTA clusters on or off), after everything else so a launch failure loses nothing
            boolean clusters = b.gemmClusters;
            b.gemmClusters = !clusters;
            try {
                ditGemms(b, clusters ? "_cl1" : "_cl2");
            } catch (RuntimeException e) {
                System.out.println("GEMMs with gemmClusters=" + !clusters + " failed: " + e);
            } finally {
                b.gemmClusters = clusters;
            }
            if (!Arrays.asList(args).contains("--no-sweep")) sweep(b);
        }
        System.out.printf("PTX JIT total %.1f ms; graph capture total %.1f ms%n", b.totalJitMs(), b.totalGraphCaptureMs());
        System.out.print(b.kernelReport());
        b.close();
    }

    private static float median(float[] v) {
        float[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    /** Median event time of {@code op} in ms. */
    private static float time(CudaBackend b, Runnable op) {
        CudaContext cu = b.context();
        for (int i = 0; i < WARMUP; i++) op.run();
        MemorySegment[] ev = new MemorySegment[REPS + 1];
        for (int i = 0; i <= REPS; i++) ev[i] = cu.eventCreate();
        float[] ms = new float[REPS];
        cu.eventRecord(ev[0]);
        for (int i = 0; i < REPS; i++) {
            op.run();
            cu.eventRecord(ev[i + 1]);
        }
        for (int i = 0; i < REPS; i++) ms[i] = cu.eventElapsedMs(ev[i], ev[i + 1]);
        for (MemorySegment e : ev) cu.eventDestroy(e);
        return median(ms);
    }

    private static Tensor randomTensor(CudaBackend b, Random r, int... shape) {
        Tensor t = b.alloc(shape);
        b.upload(t, GpuCheck.rand(r, (int) t.numel(), 1f));
        return t;
    }

    private static void gemm(CudaBackend b, String name, String kind, int M, int N, int K) {
        Random r = new Random(M * 31L + N);
        Tensor x = randomTensor(b, r, M, K), y = b.alloc(M, N);
        Weight w = b.weight(GpuCheck.view(name, DType.BF16, GpuCheck.rand(r, N * K, 0.05f), N, K));
        Weight w2 = kind.equals("swiglu") ? b.weight(GpuCheck.view(name + "2", DType.BF16, GpuCheck.rand(r, N * K, 0.05f), N, K)) : null;
        float ms = time(b, kind.equals("swiglu") ? () -> b.linearSwiGLU(y, x, w, w2) : () -> b.linear(y, x, w, null));
        double flops = 2.0 * M * N * K * (w2 == null ? 1 : 2);
        System.out.printf("BENCH\t%s\t%s\t%d\t%d\t%d\t%.4f\t%.1f%n", name, kind, M, N, K, ms, flops / ms / 1e9);
        b.release(x);
        b.release(y);
        b.release(w);
        if (w2 != null) b.release(w2);
    }

    /** The DiT's GEMMs at 1024² (M = 4224) and 512² (1056 image + 32 caption tokens), and the caption projection: one BENCH line each. */
    private static void ditGemms(CudaBackend b, String tag) {
        int D = 3840;
        for (int tokens : new int[]{4224, 1088}) {
            String sfx = (tokens == 4224 ? "" : "_512px") + tag;
            gemm(b, "attn_out" + sfx, "linear", tokens, 3840, D);
            gemm(b, "qkv" + sfx, "linear", tokens, 11520, D);
            gemm(b, "w1" + sfx, "linear", tokens, 10240, D);
            gemm(b, "w2" + sfx, "linear", tokens, 3840, 10240);
            gemm(b, "w1w3_swiglu" + sfx, "swiglu", tokens, 10240, D);
        }
        gemm(b, "cap_small" + tag, "linear", 128, 3840, 2560);
    }

    /**
     * Runs the host side of linear/SwiGLU a few thousand times on a small shape, so the timed calls below do not measure
     * the interpreter: with a 0.07 ms kernel, an unwarmed JVM enqueues slower than the GPU runs and the event times
     * become host times (seen: 0.259 ms for a kernel the later sweep timed at 0.178 ms).
     */
    private static void warmHostPath(CudaBackend b) {
        Random r = new Random(3);
        Tensor x = randomTensor(b, r, 128, 256), y = b.alloc(128, 256);
        Weight w = b.weight(GpuCheck.view("warm", DType.BF16, GpuCheck.rand(r, 256 * 256, 0.05f), 256, 256));
        for (int i = 0; i < 3000; i++) {
            b.linear(y, x, w, null);
            if (i % 2 == 0) b.linearSwiGLU(y, x, w, w);
            if (i % 500 == 0) b.context().synchronize();
        }
        b.context().synchronize();
        b.release(x);
        b.release(y);
        b.release(w);
    }

    /**
     * The f32 → bf16 conversion of an {@code M × K} activation that a GEMM makes when its input is not already in bf16
     * (not included in the GEMM BENCH lines: repeated calls on the same input reuse the copy). One CONVERT line.
     */
    private static void convert(CudaBackend b, int M, int K) {
        Tensor x = randomTensor(b, new Random(K), M, K);
        float ms = time(b, () -> b.convertForBench(x));
        System.out.printf("CONVERT\tto_bf16\tM=%d K=%d\t%.4f ms\t%.0f GB/s%n", M, K, ms, 6.0 * M * K / ms / 1e6);
        b.release(x);
    }

    /**
     * The backend's choice (one {@code BENCH name} line), then each variant forced ({@code BENCH name@entry}); every time
     * is the whole op: f32 in, f32 out, including the bf16 conversion passes of its inputs.
     */
    private static void attention(CudaBackend b, String name, int heads, int d, int s, List<AttentionKernel.Config> variants) {
        Random r = new Random(s);
        Tensor q = randomTensor(b, r, s, heads * d), k = randomTensor(b, r, s, heads * d), v = randomTensor(b, r, s, heads * d), o = b.alloc(s, heads * d);
        AttentionSpec spec = AttentionSpec.full(heads, d, s);
        double flops = 4.0 * s * s * d * heads;
        float ms = time(b, () -> b.attention(o, q, k, v, spec));
        // kind attn: M = heads, N = S, K = D
        System.out.printf("BENCH\t%s\tattn\t%d\t%d\t%d\t%.4f\t%.1f%n", name, heads, s, d, ms, flops / ms / 1e9);
        for (AttentionKernel.Config c : variants) {
            b.forcedAttention = c;
            float t = time(b, () -> b.attention(o, q, k, v, spec));
            System.out.printf("BENCH\t%s@%s\tattn\t%d\t%d\t%d\t%.4f\t%.1f%n", name, c.entry(), heads, s, d, t, flops / t / 1e9);
        }
        b.forcedAttention = null;
        for (Tensor t : new Tensor[]{q, k, v, o}) b.release(t);
    }

    /**
     * Every TMA candidate and the cp.async wgmma default on the DiT GEMMs at 1024² and 512², and every attention
     * candidate: one SWEEP line each. (The mma.sync tile candidates measured 235–317 TFLOP/s here; they are checked by
     * GpuCheck's variants group, not swept.)
     */
    private static void sweep(CudaBackend b) {
        int S = 4224;
        for (int[] mnk : new int[][]{{S, 3840, 3840}, {S, 11520, 3840}, {S, 10240, 3840}, {S, 3840, 10240}, {1088, 3840, 3840}, {1088, 10240, 3840}, {1088, 3840, 10240}}) {
            sweepGemm(b, mnk[0], mnk[1], mnk[2]);
        }
        Random r = new Random(7);

        Tensor q = randomTensor(b, r, S, 30 * 128), k = randomTensor(b, r, S, 30 * 128), v = randomTensor(b, r, S, 30 * 128), o = b.alloc(S, 30 * 128);
        for (AttentionKernel.Config c : AttentionKernel.candidates128()) {
            b.forcedAttention = c;
            float ms = time(b, () -> b.attention(o, q, k, v, AttentionSpec.full(30, 128, S)));
            System.out.printf("SWEEP\t%s\tH=30 S=%d D=128\t%.4f ms\t%.1f TFLOP/s%n", c.entry(), S, ms, 4.0 * S * S * 128 * 30 / ms / 1e9);
        }
        b.forcedAttention = null;
        for (Tensor t : new Tensor[]{q, k, v, o}) b.release(t);
    }

    private static void sweepGemm(CudaBackend b, int S, int N, int K) {
        Random r = new Random(N + K);
        Tensor x = randomTensor(b, r, S, K), y = b.alloc(S, N);
        Weight w = b.weight(GpuCheck.view("w", DType.BF16, GpuCheck.rand(r, N * K, 0.05f), N, K));
        Weight w2 = N == 10240 ? b.weight(GpuCheck.view("w2", DType.BF16, GpuCheck.rand(r, N * K, 0.05f), N, K)) : null;
        for (GemmKernel.Epilogue e : w2 == null ? new GemmKernel.Epilogue[]{GemmKernel.Epilogue.STORE}
                : new GemmKernel.Epilogue[]{GemmKernel.Epilogue.STORE, GemmKernel.Epilogue.SWIGLU}) {
            java.util.List<GemmKernel.Config> cs = new java.util.ArrayList<>(GemmKernel.tmaCandidates(e));
            cs.addAll(GemmKernel.tmaClusterCandidates(e));
            cs.addAll(GemmKernel.tmaOneShotCandidates(e));
            cs.add(GemmKernel.wgmmaConfig(e));
            GemmKernel.Config chosen = GemmKernel.tmaConfig(e, S, N, b.context().smCount());
            GemmKernel.Config chosenCluster = GemmKernel.tmaClusterConfig(e, S, N, b.context().smCount());
            for (GemmKernel.Config c : cs) {
                boolean sw = e == GemmKernel.Epilogue.SWIGLU;
                float ms;
                try {
                    ms = time(b, () -> b.linearWith(c, y, x, w, sw ? w2 : null));
                } catch (RuntimeException ex) {
                    System.out.printf("SWEEP\t%s\tM=%d N=%d K=%d\tfailed: %s%n", c.entry(), S, N, K, ex);
                    continue;
                }
                double flops = 2.0 * S * N * K * (sw ? 2 : 1);
                System.out.printf("SWEEP\t%s%s\tM=%d N=%d K=%d\t%.4f ms\t%.1f TFLOP/s%n", c.entry(), c.equals(chosen) || c.equals(chosenCluster) ? " (chosen)" : "",
                        S, N, K, ms, flops / ms / 1e9);
            }
        }
        b.release(x);
        b.release(y);
        b.release(w);
        if (w2 != null) b.release(w2);
    }

    /** 200 tiny launches eager vs the same recorded as one graph: per-launch GPU time. */
    private static void launchOverhead(CudaBackend b) {
        Tensor x = b.alloc(1024);
        int n = 200;
        Runnable seq = () -> {
            for (int i = 0; i < n; i++) b.scale(x, x, 1.0001f, 0f);
        };
        float eager = time(b, seq);
        float graph = time(b, () -> b.replay("overhead", seq));
        System.out.printf("launch overhead: eager %.2f us/launch, graph replay %.2f us/launch (%d launches of a 1024-element kernel)%n",
                eager * 1000 / n, graph * 1000 / n, n);
        b.release(x);
    }
}
