package dev.zimage4j.dit;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.cpu.CpuBackend;
import dev.zimage4j.kernels.cuda.CudaBackend;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.MissingTensorException;
import dev.zimage4j.safetensors.TensorView;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Real-size DiT on the GPU (run by scripts/gpu-run.sh on the device machine; needs ~13 GB of host memory
 * and an NVIDIA GPU): the Z-Image-Turbo DiT shapes with seeded random bf16 weights held in memory (biases
 * 0, norm scales 1, matrices N(0, 1/fan_in), pad tokens N(0, 1)), one forward at 256² on the CPU and the
 * GPU backends (cosine and max relative error), then GPU forwards at 512² and 1024² timed wall-clock
 * (upload, the graph replay, download): the first includes PTX JIT and graph capture, the rest are warm;
 * then a per-kernel time table of one profiled (eager) 1024² forward. {@code --no-cpu} skips the CPU comparison.
 */
public final class GpuDitCheck {

    public static void main(String[] args) throws Exception {
        DitConfig config = DitConfig.Z_IMAGE_TURBO;
        long t0 = System.nanoTime();
        Checkpoint ckpt = randomCheckpoint(config, 0);
        System.out.printf("random real-size DiT (%.2f B parameters) built in memory in %.1f s%n",
                DitShapes.standard(config).parameters() / 1e9, (System.nanoTime() - t0) / 1e9);
        int capLen = 32;
        SplittableRandom r = new SplittableRandom(42);
        boolean cosOk = true, withCpu = !Arrays.asList(args).contains("--no-cpu");
        try (CudaBackend gpu = CudaBackend.create(0)) {
            System.out.println("device: " + gpu.describe());
            long tl = System.nanoTime();
            ZImageTransformer g = ZImageTransformer.load(ckpt, config, gpu);
            System.out.printf("GPU weight upload %.1f s%n", (System.nanoTime() - tl) / 1e9);
            float[] lat = gauss(r, 16 * 32 * 32), cap = gauss(r, capLen * config.capFeatDim());
            float[] outGpu = g.forward(lat, 32, 32, 0.5f, cap, capLen);
            if (withCpu) try (CpuBackend cpu = new CpuBackend()) {
                ZImageTransformer c = ZImageTransformer.load(ckpt, config, cpu);
                long tc = System.nanoTime();
                float[] outCpu = c.forward(lat, 32, 32, 0.5f, cap, capLen);
                System.out.printf("CPU forward 256² (%d threads): %.1f s%n", cpu.threads(), (System.nanoTime() - tc) / 1e9);
                double[] e = compare(outGpu, outCpu);
                cosOk = e[1] >= 0.999;
                System.out.printf("DiT forward 256², GPU vs CPU: max|a-b|/max|b| %.3e, cosine %.6f  %s%n", e[0], e[1], cosOk ? "ok" : "FAIL (cosine < 0.999)");
            }
            for (int side : new int[]{64, 128}) { // latent side: 512², 1024²
                float[] l = gauss(r, 16 * side * side);
                double[] ms = new double[5];
                for (int i = 0; i < ms.length; i++) {
                    long ts = System.nanoTime();
                    g.forward(l, side, side, 0.5f, cap, capLen);
                    ms[i] = (System.nanoTime() - ts) / 1e6;
                }
                double[] warm = Arrays.copyOfRange(ms, 1, ms.length);
                Arrays.sort(warm);
                System.out.printf("GPU DiT forward %d² (%d image + %d caption tokens): first %.1f ms (JIT + capture), warm median %.1f ms%n",
                        side * 8, side * side / 4, capLen, ms[0], warm[warm.length / 2]);
            }
            System.out.printf("PTX JIT total %.1f ms; graph capture total %.1f ms%n", gpu.totalJitMs(), gpu.totalGraphCaptureMs());
            float[] l = gauss(r, 16 * 128 * 128);
            gpu.startProfile();
            long tp = System.nanoTime();
            g.forward(l, 128, 128, 0.5f, cap, capLen);
            System.out.printf("%nper-kernel GPU times, one eager (profiled, no graph) DiT forward at 1024², wall %.1f ms:%n%s",
                    (System.nanoTime() - tp) / 1e6, gpu.profileReport());
            g.close();
        }
        System.exit(cosOk ? 0 : 1);
    }

    static float[] gauss(SplittableRandom r, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) r.nextGaussian();
        return f;
    }

    static double[] compare(float[] a, float[] b) {
        double maxD = 0, maxB = 0, dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            maxD = Math.max(maxD, Math.abs(a[i] - b[i]));
            maxB = Math.max(maxB, Math.abs(b[i]));
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return new double[]{maxD / maxB, dot / Math.sqrt(na * nb)};
    }

    /** Every DiT tensor of {@code config} as seeded random bf16 in native memory, generated in parallel. */
    static Checkpoint randomCheckpoint(DitConfig config, long seed) {
        Map<String, long[]> shapes = DitShapes.standard(config).expected();
        Map<String, TensorView> views = new TreeMap<>();
        Arena arena = Arena.ofShared();
        for (var e : shapes.entrySet()) {
            long n = Arrays.stream(e.getValue()).reduce(1, (x, y) -> x * y);
            views.put(e.getKey(), new TensorView(e.getKey(), DType.BF16, e.getValue(), arena.allocate(2 * n, 16)));
        }
        views.values().parallelStream().forEach(v -> fill(v, seed));
        return new Checkpoint() {
            public SortedSet<String> names() {
                return new TreeSet<>(views.keySet());
            }

            public Optional<TensorView> find(String name) {
                return Optional.ofNullable(views.get(name));
            }

            public TensorView get(String name) {
                TensorView v = views.get(name);
                if (v == null) throw new MissingTensorException("tensor " + name + " not in the random DiT");
                return v;
            }

            public Map<String, String> metadata() {
                return Map.of();
            }

            public String source() {
                return "random DiT (in memory)";
            }

            public void close() {
            }
        };
    }

    private static void fill(TensorView v, long seed) {
        long[] s = v.shape();
        String name = v.name();
        double std;
        float constant = name.endsWith(".bias") ? 0f : 1f;
        if (s.length <= 1) std = 0;
        else if (name.endsWith("pad_token")) std = 1;
        else std = 1 / Math.sqrt(v.numel() / (double) s[0]);
        SplittableRandom rng = new SplittableRandom(seed ^ name.hashCode());
        MemorySegment d = v.data();
        for (long i = 0; i < v.numel(); i++)
            d.setAtIndex(ValueLayout.JAVA_SHORT, i, FloatConversion.floatToBf16(std == 0 ? constant : (float) (rng.nextGaussian() * std)));
    }
}
