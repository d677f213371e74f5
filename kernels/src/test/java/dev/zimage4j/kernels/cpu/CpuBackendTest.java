package dev.zimage4j.kernels.cpu;

import dev.zimage4j.kernels.AttentionSpec;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Conv2dSpec;
import dev.zimage4j.kernels.Rope;
import dev.zimage4j.kernels.Tensor;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.TensorView;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every CPU backend op against the scalar {@link Reference} on random inputs of awkward sizes (odd, not
 * multiples of the vector length or the blocking, single rows, single heads). Three threads, so the
 * parallel paths run even on small machines.
 */
class CpuBackendTest {
    static final CpuBackend B = new CpuBackend(3);
    static final float REL = 1e-5f;

    @AfterAll
    static void close() {
        B.close();
    }

    static Tensor tensor(float[] v, int... shape) {
        Tensor t = B.alloc(shape);
        B.upload(t, v);
        return t;
    }

    static float[] get(Tensor t) {
        float[] f = new float[(int) t.numel()];
        B.download(t, f);
        return f;
    }

    /** |got − want| ≤ rel·(|want| or the magnitude bound) + abs, element-wise, with the index in the message. */
    static void near(String what, double[] want, double[] mag, float[] got, double rel, double abs) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            double bound = rel * (mag == null ? Math.abs(want[i]) : mag[i]) + abs;
            if (!(Math.abs(got[i] - want[i]) <= bound))
                fail(what + ": element " + i + " = " + got[i] + ", want " + want[i] + " (tolerance " + bound + ")");
        }
    }

    static void near(String what, double[] want, float[] got) {
        near(what, want, null, got, REL, 1e-6);
    }

    static double[] d(float[] f) {
        double[] r = new double[f.length];
        for (int i = 0; i < f.length; i++) r[i] = f[i];
        return r;
    }

    // ---------------------------------------------------------------- GEMM

    @ParameterizedTest(name = "{0} M={1} N={2} K={3} bias={4}")
    @CsvSource({
            "F32, 1, 1, 1, false", "F32, 7, 13, 29, true", "F32, 13, 37, 300, true", "F32, 50, 300, 17, false",
            "F32, 200, 33, 520, true", "F32, 1, 600, 64, true", "F32, 97, 290, 257, true", "F32, 301, 530, 600, true",
            "BF16, 301, 530, 600, false",
            "BF16, 1, 5, 7, false", "BF16, 29, 71, 300, true", "BF16, 200, 300, 33, true",
            "F16, 11, 19, 270, true", "F8_E4M3, 17, 45, 300, true", "F64, 5, 9, 11, true"})
    void linear(DType dt, int m, int n, int k, boolean withBias) {
        Random r = new Random(m * 1000003L + n * 1009L + k);
        float scale = dt == DType.F8_E4M3 ? 0.37f : 1f;
        TensorView wv = Weights.of("w", dt, Weights.random(r, n * k, 1f), n, k);
        float[] w = Weights.values(wv, scale);
        float[] x = Weights.random(r, m * k, 1f);
        float[] bias = withBias ? Weights.random(r, n, 1f) : null;
        Weight ww = B.weight(wv, scale);
        Weight bw = withBias ? B.weight(Weights.of("b", DType.F32, bias, n)) : null;
        double[] mag = new double[m * n];
        double[] want = Reference.linear(x, w, bias, m, n, k, mag);

        Tensor y = B.alloc(m, n);
        B.linear(y, tensor(x, m, k), ww, bw);
        near("linear", want, mag, get(y), REL, 1e-6);

        float[] y0 = Weights.random(r, m * n, 1f);
        Tensor ya = tensor(y0, m, n);
        B.linearAdd(ya, tensor(x, m, k), ww, bw);
        double[] wantAdd = want.clone();
        for (int i = 0; i < wantAdd.length; i++) {
            wantAdd[i] += y0[i];
            mag[i] += Math.abs(y0[i]);
        }
        near("linearAdd", wantAdd, mag, get(ya), REL, 1e-6);
        if (n > 1) assertEquals(0, ww.ownedBytes(), "matrices are used in place");
    }

    @ParameterizedTest(name = "M={0} F={1} K={2}")
    @CsvSource({"1, 1, 1", "7, 45, 300", "66, 280, 19", "5, 9, 520"})
    void linearSwiGLU(int m, int f, int k) {
        Random r = new Random(m + 17L * f + 31L * k);
        TensorView gv = Weights.of("gate", DType.BF16, Weights.random(r, f * k, 1f), f, k);
        TensorView uv = Weights.of("up", DType.F32, Weights.random(r, f * k, 1f), f, k);
        float[] x = Weights.random(r, m * k, 1f);
        double[] mg = new double[m * f], mu = new double[m * f];
        double[] g = Reference.linear(x, Weights.values(gv, 1), null, m, f, k, mg);
        double[] u = Reference.linear(x, Weights.values(uv, 1), null, m, f, k, mu);
        double[] want = new double[m * f], mag = new double[m * f];
        for (int i = 0; i < want.length; i++) {
            want[i] = Reference.silu(g[i]) * u[i];
            mag[i] = mg[i] * Math.abs(u[i]) + Math.abs(g[i]) * mu[i] + 1e-30;
        }
        Tensor y = B.alloc(m, f);
        B.linearSwiGLU(y, tensor(x, m, k), B.weight(gv), B.weight(uv));
        near("swiglu", want, mag, get(y), 2 * REL, 1e-6);
    }

    @Test
    void matmulTransposedAndSingleThread() {
        Random r = new Random(5);
        int m = 37, n = 41, k = 301;
        float[] x = Weights.random(r, m * k, 1f), w = Weights.random(r, n * k, 1f);
        double[] mag = new double[m * n];
        double[] want = Reference.linear(x, w, null, m, n, k, mag);
        Tensor y = B.alloc(m, n);
        B.matmulTransposed(y, tensor(x, m, k), tensor(w, n, k));
        near("matmulTransposed", want, mag, get(y), REL, 1e-6);
        try (CpuBackend one = new CpuBackend(1)) {
            Tensor x1 = one.alloc(m, k), w1 = one.alloc(n, k), y1 = one.alloc(m, n);
            one.upload(x1, x);
            one.upload(w1, w);
            one.matmulTransposed(y1, x1, w1);
            float[] got = new float[m * n];
            one.download(y1, got);
            near("single thread", want, mag, got, REL, 1e-6);
        }
    }

    @Test
    void linearOnViews() {
        // rows of a larger tensor, as model code addresses image vs caption tokens
        Random r = new Random(9);
        int m = 9, n = 20, k = 24;
        float[] all = Weights.random(r, (m + 4) * k, 1f);
        float[] w = Weights.random(r, n * k, 1f);
        Tensor big = tensor(all, m + 4, k);
        Tensor out = B.alloc(m + 3, n);
        B.linear(out.rows(2, m), big.rows(3, m), B.weight(Weights.of("w", DType.F32, w, n, k)), null);
        float[] x = new float[m * k];
        System.arraycopy(all, 3 * k, x, 0, m * k);
        double[] mag = new double[m * n];
        double[] want = Reference.linear(x, w, null, m, n, k, mag);
        float[] got = get(out);
        float[] mid = new float[m * n];
        System.arraycopy(got, 2 * n, mid, 0, m * n);
        near("view", want, mag, mid, REL, 1e-6);
        for (int i = 0; i < 2 * n; i++) assertEquals(0f, got[i], "rows before the view untouched");
        for (int i = (m + 2) * n; i < got.length; i++) assertEquals(0f, got[i], "rows after the view untouched");
    }

    // ---------------------------------------------------------------- attention

    @ParameterizedTest(name = "Sq={0} Sk={1} heads={2}/{3} D={4} causal={5} valid={6}")
    @CsvSource({
            "1, 1, 1, 1, 8, false, 1", "77, 77, 4, 2, 16, true, 77", "5, 300, 3, 1, 12, false, 123",
            "150, 150, 2, 2, 128, true, 140", "40, 70, 1, 1, 512, false, 70", "73, 31, 8, 2, 7, false, 31",
            "200, 200, 1, 1, 3, true, 200"})
    void attention(int sq, int sk, int heads, int kvHeads, int d, boolean causal, int valid) {
        Random r = new Random(sq * 7919L + sk * 31L + d);
        float[] q = Weights.random(r, sq * heads * d, 2f), k = Weights.random(r, sk * kvHeads * d, 2f),
                v = Weights.random(r, sk * kvHeads * d, 1f);
        float scale = (float) (1 / Math.sqrt(d));
        double[] want = Reference.attention(q, k, v, sq, sk, heads, kvHeads, d, scale, causal, valid);
        Tensor out = B.alloc(sq, heads * d);
        B.attention(out, tensor(q, sq, heads * d), tensor(k, sk, kvHeads * d), tensor(v, sk, kvHeads * d),
                new AttentionSpec(heads, kvHeads, d, scale, causal, valid));
        near("attention", want, null, get(out), 1e-5, 2e-6);
    }

    // ---------------------------------------------------------------- norms

    @ParameterizedTest(name = "rows={0} d={1}")
    @CsvSource({"1, 1", "5, 13", "3, 128", "33, 257"})
    void rmsNormLayerNormGated(int rows, int d) {
        Random r = new Random(rows * 100 + d);
        float[] x = Weights.random(r, rows * d, 3f), w = Weights.random(r, d, 2f), sc = Weights.random(r, d, 1f);
        Weight ww = B.weight(Weights.of("norm.weight", DType.BF16, w, d));
        float[] wq = Weights.values(Weights.of("norm.weight", DType.BF16, w, d), 1f);
        float eps = 1e-6f;

        Tensor y = B.alloc(rows, d);
        B.rmsNorm(y, tensor(x, rows, d), ww, null, eps);
        near("rmsNorm", Reference.rmsNorm(x, wq, null, rows, d, eps), get(y));
        Tensor xt = tensor(x, rows, d);
        B.rmsNorm(xt, xt, ww, tensor(sc, d), eps); // in place, with scale
        near("rmsNorm scale in place", Reference.rmsNorm(x, wq, sc, rows, d, eps), get(xt));

        Tensor ln = B.alloc(rows, d);
        B.layerNorm(ln, tensor(x, rows, d), null, eps);
        near("layerNorm", Reference.layerNorm(x, null, rows, d, eps), null, get(ln), REL, 1e-5);
        B.layerNorm(ln, tensor(x, rows, d), tensor(sc, 1, d), eps);
        near("layerNorm scale", Reference.layerNorm(x, sc, rows, d, eps), null, get(ln), REL, 1e-5);

        float[] h = Weights.random(r, rows * d, 2f), gate = Weights.random(r, d, 2f);
        double[] nh = Reference.rmsNorm(h, wq, null, rows, d, eps);
        for (boolean gated : new boolean[] {false, true}) {
            Tensor xr = tensor(x, rows, d);
            B.gatedResidualRmsNorm(xr, tensor(h, rows, d), ww, gated ? tensor(gate, d) : null, eps);
            double[] want = new double[rows * d], mag = new double[rows * d];
            for (int i = 0; i < want.length; i++) {
                double g = gated ? Math.tanh(gate[i % d]) : 1;
                want[i] = x[i] + g * nh[i];
                mag[i] = Math.abs(x[i]) + Math.abs(g * nh[i]);
            }
            near("gatedResidualRmsNorm gated=" + gated, want, mag, get(xr), REL, 1e-6);
        }
    }

    @ParameterizedTest(name = "C={0} HW={1} groups={2} silu={3}")
    @CsvSource({"8, 37, 4, false", "8, 37, 4, true", "64, 5000, 32, true", "3, 1, 1, false", "6, 9, 6, false"})
    void groupNorm(int c, int hw, int groups, boolean silu) {
        Random r = new Random(c * 31L + hw);
        float[] x = Weights.random(r, c * hw, 2f), gamma = Weights.random(r, c, 1.5f), beta = Weights.random(r, c, 1f);
        for (int i = 0; i < x.length; i++) x[i] += 3f; // a mean far from zero
        double[] want = Reference.groupNorm(x, c, hw, groups, gamma, beta, 1e-6f, silu);
        Tensor xt = tensor(x, c, hw);
        B.groupNorm(xt, xt, groups, B.weight(Weights.of("g", DType.F32, gamma, c)), B.weight(Weights.of("b", DType.F32, beta, c)), 1e-6f, silu);
        near("groupNorm", want, null, get(xt), 1e-5, 1e-5);
    }

    @ParameterizedTest
    @CsvSource({"1, 1", "3, 7", "4, 300", "17, 1000"})
    void softmax(int rows, int d) {
        Random r = new Random(rows + d);
        float[] x = Weights.random(r, rows * d, 20f);
        double[] want = new double[x.length];
        for (int i = 0; i < rows; i++) {
            double mx = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < d; j++) mx = Math.max(mx, x[i * d + j]);
            for (int j = 0; j < d; j++) s += Math.exp(x[i * d + j] - mx);
            for (int j = 0; j < d; j++) want[i * d + j] = Math.exp(x[i * d + j] - mx) / s;
        }
        Tensor t = tensor(x, rows, d);
        B.softmax(t);
        near("softmax", want, null, get(t), REL, 1e-7);
    }

    // ---------------------------------------------------------------- positional

    @ParameterizedTest
    @CsvSource({"INTERLEAVED, 1, 1, 2", "INTERLEAVED, 7, 3, 128", "HALF, 5, 4, 6", "HALF, 9, 2, 128"})
    void rope(Rope layout, int s, int heads, int d) {
        Random r = new Random(s * heads + d);
        int half = d / 2;
        float[] x = Weights.random(r, s * heads * d, 2f), ang = Weights.random(r, s * half, 7f);
        float[] cos = new float[ang.length], sin = new float[ang.length];
        for (int i = 0; i < ang.length; i++) {
            cos[i] = (float) Math.cos(ang[i]);
            sin[i] = (float) Math.sin(ang[i]);
        }
        double[] want = d(x);
        for (int t = 0; t < s; t++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < half; i++) {
                    int base = t * heads * d + h * d;
                    int i0 = layout == Rope.INTERLEAVED ? base + 2 * i : base + i;
                    int i1 = layout == Rope.INTERLEAVED ? i0 + 1 : i0 + half;
                    double c = cos[t * half + i], sn = sin[t * half + i];
                    want[i0] = x[i0] * c - x[i1] * sn;
                    want[i1] = x[i0] * sn + x[i1] * c;
                }
        Tensor xt = tensor(x, s, heads * d);
        B.rope(xt, tensor(cos, s, half), tensor(sin, s, half), heads, layout);
        near("rope", want, null, get(xt), REL, 1e-6);
    }

    @ParameterizedTest
    @CsvSource({"256, 0.954545, 1000, 10000", "7, 0.25, 1000, 10000", "2, 0, 1, 100"})
    void timestepEmbedding(int dim, float t, float tScale, float maxPeriod) {
        Tensor y = B.alloc(1, dim);
        B.timestepEmbedding(y, tensor(new float[] {t}, 1), tScale, maxPeriod);
        double[] want = new double[dim];
        int half = dim / 2;
        double s = (double) (t * tScale);
        for (int k = 0; k < half; k++) {
            double f = (float) Math.exp(-Math.log(maxPeriod) * k / half);
            want[k] = Math.cos(s * f);
            want[half + k] = Math.sin(s * f);
        }
        // sin/cos of arguments up to 1000 in float: absolute error ~ ulp(1000)
        near("timestep", want, null, get(y), 0, 1e-4);
    }

    // ---------------------------------------------------------------- elementwise

    @Test
    void elementwise() {
        Random r = new Random(11);
        for (int n : new int[] {1, 7, 100_003}) {
            float[] a = Weights.random(r, n, 10f), b = Weights.random(r, n, 10f);
            double[] silu = new double[n], sum = new double[n], axpy = new double[n], sc = new double[n];
            for (int i = 0; i < n; i++) {
                silu[i] = Reference.silu(a[i]);
                sum[i] = (double) a[i] + b[i];
                axpy[i] = b[i] + 0.3 * a[i];
                sc[i] = -1.5 * a[i] + 0.25;
            }
            Tensor ta = tensor(a, n), tb = tensor(b, n), y = B.alloc(n);
            B.silu(y, ta);
            near("silu", silu, null, get(y), REL, 1e-7);
            B.add(y, ta, tb);
            near("add", sum, null, get(y), REL, 1e-6);
            B.axpy(tb, 0.3f, ta);
            near("axpy", axpy, null, get(tb), REL, 1e-5);
            B.scale(ta, ta, -1.5f, 0.25f);
            near("scale", sc, null, get(ta), REL, 1e-6);
        }
    }

    // ---------------------------------------------------------------- convolution and images

    @ParameterizedTest(name = "{0}: Cin={1} {2}x{3} Cout={4} k={5} s={6} pad={7},{8},{9},{10} bias={11}")
    @CsvSource({
            "F32, 3, 7, 9, 5, 3, 1, 1, 1, 1, 1, true", "BF16, 4, 6, 5, 6, 1, 1, 0, 0, 0, 0, true",
            "F32, 5, 9, 8, 7, 3, 2, 0, 0, 1, 1, false", "F16, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1, true",
            "F32, 33, 13, 11, 19, 3, 1, 1, 1, 1, 1, true", "BF16, 40, 4, 4, 3, 1, 1, 0, 0, 0, 0, false",
            "F32, 8, 20, 24, 150, 3, 1, 1, 1, 1, 1, true", "F32, 6, 21, 17, 9, 3, 2, 1, 1, 1, 1, true"})
    void conv2d(DType dt, int cin, int h, int w, int cout, int k, int stride, int pt, int pl, int pb, int pr, boolean withBias) {
        Random r = new Random(cin * 1000L + h * 10 + cout);
        Conv2dSpec spec = new Conv2dSpec(cin, h, w, cout, k, stride, pt, pl, pb, pr);
        int oh = spec.outHeight(), ow = spec.outWidth();
        float[] x = Weights.random(r, cin * h * w, 1f), bias = withBias ? Weights.random(r, cout, 1f) : null;
        TensorView wv = Weights.of("conv.weight", dt, Weights.random(r, cout * cin * k * k, 1f), cout, cin, k, k);
        double[] want = Reference.conv2d(x, Weights.values(wv, 1), bias, cin, h, w, cout, k, stride, pt, pl, oh, ow);
        Tensor y = B.alloc(cout, oh, ow);
        B.conv2d(y, tensor(x, cin, h, w), B.weight(wv), withBias ? B.weight(Weights.of("conv.bias", DType.F32, bias, cout)) : null, spec);
        near("conv2d", want, null, get(y), 1e-5, 1e-5 * Math.sqrt(cin * k * k));
    }

    @Test
    void transposeUpsamplePatchify() {
        Random r = new Random(3);
        int rows = 37, cols = 70;
        float[] x = Weights.random(r, rows * cols, 1f);
        Tensor y = B.alloc(cols, rows);
        B.transpose(y, tensor(x, rows, cols));
        float[] got = get(y);
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) assertEquals(x[i * cols + j], got[j * rows + i]);

        int c = 3, h = 5, w = 7;
        float[] img = Weights.random(r, c * h * w, 1f);
        Tensor up = B.alloc(c, 2 * h, 2 * w);
        B.upsampleNearest2x(up, tensor(img, c, h, w), c, h, w);
        float[] u = get(up);
        for (int ch = 0; ch < c; ch++)
            for (int yy = 0; yy < 2 * h; yy++)
                for (int xx = 0; xx < 2 * w; xx++)
                    assertEquals(img[(ch * h + yy / 2) * w + xx / 2], u[(ch * 2 * h + yy) * 2 * w + xx]);

        int pc = 16, ph = 6, pw = 10, p = 2;
        float[] lat = Weights.random(r, pc * ph * pw, 1f);
        Tensor tok = B.alloc(ph / p * (pw / p), p * p * pc);
        B.patchify(tok, tensor(lat, pc, ph, pw), pc, ph, pw, p);
        float[] tk = get(tok);
        for (int th = 0; th < ph / p; th++)
            for (int tw = 0; tw < pw / p; tw++)
                for (int a = 0; a < p; a++)
                    for (int b = 0; b < p; b++)
                        for (int ch = 0; ch < pc; ch++)
                            assertEquals(lat[(ch * ph + p * th + a) * pw + p * tw + b],
                                    tk[(th * (pw / p) + tw) * p * p * pc + (a * p + b) * pc + ch]);
        Tensor back = B.alloc(pc, ph, pw);
        B.unpatchify(back, tok, pc, ph, pw, p);
        assertArrayEquals(lat, get(back));
    }

    @Test
    void embeddingLookupAndFillRows() {
        Random r = new Random(4);
        int vocab = 50, dd = 19;
        TensorView tv = Weights.of("embed", DType.BF16, Weights.random(r, vocab * dd, 1f), vocab, dd);
        float[] table = Weights.values(tv, 1);
        int[] ids = {0, 49, 7, 7, 23};
        Tensor y = B.alloc(ids.length, dd);
        B.embeddingLookup(y, B.weight(tv), ids);
        float[] got = get(y);
        for (int i = 0; i < ids.length; i++)
            for (int j = 0; j < dd; j++) assertEquals(table[ids[i] * dd + j], got[i * dd + j]);
        assertThrows(IllegalArgumentException.class, () -> B.embeddingLookup(B.alloc(1, dd), B.weight(tv), new int[] {50}));

        float[] pad = Weights.random(r, dd, 1f);
        Weight pw = B.weight(Weights.of("pad", DType.F32, pad, 1, dd));
        assertEquals(4L * dd, pw.ownedBytes());
        Tensor f = B.alloc(4, dd);
        B.fillRows(f, pw);
        float[] fg = get(f);
        for (int i = 0; i < 4; i++) for (int j = 0; j < dd; j++) assertEquals(pad[j], fg[i * dd + j]);
    }

    @Test
    void badInputsThrowNamingTheOp() {
        Weight w = B.weight(Weights.of("w", DType.F32, new float[12], 3, 4));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> B.linear(B.alloc(2, 3), B.alloc(2, 5), w, null));
        assertTrue(e.getMessage().startsWith("linear"), e.getMessage());
        Tensor t = B.alloc(4, 4);
        e = assertThrows(IllegalArgumentException.class, () -> B.matmulTransposed(t, t, B.alloc(4, 4)));
        assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> B.rmsNorm(B.alloc(2, 5), B.alloc(2, 5), w, null, 1e-6f));
        assertThrows(IllegalArgumentException.class, () -> B.attention(B.alloc(3, 8), B.alloc(3, 8), B.alloc(3, 4), B.alloc(3, 4),
                new AttentionSpec(2, 2, 4, 0.5f, false, 3)));
        assertThrows(IllegalArgumentException.class, () -> B.weight(new TensorView("ids", DType.I32, new long[] {2},
                java.lang.foreign.Arena.ofAuto().allocate(8))));
        assertThrows(IllegalArgumentException.class, () -> t.view(10, 2, 4));
        B.release(w);
        assertThrows(IllegalStateException.class, () -> B.linear(B.alloc(2, 3), B.alloc(2, 4), w, null));
    }

    @Test
    void factory() {
        try (Backend b = dev.zimage4j.kernels.Backends.create("cpu")) {
            assertEquals("cpu", b.name());
        }
        assertThrows(IllegalArgumentException.class, () -> dev.zimage4j.kernels.Backends.create("tpu"));
    }
}
