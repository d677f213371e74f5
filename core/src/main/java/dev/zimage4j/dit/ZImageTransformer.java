package dev.zimage4j.dit;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Tensor;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.Safetensors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The Z-Image S3-DiT ({@code ZImageTransformer2DModel}, spec §2): latent, model time and caption features
 * in, velocity prediction out, on any {@link Backend}.
 *
 * <pre>
 *   temb = MLP(sinusoid(t · t_scale))                       timestep embedding
 *   X    = x_embedder(patchify(latent)) ; x_pad_token…      image tokens, padded to 32
 *   E    = cap_embedder(caption) ; cap_pad_token…           caption tokens, padded to 32
 *   X    = noise_refiner(X, temb)        ×n_refiner         image RoPE, modulated
 *   E    = context_refiner(E)            ×n_refiner         caption RoPE, unmodulated
 *   U    = [X ; E]
 *   U    = layers(U, temb)               ×n_layers          joint RoPE, modulated
 *   out  = unpatchify(final_layer(U[0..N), temb))
 * </pre>
 *
 * The forward writes only into a {@link DitWorkspace} allocated once per shape.
 */
public final class ZImageTransformer implements AutoCloseable {
    /** Max period of the timestep sinusoid (hard-coded upstream). */
    static final float MAX_PERIOD = 10000f;
    /** eps of the final LayerNorm (no affine), hard-coded upstream. */
    static final float FINAL_NORM_EPS = 1e-6f;

    private final Backend backend;
    private final DitConfig config;
    private final DitWeights weights;
    private final Checkpoint checkpoint; // kept open: the weights are views of its mapping; may be null
    private DitWorkspace cached;

    /**
     * Wraps prepared weights.
     *
     * @param checkpoint closed together with this model (the weights may view its memory); null if owned elsewhere
     */
    public ZImageTransformer(Backend backend, DitConfig config, DitWeights weights, Checkpoint checkpoint) {
        this.backend = backend;
        this.config = config;
        this.weights = weights;
        this.checkpoint = checkpoint;
    }

