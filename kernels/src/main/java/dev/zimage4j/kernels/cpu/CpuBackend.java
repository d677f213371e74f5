package dev.zimage4j.kernels.cpu;

import dev.zimage4j.kernels.AttentionSpec;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Conv2dSpec;
import dev.zimage4j.kernels.Rope;
import dev.zimage4j.kernels.Tensor;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.TensorView;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import java.util.Arrays;

import static dev.zimage4j.kernels.cpu.Gemm.L;
import static dev.zimage4j.kernels.cpu.Gemm.S;

/**
 * The CPU {@link Backend}: float32 activations on the heap, weights used in place from the mapped
 * checkpoint (converted while packed), every op vectorised with the JDK Vector API and spread over a
 * persistent {@link WorkerPool} of all cores.
 *
 * <p>Ops run synchronously on the calling thread (plus the pool); {@link #sync} is a no-op. Like a GPU
 * stream, one backend serves one caller thread at a time.
 */
public final class CpuBackend implements Backend {
    private final WorkerPool pool;
    private final Gemm.Scratch[] gemmScratch;
    private final Attention.Scratch[] attnScratch;
    private final Attention.Packed attnPacked = new Attention.Packed();
    /** Per-call column scratch (tanh of a gate), grown once. */
    private float[] colScratch = new float[0];

    /** A backend over all available cores. */
    public CpuBackend() {
        this(Runtime.getRuntime().availableProcessors());
    }

    /** A backend over {@code threads} threads (the caller included). */
    public CpuBackend(int threads) {
        this.pool = new WorkerPool(threads);
        this.gemmScratch = new Gemm.Scratch[threads];
        this.attnScratch = new Attention.Scratch[threads];
        for (int i = 0; i < threads; i++) {
            gemmScratch[i] = new Gemm.Scratch();
            attnScratch[i] = new Attention.Scratch();
        }
    }

    /** Number of threads the ops use. */
    public int threads() {
        return pool.size();
    }

    @Override
    public String name() {
        return "cpu";
    }

    // ---------------------------------------------------------------- memory

    @Override
    public Tensor alloc(int... shape) {
        int n = CpuTensor.checkedNumel(shape);
        return new CpuTensor(new float[n], 0, shape);
    }

    @Override
    public void upload(Tensor dst, float[] src) {
        CpuTensor d = t(dst, "upload");
        if (src.length < d.numel)
            throw new IllegalArgumentException("upload: " + src.length + " floats for a tensor of " + d.numel + " " + d);
        System.arraycopy(src, 0, d.data, d.offset, d.numel);
    }

    @Override
    public void download(Tensor src, float[] dst) {
        CpuTensor s = t(src, "download");
        if (dst.length < s.numel)
            throw new IllegalArgumentException("download: array of " + dst.length + " floats for a tensor of " + s.numel + " " + s);
        System.arraycopy(s.data, s.offset, dst, 0, s.numel);
    }

    @Override
    public void copy(Tensor dst, Tensor src) {
        CpuTensor d = t(dst, "copy"), s = t(src, "copy");
        sameNumel("copy", d, s);
        System.arraycopy(s.data, s.offset, d.data, d.offset, d.numel);
    }

    @Override
    public void sync() {
    }

    @Override
    public Weight weight(TensorView stored, float scale) {
        return new CpuWeight(stored, scale);
    }

    @Override
    public void release(Weight w) {
        cw(w, "release").release();
    }

    @Override
    public void release(Tensor t) {
        t(t, "release");
    }

    // ---------------------------------------------------------------- linear algebra

    @Override
    public void linear(Tensor y, Tensor x, Weight w, Weight bias) {
        gemmLinear("linear", y, x, w, bias, false);
    }

    @Override
    public void linearAdd(Tensor y, Tensor x, Weight w, Weight bias) {
        gemmLinear("linearAdd", y, x, w, bias, true);
    }

