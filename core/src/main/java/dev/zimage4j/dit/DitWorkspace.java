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

    // sampling on the backend (ZImageTransformer.forwardAndUpdate): per-step inputs, selected by device copies
    /** Steps a {@link #setSchedule} table holds. */
    public static final int MAX_SCHEDULE_STEPS = 128;
    final Tensor schedule;   // [2, MAX_SCHEDULE_STEPS]: model times, then update factors
    final Tensor stepFactor; // [1]: latent += stepFactor · out after the forward
    /** Graph key of the forward followed by the update (the plain forward is keyed by the workspace itself). */
    final Object updateKey = new Object();

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
    final Tensor capNormed;   // [Lc, capFeatDim], matrix operand

    // the joint sequence U = [X ; E], and the block scratch (sized for S rows; refiners use row views)
    final Tensor joint;       // [S, d]
    final Tensor normed;      // [S, d], matrix operand: the modulated norm output, input of the q/k/v and FFN GEMMs
    final Tensor q, k;        // [S, d]: projections (q rotated in place, k into kRot)
    final Tensor v;           // [S, d], matrix operand: written by its GEMM, read by attention
    final Tensor kRot;        // [S, d], matrix operand: k after QK-norm and RoPE, attention input
    final Tensor attended;    // [S, d], matrix operand: attention output, input of the out projection
    final Tensor branch;      // [S, d]: attention or FFN branch output before the sandwich norm
    final Tensor ffnHidden;   // [S, f], matrix operand: SwiGLU output, input of w2

    // final layer
    final Tensor finalNormed; // [N, d], matrix operand
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
            schedule = alloc(2, MAX_SCHEDULE_STEPS);
            stepFactor = alloc(1);
            ropeCos = alloc(s, c.headDim() / 2);
            ropeSin = alloc(s, c.headDim() / 2);
            tFreq = alloc(1, shapes.tFreqDim());
            tHidden = alloc(1, shapes.tHidden());
            temb = alloc(1, shapes.adaLnWidth());
            tembSilu = alloc(1, shapes.adaLnWidth());
            modulation = alloc(1, 4 * d);
            finalScale = alloc(1, d);
            patches = alloc(n, c.patchVector());
            capNormed = operand(lc, c.capFeatDim());
            joint = alloc(s, d);
            normed = operand(s, d);
            q = alloc(s, d);
            k = alloc(s, d);
            v = operand(s, d);
            kRot = operand(s, d);
            attended = operand(s, d);
            branch = alloc(s, d);
            ffnHidden = operand(s, c.ffnHidden());
            finalNormed = operand(n, d);
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

    /** A tensor that only norms, GEMMs and attention write and only matrix products read ({@link Backend#allocOperand}: bf16 on the GPU). */
    private Tensor operand(int... shape) {
        Tensor x = backend.allocOperand(shape);
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

    /**
     * Uploads the per-step inputs of a sampling run on the backend: step i runs the forward at model time
     * {@code modelTimes[i]}, then {@code latent += factors[i] · output} ({@link ZImageTransformer#forwardAndUpdate}).
     */
    public void setSchedule(float[] modelTimes, float[] factors) {
        int n = modelTimes.length;
        if (factors.length != n || n < 1 || n > MAX_SCHEDULE_STEPS)
            throw new IllegalArgumentException("schedule of " + n + " model times and " + factors.length + " factors; 1.." + MAX_SCHEDULE_STEPS + " steps, one each");
        for (int i = 0; i < n; i++)
            if (!Float.isFinite(modelTimes[i]) || !Float.isFinite(factors[i]))
                throw new IllegalArgumentException("schedule step " + i + " is not finite: model time " + modelTimes[i] + ", factor " + factors[i]);
        float[] table = new float[2 * MAX_SCHEDULE_STEPS];
        System.arraycopy(modelTimes, 0, table, 0, n);
        System.arraycopy(factors, 0, table, MAX_SCHEDULE_STEPS, n);
        backend.upload(schedule, table);
    }

    /** Makes step {@code i} of the {@link #setSchedule} table the current inputs: two device-side copies, no host round trip. */
    public void selectStep(int i) {
        if (i < 0 || i >= MAX_SCHEDULE_STEPS) throw new IllegalArgumentException("step " + i + " outside the schedule table");
        backend.copy(t, schedule.view(i, 1));
        backend.copy(stepFactor, schedule.view(MAX_SCHEDULE_STEPS + i, 1));
    }

    /** The model output {@code [C, Hl, Wl]} (v̂ ≈ x₀ − ε, not negated). */
    public Tensor output() {
        return out;
    }

    /** Bytes of activation memory held, counted as float32 (an upper bound where operands are stored in bf16). */
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
