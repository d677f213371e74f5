package dev.zimage4j.safetensors;

import java.io.IOException;

/**
 * Produces one tensor's bytes when the writer reaches it: called exactly once, after the header is written,
 * so a multi-GB tensor can be generated or copied piecewise without ever being held in memory.
 */
@FunctionalInterface
public interface TensorSource {
    /** Writes exactly the tensor's {@code numel · dtype.bytes()} bytes, little-endian, to {@code sink}. */
    void writeTo(ByteSink sink) throws IOException;
}
