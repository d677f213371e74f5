package dev.zimage4j.kernels.cpu;

import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.TensorView;

import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A {@link Weight} of the CPU backend. Matrices stay a zero-copy view of the mapped checkpoint and are
 * converted to float32 on the fly while the GEMM packs them; vectors (norm weights, biases, pad tokens)
 * are converted once into a small owned {@code float[]}.
 */
final class CpuWeight implements Weight {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final float[] E4M3 = table(DType.F8_E4M3);
    private static final VectorSpecies<Integer> BF16_OUT = IntVector.SPECIES_PREFERRED;
    private static final int BF16_LANES = BF16_OUT.length();
    private static final VectorSpecies<Short> BF16_IN = VectorSpecies.of(short.class, VectorShape.forBitSize(16 * BF16_LANES));
    private static final float[] E5M2 = table(DType.F8_E5M2);

    private final String name;
    private final DType dtype;
    private final int[] shape;
    private final long numel;
    final MemorySegment data;
    final float scale;
    /** Eagerly converted values (times scale) for vectors, else null. */
    final float[] floats;
    private volatile boolean released;

    CpuWeight(TensorView view, float scale) {
        this.name = view.name();
        this.dtype = view.dtype();
        if (!dtype.isFloat())
            throw new IllegalArgumentException("weight " + name + " has dtype " + dtype + "; the CPU backend takes F32, F64, F16, BF16, F8_E4M3 or F8_E5M2");
        if (!Float.isFinite(scale))
            throw new IllegalArgumentException("weight " + name + ": scale " + scale + " is not finite");
        int[] s = view.intShape();
        this.shape = s.length == 0 ? new int[] {1} : s;
        this.numel = view.numel();
        if (view.data().byteSize() != numel * dtype.bytes())
            throw new IllegalArgumentException("weight " + name + " " + Arrays.toString(s) + " " + dtype + ": data holds "
                    + view.data().byteSize() + " bytes, expected " + numel * dtype.bytes());
        this.data = view.data();
        this.scale = scale;
        boolean vector = shape.length == 1 || numel == shape[shape.length - 1];
        if (vector) {
            if (numel > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("weight " + name + " is too large");
            float[] f = new float[(int) numel];
            toFloat(0, f, 0, f.length);
            this.floats = f;
        } else {
            this.floats = null;
        }
    }

    private static float[] table(DType t) {
        float[] f = new float[256];
        MemorySegment one = MemorySegment.ofArray(new byte[1]);
        for (int b = 0; b < 256; b++) {
            one.set(ValueLayout.JAVA_BYTE, 0, (byte) b);
            f[b] = FloatConversion.get(t, one, 0);
        }
        return f;
    }

    /**
     * Converts elements {@code [from, from + n)} (times the scale) into {@code dst[off..]}. The hot loop of
     * weight packing; one branch per call, a tight loop per dtype.
     */
    void toFloat(long from, float[] dst, int off, int n) {
        if (floats != null) {
            System.arraycopy(floats, (int) from, dst, off, n);
            return;
        }
        MemorySegment d = data;
        switch (dtype) {
            case F32 -> MemorySegment.copy(d, F32, from * 4, dst, off, n);
            case BF16 -> {
                long b = from * 2;
                int i = 0;
                for (int bound = n - n % BF16_LANES; i < bound; i += BF16_LANES) // bf16 bits << 16 = float bits
                    ((IntVector) ShortVector.fromMemorySegment(BF16_IN, d, b + 2L * i, ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.S2I, BF16_OUT, 0))
                            .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, off + i);
                for (; i < n; i++) dst[off + i] = Float.intBitsToFloat(d.get(I16, b + 2L * i) << 16);
            }
            case F16 -> {
                long b = from * 2;
                for (int i = 0; i < n; i++) dst[off + i] = Float.float16ToFloat(d.get(I16, b + 2L * i));
            }
            case F8_E4M3 -> {
                for (int i = 0; i < n; i++) dst[off + i] = E4M3[d.get(ValueLayout.JAVA_BYTE, from + i) & 0xff];
            }
            case F8_E5M2 -> {
                for (int i = 0; i < n; i++) dst[off + i] = E5M2[d.get(ValueLayout.JAVA_BYTE, from + i) & 0xff];
            }
            case F64 -> {
                for (int i = 0; i < n; i++) dst[off + i] = (float) d.get(F64, (from + i) * 8);
            }
            default -> throw new IllegalStateException(dtype.toString());
        }
        if (scale != 1f) for (int i = 0; i < n; i++) dst[off + i] *= scale;
    }

    /** The converted values of a vector weight; throws if this is a matrix. */
    float[] vector(String op, int expected) {
        if (released) throw new IllegalStateException(op + ": weight " + name + " was released");
        if (floats == null || floats.length != expected)
            throw new IllegalArgumentException(op + ": weight " + name + " " + Arrays.toString(shape) + " should be a vector of "
                    + expected + " elements");
        return floats;
    }

    void checkLive(String op) {
        if (released) throw new IllegalStateException(op + ": weight " + name + " was released");
    }

    void release() {
        released = true;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    @Override
    public long numel() {
        return numel;
    }

    @Override
    public long ownedBytes() {
        return floats == null ? 0 : 4L * floats.length;
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape);
    }
}
