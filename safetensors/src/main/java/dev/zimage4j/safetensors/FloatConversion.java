package dev.zimage4j.safetensors;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Exact conversion of stored floating-point elements to {@code float}. */
public final class FloatConversion {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private FloatConversion() {
    }

    /** Element {@code i} of {@code data} (stored as {@code dtype}) as a float. */
    public static float get(DType dtype, MemorySegment data, long i) {
        return switch (dtype) {
            case F32 -> data.get(F32, i * 4);
            case F64 -> (float) data.get(F64, i * 8);
            case BF16 -> bf16ToFloat(data.get(I16, i * 2));
            case F16 -> Float.float16ToFloat(data.get(I16, i * 2));
            case F8_E4M3 -> e4m3ToFloat(data.get(ValueLayout.JAVA_BYTE, i));
            case F8_E5M2 -> e5m2ToFloat(data.get(ValueLayout.JAVA_BYTE, i));
            default -> throw new IllegalArgumentException(dtype + " is not a floating-point dtype");
        };
    }

    /** Converts {@code n} elements starting at element {@code from} into {@code dst[dstOff..]}. */
    public static void toFloat(DType dtype, MemorySegment data, long from, float[] dst, int dstOff, int n) {
        for (int j = 0; j < n; j++) dst[dstOff + j] = get(dtype, data, from + j);
    }

    /** bf16 bits → float: the bf16 pattern is the top half of the float32 pattern. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** float → bf16 bits, round to nearest even, NaN kept quiet. */
    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) return (short) ((x >>> 16) | 0x40);
        int rounding = 0x7fff + ((x >>> 16) & 1);
        return (short) ((x + rounding) >>> 16);
    }

    /** OCP F8 E4M3 (FN: no infinities, S.1111.111 is NaN, bias 7, subnormals). */
    public static float e4m3ToFloat(byte b) {
        int v = b & 0xff;
        int sign = (v & 0x80) != 0 ? -1 : 1;
        int exp = (v >>> 3) & 0xf;
        int man = v & 0x7;
        if (exp == 0xf && man == 0x7) return Float.NaN;
        if (exp == 0) return sign * man * 0x1p-9f;
        return sign * (1 + man / 8f) * Math.scalb(1f, exp - 7);
    }

    /** OCP F8 E5M2 (IEEE-like: bias 15, infinities and NaNs, subnormals). */
    public static float e5m2ToFloat(byte b) {
        return Float.float16ToFloat((short) ((b & 0xff) << 8));
    }
}
