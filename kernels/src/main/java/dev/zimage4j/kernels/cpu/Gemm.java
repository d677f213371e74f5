package dev.zimage4j.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The GEMM engine: {@code C[M,N] (+)= A[M,K] · B[K,N] (+ bias[N])} in float32, Goto/BLIS style.
 *
 * <p>A is read in place when it is a float matrix (activations: the kernel broadcasts from {@link #MR}
 * row streams), or converted row by row into a scratch block ({@link WeightA}, conv kernels). B is read
 * through {@link Panels} packers, which copy (and convert) a block into the contiguous, zero-padded
 * panel layout the micro-kernel streams: that is where weight dtypes (BF16/F16/F8), transposed storage
 * and implicit im2col are handled, so there is exactly one micro-kernel.
 *
 * <p>Blocking: the K loop is cut into {@link #KC}-deep slices; per slice a B block ({@code KC × ≤NT}, L2)
 * is packed once and swept by A blocks of {@link #MC} rows (L2), one B micro-panel (L1) at a time; the
 * micro-kernel keeps an {@link #MR}×{@link #NR} tile of C in registers (8 vector accumulators).
 *
 * <p>Parallelism: the output is cut into tiles (whole K per tile, own packing), handed out
 * dynamically by the {@link WorkerPool}; there is no shared mutable state between tiles.
 */
final class Gemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /**
     * Micro-tile rows (broadcast A values). 4 × 2 vectors = 8 accumulators: with the 2 B vectors and the
     * broadcasts C2 keeps everything in the 16 AVX2 registers; at 5 or 6 rows it spills an accumulator to
     * the stack inside the loop and runs at half speed.
     */
    static final int MR = 4;
    /** Micro-tile columns: two vectors. */
    static final int NR = 2 * L;
    /** Depth of one packed K slice. */
    static final int KC = 384;
    /** Rows of one packed A block (a multiple of MR). */
    static final int MC = 36 * MR;
    /** Columns of one parallel output tile (a multiple of NR). */
    static final int NT = 16 * NR;

    private Gemm() {
    }

    /**
     * Packs a block of B: columns {@code [start, start+count)}, depth {@code [p0, p0+kc)} into panels of NR
     * columns, {@code dst[(j/NR)·NR·kc + p·NR + j%NR]}, padding columns zero. {@code tmp} is per-thread
     * scratch of at least {@link #KC} floats.
     */
    interface Panels {
        void pack(float[] dst, float[] tmp, int start, int count, int p0, int kc);
    }

    /** The A operand: a float matrix read in place, or a weight converted block by block. */
    sealed interface AOperand permits RowsA, WeightA {
    }

    /** A as a row-major float matrix read in place: {@code A[i][k] = x[off + i·ld + k]}. */
    record RowsA(float[] x, int off, int ld) implements AOperand {
    }

    /** A from a weight matrix {@code [M, K]} in its stored dtype (conv kernels), converted into scratch rows. */
    record WeightA(CpuWeight w, int k) implements AOperand {
        void pack(float[] dst, int start, int count, int p0, int kc) {
            for (int r = 0; r < count; r++) w.toFloat((long) (start + r) * k + p0, dst, r * kc, kc);
        }
    }

    /** Per-thread buffers, grown on first use and then reused. */
    static final class Scratch {
        final float[] ap = new float[MC * KC];
        float[] bp = new float[NT * KC];
        float[] tmp = new float[KC];
        float[] aEdge = new float[MR * KC];
        final float[] tile = new float[MR * NR];
        float[] swi = new float[0];

        float[] bp(int cols, int kc) {
            int need = roundUp(cols, NR) * kc;
            if (bp.length < need) bp = new float[need];
            return bp;
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
    static void gemm(WorkerPool pool, Scratch[] scratch, int m, int n, int k, AOperand a, Panels b,
                     float[] c, int cOff, int ldc, float[] bias, boolean accumulate) {
        Tiling t = Tiling.of(m, n, pool.size());
        pool.run(t.tasks(), (long) m * n * k, (task, w) -> {
            int i0 = (task / t.nTiles) * t.mt, j0 = (task % t.nTiles) * t.nt;
            int mm = Math.min(t.mt, m - i0), nn = Math.min(t.nt, n - j0);
            block(scratch[w], a, b, i0, mm, j0, nn, k, c, cOff + i0 * ldc + j0, ldc, bias, accumulate);
        });
    }

    /** {@code C = silu(A·Bgateᵀ) ⊙ (A·Bupᵀ)}: both products per tile, the up product into tile scratch. */
    static void gemmSwiGLU(WorkerPool pool, Scratch[] scratch, int m, int n, int k, AOperand a, Panels gate, Panels up,
                           float[] c, int cOff, int ldc) {
        Tiling t = Tiling.of(m, n, pool.size());
        pool.run(t.tasks(), (long) m * n * k, (task, w) -> {
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
        for (int bound = S.loopBound(n); j < bound; j += L)
            VecMath.silu(FloatVector.fromArray(S, g, go + j)).mul(FloatVector.fromArray(S, u, uo + j)).intoArray(g, go + j);
        if (j < n) {
            VectorMask<Float> m = VecMath.tail(j, n);
            VecMath.silu(FloatVector.fromArray(S, g, go + j, m)).mul(FloatVector.fromArray(S, u, uo + j, m)).intoArray(g, go + j, m);
        }
    }

    /**
     * One output tile on the calling thread: rows {@code [i0, i0+m)} and columns {@code [j0, j0+n)} of the
     * full product over all of K; {@code cOff} is the index of element {@code (i0, j0)} in {@code c}.
     */
    static void block(Scratch s, AOperand a, Panels b, int i0, int m, int j0, int n, int k,
                      float[] c, int cOff, int ldc, float[] bias, boolean accumulate) {
        for (int pc = 0; pc < k; pc += KC) {
            int kc = Math.min(KC, k - pc);
            float[] bp = s.bp(n, kc);
            b.pack(bp, s.tmp, j0, n, pc, kc);
            boolean acc = accumulate || pc > 0;
            float[] bs = pc == 0 ? bias : null;
            for (int ic = 0; ic < m; ic += MC) {
                int mc = Math.min(MC, m - ic);
                if (a instanceof RowsA r) {
                    macro(s, kc, r.x(), r.off() + (i0 + ic) * r.ld() + pc, r.ld(), mc, bp, n, c, cOff + ic * ldc, ldc, bs, j0, acc);
                } else {
                    ((WeightA) a).pack(s.ap, i0 + ic, mc, pc, kc);
                    macro(s, kc, s.ap, 0, kc, mc, bp, n, c, cOff + ic * ldc, ldc, bs, j0, acc);
                }
            }
        }
    }

    /**
     * {@code C[mc, n] (+)= A[mc, kc] · Bpanels[kc, n] (+ bias)}: A row-major at {@code a[ao + i·lda + p]}, B
     * packed; partial tiles at the edges go through zero-padded scratch.
     */
    static void macro(Scratch s, int kc, float[] a, int ao, int lda, int mc, float[] bp, int n,
                      float[] c, int cOff, int ldc, float[] bias, int j0, boolean acc) {
        macro(s, kc, kc, a, ao, lda, mc, bp, 0, n, c, cOff, ldc, bias, j0, acc);
    }

    /** As above, with B panels of depth {@code kc} read at {@code bp[bo + (j/NR)·NR·bDepth ...]}. */
    static void macro(Scratch s, int kc, int bDepth, float[] a, int ao, int lda, int mc, float[] bp, int bo, int n,
                      float[] c, int cOff, int ldc, float[] bias, int j0, boolean acc) {
        float[] tile = s.tile;
        int mFull = mc / MR * MR;
        if (mFull < mc) { // the last rows, padded with zero rows to a full micro-tile
            if (s.aEdge.length < MR * kc) s.aEdge = new float[MR * kc];
            java.util.Arrays.fill(s.aEdge, 0, MR * kc, 0f);
            for (int r = 0; r < mc - mFull; r++) System.arraycopy(a, ao + (mFull + r) * lda, s.aEdge, r * kc, kc);
        }
        for (int jr = 0; jr < n; jr += NR) {
            int nr = Math.min(NR, n - jr);
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = Math.min(MR, mc - ir);
                int ci = cOff + ir * ldc + jr;
                float[] aa = mr == MR ? a : s.aEdge;
                int aOff = mr == MR ? ao + ir * lda : 0, aLd = mr == MR ? lda : kc;
                if (mr == MR && nr == NR) {
                    kernel(kc, aa, aOff, aLd, bp, bo + jr * bDepth, c, ci, ldc, bias, j0 + jr, acc);
                } else {
                    // Through the tile, in the same operation order as the full path (start from C, fused
                    // multiply-adds, then the bias), so a value does not depend on where M and N end.
                    if (acc) {
                        java.util.Arrays.fill(tile, 0f);
                        for (int r = 0; r < mr; r++) System.arraycopy(c, ci + r * ldc, tile, r * NR, nr);
                    }
                    kernel(kc, aa, aOff, aLd, bp, bo + jr * bDepth, tile, 0, NR, null, 0, acc);
                    for (int r = 0; r < mr; r++) {
                        for (int j = 0; j < nr; j++) {
                            float v = tile[r * NR + j];
                            if (bias != null) v += bias[j0 + jr + j];
                            c[ci + r * ldc + j] = v;
                        }
                    }
                }
            }
        }
    }

    /**
     * The micro-kernel: {@code C[4, 2L] (+)= A[4, kc] · Bpanel[kc, 2L] (+ bias)}, eight accumulators in
     * registers; per k two vector loads of B and four broadcasts from the A rows at {@code a[ao + r·lda + p]}.
     */
    static void kernel(int kc, float[] a, int ao, int lda, float[] b, int bo, float[] c, int co, int ldc,
                       float[] bias, int biasOff, boolean acc) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31;
        if (acc) { // start from C: its loads overlap the first iterations instead of stalling the epilogue
            c00 = FloatVector.fromArray(S, c, co);
            c01 = FloatVector.fromArray(S, c, co + L);
            c10 = FloatVector.fromArray(S, c, co + ldc);
            c11 = FloatVector.fromArray(S, c, co + ldc + L);
            c20 = FloatVector.fromArray(S, c, co + 2 * ldc);
            c21 = FloatVector.fromArray(S, c, co + 2 * ldc + L);
            c30 = FloatVector.fromArray(S, c, co + 3 * ldc);
            c31 = FloatVector.fromArray(S, c, co + 3 * ldc + L);
        } else {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = FloatVector.zero(S);
        }
        int a1 = ao + lda, a2 = ao + 2 * lda, a3 = ao + 3 * lda;
        for (int p = 0; p < kc; p++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector x = FloatVector.broadcast(S, a[ao + p]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[a1 + p]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[a2 + p]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[a3 + p]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            bo += NR;
        }
        // Epilogue written out in place: a helper taking vectors as arguments would not be inlined into this
        // large method, and C2 would then box the accumulators on every loop iteration.
        if (bias != null) {
            FloatVector v0 = FloatVector.fromArray(S, bias, biasOff), v1 = FloatVector.fromArray(S, bias, biasOff + L);
            c00 = c00.add(v0);
            c01 = c01.add(v1);
            c10 = c10.add(v0);
            c11 = c11.add(v1);
            c20 = c20.add(v0);
            c21 = c21.add(v1);
            c30 = c30.add(v0);
            c31 = c31.add(v1);
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + L);
        c10.intoArray(c, co + ldc);
        c11.intoArray(c, co + ldc + L);
        c20.intoArray(c, co + 2 * ldc);
        c21.intoArray(c, co + 2 * ldc + L);
        c30.intoArray(c, co + 3 * ldc);
        c31.intoArray(c, co + 3 * ldc + L);
    }

    // ------------------------------------------------------------------ B packers

    /** B from rows of a float matrix {@code [N, K]} (B = xᵀ): {@code B[k][j] = x[off + j·ld + k]}. */
    record TransposedB(float[] x, int off, int ld) implements Panels {
        @Override
        public void pack(float[] dst, float[] tmp, int start, int count, int p0, int kc) {
            packTransposedB(dst, 0, x, off, ld, start, count, p0, kc);
        }
    }

    static void packTransposedB(float[] dst, int dOff, float[] x, int off, int ld, int start, int count, int p0, int kc) {
        for (int j0 = 0; j0 < count; j0 += NR) {
            int base = dOff + j0 * kc;
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
            packRowMajorB(dst, 0, x, off, ld, start, count, p0, kc);
        }
    }

    static void packRowMajorB(float[] dst, int dOff, float[] x, int off, int ld, int start, int count, int p0, int kc) {
        for (int j0 = 0; j0 < count; j0 += NR) {
            int base = dOff + j0 * kc;
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
