package dev.zimage4j.dit;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Every activation buffer of one DiT forward at one (latent size, caption length), allocated once and
 * reused by every call of that shape. The per-call inputs ({@link #latent}, {@link #t}, {@link #caption})
 * live here too, so a GPU backend can record the forward once and replay it after fresh uploads.
 * The rotary tables depend only on the shape and are uploaded at allocation.
 */
public final class DitWorkspace implements AutoCloseable {
    private final Backend backend;
    private final List<Tensor> owned = new ArrayList<>();
    /** The token geometry this workspace serves. */
    final TokenLayout layout;

    // per-call inputs
    final Tensor latent;   // [C, Hl, Wl]
    final Tensor t;        // [1]: model time 1 − σ
    final Tensor caption;  // [Lc, capFeatDim]
    // output
    final Tensor out;      // [C, Hl, Wl]

    // shape-only constants
    final Tensor ropeCos, ropeSin; // [S, headDim/2], joint order

    // timestep embedding and modulation
    final Tensor tFreq;     // [1, 256] sinusoid
    final Tensor tHidden;   // [1, 1024]
    final Tensor temb;      // [1, adaLN]
    final Tensor tembSilu;  // [1, adaLN]: final layer input
    final Tensor modulation;  // [1, 4·d]: scale_msa, gate_msa, scale_mlp, gate_mlp of the current block
    final Tensor finalScale;  // [1, d]

    // embedders
    final Tensor patches;     // [N, 64]
    final Tensor capNormed;   // [Lc, capFeatDim]

    // the joint sequence U = [X ; E], and the block scratch (sized for S rows; refiners use row views)
    final Tensor joint;       // [S, d]
    final Tensor normed;      // [S, d]: modulated norm output, then the attention output
    final Tensor q, k, v;     // [S, d]
    final Tensor branch;      // [S, d]: attention or FFN branch output before the sandwich norm
    final Tensor ffnHidden;   // [S, f]

    // final layer
    final Tensor finalNormed; // [N, d]
    final Tensor outTokens;   // [N, 64]

    DitWorkspace(Backend backend, DitShapes shapes, TokenLayout layout) {
        this.backend = backend;
        this.layout = layout;
        DitConfig c = shapes.config();
        int d = c.dim(), s = layout.sequence(), n = layout.imageTokens(), lc = layout.capLen();
        RopeTables rope = RopeTables.build(c, layout);
        try {
            latent = alloc(c.inChannels(), layout.latentH(), layout.latentW());
            t = alloc(1);
            caption = alloc(lc, c.capFeatDim());
            out = alloc(c.inChannels(), layout.latentH(), layout.latentW());
            ropeCos = alloc(s, c.headDim() / 2);
            ropeSin = alloc(s, c.headDim() / 2);
            tFreq = alloc(1, shapes.tFreqDim());
            tHidden = alloc(1, shapes.tHidden());
            temb = alloc(1, shapes.adaLnWidth());
            tembSilu = alloc(1, shapes.adaLnWidth());
            modulation = alloc(1, 4 * d);
            finalScale = alloc(1, d);
            patches = alloc(n, c.patchVector());
            capNormed = alloc(lc, c.capFeatDim());
            joint = alloc(s, d);
            normed = alloc(s, d);
            q = alloc(s, d);
            k = alloc(s, d);
            v = alloc(s, d);
            branch = alloc(s, d);
            ffnHidden = alloc(s, c.ffnHidden());
            finalNormed = alloc(n, d);
            outTokens = alloc(n, c.patchVector());
            backend.upload(ropeCos, rope.cos());
            backend.upload(ropeSin, rope.sin());
        } catch (RuntimeException | OutOfMemoryError e) {
            close(); // free what was allocated before the failure (e.g. device memory running out on a large image)
            throw e;
        }
    }

    private Tensor alloc(int... shape) {
        Tensor x = backend.alloc(shape);
        owned.add(x);
        return x;
    }

    /** The token geometry (latent size, caption length) this workspace was built for. */
    public TokenLayout layout() {
        return layout;
    }

    /** The latent input tensor {@code [C, Hl, Wl]} (upload into it, or write it on the device, before a forward). */
    public Tensor latent() {
        return latent;
    }

    /** The one-element model-time input (1 − σ). */
    public Tensor time() {
        return t;
    }

    /** The caption-feature input {@code [Lc, capFeatDim]}. */
    public Tensor caption() {
        return caption;
    }

    /** The model output {@code [C, Hl, Wl]} (v̂ ≈ x₀ − ε, not negated). */
    public Tensor output() {
        return out;
    }

    /** Bytes of activation memory held (float32). */
    public long bytes() {
        long n = 0;
        for (Tensor x : owned) n += x.numel() * 4;
        return n;
    }

    @Override
    public void close() {
        for (Tensor x : owned) backend.release(x);
        owned.clear();
    }
}
