package dev.zimage4j.safetensors;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.*;

/** Conversions checked against hand-made bit patterns, and the vector paths against the scalar ones for every pattern. */
class FloatConversionTest {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static void assertBits(float expected, float actual, String what) {
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                what + ": expected " + expected + " got " + actual);
    }

    @Test
    void bf16Patterns() {
        assertBits(0f, FloatConversion.bf16ToFloat((short) 0x0000), "+0");
        assertBits(-0f, FloatConversion.bf16ToFloat((short) 0x8000), "-0");
        assertBits(1f, FloatConversion.bf16ToFloat((short) 0x3f80), "1");
        assertBits(-2f, FloatConversion.bf16ToFloat((short) 0xc000), "-2");
        assertBits(Float.POSITIVE_INFINITY, FloatConversion.bf16ToFloat((short) 0x7f80), "+inf");
        assertBits(Float.NEGATIVE_INFINITY, FloatConversion.bf16ToFloat((short) 0xff80), "-inf");
        assertTrue(Float.isNaN(FloatConversion.bf16ToFloat((short) 0x7fc0)), "NaN");
        assertBits(0x1p-133f, FloatConversion.bf16ToFloat((short) 0x0001), "smallest subnormal");
        assertBits(127 * 0x1p-133f, FloatConversion.bf16ToFloat((short) 0x007f), "largest subnormal");
        assertBits(0x1p-126f, FloatConversion.bf16ToFloat((short) 0x0080), "smallest normal");
        assertBits(0x1.fep127f, FloatConversion.bf16ToFloat((short) 0x7f7f), "largest finite");
    }

    private static short bf16(int floatBits) {
        return FloatConversion.floatToBf16(Float.intBitsToFloat(floatBits));
    }

    @Test
    void floatToBf16RoundsToNearestEven() {
        assertEquals((short) 0x3f80, bf16(0x3f808000), "tie, even below");
        assertEquals((short) 0x3f82, bf16(0x3f818000), "tie, even above");
        assertEquals((short) 0x3f81, bf16(0x3f808001), "just above tie");
        assertEquals((short) 0x3f80, bf16(0x3f807fff), "just below tie");
        assertEquals((short) 0xbf82, bf16(0xbf818000), "negative tie");
        assertEquals((short) 0x7f80, bf16(0x7f7fffff), "max float overflows to inf");
        assertEquals((short) 0x7f7f, bf16(0x7f7f7fff), "just below overflow stays finite");
        assertEquals((short) 0x7f80, bf16(0x7f800000), "inf");
        assertEquals((short) 0xff80, bf16(0xff800000), "-inf");
        assertEquals((short) 0x8000, bf16(0x80000000), "-0");
        assertEquals((short) 0x0000, bf16(0x00008000), "subnormal tie to even 0");
        assertEquals((short) 0x0002, bf16(0x00018000), "subnormal tie to even 2");
        assertEquals((short) 0x0080, bf16(0x007fffff), "largest subnormal rounds to smallest normal");
        assertEquals((short) 0x7fc0, bf16(0x7f800001), "signalling NaN made quiet, not inf");
        assertEquals((short) 0xffc1, bf16(0xff810000), "negative NaN keeps sign and payload");
        for (int b = 0; b < 0x10000; b++) {
            float f = FloatConversion.bf16ToFloat((short) b);
            if (!Float.isNaN(f)) assertEquals((short) b, FloatConversion.floatToBf16(f), "round trip " + b);
        }
    }

    @Test
    void f16Patterns() {
        assertBits(0x1p-24f, FloatConversion.f16ToFloat((short) 0x0001), "smallest subnormal");
        assertBits(1023 * 0x1p-24f, FloatConversion.f16ToFloat((short) 0x03ff), "largest subnormal");
        assertBits(0x1p-14f, FloatConversion.f16ToFloat((short) 0x0400), "smallest normal");
        assertBits(65504f, FloatConversion.f16ToFloat((short) 0x7bff), "largest finite");
        assertBits(1f, FloatConversion.f16ToFloat((short) 0x3c00), "1");
        assertBits(-2f, FloatConversion.f16ToFloat((short) 0xc000), "-2");
        assertBits(0.333251953125f, FloatConversion.f16ToFloat((short) 0x3555), "1/3");
        assertBits(-0f, FloatConversion.f16ToFloat((short) 0x8000), "-0");
        assertBits(Float.POSITIVE_INFINITY, FloatConversion.f16ToFloat((short) 0x7c00), "inf");
        assertBits(Float.NEGATIVE_INFINITY, FloatConversion.f16ToFloat((short) 0xfc00), "-inf");
        assertTrue(Float.isNaN(FloatConversion.f16ToFloat((short) 0x7e00)), "NaN");
        assertEquals((short) 0x3c00, FloatConversion.floatToF16(1.00048828125f), "tie to even below");
        assertEquals((short) 0x3c02, FloatConversion.floatToF16(1.00146484375f), "tie to even above");
        assertEquals((short) 0x7c00, FloatConversion.floatToF16(65520f), "overflow to inf");
    }

    @Test
    void e4m3Patterns() {
        assertBits(0f, FloatConversion.e4m3ToFloat((byte) 0x00), "+0");
        assertBits(-0f, FloatConversion.e4m3ToFloat((byte) 0x80), "-0");
        assertBits(0x1p-9f, FloatConversion.e4m3ToFloat((byte) 0x01), "smallest subnormal");
        assertBits(7 * 0x1p-9f, FloatConversion.e4m3ToFloat((byte) 0x07), "largest subnormal");
        assertBits(0x1p-6f, FloatConversion.e4m3ToFloat((byte) 0x08), "smallest normal");
        assertBits(1f, FloatConversion.e4m3ToFloat((byte) 0x38), "1");
        assertBits(1.125f, FloatConversion.e4m3ToFloat((byte) 0x39), "1.125");
        assertBits(-1.75f, FloatConversion.e4m3ToFloat((byte) 0xbe), "-1.75");
        assertBits(256f, FloatConversion.e4m3ToFloat((byte) 0x78), "256");
        assertBits(448f, FloatConversion.e4m3ToFloat((byte) 0x7e), "largest finite");
        assertBits(-448f, FloatConversion.e4m3ToFloat((byte) 0xfe), "-largest finite");
        assertTrue(Float.isNaN(FloatConversion.e4m3ToFloat((byte) 0x7f)), "NaN");
        assertTrue(Float.isNaN(FloatConversion.e4m3ToFloat((byte) 0xff)), "-NaN");
        int nans = 0;
        for (int b = 0; b < 256; b++) {
            float f = FloatConversion.e4m3ToFloat((byte) b);
            if (Float.isNaN(f)) nans++;
            else assertEquals((byte) b, FloatConversion.floatToE4m3(f), "round trip " + Integer.toHexString(b));
        }
        assertEquals(2, nans, "E4M3FN has exactly two NaN patterns and no infinities");
        assertEquals((byte) 0x38, FloatConversion.floatToE4m3(1.0625f), "tie to even below");
        assertEquals((byte) 0x3a, FloatConversion.floatToE4m3(1.1875f), "tie to even above");
        assertEquals((byte) 0x00, FloatConversion.floatToE4m3(0x1p-10f), "subnormal tie to 0");
        assertEquals((byte) 0x02, FloatConversion.floatToE4m3(3 * 0x1p-10f), "subnormal tie to 2");
        assertEquals((byte) 0x08, FloatConversion.floatToE4m3(15 * 0x1p-10f), "largest subnormal tie rounds to smallest normal");
        assertEquals((byte) 0x7e, FloatConversion.floatToE4m3(464f), "tie at the top rounds to 448");
        assertEquals((byte) 0x7f, FloatConversion.floatToE4m3(470f), "overflow is NaN");
        assertEquals((byte) 0xff, FloatConversion.floatToE4m3(Float.NEGATIVE_INFINITY), "-inf is NaN");
        assertEquals((byte) 0x80, FloatConversion.floatToE4m3(-0f), "-0");
    }

    @Test
    void e5m2Patterns() {
        assertBits(-0f, FloatConversion.e5m2ToFloat((byte) 0x80), "-0");
        assertBits(0x1p-16f, FloatConversion.e5m2ToFloat((byte) 0x01), "smallest subnormal");
        assertBits(0x1p-14f, FloatConversion.e5m2ToFloat((byte) 0x04), "smallest normal");
        assertBits(1f, FloatConversion.e5m2ToFloat((byte) 0x3c), "1");
        assertBits(57344f, FloatConversion.e5m2ToFloat((byte) 0x7b), "largest finite");
        assertBits(Float.POSITIVE_INFINITY, FloatConversion.e5m2ToFloat((byte) 0x7c), "inf");
        assertBits(Float.NEGATIVE_INFINITY, FloatConversion.e5m2ToFloat((byte) 0xfc), "-inf");
        assertTrue(Float.isNaN(FloatConversion.e5m2ToFloat((byte) 0x7d)), "NaN");
        for (int b = 0; b < 256; b++) {
            float f = FloatConversion.e5m2ToFloat((byte) b);
            if (!Float.isNaN(f)) assertEquals((byte) b, FloatConversion.floatToE5m2(f), "round trip " + Integer.toHexString(b));
        }
        assertEquals((byte) 0x7c, FloatConversion.floatToE5m2(61440f), "tie above the largest finite rounds to inf");
        assertEquals((byte) 0x7b, FloatConversion.floatToE5m2(60000f), "below the tie stays finite");
        assertEquals((byte) 0x3c, FloatConversion.floatToE5m2(1.125f), "tie to even below");
        assertEquals((byte) 0x3e, FloatConversion.floatToE5m2(1.375f), "tie to even above");
    }

    @Test
    void f32AndF64() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(16);
            s.set(F32, 4, -1.5f);
            assertBits(-1.5f, FloatConversion.get(DType.F32, s, 1), "f32");
            s.set(F64, 8, 0.1);
            assertBits(0.1f, FloatConversion.get(DType.F64, s, 1), "f64 rounds to nearest");
            s.set(F64, 8, 1e300);
            assertBits(Float.POSITIVE_INFINITY, FloatConversion.get(DType.F64, s, 1), "f64 overflow");
            assertThrows(IllegalArgumentException.class, () -> FloatConversion.get(DType.I32, s, 0));
        }
    }

    /** Bulk (vector) conversion of every 16-bit pattern, at odd offsets and lengths, equals the scalar one bit for bit. */
    @Test
    void bulkEqualsScalarForEveryPattern() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = a.allocate(2 * 0x10000 + 2);
            for (int b = 0; b < 0x10000; b++) src.set(I16, 2 + 2L * b, (short) b);
            MemorySegment data = src.asSlice(2); // also exercises unaligned-to-vector starts below
            for (DType t : new DType[]{DType.BF16, DType.F16}) {
                for (int from : new int[]{0, 1, 7}) {
                    int n = 0x10000 - from - 3;
                    float[] dst = new float[n + 5];
                    FloatConversion.toFloat(t, data, from, dst, 5, n);
                    MemorySegment off = a.allocate(4L * (n + 3));
                    FloatConversion.toFloat(t, data, from, off, 3, n);
                    for (int i = 0; i < n; i++) {
                        int want = Float.floatToRawIntBits(FloatConversion.get(t, data, from + i));
                        if (want != Float.floatToRawIntBits(dst[5 + i]))
                            assertBits(Float.intBitsToFloat(want), dst[5 + i], t + " array, pattern " + Integer.toHexString(from + i));
                        if (want != Float.floatToRawIntBits(off.get(F32, 4L * (3 + i))))
                            assertBits(Float.intBitsToFloat(want), off.get(F32, 4L * (3 + i)), t + " segment, pattern " + Integer.toHexString(from + i));
                    }
                }
            }
        }
    }

    @Test
    void bulkOtherTypesAndBounds() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(256);
            for (int b = 0; b < 256; b++) s.set(ValueLayout.JAVA_BYTE, b, (byte) b);
            float[] dst = new float[256];
            FloatConversion.toFloat(DType.F8_E4M3, s, 0, dst, 0, 256);
            for (int b = 0; b < 256; b++) assertBits(FloatConversion.e4m3ToFloat((byte) b), dst[b], "e4m3 " + b);
            FloatConversion.toFloat(DType.F32, s, 2, dst, 0, 62);
            assertBits(s.get(F32, 8), dst[0], "f32 bulk");
            assertThrows(IndexOutOfBoundsException.class, () -> FloatConversion.toFloat(DType.F32, s, 2, dst, 0, 63));
            assertThrows(IndexOutOfBoundsException.class, () -> FloatConversion.toFloat(DType.BF16, s, 0, dst, 250, 10));
            assertThrows(IllegalArgumentException.class, () -> FloatConversion.toFloat(DType.U8, s, 0, dst, 0, 1));
        }
    }
}
