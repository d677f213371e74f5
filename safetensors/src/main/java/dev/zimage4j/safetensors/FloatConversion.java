package dev.zimage4j.safetensors;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Exact conversion of stored floating-point elements to {@code float}, one at a time or in bulk; and the
 * rounding conversions back (round to nearest, ties to even) that writers use. Bulk BF16 and F16 use the
 * Vector API: both are bit manipulations (BF16 is the top half of an F32 pattern; F16 is re-biased with one
 * exact multiply), so each lane is exactly what the scalar conversion gives.
 */
public final class FloatConversion {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    /** As many shorts as {@link #INTS} has lanes, so that S2I widening fills exactly one int vector. */
    private static final VectorSpecies<Short> SHORTS = VectorSpecies.of(short.class,
            VectorShape.forBitSize(INTS.vectorBitSize() / 2));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Value of every E4M3 / E5M2 byte pattern. */
    private static final float[] E4M3 = new float[256], E5M2 = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            E4M3[b] = decodeE4m3(b);
            E5M2[b] = Float.float16ToFloat((short) (b << 8));
        }
    }

    private FloatConversion() {
    }

    /** Element {@code i} of {@code data} (stored as {@code dtype}) as a float. */
    public static float get(DType dtype, MemorySegment data, long i) {
        return switch (dtype) {
            case F32 -> data.get(F32, i * 4);
            case F64 -> (float) data.get(F64, i * 8);
            case BF16 -> bf16ToFloat(data.get(I16, i * 2));
            case F16 -> Float.float16ToFloat(data.get(I16, i * 2));
            case F8_E4M3 -> E4M3[data.get(ValueLayout.JAVA_BYTE, i) & 0xff];
            case F8_E5M2 -> E5M2[data.get(ValueLayout.JAVA_BYTE, i) & 0xff];
            default -> throw new IllegalArgumentException(dtype + " is not a floating-point dtype");
        };
    }

    /**
     * Converts {@code n} elements starting at element {@code from} of {@code data} into {@code dst[dstOff..]}.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds (checked before anything is written)
     */
    public static void toFloat(DType dtype, MemorySegment data, long from, float[] dst, int dstOff, int n) {
        checkFloat(dtype);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        Objects.checkFromIndexSize(from, n, data.byteSize() / dtype.bytes());
        long src = from * dtype.bytes();
        switch (dtype) {
            case F32 -> MemorySegment.copy(data, F32, src, dst, dstOff, n);
            case BF16 -> {
                int i = 0;
                for (int upper = dstOff + n - INTS.length(); dstOff + i <= upper; i += INTS.length())
                    bf16Lanes(data, src + 2L * i).intoArray(dst, dstOff + i);
                for (; i < n; i++) dst[dstOff + i] = bf16ToFloat(data.get(I16, src + 2L * i));
            }
            case F16 -> {
                int i = 0;
                for (int upper = dstOff + n - INTS.length(); dstOff + i <= upper; i += INTS.length())
                    f16Lanes(data, src + 2L * i).intoArray(dst, dstOff + i);
                for (; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(data.get(I16, src + 2L * i));
            }
            default -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = get(dtype, data, from + i);
            }
        }
    }

    /**
     * Converts {@code n} elements starting at element {@code from} of {@code data} into little-endian floats
     * in {@code dst}, starting at float index {@code dstIndex} (for off-heap buffers).
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds (checked before anything is written)
     */
    public static void toFloat(DType dtype, MemorySegment data, long from, MemorySegment dst, long dstIndex, long n) {
        checkFloat(dtype);
        Objects.checkFromIndexSize(dstIndex, n, dst.byteSize() / 4);
        Objects.checkFromIndexSize(from, n, data.byteSize() / dtype.bytes());
        long src = from * dtype.bytes(), out = dstIndex * 4;
        switch (dtype) {
            case F32 -> MemorySegment.copy(data, src, dst, out, n * 4);
            case BF16, F16 -> {
                long i = 0;
                for (long upper = n - INTS.length(); i <= upper; i += INTS.length()) {
                    FloatVector v = dtype == DType.BF16 ? bf16Lanes(data, src + 2 * i) : f16Lanes(data, src + 2 * i);
                    v.intoMemorySegment(dst, out + 4 * i, LE);
                }
                for (; i < n; i++) dst.set(F32, out + 4 * i, get(dtype, data, from + i));
            }
            default -> {
                for (long i = 0; i < n; i++) dst.set(F32, out + 4 * i, get(dtype, data, from + i));
            }
        }
    }

    private static void checkFloat(DType dtype) {
        if (!dtype.isFloat()) throw new IllegalArgumentException(dtype + " is not a floating-point dtype");
    }

    /** One int-vector's worth of BF16 at {@code byteOffset}: widen, shift into the top half. */
    private static FloatVector bf16Lanes(MemorySegment data, long byteOffset) {
        ShortVector s = ShortVector.fromMemorySegment(SHORTS, data, byteOffset, LE);
        IntVector x = (IntVector) s.convertShape(VectorOperators.S2I, INTS, 0);
        return x.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * One int-vector's worth of F16: exponent/mantissa shifted into F32 position then scaled by 2^112, which
     * re-biases normals and turns subnormals into the right normals exactly; inf/NaN get an all-ones exponent
     * (NaN payload kept, quiet bit set).
     */
    private static FloatVector f16Lanes(MemorySegment data, long byteOffset) {
        ShortVector s = ShortVector.fromMemorySegment(SHORTS, data, byteOffset, LE);
        IntVector h = (IntVector) s.convertShape(VectorOperators.S2I, INTS, 0);
        IntVector em = h.and(0x7fff);
        IntVector shifted = em.lanewise(VectorOperators.LSHL, 13);
        IntVector finite = shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> special = em.compare(VectorOperators.GE, 0x7c00);
        VectorMask<Integer> nan = em.compare(VectorOperators.GT, 0x7c00);
        IntVector infOrNan = shifted.or(0x7f800000);
        infOrNan = infOrNan.blend(infOrNan.or(0x00400000), nan); // NaNs come out quiet, as Float.float16ToFloat does
        IntVector bits = finite.blend(infOrNan, special)
                .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16));
        return bits.reinterpretAsFloats();
    }

    /** bf16 bits → float: the bf16 pattern is the top half of the float32 pattern. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** float → bf16 bits, round to nearest even (overflow rounds to infinity), NaN kept (made quiet). */
    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) return (short) ((x >>> 16) | 0x40);
        int rounding = 0x7fff + ((x >>> 16) & 1);
        return (short) ((x + rounding) >>> 16);
    }

    /** IEEE binary16 bits → float (exact). */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** float → IEEE binary16 bits, round to nearest even (overflow rounds to infinity). */
    public static short floatToF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** OCP F8 E4M3 (FN: no infinities, S.1111.111 is NaN, bias 7, subnormals). */
    public static float e4m3ToFloat(byte b) {
        return E4M3[b & 0xff];
    }

    /** OCP F8 E5M2 (IEEE-like: bias 15, infinities and NaNs, subnormals): the top byte of an F16. */
    public static float e5m2ToFloat(byte b) {
        return E5M2[b & 0xff];
    }

    private static float decodeE4m3(int v) {
        float sign = (v & 0x80) != 0 ? -1f : 1f;
        int exp = (v >>> 3) & 0xf, man = v & 0x7;
        if (exp == 0xf && man == 0x7) return Float.NaN;
        float magnitude = exp == 0 ? man * 0x1p-9f : (8 + man) * Math.scalb(1f, exp - 10);
        return sign * magnitude; // sign * 0f is -0f for the 0x80 pattern
    }

    /**
     * float → OCP F8 E4M3 (FN) bits, round to nearest even. Values whose magnitude rounds above the largest
     * finite value (448) and NaN become NaN ({@code 0x7f}/{@code 0xff}), as torch does without saturation.
     */
    public static byte floatToE4m3(float f) {
        return narrow(f, 3, 7, true);
    }

    /** float → OCP F8 E5M2 bits, round to nearest even; overflow rounds to infinity, NaN stays NaN. */
    public static byte floatToE5m2(float f) {
        return narrow(f, 2, 15, false);
    }

    /**
     * Rounds {@code f} to an 8-bit float with {@code manBits} mantissa bits and exponent bias {@code bias},
     * ties to even, subnormals included. {@code fn}: the E4M3FN encoding (no infinity; all-ones is NaN).
     */
    private static byte narrow(float f, int manBits, int bias, boolean fn) {
        int x = Float.floatToRawIntBits(f);
        int sign = (x >>> 24) & 0x80;
        float a = Math.abs(f);
        if (Float.isNaN(f)) return (byte) (sign | 0x7f);
        if (Float.isInfinite(f)) return (byte) (sign | (fn ? 0x7f : 0x7c));
        int expBits = 7 - manBits;
        int maxExp = fn ? (1 << expBits) - 1 : (1 << expBits) - 2;         // largest biased exponent of a finite value
        int maxMan = fn ? (1 << manBits) - 2 : (1 << manBits) - 1;
        float quantum = Math.scalb(1f, 1 - bias - manBits);               // spacing of subnormals (and of the smallest binade)
        int code;
        if (a < Math.scalb(1f, 1 - bias)) {                              // subnormal range: multiples of quantum
            code = (int) Math.rint(a / quantum);                        // exact division by a power of two; rint is ties-to-even
        } else {
            int e = Math.getExponent(a);                                  // unbiased, a is normal in float
            float step = Math.scalb(1f, e - manBits);
            int m = (int) Math.rint(a / step);                           // in [2^manBits, 2^(manBits+1)]
            int biased = e + bias;
            if (m == 2 << manBits) {
                m = 1 << manBits;
                biased++;
            }
            if (biased > maxExp || (biased == maxExp && (m - (1 << manBits)) > maxMan))
                return (byte) (sign | (fn ? 0x7f : 0x7c));                // NaN for FN, infinity for E5M2
            code = (biased << manBits) | (m - (1 << manBits));
        }
        return (byte) (sign | code);
    }
}
