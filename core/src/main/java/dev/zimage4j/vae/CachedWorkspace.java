package dev.zimage4j.vae;

import java.util.function.Supplier;

/**
 * The workspace behind a coder's convenience method ({@link VaeDecoder#decode(float[], int, int)},
 * {@link VaeEncoder#encode(float[], int, int)}): kept for the last image size, replaced when the size changes.
 * The coder calls {@link #forImage} under its own lock; {@link #bytes()} answers at once, even during a pass.
 */
final class CachedWorkspace implements AutoCloseable {
    private volatile VaeWorkspace ws;

    /** The workspace for an image of {@code height × width}, allocating a new one (and freeing the old) on a size change. */
    VaeWorkspace forImage(int height, int width, Supplier<VaeWorkspace> allocate) {
        VaeWorkspace w = ws;
        if (w != null && w.height == height && w.width == width) return w;
        if (w != null) w.close();
        ws = null; // a failed allocation leaves nothing half-freed behind
        ws = allocate.get();
        return ws;
    }

    /** Bytes of the cached workspace, 0 when none. */
    long bytes() {
        VaeWorkspace w = ws;
        return w == null ? 0 : w.bytes();
    }

    @Override
    public void close() {
        VaeWorkspace w = ws;
        ws = null;
        if (w != null) w.close();
    }
}
