package dev.zimage4j.safetensors;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One tensor of a checkpoint: a zero-copy slice of the memory-mapped file, with its name, dtype and
 * shape. Valid while the checkpoint that produced it is open.
 *
 * @param name  the tensor's key in the header
 * @param dtype element type as stored
 * @param shape dims, outermost first (empty for a scalar)
 * @param data  the bytes, little-endian, exactly {@code numel · dtype.bytes()} long
 */
public record TensorView(String name, DType dtype, long[] shape, MemorySegment data) {

    /** Number of elements (1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** The shape as ints (all real-model dims fit). */
    public int[] intShape() {
        int[] s = new int[shape.length];
        for (int i = 0; i < s.length; i++) s[i] = Math.toIntExact(shape[i]);
        return s;
    }

    /** Rows {@code [start, start+count)} along the first axis, as a zero-copy view (e.g. q/k/v of a fused qkv). */
    public TensorView sliceRows(String newName, long start, long count) {
        if (shape.length == 0 || start < 0 || count < 1 || start + count > shape[0])
            throw new IllegalArgumentException("rows [" + start + ", " + (start + count) + ") out of range for "
                    + name + " " + Arrays.toString(shape));
        long rowBytes = data.byteSize() / shape[0];
        long[] s = shape.clone();
        s[0] = count;
        return new TensorView(newName, dtype, s, data.asSlice(start * rowBytes, count * rowBytes));
    }

    /** The same bytes seen with another shape of equal element count (e.g. dropping BFL's trailing 1×1 conv axes). */
    public TensorView reshape(long... newShape) {
        long n = 1;
        for (long d : newShape) n *= d;
        if (n != numel())
            throw new IllegalArgumentException("cannot reshape " + name + " " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        return new TensorView(name, dtype, newShape.clone(), data);
    }

    /** Element {@code i} converted to float (F32, F16, BF16, F8, F64). For bulk use {@link FloatConversion}. */
    public float getFloat(long i) {
        return FloatConversion.get(dtype, data, i);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape);
    }
}
