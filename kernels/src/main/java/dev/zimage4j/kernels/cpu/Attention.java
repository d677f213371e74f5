package dev.zimage4j.kernels.cpu;

import dev.zimage4j.kernels.AttentionSpec;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import static dev.zimage4j.kernels.cpu.Gemm.L;
import static dev.zimage4j.kernels.cpu.Gemm.MR;
import static dev.zimage4j.kernels.cpu.Gemm.NR;
import static dev.zimage4j.kernels.cpu.Gemm.S;

/**
 * Flash-style scaled-dot-product attention. K and V are first packed once into micro-kernel panels (O(S·d),
 * shared by all tasks); then per (head, block of {@link #BQ} queries) the keys are swept in blocks: the
 * scores {@code Q·Kᵀ} (Q read in place) and the update {@code O += P·V} (P read in place) run on the GEMM
 * micro-kernel, and the softmax is computed online (running max and sum per query row), so per-thread
 * memory is O(block·(block + d)) and the score matrix never exists.
 */
final class Attention {
    /** Queries per task (a multiple of MR). */
    static final int BQ = 24 * MR;

    private Attention() {
    }

    /** Keys per block: about 64 KB of packed K per block, a multiple of NR. */
    static int keyBlock(int headDim) {
        int bk = Gemm.roundUp(Math.max(1, 16384 / headDim), NR);
        return Math.max(NR, Math.min(256, bk));
    }

    /** Per-thread buffers. */
    static final class Scratch {
        float[] s = new float[0], o = new float[0];
        final float[] m = new float[BQ], l = new float[BQ];

        void ensure(int d, int bk) {
            int dPad = Gemm.roundUp(d, NR), bkPad = Gemm.roundUp(bk, NR);
            if (s.length < BQ * bkPad) s = new float[BQ * bkPad];
            if (o.length < BQ * dPad) o = new float[BQ * dPad];
        }
    }

    /** K and V of every kv head, packed once per call into micro-kernel panels (O(S·d)), shared by all tasks. */
    static final class Packed {
        float[] k = new float[0], v = new float[0];
    }

    static void run(WorkerPool pool, Gemm.Scratch[] gs, Scratch[] as, Packed packed, float[] out, int outOff,
                    float[] q, int qOff, float[] k, int kOff, float[] v, int vOff, int sq, int sk, AttentionSpec spec) {
        int d = spec.headDim(), heads = spec.heads(), kvHeads = spec.kvHeads(), group = heads / kvHeads;
        int ldq = heads * d, ldk = kvHeads * d;
        int bk = keyBlock(d), dPad = Gemm.roundUp(d, NR), bkPad = Gemm.roundUp(bk, NR);
        int keys = Math.min(sk, spec.validKeys());
        int kBlocks = Gemm.ceilDiv(keys, bk);
        long kSize = (long) kvHeads * kBlocks * bkPad * d, vSize = (long) kvHeads * kBlocks * bk * dPad;
        if (Math.max(kSize, vSize) > Integer.MAX_VALUE - 16)
            throw new IllegalArgumentException("attention: " + keys + " keys × " + kvHeads + " kv heads × " + d + " dims is too large for the CPU backend");
        if (packed.k.length < kSize) packed.k = new float[(int) kSize];
        if (packed.v.length < vSize) packed.v = new float[(int) vSize];
        float[] kp = packed.k, vp = packed.v;
        // Block (kvh, b) of K: panels of its keys over depth d at kp[(kvh·kBlocks + b)·bkPad·d]; of V: panels of
        // the d output dims over depth n (its keys) at vp[(kvh·kBlocks + b)·bk·dPad].
        pool.run(kvHeads * kBlocks, (long) kvHeads * keys * d, (task, w) -> {
            int kvh = task / kBlocks, kb = (task % kBlocks) * bk, n = Math.min(bk, keys - kb);
            Gemm.packTransposedB(kp, task * bkPad * d, k, kOff + kb * ldk + kvh * d, ldk, 0, n, 0, d);
            Gemm.packRowMajorB(vp, task * bk * dPad, v, vOff + kb * ldk + kvh * d, ldk, 0, d, 0, n);
        });
        int qBlocks = Gemm.ceilDiv(sq, BQ);
        pool.run(heads * qBlocks, (long) heads * sq * keys * d, (task, w) -> {
            Scratch sc = as[w];
            sc.ensure(d, bk);
            int h = task / qBlocks, q0 = (task % qBlocks) * BQ;
            int bq = Math.min(BQ, sq - q0);
            int kvh = h / group;
            queryBlock(gs[w], sc, out, outOff + q0 * ldq + h * d, ldq, q, qOff + q0 * ldq + h * d, ldq,
                    kp, vp, kvh * kBlocks, q0, bq, keys, bk, d, spec.scale(), spec.causal());
        });
    }

    private static void queryBlock(Gemm.Scratch gs, Scratch sc, float[] out, int outOff, int ldo, float[] q, int qOff, int ldq,
                                   float[] kp, float[] vp, int block0, int q0, int bq, int keys, int bk, int d,
                                   float scale, boolean causal) {
        int dPad = Gemm.roundUp(d, NR), bkPad = Gemm.roundUp(bk, NR);
        float[] s = sc.s, o = sc.o, m = sc.m, l = sc.l;
        java.util.Arrays.fill(o, 0, bq * dPad, 0f);
        java.util.Arrays.fill(m, 0, bq, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(l, 0, bq, 0f);
        int kEnd = causal ? Math.min(keys, q0 + bq) : keys;
        for (int kb = 0, b = block0; kb < kEnd; kb += bk, b++) {
            int n = Math.min(bk, keys - kb);
            Gemm.macro(gs, d, d, q, qOff, ldq, bq, kp, b * bkPad * d, n, s, 0, bkPad, null, 0, false);
            for (int r = 0; r < bq; r++) {
                int valid = causal ? Math.min(n, q0 + r - kb + 1) : n;
                softmaxRow(s, r * bkPad, n, valid, scale, m, l, r, o, r * dPad, d);
            }
            Gemm.macro(gs, n, n, s, 0, bkPad, bq, vp, b * bk * dPad, d, o, 0, dPad, null, 0, true);
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
        float corr = VecMath.exp(m[r] - mNew);
        FloatVector vmn = FloatVector.broadcast(S, mNew);
        FloatVector sum = FloatVector.zero(S);
        j = 0;
        for (int bound = S.loopBound(valid); j < bound; j += L) {
            FloatVector p = VecMath.exp(FloatVector.fromArray(S, s, so + j).sub(vmn));
            sum = sum.add(p);
            p.intoArray(s, so + j);
        }
        if (j < valid) { // the same code, masked: a value does not depend on where the tail starts
            VectorMask<Float> mk = VecMath.tail(j, valid);
            FloatVector p = VecMath.exp(FloatVector.fromArray(S, s, so + j, mk).sub(vmn));
            sum = sum.add(p, mk);
            p.intoArray(s, so + j, mk);
        }
        for (j = valid; j < n; j++) s[so + j] = 0f;
        l[r] = l[r] * corr + VecMath.sumLanes(sum);
        m[r] = mNew;
        if (corr != 1f) {
            FloatVector vc = FloatVector.broadcast(S, corr);
            j = 0;
            for (int bound = S.loopBound(d); j < bound; j += L) FloatVector.fromArray(S, o, oo + j).mul(vc).intoArray(o, oo + j);
            for (; j < d; j++) o[oo + j] *= corr;
        }
    }
}
