package dev.zimage4j.kernels.ptx;

/**
 * A virtual PTX register (or predicate) declared by a {@link Ptx} builder.
 *
 * @param name the register's name as written in PTX, e.g. {@code %f12}
 * @param type its declared type
 */
public record Reg(String name, PtxType type) {
    @Override
    public String toString() {
        return name;
    }
}
