package dev.zimage4j.kernels.cpu;

import dev.zimage4j.kernels.AttentionSpec;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static dev.zimage4j.kernels.cpu.Gemm.L;
import static dev.zimage4j.kernels.cpu.Gemm.MR;
import static dev.zimage4j.kernels.cpu.Gemm.NR;
import static dev.zimage4j.kernels.cpu.Gemm.S;

/**
 * Flash-style scaled-dot-product attention: per (head, block of {@link #BQ} queries) the keys are swept in
 * blocks; each block's scores {@code Q·Kᵀ} and the update {@code O += P·V} run on the GEMM micro-kernel
 * over packed panels, and the softmax is computed online (running max and sum per query row), so memory
 * is O(block²) per thread and the score matrix never exists.
 */
final class Attention {
    /** Queries per task (a multiple of MR). */
    static final int BQ = 12 * MR;

    private Attention() {
    }

    /** Keys per block: about 64 KB of packed K per block, a multiple of NR. */
    static int keyBlock(int headDim) {
        int bk = Gemm.roundUp(Math.max(1, 16384 / headDim), NR);
        return Math.max(NR, Math.min(256, bk));
    }

    /** Per-thread buffers. */
    static final class Scratch {
        float[] qp = new float[0], kp = new float[0], vp = new float[0], pp = new float[0];
        float[] s = new float[0], o = new float[0];
        final float[] m = new float[BQ], l = new float[BQ];

        void ensure(int d, int bk) {
            int dPad = Gemm.roundUp(d, NR), bkPad = Gemm.roundUp(bk, NR);
            if (qp.length < BQ * d) qp = new float[BQ * d];
            if (kp.length < bkPad * d) kp = new float[bkPad * d];
            if (vp.length < bk * dPad) vp = new float[bk * dPad];
            if (pp.length < BQ * bk) pp = new float[BQ * bk];
            if (s.length < BQ * bkPad) s = new float[BQ * bkPad];
            if (o.length < BQ * dPad) o = new float[BQ * dPad];
        }
    }

    static void run(WorkerPool pool, Gemm.Scratch[] gs, Scratch[] as, float[] out, int outOff,
                    float[] q, int qOff, float[] k, int kOff, float[] v, int vOff, int sq, int sk, AttentionSpec spec) {
        int d = spec.headDim(), heads = spec.heads(), group = heads / spec.kvHeads();
        int ldq = heads * d, ldk = spec.kvHeads() * d;
        int bk = keyBlock(d);
        int keys = Math.min(sk, spec.validKeys());
        int qBlocks = Gemm.ceilDiv(sq, BQ);
        pool.run(heads * qBlocks, (task, w) -> {
            Scratch sc = as[w];
            sc.ensure(d, bk);
            int h = task / qBlocks, q0 = (task % qBlocks) * BQ;
            int bq = Math.min(BQ, sq - q0);
            int kvh = h / group;
            head(gs[w], sc, out, outOff + q0 * ldq + h * d, ldq, q, qOff + q0 * ldq + h * d, ldq,
                    k, kOff + kvh * d, v, vOff + kvh * d, ldk, q0, bq, keys, bk, d, spec.scale(), spec.causal());
        });
    }

    private static void head(Gemm.Scratch gs, Scratch sc, float[] out, int outOff, int ldo, float[] q, int qOff, int ldq,
                             float[] k, int kOff, float[] v, int vOff, int ldk, int q0, int bq, int keys, int bk, int d,
                             float scale, boolean causal) {
        int dPad = Gemm.roundUp(d, NR), bkPad = Gemm.roundUp(bk, NR);
        float[] s = sc.s, o = sc.o, m = sc.m, l = sc.l;
        java.util.Arrays.fill(o, 0, bq * dPad, 0f);
        java.util.Arrays.fill(m, 0, bq, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(l, 0, bq, 0f);
        Gemm.packRowsA(sc.qp, q, qOff, ldq, 0, bq, 0, d);
        int kEnd = causal ? Math.min(keys, q0 + bq) : keys;
        for (int kb = 0; kb < kEnd; kb += bk) {
            int n = Math.min(bk, kEnd - kb);
            Gemm.packTransposedB(sc.kp, k, kOff + kb * ldk, ldk, 0, n, 0, d);
            Gemm.macro(gs, d, sc.qp, bq, sc.kp, n, s, 0, bkPad, null, 0, false);
            for (int r = 0; r < bq; r++) {
                int valid = causal ? Math.min(n, q0 + r - kb + 1) : n;
                softmaxRow(s, r * bkPad, n, valid, scale, m, l, r, o, r * dPad, d);
            }
            Gemm.packRowsA(sc.pp, s, 0, bkPad, 0, bq, 0, n);
            Gemm.packRowMajorB(sc.vp, v, vOff + kb * ldk, ldk, 0, d, 0, n);
            Gemm.macro(gs, n, sc.pp, bq, sc.vp, d, o, 0, dPad, null, 0, true);
        }
        for (int r = 0; r < bq; r++) {
            float inv = 1f / l[r];
            int src = r * dPad, dst = outOff + r * ldo;
            for (int j = 0; j < d; j++) out[dst + j] = o[src + j] * inv;
        }
    }

    /**
     * One row of the online softmax: scores {@code s[so..so+n)} (first {@code valid} unmasked) become
     * probabilities relative to the new running max; the row's output accumulator is rescaled.
     */
    private static void softmaxRow(float[] s, int so, int n, int valid, float scale, float[] m, float[] l, int r,
                                   float[] o, int oo, int d) {
        if (valid <= 0) {
            java.util.Arrays.fill(s, so, so + n, 0f);
            return;
        }
        FloatVector vs = FloatVector.broadcast(S, scale);
        FloatVector vm = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (int bound = S.loopBound(valid); j < bound; j += L) {
            FloatVector x = FloatVector.fromArray(S, s, so + j).mul(vs);
            x.intoArray(s, so + j);
            vm = vm.max(x);
        }
        float mx = vm.reduceLanes(VectorOperators.MAX);
        for (; j < valid; j++) {
            float x = s[so + j] * scale;
            s[so + j] = x;
            mx = Math.max(mx, x);
        }
        float mNew = Math.max(m[r], mx);
        float corr = (float) Math.exp(m[r] - mNew);
        FloatVector vmn = FloatVector.broadcast(S, mNew);
        FloatVector sum = FloatVector.zero(S);
        j = 0;
        for (int bound = S.loopBound(valid); j < bound; j += L) {
            FloatVector p = FloatVector.fromArray(S, s, so + j).sub(vmn).lanewise(VectorOperators.EXP);
            sum = sum.add(p);
            p.intoArray(s, so + j);
        }
        float tail = 0f;
        for (; j < valid; j++) {
            float p = (float) Math.exp(s[so + j] - mNew);
            tail += p;
            s[so + j] = p;
        }
        for (j = valid; j < n; j++) s[so + j] = 0f;
        l[r] = l[r] * corr + sum.reduceLanes(VectorOperators.ADD) + tail;
        m[r] = mNew;
        if (corr != 1f) {
            FloatVector vc = FloatVector.broadcast(S, corr);
            j = 0;
            for (int bound = S.loopBound(d); j < bound; j += L) FloatVector.fromArray(S, o, oo + j).mul(vc).intoArray(o, oo + j);
            for (; j < d; j++) o[oo + j] *= corr;
        }
    }
}
