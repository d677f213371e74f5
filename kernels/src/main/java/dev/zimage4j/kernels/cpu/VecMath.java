package dev.zimage4j.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import static dev.zimage4j.kernels.cpu.Gemm.L;
import static dev.zimage4j.kernels.cpu.Gemm.S;

/**
 * Deterministic vector math: results depend only on the inputs, never on whether the code runs
 * interpreted, in C1 or in C2.
 *
 * <p>Why it exists: {@code lanewise(VectorOperators.EXP)} is computed by {@code Math.exp} per lane in the
 * Java fallback but by an SVML-style stub once C2 intrinsifies it, and {@code reduceLanes(ADD)} has an
 * unspecified order that differs between the two as well; so the same call changed in the last bit after
 * a few invocations. Everything here is built from IEEE-exact operations only (add, mul, fused
 * multiply-add, integer bit moves), which both execution modes compute identically. The scalar forms are
 * lane 0 of the vector forms, so a value never depends on whether it fell in a vector body or a tail.
 */
final class VecMath {
    private static final float LOG2E = 1.44269504088896341f;
    /** ln 2 split for Cody–Waite reduction: HI has few mantissa bits so {@code n·HI} is exact. */
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    /** Adding then subtracting 1.5·2²³ rounds to the nearest integer; the sum's low bits hold that integer. */
    private static final float ROUND = 12582912f;
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);
    /** Clamp bounds: below MIN the result is 0 (after rounding), above MAX it overflows to +∞. */
    private static final float MIN = -104f, MAX = 89f;
    /** Minimax polynomial for (eʳ − 1 − r)/r² on |r| ≤ ln2/2 (Cephes expf). */
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    private VecMath() {
    }

    /** {@code eˣ} per lane, within 2 ulp for normal results; −∞ → 0, +∞ → +∞, NaN → NaN. */
    static FloatVector exp(FloatVector x) {
        x = x.max(MIN).min(MAX);
        FloatVector t = x.fma(FloatVector.broadcast(S, LOG2E), FloatVector.broadcast(S, ROUND));
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(S, P0);
        p = p.fma(r, FloatVector.broadcast(S, P1));
        p = p.fma(r, FloatVector.broadcast(S, P2));
        p = p.fma(r, FloatVector.broadcast(S, P3));
        p = p.fma(r, FloatVector.broadcast(S, P4));
        p = p.fma(r, FloatVector.broadcast(S, P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        // 2ⁿ in two factors so that n down to −150 (subnormal results) and up to 128 (overflow) stay exact.
        IntVector ni = t.reinterpretAsInts().sub(ROUND_BITS);
        IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1), n2 = ni.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(s1).mul(s2);
    }

    /** Scalar {@code eˣ}, bitwise equal to a lane of {@link #exp(FloatVector)}. */
    static float exp(float x) {
        return exp(FloatVector.broadcast(S, x)).lane(0);
    }

    /** {@code x·sigmoid(x) = x / (1 + e⁻ˣ)} per lane. */
    static FloatVector silu(FloatVector x) {
        return x.div(exp(x.neg()).add(1f));
    }

    /** Sum of the lanes in a fixed order (a pairwise tree over lane indices). */
    static float sumLanes(FloatVector v) {
        float[] a = v.toArray();
        for (int w = a.length / 2; w >= 1; w /= 2)
            for (int i = 0; i < w; i++) a[i] += a[i + w];
        return a[0];
    }

    /** Mask of the lanes {@code j + i < n}: the tail of a loop over {@code n} elements starting at {@code j}. */
    static VectorMask<Float> tail(int j, int n) {
        return S.indexInRange(j, n);
    }

    /** {@code Σ x[o..o+n)} in a fixed order (independent of execution mode). */
    static float sum(float[] x, int o, int n) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) acc = acc.add(FloatVector.fromArray(S, x, o + j));
        if (j < n) acc = acc.add(FloatVector.fromArray(S, x, o + j, tail(j, n)));
        return sumLanes(acc);
    }

    /** {@code Σ (x − mean)²} over {@code x[o..o+n)} in a fixed order; {@code mean = 0} gives the sum of squares. */
    static float sumSquaredDeviations(float[] x, int o, int n, float mean) {
        FloatVector acc = FloatVector.zero(S), vm = FloatVector.broadcast(S, mean);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) {
            FloatVector v = FloatVector.fromArray(S, x, o + j).sub(vm);
            acc = v.fma(v, acc);
        }
        if (j < n) {
            VectorMask<Float> m = tail(j, n);
            FloatVector v = FloatVector.fromArray(S, x, o + j, m).sub(vm, m);
            acc = v.fma(v, acc);
        }
        return sumLanes(acc);
    }
}
