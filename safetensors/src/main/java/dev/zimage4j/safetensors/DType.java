package dev.zimage4j.safetensors;

/** The element types of the safetensors format, with their header names and sizes. */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), F8_E4M3(1), F8_E5M2(1),
    I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** True for the floating-point types that convert to {@code float}. */
    public boolean isFloat() {
        return switch (this) {
            case F64, F32, F16, BF16, F8_E4M3, F8_E5M2 -> true;
            default -> false;
        };
    }

    /**
     * The dtype named {@code name} in a safetensors header.
     *
     * @throws IllegalArgumentException for a name the format does not define
     */
    public static DType fromHeader(String name) {
        for (DType d : values()) if (d.name().equals(name)) return d;
        throw new IllegalArgumentException("unknown safetensors dtype '" + name + "'");
    }
}
