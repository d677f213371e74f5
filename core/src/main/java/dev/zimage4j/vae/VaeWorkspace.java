package dev.zimage4j.vae;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Every tensor one VAE pass at one resolution writes, allocated once: the input and output, three equal
 * activation buffers that rotate through the network (current activation, two scratch), and the token-major
 * buffers of the mid attention. Reused for every call at that resolution; close it to free the memory.
 */
public final class VaeWorkspace implements AutoCloseable {
    /** Largest activation buffer, in floats: one backend tensor is indexed by int. */
    public static final long MAX_BUFFER_ELEMENTS = Integer.MAX_VALUE - 16;
    final Backend backend;
    /** Image size in pixels. */
    final int height, width;
    final Tensor input, output;
    private final Tensor[] buffers = new Tensor[3];
    private int current;
    /** Mid attention, {@code [S, C]} each; null without mid attention. */
    final Tensor tokens, q, k, v, attended;
    private final List<Tensor> owned = new ArrayList<>();
    /** Bytes held; 0 once closed. Volatile: read by other threads (memory gauges) while a pass runs. */
    private volatile long bytes;

    VaeWorkspace(Backend backend, int height, int width, int[] inputShape, int[] outputShape, long bufferElements,
                 int midTokens, int midChannels, boolean attention) {
        if (bufferElements > MAX_BUFFER_ELEMENTS)
            throw new IllegalArgumentException("a VAE pass at " + width + "×" + height + " needs activation buffers of "
                    + bufferElements + " floats (" + (bufferElements * 4 >> 30) + " GiB each, three of them); that is beyond "
                    + "what one tensor can hold — use a smaller image");
        this.backend = backend;
        this.height = height;
        this.width = width;
        try {
            input = own(backend.alloc(inputShape));
            output = own(backend.alloc(outputShape));
            for (int i = 0; i < 3; i++) buffers[i] = own(backend.alloc((int) bufferElements));
            if (attention) {
                tokens = own(backend.alloc(midTokens, midChannels));
                q = own(backend.alloc(midTokens, midChannels));
                k = own(backend.alloc(midTokens, midChannels));
                v = own(backend.alloc(midTokens, midChannels));
                attended = own(backend.alloc(midTokens, midChannels));
            } else {
                tokens = q = k = v = attended = null;
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            close();
            throw e;
        }
        long n = 0;
        for (Tensor t : owned) n += t.numel();
        bytes = 4 * n;
    }

    private Tensor own(Tensor t) {
        owned.add(t);
        return t;
    }

    /** Bytes this workspace holds (4 per float; 0 once closed). Safe to call from any thread. */
    public long bytes() {
        return bytes;
    }

    // ---------------------------------------------------------------- the rotating activation buffers

    /** Starts a pass: the first activation goes into buffer 0. */
    void reset() {
        current = 0;
    }

    /** The current activation seen as {@code [c, h, w]}. */
    Tensor current(int c, int h, int w) {
        return buffers[current].view(0, c, h, w);
    }

    /** Scratch buffer {@code which} (0 or 1; never the current one) seen as {@code [c, h, w]}. */
    Tensor spare(int which, int c, int h, int w) {
        return buffers[(current + 1 + which) % 3].view(0, c, h, w);
    }

    /** Makes scratch buffer {@code which} the current activation (the old current becomes scratch). */
    void advance(int which) {
        current = (current + 1 + which) % 3;
    }

    @Override
    public void close() {
        bytes = 0;
        for (Tensor t : owned) backend.release(t);
        owned.clear();
    }
}
