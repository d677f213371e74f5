package dev.zimage4j.kernels.ptx;

/** The PTX register types the emitter declares, each with its own register-name prefix. */
public enum PtxType {
    PRED(".pred", "%p"), B16(".b16", "%h"), B32(".b32", "%r"), B64(".b64", "%rd"), F32(".f32", "%f");

    private final String ptx;
    private final String prefix;

    PtxType(String ptx, String prefix) {
        this.ptx = ptx;
        this.prefix = prefix;
    }

    /** The type as written in a {@code .reg} declaration. */
    public String ptx() {
        return ptx;
    }

    /** The register-name prefix, e.g. {@code %f}. */
    public String prefix() {
        return prefix;
    }
}
