package dev.zimage4j.sampler;

/**
 * One lane of PyTorch's {@code avx_mathfun.h} ({@code log256_ps}, {@code sincos256_ps}): the Cephes-style
 * float32 polynomial log and sine/cosine that torch's AVX2 {@code normal_fill_16_AVX2} uses for its
 * Box-Muller transform. Reproduced operation by operation in float32, including the multiply-adds that
 * GCC contracts into FMA instructions when it compiles those intrinsics, so that the results are bit-identical.
 */
final class AvxMathFun {
    private AvxMathFun() {
    }

    /** {@code a·b + c} rounded once: the contracted multiply-add of the compiled torch kernel. */
    private static float madd(float a, float b, float c) {
        return Math.fma(a, b, c);
    }

    private static final float SQRTHF = 0.707106781186547524f;
    private static final float LOG_P0 = 7.0376836292E-2f, LOG_P1 = -1.1514610310E-1f, LOG_P2 = 1.1676998740E-1f,
            LOG_P3 = -1.2420140846E-1f, LOG_P4 = 1.4249322787E-1f, LOG_P5 = -1.6668057665E-1f,
            LOG_P6 = 2.0000714765E-1f, LOG_P7 = -2.4999993993E-1f, LOG_P8 = 3.3333331174E-1f;
    private static final float LOG_Q1 = -2.12194440e-4f, LOG_Q2 = 0.693359375f;

    /** {@code log256_ps} for one lane; {@code x} in (0, 1] here (NaN for x ≤ 0 as in the original). */
    static float log(float x) {
        if (!(x > 0)) return Float.NaN;
        x = Math.max(x, Float.MIN_NORMAL);
        int bits = Float.floatToRawIntBits(x);
        float e = (float) ((bits >>> 23) - 0x7f) + 1f;
        x = Float.intBitsToFloat((bits & ~0x7f800000) | Float.floatToRawIntBits(0.5f));
        boolean lt = x < SQRTHF;
        float tmp = lt ? x : 0f;
        x = x - 1f;
        e = e - (lt ? 1f : 0f);
        x = x + tmp;
        float z = x * x;
        float y = madd(LOG_P0, x, LOG_P1);
        y = madd(y, x, LOG_P2);
        y = madd(y, x, LOG_P3);
        y = madd(y, x, LOG_P4);
        y = madd(y, x, LOG_P5);
        y = madd(y, x, LOG_P6);
        y = madd(y, x, LOG_P7);
        y = madd(y, x, LOG_P8);
        y = y * x;
        y = madd(y, z, e * LOG_Q1);      // y·z + e·q1 (GCC fuses the first product)
        y = madd(-z, 0.5f, y);           // − z·0.5 (exact either way)
        return madd(e, LOG_Q2, x + y);   // x + y + e·q2
    }

    private static final float FOPI = 1.27323954473516f;
    private static final float DP1 = -0.78515625f, DP2 = -2.4187564849853515625e-4f, DP3 = -3.77489497744594108e-8f;
    private static final float SIN_P0 = -1.9515295891E-4f, SIN_P1 = 8.3321608736E-3f, SIN_P2 = -1.6666654611E-1f;
    private static final float COS_P0 = 2.443315711809948E-005f, COS_P1 = -1.388731625493765E-003f,
            COS_P2 = 4.166664568298827E-002f;

    /** {@code sincos256_ps} for one lane: writes sin into {@code out[0]} and cos into {@code out[1]}. */
    static void sincos(float x, float[] out) {
        boolean negative = Float.floatToRawIntBits(x) < 0;
        x = Math.abs(x);
        int j = (int) (x * FOPI);           // truncation, as _mm256_cvttps_epi32
        j = (j + 1) & ~1;
        float y = (float) j;
        boolean sinSwap = (j & 4) != 0;
        boolean polyMask = (j & 2) == 0;    // true: the sine polynomial gives sin
        boolean cosSign = (~(j - 2) & 4) != 0;
        x = madd(y, DP1, x);
        x = madd(y, DP2, x);
        x = madd(y, DP3, x);
        float z = x * x;
        float c = madd(COS_P0, z, COS_P1);
        c = madd(c, z, COS_P2);
        c = c * z;
        c = madd(c, z, -(z * 0.5f));      // c·z − z·0.5 (GCC fuses the first product)
        c = c + 1f;
        float s = madd(SIN_P0, z, SIN_P1);
        s = madd(s, z, SIN_P2);
        s = s * z;
        s = madd(s, x, x);
        float sin = polyMask ? s : c;
        float cos = polyMask ? c : s;
        if (negative ^ sinSwap) sin = -sin;
        if (cosSign) cos = -cos;
        out[0] = sin;
        out[1] = cos;
    }
}