    private void gemmLinear(String op, Tensor yt, Tensor xt, Weight wt, Weight bt, boolean accumulate) {
        CpuTensor y = t(yt, op), x = t(xt, op);
        CpuWeight w = matrix(wt, op);
        int n = w.shape()[0], k = x.cols(), m = x.rows();
        checkLinear(op, y, x, w, n, k, m);
        float[] bias = bt == null ? null : cw(bt, op).vector(op + " bias", n);
        Gemm.gemm(pool, gemmScratch, m, n, k, new Gemm.RowsA(x.data, x.offset, k), new Gemm.WeightB(w, k),
                y.data, y.offset, n, bias, accumulate);
    }

    private static void checkLinear(String op, CpuTensor y, CpuTensor x, Weight w, int n, int k, int m) {
        int[] ws = w.shape();
        if (ws[1] != k || y.rows() != m || y.cols() != n)
            throw new IllegalArgumentException(op + ": y " + y + " = x " + x + " · w " + w.name() + " " + Arrays.toString(ws)
                    + "ᵀ: need x [M, K], w [N, K], y [M, N]");
        noAlias(op, y, x);
    }

    @Override
    public void linearSwiGLU(Tensor yt, Tensor xt, Weight gateW, Weight upW) {
        String op = "linearSwiGLU";
        CpuTensor y = t(yt, op), x = t(xt, op);
        CpuWeight g = matrix(gateW, op), u = matrix(upW, op);
        int n = g.shape()[0], k = x.cols(), m = x.rows();
        if (!Arrays.equals(g.shape(), u.shape()))
            throw new IllegalArgumentException(op + ": gate " + g + " and up " + u + " must have the same shape");
        checkLinear(op, y, x, g, n, k, m);
        Gemm.gemmSwiGLU(pool, gemmScratch, m, n, k, new Gemm.RowsA(x.data, x.offset, k), new Gemm.WeightB(g, k),
                new Gemm.WeightB(u, k), y.data, y.offset, n);
    }

    @Override
    public void matmulTransposed(Tensor yt, Tensor xt, Tensor wt) {
        String op = "matmulTransposed";
        CpuTensor y = t(yt, op), x = t(xt, op), w = t(wt, op);
        int m = x.rows(), k = x.cols(), n = w.rows();
        if (w.cols() != k || y.rows() != m || y.cols() != n)
            throw new IllegalArgumentException(op + ": y " + y + " = x " + x + " · w " + w + "ᵀ: need x [M, K], w [N, K], y [M, N]");
        noAlias(op, y, x);
        noAlias(op, y, w);
        Gemm.gemm(pool, gemmScratch, m, n, k, new Gemm.RowsA(x.data, x.offset, k), new Gemm.TransposedB(w.data, w.offset, k),
                y.data, y.offset, n, null, false);
    }

    @Override
    public void embeddingLookup(Tensor yt, Weight tableW, int[] ids) {
        String op = "embeddingLookup";
        CpuTensor y = t(yt, op);
        CpuWeight table = cw(tableW, op);
        int[] ts = table.shape();
        if (ts.length != 2) throw new IllegalArgumentException(op + ": table " + table + " must be [V, D]");
        int vocab = ts[0], d = ts[1];
        if (y.rows() != ids.length || y.cols() != d)
            throw new IllegalArgumentException(op + ": y " + y + " must be [" + ids.length + ", " + d + "] for " + ids.length + " ids over " + table);
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new IllegalArgumentException(op + ": id " + ids[i] + " at position " + i + " is outside the table's " + vocab + " rows (" + table.name() + ")");
        parallelRows(ids.length, 8, (lo, hi) -> {
            for (int i = lo; i < hi; i++) table.toFloat((long) ids[i] * d, y.data, y.offset + i * d, d);
        });
    }

    @Override
    public void fillRows(Tensor yt, Weight rowW) {
        String op = "fillRows";
        CpuTensor y = t(yt, op);
        int d = y.cols();
        float[] row = cw(rowW, op).vector(op + " row", d);
        for (int r = 0, rows = y.rows(); r < rows; r++) System.arraycopy(row, 0, y.data, y.offset + r * d, d);
    }

