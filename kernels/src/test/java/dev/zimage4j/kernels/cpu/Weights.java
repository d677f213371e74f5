package dev.zimage4j.kernels.cpu;

import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.TensorView;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/** Test helper: checkpoint-like {@link TensorView}s over native memory, in any float dtype. */
final class Weights {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Weights() {
    }

    /**
     * A view of {@code values} stored as {@code dtype} (rounded to it), placed one byte into its segment so
     * that nothing is aligned. For F8 the values are ignored and random valid codes are stored instead.
     */
    static TensorView of(String name, DType dtype, float[] values, long... shape) {
        long bytes = (long) values.length * dtype.bytes();
        MemorySegment seg = Arena.ofAuto().allocate(bytes + 1).asSlice(1, bytes);
        Random r = new Random(values.length * 31L + dtype.ordinal());
        for (int i = 0; i < values.length; i++) {
            float v = values[i];
            switch (dtype) {
                case F32 -> seg.set(F32, 4L * i, v);
                case F64 -> seg.set(F64, 8L * i, v);
                case BF16 -> seg.set(I16, 2L * i, FloatConversion.floatToBf16(v));
                case F16 -> seg.set(I16, 2L * i, Float.floatToFloat16(v));
                case F8_E4M3 -> {
                    int b;
                    do b = r.nextInt(256); while ((b & 0x7f) == 0x7f || ((b >> 3) & 0xf) > 9);
                    seg.set(ValueLayout.JAVA_BYTE, i, (byte) b);
                }
                default -> throw new IllegalArgumentException(dtype.toString());
            }
        }
        return new TensorView(name, dtype, shape, seg);
    }

    /** The values a view holds, times {@code scale}, converted by the reader's scalar code. */
    static float[] values(TensorView v, float scale) {
        float[] f = new float[(int) v.numel()];
        for (int i = 0; i < f.length; i++) f[i] = v.getFloat(i) * scale;
        return f;
    }

    static float[] random(Random r, int n, float amp) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (r.nextFloat() * 2 - 1) * amp;
        return f;
    }
}
