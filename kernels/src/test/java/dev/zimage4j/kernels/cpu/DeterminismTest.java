package dev.zimage4j.kernels.cpu;

import dev.zimage4j.kernels.AttentionSpec;
import dev.zimage4j.kernels.Tensor;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.DType;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The CPU backend's results depend on the inputs only, not on the JIT tier: a child JVM running with
 * {@code -Xint} (every Vector API op in its Java fallback, nothing intrinsified) must produce bitwise the same
 * outputs as this JVM after it has run the ops enough times for C2 to compile them. Also checks the accuracy
 * of the deterministic {@link VecMath#exp}.
 */
class DeterminismTest {
    private static final int THREADS = 2;

    /** Every op with a reduction or a transcendental, on awkward sizes; the outputs concatenated. */
    static float[] compute(CpuBackend b) {
        Random r = new Random(42);
        List<float[]> outs = new ArrayList<>();
        int rows = 13, d = 37;
        float[] xv = Weights.random(r, rows * d, 3f);
        Tensor x = tensor(b, xv, rows, d), y = b.alloc(rows, d);
        Weight w = b.weight(Weights.of("w", DType.BF16, Weights.random(r, d, 1.5f), d), 1f);
        Tensor sc = tensor(b, Weights.random(r, d, 0.5f), d);
        b.rmsNorm(y, x, w, sc, 1e-6f);
        outs.add(get(b, y));
        b.layerNorm(y, x, sc, 1e-6f);
        outs.add(get(b, y));
        Tensor acc = tensor(b, xv, rows, d), h = tensor(b, Weights.random(r, rows * d, 2f), rows, d);
        b.gatedResidualRmsNorm(acc, h, w, sc, 1e-5f);
        outs.add(get(b, acc));
        b.silu(y, x);
        outs.add(get(b, y));
        Tensor sm = tensor(b, Weights.random(r, rows * d, 20f), rows, d);
        b.softmax(sm);
        outs.add(get(b, sm));
        int c = 12, hw = 5 * 7;
        Tensor gx = tensor(b, Weights.random(r, c * hw, 4f), c, 5, 7), gy = b.alloc(c, 5, 7);
        Weight gamma = b.weight(Weights.of("g", DType.F32, Weights.random(r, c, 2f), c), 1f);
        Weight beta = b.weight(Weights.of("b", DType.F32, Weights.random(r, c, 1f), c), 1f);
        b.groupNorm(gy, gx, 4, gamma, beta, 1e-6f, true);
        outs.add(get(b, gy));
        int k = 29, n = 43;
        Weight gw = b.weight(Weights.of("gate", DType.BF16, Weights.random(r, n * k, 0.3f), n, k), 1f);
        Weight uw = b.weight(Weights.of("up", DType.F16, Weights.random(r, n * k, 0.3f), n, k), 1f);
        Tensor lx = tensor(b, Weights.random(r, 5 * k, 2f), 5, k), ly = b.alloc(5, n);
        b.linearSwiGLU(ly, lx, gw, uw);
        outs.add(get(b, ly));
        for (boolean causal : new boolean[]{false, true}) {
            int heads = 3, kvHeads = 1, hd = 20, sq = 41, sk = causal ? 41 : 300;
            Tensor q = tensor(b, Weights.random(r, sq * heads * hd, 2f), sq, heads * hd);
            Tensor kk = tensor(b, Weights.random(r, sk * kvHeads * hd, 2f), sk, kvHeads * hd);
            Tensor v = tensor(b, Weights.random(r, sk * kvHeads * hd, 1f), sk, kvHeads * hd);
            Tensor o = b.alloc(sq, heads * hd);
            b.attention(o, q, kk, v, new AttentionSpec(heads, kvHeads, hd, 0.3f, causal, sk - 3));
            outs.add(get(b, o));
        }
        Tensor t = tensor(b, new float[]{0.637f}, 1), emb = b.alloc(257);
        b.timestepEmbedding(emb, t, 1000f, 10000f);
        outs.add(get(b, emb));
        int total = outs.stream().mapToInt(a -> a.length).sum(), at = 0;
        float[] all = new float[total];
        for (float[] a : outs) {
            System.arraycopy(a, 0, all, at, a.length);
            at += a.length;
        }
        return all;
    }

    /** Child JVM entry: writes {@link #compute} of one fresh backend to the file named by args[0]. */
    public static void main(String[] args) throws IOException {
        try (CpuBackend b = new CpuBackend(THREADS);
             DataOutputStream out = new DataOutputStream(Files.newOutputStream(Path.of(args[0])))) {
            float[] f = compute(b);
            out.writeInt(f.length);
            for (float v : f) out.writeFloat(v);
        }
    }

    @Test
    void interpretedAndCompiledResultsAreBitwiseEqual(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("xint.bin");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process child = new ProcessBuilder(java.toString(), "-Xint", "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                DeterminismTest.class.getName(), file.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
        // Meanwhile: the same computation here, over and over until C2 has compiled it.
        List<float[]> runs = new ArrayList<>();
        try (CpuBackend b = new CpuBackend(THREADS)) {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
            for (int i = 0; i < 30 || System.nanoTime() < end; i++) {
                float[] f = compute(b);
                if (i < 8 || runs.size() < 8) runs.add(f);
                else runs.set(7, f);
            }
        }
        assertTrue(child.waitFor(240, TimeUnit.SECONDS), "the -Xint child JVM did not finish in 240 s");
        assertEquals(0, child.exitValue(), () -> "the -Xint child failed: " + read(dir.resolve("child.log")));
        float[] interpreted;
        try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
            interpreted = new float[in.readInt()];
            for (int i = 0; i < interpreted.length; i++) interpreted[i] = in.readFloat();
        }
        for (int run = 0; run < runs.size(); run++) {
            float[] f = runs.get(run);
            assertEquals(interpreted.length, f.length);
            for (int i = 0; i < f.length; i++)
                if (Float.floatToRawIntBits(f[i]) != Float.floatToRawIntBits(interpreted[i]))
                    fail("run " + (run == 7 ? "last" : run) + ": element " + i + " = " + f[i] + " here but " + interpreted[i]
                            + " in the -Xint JVM (bitwise different)");
        }
    }

    /** A row of {@code x·wᵀ (+ bias)} is bitwise the same whether it falls in a full or an edge micro-tile. */
    @Test
    void linearRowsDoNotDependOnTheNumberOfRows() {
        Random r = new Random(7);
        int k = 2 * Gemm.KC + 17, n = 2 * Gemm.NR + 3, rows = 2 * Gemm.MR + 3;
        float[] xv = Weights.random(r, rows * k, 1f), y0 = Weights.random(r, rows * n, 1f);
        try (CpuBackend b = new CpuBackend(THREADS)) {
            Weight w = b.weight(Weights.of("w", DType.BF16, Weights.random(r, n * k, 0.1f), n, k), 1f);
            Weight bias = b.weight(Weights.of("bias", DType.F32, Weights.random(r, n, 1f), n), 1f);
            for (boolean add : new boolean[]{false, true}) {
                Tensor all = tensor(b, y0, rows, n);
                if (add) b.linearAdd(all, tensor(b, xv, rows, k), w, bias);
                else b.linear(all, tensor(b, xv, rows, k), w, bias);
                float[] want = get(b, all);
                for (int m = 1; m < rows; m++) {
                    Tensor part = tensor(b, java.util.Arrays.copyOf(y0, m * n), m, n);
                    if (add) b.linearAdd(part, tensor(b, java.util.Arrays.copyOf(xv, m * k), m, k), w, bias);
                    else b.linear(part, tensor(b, java.util.Arrays.copyOf(xv, m * k), m, k), w, bias);
                    org.junit.jupiter.api.Assertions.assertArrayEquals(java.util.Arrays.copyOf(want, m * n), get(b, part),
                            (add ? "linearAdd" : "linear") + " with " + m + " rows");
                }
            }
        }
    }

    @Test
    void expIsWithinTwoUlpOfMathExp() {
        int worst = 0;
        float worstX = 0;
        float[] xs = new float[FloatVector.SPECIES_PREFERRED.length()];
        for (float x0 = -87.3f; x0 < 88.7f; x0 += 0.000731f * xs.length) {
            for (int i = 0; i < xs.length; i++) xs[i] = x0 + i * 0.000731f;
            float[] got = VecMath.exp(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, xs, 0)).toArray();
            for (int i = 0; i < xs.length; i++) {
                float want = (float) Math.exp(xs[i]);
                int ulps = Math.abs(Float.floatToIntBits(got[i]) - Float.floatToIntBits(want));
                if (ulps > worst) {
                    worst = ulps;
                    worstX = xs[i];
                }
            }
        }
        assertTrue(worst <= 2, "exp is " + worst + " ulp off at " + worstX);
        assertEquals(1f, VecMath.exp(0f));
        assertEquals(0f, VecMath.exp(Float.NEGATIVE_INFINITY));
        assertEquals(0f, VecMath.exp(-200f));
        assertEquals(Float.POSITIVE_INFINITY, VecMath.exp(89f));
        assertEquals(Float.POSITIVE_INFINITY, VecMath.exp(Float.POSITIVE_INFINITY));
        assertTrue(Float.isNaN(VecMath.exp(Float.NaN)));
        // Subnormal results: close to Math.exp in absolute terms (a few units of the smallest subnormal).
        for (float x = -103.9f; x < -87.4f; x += 0.01f)
            assertTrue(Math.abs(VecMath.exp(x) - (float) Math.exp(x)) <= 2 * Float.MIN_VALUE + 2.5e-7f * (float) Math.exp(x),
                    "exp(" + x + ") = " + VecMath.exp(x) + ", want " + Math.exp(x));
        assertEquals((float) Math.exp(88.5f), VecMath.exp(88.5f), Math.ulp((float) Math.exp(88.5f)) * 2);
    }

    private static Tensor tensor(CpuBackend b, float[] v, int... shape) {
        Tensor t = b.alloc(shape);
        b.upload(t, v);
        return t;
    }

    private static float[] get(CpuBackend b, Tensor t) {
        float[] f = new float[(int) t.numel()];
        b.download(t, f);
        return f;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
