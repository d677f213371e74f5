package dev.zimage4j.safetensors;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;

/**
 * A buffered little-endian byte stream into a file being written by {@link SafetensorsWriter}. Counts what
 * it is given so the writer can check each tensor's length. Not thread-safe.
 */
public final class ByteSink {
    private static final int BUFFER_BYTES = 1 << 20;
    private final WritableByteChannel out;
    private final ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private long written;

    ByteSink(WritableByteChannel out) {
        this.out = out;
    }

    /** Bytes accepted so far. */
    public long written() {
        return written;
    }

    private void room(int n) throws IOException {
        if (buf.remaining() < n) flush();
        written += n;
    }

    /** One byte. */
    public void putByte(byte v) throws IOException {
        room(1);
        buf.put(v);
    }

    /** A little-endian 16-bit value (e.g. raw BF16 / F16 bits). */
    public void putShort(short v) throws IOException {
        room(2);
        buf.putShort(v);
    }

    /** A little-endian 32-bit integer. */
    public void putInt(int v) throws IOException {
        room(4);
        buf.putInt(v);
    }

    /** A little-endian 64-bit integer. */
    public void putLong(long v) throws IOException {
        room(8);
        buf.putLong(v);
    }

    /** A little-endian F32. */
    public void putFloat(float v) throws IOException {
        room(4);
        buf.putFloat(v);
    }

    /** A little-endian F64. */
    public void putDouble(double v) throws IOException {
        room(8);
        buf.putDouble(v);
    }

    /** {@code v} stored as {@code dtype}, rounding to nearest even for the narrower float types. */
    public void putFloat(DType dtype, float v) throws IOException {
        switch (dtype) {
            case F32 -> putFloat(v);
            case F64 -> putDouble(v);
            case BF16 -> putShort(FloatConversion.floatToBf16(v));
            case F16 -> putShort(FloatConversion.floatToF16(v));
            case F8_E4M3 -> putByte(FloatConversion.floatToE4m3(v));
            case F8_E5M2 -> putByte(FloatConversion.floatToE5m2(v));
            default -> throw new IllegalArgumentException(dtype + " is not a floating-point dtype");
        }
    }

    /** {@code v[off, off+len)} stored as {@code dtype} (rounded as {@link #putFloat(DType, float)} does), a buffer-full at a time. */
    public void putFloats(DType dtype, float[] v, int off, int len) throws IOException {
        if (!dtype.isFloat()) throw new IllegalArgumentException(dtype + " is not a floating-point dtype");
        Objects.checkFromIndexSize(off, len, v.length);
        int size = dtype.bytes();
        for (int i = 0; i < len; ) {
            if (buf.remaining() < size) flush();
            int n = Math.min(len - i, buf.remaining() / size), end = off + i + n;
            switch (dtype) {
                case F32 -> buf.asFloatBuffer().put(v, off + i, n);
                case F64 -> { for (int k = off + i; k < end; k++) buf.putDouble(v[k]); }
                case BF16 -> { for (int k = off + i; k < end; k++) buf.putShort(FloatConversion.floatToBf16(v[k])); }
                case F16 -> { for (int k = off + i; k < end; k++) buf.putShort(FloatConversion.floatToF16(v[k])); }
                case F8_E4M3 -> { for (int k = off + i; k < end; k++) buf.put(FloatConversion.floatToE4m3(v[k])); }
                default -> { for (int k = off + i; k < end; k++) buf.put(FloatConversion.floatToE5m2(v[k])); }
            }
            if (dtype == DType.F32) buf.position(buf.position() + 4 * n); // the float view does not move buf
            written += (long) n * size;
            i += n;
        }
    }

    /** Bytes {@code b[off, off+len)} as they are. */
    public void put(byte[] b, int off, int len) throws IOException {
        put(MemorySegment.ofArray(b).asSlice(off, len));
    }

    /** All bytes of {@code src} (e.g. a {@link TensorView#data()} being copied), in chunks. */
    public void put(MemorySegment src) throws IOException {
        long pos = 0, n = src.byteSize();
        while (pos < n) {
            if (!buf.hasRemaining()) flush();
            int chunk = (int) Math.min(buf.remaining(), n - pos);
            MemorySegment.copy(src, pos, MemorySegment.ofBuffer(buf), 0, chunk); // the view starts at the position
            buf.position(buf.position() + chunk);
            pos += chunk;
        }
        written += n;
    }

    /** Writes out what is buffered. */
    void flush() throws IOException {
        buf.flip();
        while (buf.hasRemaining()) out.write(buf);
        buf.clear();
    }
}
