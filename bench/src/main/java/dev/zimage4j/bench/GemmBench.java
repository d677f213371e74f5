package dev.zimage4j.bench;

import dev.zimage4j.kernels.AttentionSpec;
import dev.zimage4j.kernels.Tensor;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.kernels.cpu.CpuBackend;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.TensorView;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The quick GEMM benchmark behind {@code scripts/bench-gemm.sh}: {@code CpuBackend.linear} at the model's
 * shapes with F32 and BF16 weights, side by side with OpenBLAS SGEMM through numpy (a Python child process
 * answering the same shapes), printing GFLOP/s and ratios; plus attention GFLOP/s and the JIT warm-up curve.
 *
 * <p>Options: {@code --shapes M,K,N;...} {@code --dtypes F32,BF16} {@code --seconds S} (per measurement)
 * {@code --python CMD} (empty to skip the baseline) {@code --attention S1,S2} {@code --threads N}.
 */
public final class GemmBench {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The DiT's shapes: M ∈ {512, 1024, 4224} tokens; K×N of qkv, out, w1/w3, w2 and the text encoder's MLP. */
    static final String DEFAULT_SHAPES = "512,3840,3840;1024,3840,3840;4224,3840,3840;1024,3840,11520;1024,3840,10240;"
            + "1024,10240,3840;1024,2560,9728;4224,3840,11520;4224,10240,3840";