    /**
     * Validates and prepares the weights of an open checkpoint (either layout). Takes ownership of the
     * checkpoint: it is closed with this model, or at once if loading fails.
     *
     * @throws DitCheckpointException listing every missing, unknown or mis-shaped tensor
     */
    public static ZImageTransformer load(Checkpoint ckpt, DitConfig config, Backend backend) {
        try {
            return new ZImageTransformer(backend, config, DitWeights.load(ckpt, config, backend), ckpt);
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    /**
     * Loads the DiT from {@code path}: a pipeline directory (its {@code transformer/} folder is used), a
     * transformer folder holding {@code config.json} and the weights (diffusers shards with an index, one
     * diffusers file, or one single-file / ComfyUI file), or a {@code .safetensors} file / index whose
     * folder holds a {@code config.json}. Without any {@code config.json} the configuration is inferred
     * from the tensor shapes ({@link DitConfig#infer}).
     *
     * @throws IOException            for an unreadable config
     * @throws DitCheckpointException listing every missing, unknown or mis-shaped tensor
     */
    public static ZImageTransformer load(Path path, Backend backend) throws IOException {
        if (Files.isDirectory(path.resolve("transformer"))) path = path.resolve("transformer");
        Path configDir = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
        Checkpoint ckpt = Safetensors.open(path);
        DitConfig config;
        try {
            config = Files.isRegularFile(configDir.resolve("config.json"))
                    ? DitConfig.load(configDir.resolve("config.json"))
                    : DitConfig.infer(DitKeyMapping.map(ckpt).tensors(), ckpt.source());
        } catch (IOException | RuntimeException e) {
            ckpt.close();
            throw e;
        }
        return load(ckpt, config, backend);
    }

    /** The configuration the weights were validated against. */
    public DitConfig config() {
        return config;
    }

    /** The prepared weights (views of the checkpoint mapping on the CPU). */
    public DitWeights weights() {
        return weights;
    }

    /** A new workspace for latents of {@code latentH × latentW} and {@code capLen} caption tokens; close it when done. */
    public DitWorkspace allocate(int latentH, int latentW, int capLen) {
        return new DitWorkspace(backend, weights.shapes(), new TokenLayout(latentH, latentW, config.patchSize(), capLen));
    }

    /**
     * One forward on host arrays, through a workspace cached for the last shape used.
     *
     * @param latent  {@code [C, Hl, Wl]} row-major (the reference's {@code [C, 1, Hl, Wl]} without the frame axis)
     * @param t       model time {@code 1 − σ}
     * @param caption {@code [Lc, capFeatDim]} row-major, {@code capLen} rows
     * @return the model output {@code [C, Hl, Wl]} (not negated)
     */
    public synchronized float[] forward(float[] latent, int latentH, int latentW, float t, float[] caption, int capLen) {
        if (cached == null || !cached.layout.equals(new TokenLayout(latentH, latentW, config.patchSize(), capLen))) {
            if (cached != null) cached.close();
            cached = null;
            cached = allocate(latentH, latentW, capLen);
        }
        float[] out = new float[Math.toIntExact(cached.out.numel())];
        forward(cached, latent, t, caption, out);
        return out;
    }

    /** Uploads the inputs into {@code ws}, runs {@link #forward(DitWorkspace)}, downloads the output into {@code out}. */
    public void forward(DitWorkspace ws, float[] latent, float t, float[] caption, float[] out) {
        if (!Float.isFinite(t)) throw new IllegalArgumentException("model time " + t + " is not finite");
        setInputs(ws, latent, caption);
        backend.upload(ws.t, new float[]{t});
        forward(ws);
        backend.download(ws.out, out);
    }

    /** Checks and uploads the latent {@code [C, Hl, Wl]} and the caption features into {@code ws}. */
    public void setInputs(DitWorkspace ws, float[] latent, float[] caption) {
        check("latent", latent.length, ws.latent.numel());
        check("caption", caption.length, ws.caption.numel());
        for (float x : latent) if (!Float.isFinite(x)) throw new IllegalArgumentException("latent holds a non-finite value");
        for (float x : caption) if (!Float.isFinite(x)) throw new IllegalArgumentException("caption features hold a non-finite value");
        backend.upload(ws.latent, latent);
        backend.upload(ws.caption, caption);
    }

    /**
     * One sampler step without leaving the backend, recorded as one graph per workspace: the forward on the
     * inputs in {@code ws}, then {@code latent += stepFactor · output} (the Euler update
     * {@code x ← x + (σᵢ₊₁ − σᵢ)·(−v)} with {@code stepFactor = σᵢ − σᵢ₊₁}), both values chosen per step by
     * {@link DitWorkspace#selectStep}. The latent stays in {@link DitWorkspace#latent()} for the next step.
     */
    public void forwardAndUpdate(DitWorkspace ws) {
        backend.replay(ws.updateKey, () -> {
            run(ws);
            backend.axpy(ws.latent, ws.stepFactor, ws.out);
        });
    }

    private static void check(String what, int got, long want) {
        if (got != want) throw new IllegalArgumentException(what + " has " + got + " values, the workspace expects " + want);
    }

    /**
     * The forward pass on the inputs already in {@code ws} ({@link DitWorkspace#latent()}, {@link
     * DitWorkspace#time()}, {@link DitWorkspace#caption()}) into {@link DitWorkspace#output()}. Recorded
     * once per workspace by graph-capable backends and replayed afterwards.
     */
    public void forward(DitWorkspace ws) {
        backend.replay(ws, () -> run(ws));
    }

    private void run(DitWorkspace ws) {
        Backend b = backend;
        DitWeights w = weights;
        TokenLayout l = ws.layout;
        int n = l.imageTokens(), np = l.paddedImageTokens(), lc = l.capLen(), lcp = l.paddedCaptionTokens();
        int c = config.inChannels(), p = config.patchSize();
        float eps = config.normEps();

        // timestep embedding: sinusoid of t·t_scale (cos half first) → Linear → SiLU → Linear
        b.timestepEmbedding(ws.tFreq, ws.t, config.tScale(), MAX_PERIOD);
        b.linear(ws.tHidden, ws.tFreq, w.tMlp0W(), w.tMlp0B());
        b.silu(ws.tHidden, ws.tHidden);
        b.linear(ws.temb, ws.tHidden, w.tMlp2W(), w.tMlp2B());

        // image tokens X = rows [0, Np) of the joint sequence: patchify (channel fastest), embed, pad
        Tensor image = ws.joint.rows(0, np);
        b.patchify(ws.patches, ws.latent, c, l.latentH(), l.latentW(), p);
        b.linear(image.rows(0, n), ws.patches, w.xEmbedderW(), w.xEmbedderB());
        if (np > n) b.fillRows(image.rows(n, np - n), w.xPadToken());

        // caption tokens E = rows [Np, S): RMSNorm + Linear, then the learned pad token
        Tensor text = ws.joint.rows(np, lcp);
        b.rmsNorm(ws.capNormed, ws.caption, w.capNorm(), null, eps);
        b.linear(text.rows(0, lc), ws.capNormed, w.capW(), w.capB());
        if (lcp > lc) b.fillRows(text.rows(lc, lcp - lc), w.capPadToken());

        // refiners: each modality alone, with its own rows of the rotary tables
        for (DitWeights.Block blk : w.noiseRefiner())
            TransformerBlock.forward(b, config, blk, image, ws.ropeCos.rows(0, np), ws.ropeSin.rows(0, np), ws);
        for (DitWeights.Block blk : w.contextRefiner())
            TransformerBlock.forward(b, config, blk, text, ws.ropeCos.rows(np, lcp), ws.ropeSin.rows(np, lcp), ws);

        // main layers on the joint sequence U = [X ; E]: full bidirectional attention
        for (DitWeights.Block blk : w.layers())
            TransformerBlock.forward(b, config, blk, ws.joint, ws.ropeCos, ws.ropeSin, ws);

        // final layer on the real image tokens: LayerNorm (no affine) ⊙ (1 + Linear(SiLU(temb))), Linear
        b.silu(ws.tembSilu, ws.temb);
        b.linear(ws.finalScale, ws.tembSilu, w.finalAdaW(), w.finalAdaB());
        b.layerNorm(ws.finalNormed, ws.joint.rows(0, n), ws.finalScale, FINAL_NORM_EPS);
        b.linear(ws.outTokens, ws.finalNormed, w.finalLinearW(), w.finalLinearB());
        b.unpatchify(ws.out, ws.outTokens, c, l.latentH(), l.latentW(), p);
    }

    /** Frees the cached workspace, the prepared weights and the checkpoint mapping. */
    @Override
    public synchronized void close() {
        if (cached != null) cached.close();
        cached = null;
        for (Weight x : weights.all()) backend.release(x);
        if (checkpoint != null) checkpoint.close();
    }
}