    // ---------------------------------------------------------------- attention

    @Override
    public void attention(Tensor outT, Tensor qT, Tensor kT, Tensor vT, AttentionSpec spec) {
        String op = "attention";
        CpuTensor out = t(outT, op), q = t(qT, op), k = t(kT, op), v = t(vT, op);
        int qw = spec.heads() * spec.headDim(), kw = spec.kvHeads() * spec.headDim();
        if (q.cols() != qw || out.cols() != qw || out.rows() != q.rows() || k.cols() != kw || v.cols() != kw || k.rows() != v.rows())
            throw new IllegalArgumentException(op + ": q " + q + ", k " + k + ", v " + v + ", out " + out + " do not fit " + spec
                    + " (need q, out [Sq, " + qw + "], k, v [Sk, " + kw + "])");
        noAlias(op, out, q);
        noAlias(op, out, k);
        noAlias(op, out, v);
        Attention.run(pool, gemmScratch, attnScratch, attnPacked, out.data, out.offset, q.data, q.offset, k.data, k.offset,
                v.data, v.offset, q.rows(), k.rows(), spec);
    }

    // ---------------------------------------------------------------- norms and modulation

    @Override
    public void rmsNorm(Tensor yt, Tensor xt, Weight wt, Tensor scaleT, float eps) {
        String op = "rmsNorm";
        CpuTensor y = t(yt, op), x = t(xt, op);
        int d = x.cols();
        sameShapeRows(op, y, x);
        float[] w = cw(wt, op).vector(op + " weight", d);
        CpuTensor sc = scaleT == null ? null : colVector(op + " scale", scaleT, d);
        parallelRows(x.rows(), rowGrain(d), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int xo = x.offset + r * d, yo = y.offset + r * d;
                float inv = (float) (1.0 / Math.sqrt(VecMath.sumSquaredDeviations(x.data, xo, d, 0f) / d + eps));
                FloatVector vi = FloatVector.broadcast(S, inv);
                int j = 0;
                for (int bound = S.loopBound(d); j < bound; j += L) {
                    FloatVector v = FloatVector.fromArray(S, x.data, xo + j).mul(vi).mul(FloatVector.fromArray(S, w, j));
                    if (sc != null) v = v.mul(FloatVector.fromArray(S, sc.data, sc.offset + j).add(1f));
                    v.intoArray(y.data, yo + j);
                }
                for (; j < d; j++) {
                    float v = x.data[xo + j] * inv * w[j];
                    if (sc != null) v *= 1f + sc.data[sc.offset + j];
                    y.data[yo + j] = v;
                }
            }
        });
    }

    @Override
    public void layerNorm(Tensor yt, Tensor xt, Tensor scaleT, float eps) {
        String op = "layerNorm";
        CpuTensor y = t(yt, op), x = t(xt, op);
        int d = x.cols();
        sameShapeRows(op, y, x);
        CpuTensor sc = scaleT == null ? null : colVector(op + " scale", scaleT, d);
        parallelRows(x.rows(), rowGrain(d), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int xo = x.offset + r * d, yo = y.offset + r * d;
                float mean = VecMath.sum(x.data, xo, d) / d;
                float var = VecMath.sumSquaredDeviations(x.data, xo, d, mean) / d;
                float inv = (float) (1.0 / Math.sqrt(var + eps));
                FloatVector vi = FloatVector.broadcast(S, inv), vm = FloatVector.broadcast(S, mean);
                int j = 0;
                for (int bound = S.loopBound(d); j < bound; j += L) {
                    FloatVector v = FloatVector.fromArray(S, x.data, xo + j).sub(vm).mul(vi);
                    if (sc != null) v = v.mul(FloatVector.fromArray(S, sc.data, sc.offset + j).add(1f));
                    v.intoArray(y.data, yo + j);
                }
                for (; j < d; j++) {
                    float v = (x.data[xo + j] - mean) * inv;
                    if (sc != null) v *= 1f + sc.data[sc.offset + j];
                    y.data[yo + j] = v;
                }
            }
        });
    }

    @Override
    public void gatedResidualRmsNorm(Tensor xt, Tensor ht, Weight wt, Tensor gateT, float eps) {
        String op = "gatedResidualRmsNorm";
        CpuTensor x = t(xt, op), h = t(ht, op);
        int d = x.cols();
        sameShapeRows(op, x, h);
        noAlias(op, x, h);
        float[] w = cw(wt, op).vector(op + " weight", d);
        float[] gw;
        if (gateT == null) {
            gw = w;
        } else {
            CpuTensor g = colVector(op + " gate", gateT, d);
            if (colScratch.length < d) colScratch = new float[d];
            gw = colScratch;
            for (int j = 0; j < d; j++) gw[j] = (float) StrictMath.tanh(g.data[g.offset + j]) * w[j];
        }
        parallelRows(x.rows(), rowGrain(d), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int xo = x.offset + r * d, ho = h.offset + r * d;
                float inv = (float) (1.0 / Math.sqrt(VecMath.sumSquaredDeviations(h.data, ho, d, 0f) / d + eps));
                FloatVector vi = FloatVector.broadcast(S, inv);
                int j = 0;
                for (int bound = S.loopBound(d); j < bound; j += L) {
                    FloatVector v = FloatVector.fromArray(S, h.data, ho + j).mul(vi).mul(FloatVector.fromArray(S, gw, j));
                    v.add(FloatVector.fromArray(S, x.data, xo + j)).intoArray(x.data, xo + j);
                }
                for (; j < d; j++) x.data[xo + j] += h.data[ho + j] * inv * gw[j];
            }
        });
    }

    @Override
    public void groupNorm(Tensor yt, Tensor xt, int groups, Weight gammaW, Weight betaW, float eps, boolean silu) {
        String op = "groupNorm";
        CpuTensor y = t(yt, op), x = t(xt, op);
        sameNumel(op, y, x);
        int c = x.shape()[0];
        if (groups < 1 || c % groups != 0)
            throw new IllegalArgumentException(op + ": " + c + " channels of " + x + " do not split into " + groups + " groups");
        int hw = x.numel / c, per = c / groups;
        float[] gamma = cw(gammaW, op).vector(op + " gamma", c), beta = cw(betaW, op).vector(op + " beta", c);
        pool.run(groups, (long) x.numel, (g, wk) -> {
            int base = g * per * hw, n = per * hw;
            double s = 0;
            for (int o = 0; o < n; o += 4096) s += VecMath.sum(x.data, x.offset + base + o, Math.min(4096, n - o));
            float mean = (float) (s / n);
            double v = 0;
            for (int o = 0; o < n; o += 4096) v += VecMath.sumSquaredDeviations(x.data, x.offset + base + o, Math.min(4096, n - o), mean);
            float inv = (float) (1.0 / Math.sqrt(v / n + eps));
            for (int ch = g * per; ch < (g + 1) * per; ch++) {
                float a = inv * gamma[ch], b = beta[ch] - mean * a;
                affine(y.data, y.offset + ch * hw, x.data, x.offset + ch * hw, hw, a, b, silu);
            }
        });
    }

    @Override
    public void softmax(Tensor xt) {
        CpuTensor x = t(xt, "softmax");
        int d = x.cols();
        parallelRows(x.rows(), rowGrain(d), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = x.offset + r * d;
                float mx = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < d; j++) mx = Math.max(mx, x.data[o + j]);
                FloatVector vm = FloatVector.broadcast(S, mx), sum = FloatVector.zero(S);
                int j = 0;
                for (int bound = S.loopBound(d); j < bound; j += L) {
                    FloatVector p = VecMath.exp(FloatVector.fromArray(S, x.data, o + j).sub(vm));
                    sum = sum.add(p);
                    p.intoArray(x.data, o + j);
                }
                if (j < d) {
                    VectorMask<Float> m = VecMath.tail(j, d);
                    FloatVector p = VecMath.exp(FloatVector.fromArray(S, x.data, o + j, m).sub(vm));
                    sum = sum.add(p, m);
                    p.intoArray(x.data, o + j, m);
                }
                float inv = 1f / VecMath.sumLanes(sum);
                scaleInPlace(x.data, o, d, inv);
            }
        });
    }

    // ---------------------------------------------------------------- positional

    @Override
    public void rope(Tensor xt, Tensor cosT, Tensor sinT, int heads, Rope layout) {
        String op = "rope";
        CpuTensor x = t(xt, op), cos = t(cosT, op), sin = t(sinT, op);
        int s = x.rows(), width = x.cols();
        if (heads < 1 || width % heads != 0 || (width / heads) % 2 != 0)
            throw new IllegalArgumentException(op + ": x " + x + " is not [S, heads·D] with even D for " + heads + " heads");
        int d = width / heads, half = d / 2;
        if (cos.numel != (long) s * half || sin.numel != (long) s * half)
            throw new IllegalArgumentException(op + ": cos " + cos + " and sin " + sin + " must hold [" + s + ", " + half + "] for x " + x);
        parallelRows(s, rowGrain(width), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int co = cos.offset + r * half, so = sin.offset + r * half;
                for (int h = 0; h < heads; h++) {
                    int xo = x.offset + r * width + h * d;
                    for (int i = 0; i < half; i++) {
                        float c = cos.data[co + i], sn = sin.data[so + i];
                        int i0 = layout == Rope.INTERLEAVED ? xo + 2 * i : xo + i;
                        int i1 = layout == Rope.INTERLEAVED ? i0 + 1 : i0 + half;
                        float a = x.data[i0], b = x.data[i1];
                        x.data[i0] = a * c - b * sn;
                        x.data[i1] = a * sn + b * c;
                    }
                }
            }
        });
    }

    @Override
    public void timestepEmbedding(Tensor yt, Tensor tt, float tScale, float maxPeriod) {
        String op = "timestepEmbedding";
        CpuTensor y = t(yt, op), tv = t(tt, op);
        if (tv.numel != 1) throw new IllegalArgumentException(op + ": t " + tv + " must hold one element");
        int dim = y.numel, half = dim / 2;
        float s = tv.data[tv.offset] * tScale;
        for (int k = 0; k < half; k++) {
            // StrictMath: a fixed algorithm, so the embedding is bitwise the same in every JIT tier.
            float f = (float) StrictMath.exp(-StrictMath.log(maxPeriod) * k / half);
            float arg = s * f;
            y.data[y.offset + k] = (float) StrictMath.cos(arg);
            y.data[y.offset + half + k] = (float) StrictMath.sin(arg);
        }
        if (dim % 2 == 1) y.data[y.offset + dim - 1] = 0f;
    }

    // ---------------------------------------------------------------- elementwise

    @Override
    public void silu(Tensor yt, Tensor xt) {
        CpuTensor y = t(yt, "silu"), x = t(xt, "silu");
        sameNumel("silu", y, x);
        parallelChunks(x.numel, (lo, hi) -> affine(y.data, y.offset + lo, x.data, x.offset + lo, hi - lo, 1f, 0f, true));
    }

    @Override
    public void add(Tensor yt, Tensor at, Tensor bt) {
        CpuTensor y = t(yt, "add"), a = t(at, "add"), b = t(bt, "add");
        if (!Arrays.equals(a.shape(), b.shape()) || !Arrays.equals(y.shape(), a.shape()))
            throw new IllegalArgumentException("add: shapes differ: y " + y + ", a " + a + ", b " + b);
        parallelChunks(y.numel, (lo, hi) -> {
            int j = lo;
            for (int bound = lo + S.loopBound(hi - lo); j < bound; j += L)
                FloatVector.fromArray(S, a.data, a.offset + j).add(FloatVector.fromArray(S, b.data, b.offset + j)).intoArray(y.data, y.offset + j);
            for (; j < hi; j++) y.data[y.offset + j] = a.data[a.offset + j] + b.data[b.offset + j];
        });
    }

    @Override
    public void axpy(Tensor yt, float alpha, Tensor xt) {
        CpuTensor y = t(yt, "axpy"), x = t(xt, "axpy");
        sameNumel("axpy", y, x);
        parallelChunks(y.numel, (lo, hi) -> {
            FloatVector va = FloatVector.broadcast(S, alpha);
            int j = lo;
            for (int bound = lo + S.loopBound(hi - lo); j < bound; j += L)
                FloatVector.fromArray(S, x.data, x.offset + j).fma(va, FloatVector.fromArray(S, y.data, y.offset + j)).intoArray(y.data, y.offset + j);
            for (; j < hi; j++) y.data[y.offset + j] = Math.fma(alpha, x.data[x.offset + j], y.data[y.offset + j]);
        });
    }

    @Override
    public void scale(Tensor yt, Tensor xt, float alpha, float beta) {
        CpuTensor y = t(yt, "scale"), x = t(xt, "scale");
        sameNumel("scale", y, x);
        parallelChunks(y.numel, (lo, hi) -> affine(y.data, y.offset + lo, x.data, x.offset + lo, hi - lo, alpha, beta, false));
    }

    // ---------------------------------------------------------------- convolution and images

    @Override
    public void conv2d(Tensor yt, Tensor xt, Weight wt, Weight bt, Conv2dSpec s) {
        String op = "conv2d";
        CpuTensor y = t(yt, op), x = t(xt, op);
        CpuWeight w = cw(wt, op);
        int oh = s.outHeight(), ow = s.outWidth(), kk = s.kernel();
        if (s.inChannels() < 1 || s.outChannels() < 1 || kk < 1 || s.stride() < 1 || oh < 1 || ow < 1
                || s.padTop() < 0 || s.padLeft() < 0 || s.padBottom() < 0 || s.padRight() < 0)
            throw new IllegalArgumentException(op + ": invalid geometry " + s);
        long k = (long) s.inChannels() * kk * kk;
        if (x.numel != (long) s.inChannels() * s.height() * s.width() || y.numel != (long) s.outChannels() * oh * ow
                || w.numel() != s.outChannels() * k)
            throw new IllegalArgumentException(op + ": x " + x + ", w " + w + ", y " + y + " do not fit " + s
                    + " (need x [Cin,H,W], w [Cout,Cin,k,k], y [Cout," + oh + "," + ow + "])");
        noAlias(op, y, x);
        int n = oh * ow;
        boolean acc = bt != null;
        if (acc) {
            float[] bias = cw(bt, op).vector(op + " bias", s.outChannels());
            for (int c = 0; c < s.outChannels(); c++) Arrays.fill(y.data, y.offset + c * n, y.offset + (c + 1) * n, bias[c]);
        }
        Gemm.Panels b = kk == 1 && s.stride() == 1 && s.padTop() == 0 && s.padLeft() == 0 && s.padBottom() == 0 && s.padRight() == 0
                ? new Gemm.RowMajorB(x.data, x.offset, n)
                : new Gemm.Im2colB(x.data, x.offset, s.height(), s.width(), kk, s.stride(), s.padTop(), s.padLeft(), ow);
        Gemm.gemm(pool, gemmScratch, s.outChannels(), n, (int) k, new Gemm.WeightA(w, (int) k), b, y.data, y.offset, n, null, acc);
    }

    @Override
    public void transpose(Tensor yt, Tensor xt) {
        CpuTensor y = t(yt, "transpose"), x = t(xt, "transpose");
        int r = x.rows(), c = x.cols();
        if (y.rows() != c || y.cols() != r)
            throw new IllegalArgumentException("transpose: y " + y + " must be [" + c + ", " + r + "] for x " + x);
        noAlias("transpose", y, x);
        final int b = 32;
        parallelRows(Gemm.ceilDiv(r, b), 1, (lo, hi) -> {
            for (int i0 = lo * b; i0 < Math.min(r, hi * b); i0 += b)
                for (int j0 = 0; j0 < c; j0 += b)
                    for (int i = i0; i < Math.min(r, i0 + b); i++)
                        for (int j = j0; j < Math.min(c, j0 + b); j++)
                            y.data[y.offset + j * r + i] = x.data[x.offset + i * c + j];
        });
    }

    @Override
    public void upsampleNearest2x(Tensor yt, Tensor xt, int channels, int height, int width) {
        String op = "upsampleNearest2x";
        CpuTensor y = t(yt, op), x = t(xt, op);
        if (x.numel != (long) channels * height * width || y.numel != 4L * channels * height * width)
            throw new IllegalArgumentException(op + ": x " + x + " / y " + y + " do not hold [" + channels + ", " + height + ", " + width
                    + "] / [" + channels + ", " + 2 * height + ", " + 2 * width + "]");
        noAlias(op, y, x);
        parallelRows(channels * height, 4, (lo, hi) -> {
            for (int row = lo; row < hi; row++) {
                int src = x.offset + row * width, dst = y.offset + row * 4 * width;
                for (int j = 0; j < width; j++) {
                    float v = x.data[src + j];
                    y.data[dst + 2 * j] = v;
                    y.data[dst + 2 * j + 1] = v;
                }
                System.arraycopy(y.data, dst, y.data, dst + 2 * width, 2 * width);
            }
        });
    }

    @Override
    public void patchify(Tensor yt, Tensor xt, int channels, int height, int width, int patch) {
        patchMove("patchify", t(yt, "patchify"), t(xt, "patchify"), channels, height, width, patch, true);
    }

    @Override
    public void unpatchify(Tensor yt, Tensor xt, int channels, int height, int width, int patch) {
        patchMove("unpatchify", t(yt, "unpatchify"), t(xt, "unpatchify"), channels, height, width, patch, false);
    }

    /** Patchify (latent {@code img} → tokens {@code tok}) or its inverse, one index map for both. */
    private void patchMove(String op, CpuTensor y, CpuTensor x, int c, int h, int w, int p, boolean toTokens) {
        if (p < 1 || h % p != 0 || w % p != 0)
            throw new IllegalArgumentException(op + ": " + h + "×" + w + " is not divisible by patch " + p);
        int ht = h / p, wt = w / p, width = p * p * c;
        CpuTensor img = toTokens ? x : y, tok = toTokens ? y : x;
        if (img.numel != (long) c * h * w || tok.numel != (long) ht * wt * width)
            throw new IllegalArgumentException(op + ": latent " + img + " must hold [" + c + ", " + h + ", " + w + "] and tokens " + tok
                    + " [" + ht * wt + ", " + width + "]");
        noAlias(op, y, x);
        parallelRows(ht, 1, (lo, hi) -> {
            for (int th = lo; th < hi; th++)
                for (int tw = 0; tw < wt; tw++) {
                    int to = tok.offset + (th * wt + tw) * width;
                    for (int ph = 0; ph < p; ph++)
                        for (int pw = 0; pw < p; pw++)
                            for (int ch = 0; ch < c; ch++) {
                                int ti = to + (ph * p + pw) * c + ch;
                                int ii = img.offset + (ch * h + p * th + ph) * w + p * tw + pw;
                                if (toTokens) tok.data[ti] = img.data[ii];
                                else img.data[ii] = tok.data[ti];
                            }
                }
        });
    }

    @Override
    public void close() {
        pool.close();
    }

    // ---------------------------------------------------------------- helpers

    /** A row-range loop body. */
    @FunctionalInterface
    private interface Range {
        void run(int lo, int hi);
    }

    /** Rows per task so that each task touches at least ~16 K floats. */
    private static int rowGrain(int cols) {
        return Math.max(1, 16384 / Math.max(1, cols));
    }

    private void parallelRows(int rows, int grain, Range body) {
        int tasks = Math.min(Gemm.ceilDiv(rows, Math.max(1, grain)), 4 * pool.size());
        if (tasks <= 1) {
            body.run(0, rows);
            return;
        }
        int per = Gemm.ceilDiv(rows, tasks);
        pool.run(Gemm.ceilDiv(rows, per), (t, w) -> body.run(t * per, Math.min(rows, (t + 1) * per)));
    }

    private void parallelChunks(int n, Range body) {
        parallelRows(n, 1 << 16, body);
    }

    /** {@code y = f(a·x + b)} with f = SiLU or identity; {@code y} may alias {@code x}. The tail runs masked, same code. */
    private static void affine(float[] y, int yo, float[] x, int xo, int n, float a, float b, boolean silu) {
        FloatVector va = FloatVector.broadcast(S, a), vb = FloatVector.broadcast(S, b);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) {
            FloatVector v = FloatVector.fromArray(S, x, xo + j).fma(va, vb);
            (silu ? VecMath.silu(v) : v).intoArray(y, yo + j);
        }
        if (j < n) {
            VectorMask<Float> m = VecMath.tail(j, n);
            FloatVector v = FloatVector.fromArray(S, x, xo + j, m).fma(va, vb);
            (silu ? VecMath.silu(v) : v).intoArray(y, yo + j, m);
        }
    }

    private static void scaleInPlace(float[] x, int o, int n, float s) {
        FloatVector vs = FloatVector.broadcast(S, s);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) FloatVector.fromArray(S, x, o + j).mul(vs).intoArray(x, o + j);
        for (; j < n; j++) x[o + j] *= s;
    }

    private static CpuTensor t(Tensor t, String op) {
        if (t == null) throw new IllegalArgumentException(op + ": tensor argument is null");
        if (!(t instanceof CpuTensor c))
            throw new IllegalArgumentException(op + ": " + t + " is not a CPU tensor (it belongs to another backend)");
        return c;
    }

    private static CpuWeight cw(Weight w, String op) {
        if (w == null) throw new IllegalArgumentException(op + ": weight argument is null");
        if (!(w instanceof CpuWeight c))
            throw new IllegalArgumentException(op + ": weight " + w.name() + " was not prepared by a CPU backend");
        c.checkLive(op);
        return c;
    }

    private static CpuWeight matrix(Weight w, String op) {
        CpuWeight c = cw(w, op);
        if (c.shape().length != 2)
            throw new IllegalArgumentException(op + ": weight " + c + " must be a matrix [N, K]");
        return c;
    }

    private static CpuTensor colVector(String what, Tensor t, int d) {
        CpuTensor c = t(t, what);
        if (c.numel != d) throw new IllegalArgumentException(what + " " + c + " must hold " + d + " elements (one per column)");
        return c;
    }

    private static void sameNumel(String op, CpuTensor a, CpuTensor b) {
        if (a.numel != b.numel)
            throw new IllegalArgumentException(op + ": element counts differ: " + a + " vs " + b);
    }

    private static void sameShapeRows(String op, CpuTensor a, CpuTensor b) {
        if (a.numel != b.numel || a.cols() != b.cols())
            throw new IllegalArgumentException(op + ": " + a + " and " + b + " must have the same rows and columns");
    }

    /** Throws unless {@code y} and {@code x} are disjoint (ops that read x while writing y). */
    private static void noAlias(String op, CpuTensor y, CpuTensor x) {
        if (y.data == x.data && y.offset < x.offset + x.numel && x.offset < y.offset + y.numel)
            throw new IllegalArgumentException(op + ": output " + y + " overlaps input " + x + "; this op does not work in place");
    }
}
