package dev.zimage4j.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The GEMM engine: {@code C[M,N] (+)= A[M,K] · B[K,N] (+ bias[N])} in float32, Goto/BLIS style.
 *
 * <p>Operands are read through {@link Panels} packers, which copy (and convert) a block of A or B into
 * the contiguous, zero-padded panel layout the micro-kernel streams: that is where weight dtypes
 * (BF16/F16/F8), transposed storage and implicit im2col are handled, so there is exactly one
 * micro-kernel. Blocking: the K loop is cut into {@link #KC}-deep slices; per slice a B block
 * ({@code KC × ≤NT}, L2) is packed once and swept by A blocks of {@link #MC} rows (L2/L1); the
 * micro-kernel keeps an {@link #MR}×{@link #NR} tile of C in registers (12 vector accumulators).
 *
 * <p>Parallelism: the output is cut into tiles (whole K per tile, own packing), handed out
 * dynamically by the {@link WorkerPool}; there is no shared mutable state between tiles.
 */
final class Gemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Micro-tile rows (broadcast A values). */
    static final int MR = 6;
    /** Micro-tile columns: two vectors. */
    static final int NR = 2 * L;
    /** Depth of one packed K slice. */
    static final int KC = 256;
    /** Rows of one packed A block (a multiple of MR). */
    static final int MC = 24 * MR;
    /** Columns of one parallel output tile (a multiple of NR). */
    static final int NT = 16 * NR;

    private Gemm() {
    }

    /**
     * Packs a block of an operand. For A: rows {@code [start, start+count)}, depth {@code [p0, p0+kc)} into
     * panels of MR rows: {@code dst[(r/MR)·MR·kc + p·MR + r%MR]}. For B: columns {@code [start,
     * start+count)} into panels of NR columns: {@code dst[(j/NR)·NR·kc + p·NR + j%NR]}. Padding rows/columns
     * are zero. {@code tmp} is per-thread scratch of at least {@link #KC} floats.
     */
    interface Panels {
        void pack(float[] dst, float[] tmp, int start, int count, int p0, int kc);
    }

    /** Per-thread buffers, grown on first use and then reused. */
    static final class Scratch {
        float[] ap = new float[MC * KC];
        float[] bp = new float[NT * KC];
        float[] tmp = new float[Math.max(KC, 4096)];
        final float[] tile = new float[MR * NR];
        float[] swi = new float[0];

        float[] bp(int cols) {
            int need = roundUp(cols, NR) * KC;
            if (bp.length < need) bp = new float[need];
            return bp;
        }

        float[] tmp(int n) {
            if (tmp.length < n) tmp = new float[n];
            return tmp;
        }
    }

    static int roundUp(int x, int m) {
        return (x + m - 1) / m * m;
    }

    static int ceilDiv(int x, int m) {
        return (x + m - 1) / m;
    }

    // ------------------------------------------------------------------ drivers

    /** Output tiling for a parallel GEMM over {@code threads} participants. */
    record Tiling(int mt, int nt, int mTiles, int nTiles) {
        static Tiling of(int m, int n, int threads) {
            int nTiles = ceilDiv(n, NT);
            int mTiles = Math.max(ceilDiv(m, 1536), Math.min(ceilDiv(m, MR), ceilDiv(4 * threads, nTiles)));
            int mt = roundUp(ceilDiv(m, mTiles), MR);
            mTiles = ceilDiv(m, mt);
            return new Tiling(mt, NT, mTiles, nTiles);
        }

        int tasks() {
            return mTiles * nTiles;
        }
    }

    /** {@code C (+)= A·B (+ bias)} over the pool; C row-major at {@code c[cOff + i·ldc + j]}. */
    static void gemm(WorkerPool pool, Scratch[] scratch, int m, int n, int k, Panels a, Panels b,
                     float[] c, int cOff, int ldc, float[] bias, boolean accumulate) {
        Tiling t = Tiling.of(m, n, pool.size());
        pool.run(t.tasks(), (task, w) -> {
            int i0 = (task / t.nTiles) * t.mt, j0 = (task % t.nTiles) * t.nt;
            int mm = Math.min(t.mt, m - i0), nn = Math.min(t.nt, n - j0);
            block(scratch[w], a, b, i0, mm, j0, nn, k, c, cOff + i0 * ldc + j0, ldc, bias, accumulate);
        });
    }

    /** {@code C = silu(A·Bgateᵀ) ⊙ (A·Bupᵀ)}: both products per tile, the up product into tile scratch. */
    static void gemmSwiGLU(WorkerPool pool, Scratch[] scratch, int m, int n, int k, Panels a, Panels gate, Panels up,
                           float[] c, int cOff, int ldc) {
        Tiling t = Tiling.of(m, n, pool.size());
        pool.run(t.tasks(), (task, w) -> {
            Scratch s = scratch[w];
            int i0 = (task / t.nTiles) * t.mt, j0 = (task % t.nTiles) * t.nt;
            int mm = Math.min(t.mt, m - i0), nn = Math.min(t.nt, n - j0);
            if (s.swi.length < t.mt * t.nt) s.swi = new float[t.mt * t.nt];
            int base = cOff + i0 * ldc + j0;
            block(s, a, gate, i0, mm, j0, nn, k, c, base, ldc, null, false);
            block(s, a, up, i0, mm, j0, nn, k, s.swi, 0, nn, null, false);
            for (int i = 0; i < mm; i++) swiglu(c, base + i * ldc, s.swi, i * nn, nn);
        });
    }

    /** {@code g[go..go+n) = silu(g) ⊙ u[uo..uo+n)}. */
    static void swiglu(float[] g, int go, float[] u, int uo, int n) {
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) {
            FloatVector x = FloatVector.fromArray(S, g, go + j);
            FloatVector sig = x.neg().lanewise(VectorOperators.EXP).add(1f);
            x.div(sig).mul(FloatVector.fromArray(S, u, uo + j)).intoArray(g, go + j);
        }
        for (; j < n; j++) {
            float x = g[go + j];
            g[go + j] = x / (1f + (float) Math.exp(-x)) * u[uo + j];
        }
    }

    /**
     * One output tile on the calling thread: rows {@code [i0, i0+m)} and columns {@code [j0, j0+n)} of the
     * full product over all of K; {@code cOff} is the index of element {@code (i0, j0)} in {@code c}.
     */
    static void block(Scratch s, Panels a, Panels b, int i0, int m, int j0, int n, int k,
                      float[] c, int cOff, int ldc, float[] bias, boolean accumulate) {
        float[] bp = s.bp(n);
        float[] ap = s.ap;
        for (int pc = 0; pc < k; pc += KC) {
            int kc = Math.min(KC, k - pc);
            b.pack(bp, s.tmp, j0, n, pc, kc);
            boolean acc = accumulate || pc > 0;
            float[] bs = pc == 0 ? bias : null;
            for (int ic = 0; ic < m; ic += MC) {
                int mc = Math.min(MC, m - ic);
                a.pack(ap, s.tmp, i0 + ic, mc, pc, kc);
                macro(s, kc, ap, mc, bp, n, c, cOff + ic * ldc, ldc, bs, j0, acc);
            }
        }
    }

    static void macro(Scratch s, int kc, float[] ap, int mc, float[] bp, int n,
                              float[] c, int cOff, int ldc, float[] bias, int j0, boolean acc) {
        float[] tile = s.tile;
        for (int jr = 0; jr < n; jr += NR) {
            int nr = Math.min(NR, n - jr);
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = Math.min(MR, mc - ir);
                int ci = cOff + ir * ldc + jr;
                if (mr == MR && nr == NR) {
                    kernel(kc, ap, ir * kc, bp, jr * kc, c, ci, ldc, bias, j0 + jr, acc);
                } else {
                    kernel(kc, ap, ir * kc, bp, jr * kc, tile, 0, NR, null, 0, false);
                    for (int r = 0; r < mr; r++) {
                        for (int j = 0; j < nr; j++) {
                            float v = tile[r * NR + j];
                            if (bias != null) v += bias[j0 + jr + j];
                            int idx = ci + r * ldc + j;
                            c[idx] = acc ? c[idx] + v : v;
                        }
                    }
                }
            }
        }
    }

    /**
     * The micro-kernel: {@code C[6, 2L] (+)= Apanel[kc, 6] · Bpanel[kc, 2L] (+ bias)}, twelve accumulators
     * in registers, one broadcast and two vector loads per k.
     */
    static void kernel(int kc, float[] a, int ao, float[] b, int bo, float[] c, int co, int ldc,
                       float[] bias, int biasOff, boolean acc) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector x = FloatVector.broadcast(S, a[ao]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[ao + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[ao + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[ao + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, a[ao + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, a[ao + 5]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
            ao += MR;
            bo += NR;
        }
        if (bias != null) {
            FloatVector v0 = FloatVector.fromArray(S, bias, biasOff), v1 = FloatVector.fromArray(S, bias, biasOff + L);
            c00 = c00.add(v0); c01 = c01.add(v1);
            c10 = c10.add(v0); c11 = c11.add(v1);
            c20 = c20.add(v0); c21 = c21.add(v1);
            c30 = c30.add(v0); c31 = c31.add(v1);
            c40 = c40.add(v0); c41 = c41.add(v1);
            c50 = c50.add(v0); c51 = c51.add(v1);
        }
        store(c, co, c00, c01, acc);
        store(c, co + ldc, c10, c11, acc);
        store(c, co + 2 * ldc, c20, c21, acc);
        store(c, co + 3 * ldc, c30, c31, acc);
        store(c, co + 4 * ldc, c40, c41, acc);
        store(c, co + 5 * ldc, c50, c51, acc);
    }

    private static void store(float[] c, int o, FloatVector v0, FloatVector v1, boolean acc) {
        if (acc) {
            v0 = v0.add(FloatVector.fromArray(S, c, o));
            v1 = v1.add(FloatVector.fromArray(S, c, o + L));
        }
        v0.intoArray(c, o);
        v1.intoArray(c, o + L);
    }

    // ------------------------------------------------------------------ packers

    /** A from a row-major float matrix: {@code A[i][k] = x[off + i·ld + k]}. */
    record RowsA(float[] x, int off, int ld) implements Panels {
        @Override
        public void pack(float[] dst, float[] tmp, int start, int count, int p0, int kc) {
            packRowsA(dst, x, off, ld, start, count, p0, kc);
        }
    }

    static void packRowsA(float[] dst, float[] x, int off, int ld, int start, int count, int p0, int kc) {
        {
            for (int r0 = 0; r0 < count; r0 += MR) {
                int base = r0 * kc;
                int rows = Math.min(MR, count - r0);
                for (int r = 0; r < MR; r++) {
                    if (r < rows) {
                        int src = off + (start + r0 + r) * ld + p0;
                        for (int p = 0; p < kc; p++) dst[base + p * MR + r] = x[src + p];
                    } else {
                        for (int p = 0; p < kc; p++) dst[base + p * MR + r] = 0f;
                    }
                }
            }
        }
    }

    /** A from a weight matrix {@code [M, K]} in its stored dtype (conv kernels). */
    record WeightA(CpuWeight w, int k) implements Panels {
        @Override
        public void pack(float[] dst, float[] tmp, int start, int count, int p0, int kc) {
            for (int r0 = 0; r0 < count; r0 += MR) {
                int base = r0 * kc;
                int rows = Math.min(MR, count - r0);
                for (int r = 0; r < MR; r++) {
                    if (r < rows) {
                        w.toFloat((long) (start + r0 + r) * k + p0, tmp, 0, kc);
                        for (int p = 0; p < kc; p++) dst[base + p * MR + r] = tmp[p];
                    } else {
                        for (int p = 0; p < kc; p++) dst[base + p * MR + r] = 0f;
                    }
                }
            }
        }
    }

    /** B from rows of a float matrix {@code [N, K]} (B = xᵀ): {@code B[k][j] = x[off + j·ld + k]}. */
    record TransposedB(float[] x, int off, int ld) implements Panels {
        @Override
        public void pack(float[] dst, float[] tmp, int start, int count, int p0, int kc) {
            packTransposedB(dst, x, off, ld, start, count, p0, kc);
        }
    }

    static void packTransposedB(float[] dst, float[] x, int off, int ld, int start, int count, int p0, int kc) {
        {
            for (int j0 = 0; j0 < count; j0 += NR) {
                int base = j0 * kc;
                int cols = Math.min(NR, count - j0);
                for (int j = 0; j < NR; j++) {
                    if (j < cols) {
                        int src = off + (start + j0 + j) * ld + p0;
                        for (int p = 0; p < kc; p++) dst[base + p * NR + j] = x[src + p];
                    } else {
                        for (int p = 0; p < kc; p++) dst[base + p * NR + j] = 0f;
                    }
                }
            }
        }
    }

    /** B from a weight {@code [N, K]} as stored (Linear): {@code B[k][j] = w[j·K + k]}, converted from its dtype. */
    record WeightB(CpuWeight w, int k) implements Panels {
        @Override
        public void pack(float[] dst, float[] tmp, int start, int count, int p0, int kc) {
            for (int j0 = 0; j0 < count; j0 += NR) {
                int base = j0 * kc;
                int cols = Math.min(NR, count - j0);
                for (int j = 0; j < NR; j++) {
                    if (j < cols) {
                        w.toFloat((long) (start + j0 + j) * k + p0, tmp, 0, kc);
                        for (int p = 0; p < kc; p++) dst[base + p * NR + j] = tmp[p];
                    } else {
                        for (int p = 0; p < kc; p++) dst[base + p * NR + j] = 0f;
                    }
                }
            }
        }
    }

    /** B from a row-major float matrix {@code [K, N]}: {@code B[k][j] = x[off + k·ld + j]} (attention's V). */
    record RowMajorB(float[] x, int off, int ld) implements Panels {
        @Override
        public void pack(float[] dst, float[] tmp, int start, int count, int p0, int kc) {
            packRowMajorB(dst, x, off, ld, start, count, p0, kc);
        }
    }

    static void packRowMajorB(float[] dst, float[] x, int off, int ld, int start, int count, int p0, int kc) {
        {
            for (int j0 = 0; j0 < count; j0 += NR) {
                int base = j0 * kc;
                int cols = Math.min(NR, count - j0);
                for (int p = 0; p < kc; p++) {
                    int src = off + (p0 + p) * ld + start + j0;
                    int d = base + p * NR;
                    if (cols == NR) {
                        System.arraycopy(x, src, dst, d, NR);
                    } else {
                        System.arraycopy(x, src, dst, d, cols);
                        for (int j = cols; j < NR; j++) dst[d + j] = 0f;
                    }
                }
            }
        }
    }

    /**
     * B as the implicit im2col matrix of a convolution: {@code B[k][n]} with {@code k = (ci·kh + ky)·kw + kx}
     * and {@code n = oy·W' + ox} is {@code x[ci, oy·stride + ky − padTop, ox·stride + kx − padLeft]}, zero
     * outside the image. Never materialised.
     */
    record Im2colB(float[] x, int off, int height, int width, int kernel, int stride, int padTop, int padLeft,
                   int outWidth) implements Panels {
        @Override
        public void pack(float[] dst, float[] tmp, int start, int count, int p0, int kc) {
            int kk = kernel * kernel;
            for (int j0 = 0; j0 < count; j0 += NR) {
                int base = j0 * kc;
                int cols = Math.min(NR, count - j0);
                int n0 = start + j0;
                int oy0 = n0 / outWidth, ox0 = n0 % outWidth;
                for (int p = 0; p < kc; p++) {
                    int kidx = p0 + p;
                    int ci = kidx / kk, rem = kidx % kk, ky = rem / kernel, kx = rem % kernel;
                    int plane = off + ci * height * width;
                    int d = base + p * NR;
                    int oy = oy0, ox = ox0;
                    for (int j = 0; j < NR; j++) {
                        float v = 0f;
                        if (j < cols) {
                            int iy = oy * stride + ky - padTop, ix = ox * stride + kx - padLeft;
                            if (iy >= 0 && iy < height && ix >= 0 && ix < width) v = x[plane + iy * width + ix];
                            if (++ox == outWidth) {
                                ox = 0;
                                oy++;
                            }
                        }
                        dst[d + j] = v;
                    }
                }
            }
        }
    }
}