    public static void main(String[] args) throws Exception {
        String shapes = DEFAULT_SHAPES, dtypes = "F32,BF16", python = "python3 scripts/sgemm.py", attention = "1056,4224";
        double seconds = 2;
        int threads = Runtime.getRuntime().availableProcessors();
        boolean warmup = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--shapes" -> shapes = args[++i];
                case "--dtypes" -> dtypes = args[++i];
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--python" -> python = args[++i];
                case "--attention" -> attention = args[++i];
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--no-warmup" -> warmup = false;
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (use --shapes, --dtypes, --seconds, --python, --attention, --threads, --no-warmup)");
            }
        }
        try (CpuBackend cpu = new CpuBackend(threads); Baseline blas = Baseline.start(python)) {
            System.out.printf(Locale.ROOT, "CpuBackend on %d threads; baseline: %s%n", threads, blas == null ? "none" : "OpenBLAS SGEMM via numpy");
            if (warmup) warmupCurve(cpu, 1024, 3840, 3840);
            System.out.println("wall: best call; cpu: flops per second of process CPU time (robust when other work shares the cores)");
            System.out.printf(Locale.ROOT, "%-20s %-5s | %8s %8s %6s | %8s %8s %6s%n", "GEMM M x K x N", "dtype",
                    "wall", "OpenBLAS", "ratio", "cpu", "OpenBLAS", "ratio");
            for (String s : shapes.split(";")) {
                int[] mkn = Arrays.stream(s.split(",")).mapToInt(v -> Integer.parseInt(v.trim())).toArray();
                double[] blasGf = blas == null ? new double[] {Double.NaN, Double.NaN} : blas.gflops(mkn[0], mkn[1], mkn[2], seconds);
                for (String dt : dtypes.split(",")) {
                    double[] gf = gemm(cpu, mkn[0], mkn[1], mkn[2], DType.valueOf(dt.trim()), seconds);
                    System.out.printf(Locale.ROOT, "%-20s %-5s | %8.1f %8.1f %6.2f | %8.1f %8.1f %6.2f%n",
                            mkn[0] + "x" + mkn[1] + "x" + mkn[2], dt, gf[0], blasGf[0], gf[0] / blasGf[0], gf[1], blasGf[1], gf[1] / blasGf[1]);
                }
            }
            if (!attention.isBlank()) {
                for (String s : attention.split(",")) attention(cpu, Integer.parseInt(s.trim()), 30, 128, seconds);
                attention(cpu, 4096, 1, 512, seconds); // the VAE mid-block at 512²
            }
        }
    }

    static Weight weight(CpuBackend cpu, int n, int k, DType dt) {
        long count = (long) n * k;
        MemorySegment seg = Arena.ofAuto().allocate(count * dt.bytes(), 64);
        Random r = new Random(1);
        for (long i = 0; i < count; i++) {
            float v = r.nextFloat() - 0.5f;
            switch (dt) {
                case F32 -> seg.set(F32, 4 * i, v);
                case BF16 -> seg.set(I16, 2 * i, FloatConversion.floatToBf16(v));
                case F16 -> seg.set(I16, 2 * i, Float.floatToFloat16(v));
                case F8_E4M3 -> seg.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(0x70));
                default -> throw new IllegalArgumentException("benchmark dtype " + dt);
            }
        }
        return cpu.weight(new TensorView("w", dt, new long[] {n, k}, seg));
    }

    static Tensor random(CpuBackend cpu, int rows, int cols) {
        Tensor t = cpu.alloc(rows, cols);
        float[] f = new float[rows * cols];
        Random r = new Random(2);
        for (int i = 0; i < f.length; i++) f[i] = r.nextFloat() - 0.5f;
        cpu.upload(t, f);
        return t;
    }

    /** {wall, cpu} GFLOP/s of {@code linear} within the time budget, after two warm-up calls (see {@link #best}). */
    static double[] gemm(CpuBackend cpu, int m, int k, int n, DType dt, double seconds) {
        Weight w = weight(cpu, n, k, dt);
        Tensor x = random(cpu, m, k), y = cpu.alloc(m, n);
        return best(() -> cpu.linear(y, x, w, null), 2.0 * m * n * k, seconds);
    }

    static void attention(CpuBackend cpu, int s, int heads, int d, double seconds) {
        Tensor q = random(cpu, s, heads * d), k = random(cpu, s, heads * d), v = random(cpu, s, heads * d), o = cpu.alloc(s, heads * d);
        AttentionSpec spec = AttentionSpec.full(heads, d, s);
        double[] gf = best(() -> cpu.attention(o, q, k, v, spec), 4.0 * s * s * d * heads, seconds);
        System.out.printf(Locale.ROOT, "attention S=%d heads=%d D=%d: wall %.1f GFLOP/s, cpu %.1f GFLOP/s (4·S²·D·heads flops)%n",
                s, heads, d, gf[0], gf[1]);
    }

    /**
     * {wall, cpu} GFLOP/s: wall from the best call in the budget; cpu from the process CPU time over all timed
     * calls (all threads, so it measures work per busy core-second; idle pool threads park, not spin).
     */
    static double[] best(Runnable op, double flops, double seconds) {
        op.run();
        op.run();
        double best = Double.MAX_VALUE;
        long end = System.nanoTime() + (long) (seconds * 1e9);
        int reps = 0;
        long cpu0 = processCpuNanos();
        while (reps < 3 || System.nanoTime() < end) {
            long t0 = System.nanoTime();
            op.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            reps++;
        }
        double cpu = (processCpuNanos() - cpu0) / 1e9;
        return new double[] {flops / best / 1e9, flops * reps / cpu / 1e9};
    }

    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Per-call time of the first calls in this JVM (cold JIT) at one shape, F32 and BF16. */
    static void warmupCurve(CpuBackend cpu, int m, int k, int n) {
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            Weight w = weight(cpu, n, k, dt);
            Tensor x = random(cpu, m, k), y = cpu.alloc(m, n);
            List<String> times = new ArrayList<>();
            long start = System.nanoTime();
            for (int i = 0; i < 12; i++) {
                long t0 = System.nanoTime();
                cpu.linear(y, x, w, null);
                double s = (System.nanoTime() - t0) / 1e9;
                times.add(String.format(Locale.ROOT, "%.0f", 2.0 * m * n * k / s / 1e9));
            }
            System.out.printf(Locale.ROOT, "JIT warm-up %s %dx%dx%d, GFLOP/s of calls 1..12 in a fresh JVM (%.2f s in all): %s%n",
                    dt, m, k, n, (System.nanoTime() - start) / 1e9, String.join(" ", times));
        }
    }

    /** The numpy child process, or null when disabled. */
    record Baseline(Process process, PrintWriter in, BufferedReader out) implements AutoCloseable {
        static Baseline start(String command) throws Exception {
            if (command == null || command.isBlank()) return null;
            ProcessBuilder pb = new ProcessBuilder("sh", "-c", command).redirectError(ProcessBuilder.Redirect.INHERIT);
            pb.environment().remove("OPENBLAS_CORETYPE");
            pb.environment().remove("OPENBLAS_L2_SIZE");
            Process p = pb.start();
            return new Baseline(p, new PrintWriter(p.getOutputStream(), true, StandardCharsets.UTF_8),
                    new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)));
        }

        double[] gflops(int m, int k, int n, double seconds) throws Exception {
            in.println(m + " " + k + " " + n + " " + seconds);
            String line = out.readLine();
            if (line == null) throw new IllegalStateException("the numpy baseline process ended early");
            String[] p = line.trim().split("\\s+");
            return new double[] {Double.parseDouble(p[0]), Double.parseDouble(p[1])};
        }

        @Override
        public void close() {
            in.close();
            process.destroy();
        }
    }
}
