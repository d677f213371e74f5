package dev.zimage4j.pipeline;

import dev.zimage4j.dit.DitConfig;
import dev.zimage4j.dit.DitKeyMapping;
import dev.zimage4j.dit.DitWorkspace;
import dev.zimage4j.dit.ZImageTransformer;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.Safetensors;
import dev.zimage4j.sampler.FlowMatchSchedule;
import dev.zimage4j.sampler.Guidance;
import dev.zimage4j.sampler.SchedulerConfig;
import dev.zimage4j.sampler.TorchGenerator;
import dev.zimage4j.text.Qwen3Config;
import dev.zimage4j.text.Qwen3TextEncoder;
import dev.zimage4j.text.Qwen3Weights;
import dev.zimage4j.tokenizer.PromptEncoder;
import dev.zimage4j.tokenizer.QwenTokenizer;
import dev.zimage4j.tokenizer.TokenizedPrompt;
import dev.zimage4j.vae.Vae;
import dev.zimage4j.vae.VaeConfig;
import dev.zimage4j.vae.VaeEncoder;
import dev.zimage4j.vae.VaeWorkspace;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * Z-Image text-to-image (and image-to-image) end to end, as diffusers' {@code ZImagePipeline} and
 * {@code ZImageImg2ImgPipeline} compute it (spec §1):
 *
 * <pre>
 *   ids      = tokenize(chat_template(prompt))[:512]
 *   cap      = text_encoder(ids).hidden_states[-2]                  [Lc, 2560]
 *   x        = randn([1, 16, H/8, W/8], torch CPU generator(seed))  (img2img: σ₀·ε + (1−σ₀)·encode(image))
 *   for i in steps:                                                  σ from the flow-match schedule
 *       v    = DiT(x, t = 1 − σᵢ, cap)                               (+ CFG: v = v + g·(v − DiT(x, t, cap_neg)))
 *       x    = x + (σᵢ₊₁ − σᵢ)·(−v)
 *   image    = clamp(VAE.decode(x / scaling + shift) / 2 + 0.5, 0, 1) → round(·255)
 * </pre>
 *
 * Loaded once and kept resident; one generation at a time. The {@link Backend} stays the caller's.
 */
public final class ZImagePipeline implements ImageGenerator {
    private final String modelId;
    private final Backend backend;
    private final PromptEncoder prompts;
    private final Qwen3TextEncoder textEncoder;
    private final ZImageTransformer dit;
    private final Vae vae;
    private final SchedulerConfig scheduler;
    private final PipelineOptions options;
    private final Map<String, Double> loadMillis;
    /**
     * DiT workspaces by shape, most recent last; two kept (prompt and negative prompt of the last shape).
     * Guarded by itself: the engine reads {@link #residentBytes()} from other threads while a generation
     * replaces (and closes) workspaces.
     */
    private final LinkedHashMap<List<Integer>, DitWorkspace> ditWorkspaces = new LinkedHashMap<>();
    private static final int DIT_WORKSPACES_KEPT = 2;

    private ZImagePipeline(String modelId, Backend backend, PromptEncoder prompts, Qwen3TextEncoder textEncoder,
                           ZImageTransformer dit, Vae vae, SchedulerConfig scheduler, PipelineOptions options,
                           Map<String, Double> loadMillis) {
        this.modelId = modelId;
        this.backend = backend;
        this.prompts = prompts;
        this.textEncoder = textEncoder;
        this.dit = dit;
        this.vae = vae;
        this.scheduler = scheduler;
        this.options = options;
        this.loadMillis = loadMillis;
    }

    /** Loads a diffusers-layout model directory with default options. */
    public static ZImagePipeline load(Path modelDir, Backend backend) {
        return load(ModelFiles.resolve(List.of(modelDir)), backend, PipelineOptions.DEFAULT);
    }

    /**
     * Loads every component (weights stay memory-mapped) and checks that they fit together. The tokenizer
     * loads on a second thread meanwhile; {@link #loadMillis()} gives each component's own time, so the
     * tokenizer's overlaps the others'.
     *
     * @throws ModelLoadException for a missing or mismatched component (the message says which)
     */
    public static ZImagePipeline load(ModelFiles files, Backend backend, PipelineOptions options) {
        Map<String, Double> ms = new LinkedHashMap<>();
        List<AutoCloseable> opened = new ArrayList<>();
        // the tokenizer (CPU work: reading its tables) loads on its own thread while the weights are opened here
        FutureTask<TimedTokenizer> tokenizerLoad = new FutureTask<>(() -> {
            long start = System.nanoTime();
            QwenTokenizer t = files.tokenizerRoot() != null ? QwenTokenizer.forModel(files.tokenizerRoot()) : QwenTokenizer.bundled();
            return new TimedTokenizer(t, (System.nanoTime() - start) / 1e6);
        });
        Thread.ofPlatform().daemon().name("zimage-tokenizer-load").start(tokenizerLoad);
        ms.put("tokenizer", 0.0); // its own time, filled in below (it overlaps the other components)
        try {
            long t0 = System.nanoTime();
            SchedulerConfig sched = files.schedulerConfig() != null ? readScheduler(files.schedulerConfig()) : SchedulerConfig.turbo();
            Qwen3TextEncoder text = loadTextEncoder(files, backend);
            opened.add(text);
            t0 = lap(ms, "text encoder", t0);
            ZImageTransformer dit = loadDit(files, backend);
            opened.add(dit);
            t0 = lap(ms, "transformer", t0);
            // the config first: Vae.load owns the checkpoint only once it is called, so a bad config must not follow the open
            VaeConfig vaeConfig = files.vaeConfig() != null ? VaeConfig.fromJson(files.vaeConfig()) : VaeConfig.Z_IMAGE;
            Vae vae = Vae.load(Safetensors.open(files.vae()), vaeConfig, backend);
            opened.add(vae);
            lap(ms, "vae", t0);
            QwenTokenizer tokenizer = awaitTokenizer(tokenizerLoad, ms);

            checkFit(text, files.textEncoder().toString(), dit, files.transformer().toString(), vae, files.vae().toString());
            return new ZImagePipeline(files.id(), backend, new PromptEncoder(tokenizer), text, dit, vae, sched, options, ms);
        } catch (RuntimeException | IOException e) {
            for (AutoCloseable c : opened.reversed()) {
                try {
                    c.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            if (e instanceof ModelLoadException m) throw m;
            throw new ModelLoadException("cannot load model " + files.id() + ": " + e.getMessage(), e);
        }
    }

    /**
     * A pipeline over components already loaded (e.g. from in-memory random checkpoints for benchmarks), with
     * the bundled tokenizer and the Turbo scheduler. The pipeline owns the components from here on.
     *
     * @param loadMillis wall time of each loading stage, reported by {@link #loadMillis()}
     * @throws ModelLoadException when the components do not fit together
     */
    public static ZImagePipeline of(String modelId, Qwen3TextEncoder text, ZImageTransformer dit, Vae vae, Backend backend,
                                    PipelineOptions options, Map<String, Double> loadMillis) {
        checkFit(text, "text encoder", dit, "transformer", vae, "vae");
        return new ZImagePipeline(modelId, backend, new PromptEncoder(QwenTokenizer.bundled()), text, dit, vae,
                SchedulerConfig.turbo(), options, new LinkedHashMap<>(loadMillis));
    }

    private static void checkFit(Qwen3TextEncoder text, String textSource, ZImageTransformer dit, String ditSource,
                                 Vae vae, String vaeSource) {
        DitConfig dc = dit.config();
        if (dc.capFeatDim() != text.config().hiddenSize())
            throw new ModelLoadException("the text encoder's hidden size " + text.config().hiddenSize() + " (" + textSource
                    + ") does not match the DiT's cap_feat_dim " + dc.capFeatDim() + " (" + ditSource + ")");
        if (dc.inChannels() != vae.config().latentChannels())
            throw new ModelLoadException("the VAE's latent_channels " + vae.config().latentChannels() + " (" + vaeSource
                    + ") does not match the DiT's in_channels " + dc.inChannels());
    }

    /** The tokenizer and the wall time of its load. */
    private record TimedTokenizer(QwenTokenizer tokenizer, double millis) {
    }

    private static QwenTokenizer awaitTokenizer(FutureTask<TimedTokenizer> load, Map<String, Double> ms) {
        try {
            TimedTokenizer t = load.get();
            ms.put("tokenizer", t.millis());
            return t.tokenizer();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw new ModelLoadException("cannot load the tokenizer: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelLoadException("interrupted while loading the tokenizer", e);
        }
    }

    private static long lap(Map<String, Double> ms, String stage, long t0) {
        long now = System.nanoTime();
        ms.put(stage, (now - t0) / 1e6);
        return now;
    }

    @SuppressWarnings("unchecked")
    private static SchedulerConfig readScheduler(Path json) throws IOException {
        return SchedulerConfig.fromJson(new ObjectMapper().readValue(json.toFile(), Map.class));
    }

    private static Qwen3TextEncoder loadTextEncoder(ModelFiles files, Backend backend) {
        if (files.textEncoderConfig() == null || Files.isDirectory(files.textEncoder()))
            return Qwen3TextEncoder.load(files.textEncoder(), backend); // a directory reads its own config.json; a lone file infers
        Checkpoint ckpt = Safetensors.open(files.textEncoder());
        try {
            String prefix = Qwen3Weights.prefix(ckpt);
            Qwen3Config config = Qwen3Config.load(files.textEncoderConfig());
            return new Qwen3TextEncoder(backend, config, Qwen3Weights.load(ckpt, prefix, config, backend), ckpt);
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    private static ZImageTransformer loadDit(ModelFiles files, Backend backend) throws IOException {
        Checkpoint ckpt = Safetensors.open(files.transformer());
        DitConfig config;
        try {
            config = files.transformerConfig() != null ? DitConfig.load(files.transformerConfig())
                    : DitConfig.infer(DitKeyMapping.map(ckpt).tensors(), ckpt.source());
        } catch (RuntimeException | IOException e) {
            ckpt.close();
            throw e;
        }
        return ZImageTransformer.load(ckpt, config, backend); // closes the checkpoint itself if loading fails
    }

    // ------------------------------------------------------------------ ImageGenerator

    @Override
    public String modelId() {
        return modelId;
    }

    /** Wall time of each loading stage, in order. */
    public Map<String, Double> loadMillis() {
        return java.util.Collections.unmodifiableMap(loadMillis);
    }

    /**
     * Memory each loaded component holds beyond the page-cache-backed mapping (converted or packed weights,
     * device copies), keyed like {@link #loadMillis()}; workspaces are not included (see {@link #residentBytes()}).
     */
    public Map<String, Long> componentBytes() {
        Map<String, Long> bytes = new LinkedHashMap<>();
        bytes.put("tokenizer", 0L); // a heap structure, not weights
        bytes.put("text encoder", textEncoder.ownedWeightBytes());
        bytes.put("transformer", ditWeightBytes());
        bytes.put("vae", vae.ownedBytes());
        return bytes;
    }

    private long ditWeightBytes() {
        long n = 0;
        for (Weight w : dit.weights().all()) n += w.ownedBytes();
        return n;
    }

    /** Pixels per latent cell times the DiT patch: image sides must be multiples of this (16). */
    public int sizeMultiple() {
        return vae.config().downFactor() * dit.config().patchSize();
    }

    /** Latent cells along an image side of {@code pixels} (pixels / 8). */
    public int latentSide(int pixels) {
        return pixels / vae.config().downFactor();
    }

    /** Channels of the latent (16). */
    public int latentChannels() {
        return dit.config().inChannels();
    }

    @Override
    public List<GeneratedImage> generate(GenerationRequest request, ProgressListener progress, CancellationToken cancel) {
        request.validate();
        checkFitsModel(request);
        if (progress == null) progress = ProgressListener.NONE;
        if (cancel == null) cancel = new CancellationToken();
        Guidance guidance = new Guidance(request.guidance(), options.cfgNormalization(), options.cfgTruncation());

        long t0 = System.nanoTime();
        Caption pos = encodePrompt(request.prompt(), "prompt");
        Caption neg = guidance.enabled() ? encodePrompt(request.negativePrompt(), "negative_prompt") : null;
        double textMs = (System.nanoTime() - t0) / 1e6;

        int lh = latentSide(request.height()), lw = latentSide(request.width());
        List<GeneratedImage> out = new ArrayList<>(request.count());
        for (int k = 0; k < request.count(); k++) {
            cancel.check();
            Map<String, Double> stages = new LinkedHashMap<>();
            stages.put("text", textMs);
            long seed = request.seed() + k;
            long e0 = System.nanoTime();
            Start start = start(request, new TorchGenerator(seed), lh, lw);
            if (request.initImage() != null) stages.put("encode", (System.nanoTime() - e0) / 1e6);
            final int image = k, steps = start.schedule().steps();
            final ProgressListener listener = progress;
            long d0 = System.nanoTime();
            long[] last = {d0};
            float[] latents = denoise(start.latents(), lh, lw, pos, neg, start.schedule(), guidance, StepListener.progress(step -> {
                long now = System.nanoTime();
                stages.put("step " + (step + 1), (now - last[0]) / 1e6);
                last[0] = now;
                listener.onStep(image, step + 1, steps);
            }), cancel);
            stages.put("denoise", (System.nanoTime() - d0) / 1e6);
            cancel.check();
            long v0 = System.nanoTime();
            byte[] rgb = toRgb8(decode(latents, lh, lw), request.height(), request.width());
            stages.put("vae", (System.nanoTime() - v0) / 1e6);
            out.add(new GeneratedImage(request.width(), request.height(), rgb, request, seed, stages));
        }
        return out;
    }

    /** Where one image's denoising starts: its latents and the steps left to run. */
    private record Start(float[] latents, FlowMatchSchedule schedule) {
    }

    /**
     * txt2img: seeded noise and the whole schedule. img2img (diffusers' order of draws from one generator):
     * the encoded image's posterior sample, then the noise, mixed at σ of the start step that the strength
     * gives, and the schedule from that step.
     */
    private Start start(GenerationRequest r, TorchGenerator generator, int lh, int lw) {
        FlowMatchSchedule schedule = FlowMatchSchedule.create(scheduler, r.steps(), (lh / 2) * (lw / 2));
        if (r.initImage() == null) return new Start(generator.randn(1, latentChannels(), lh, lw), schedule);
        int first = FlowMatchSchedule.img2imgStart(r.steps(), r.strength());
        if (first >= r.steps())
            throw new InvalidRequestException("strength", r.strength() + " with " + r.steps() + " steps leaves no step to run");
        float[] latents = encodeImage(r.initImage(), r.width(), r.height(), generator);
        FlowMatchSchedule tail = schedule.from(first);
        tail.noise(latents, generator.randn(1, latentChannels(), lh, lw));
        return new Start(latents, tail);
    }

    private void checkFitsModel(GenerationRequest r) {
        int m = sizeMultiple();
        if (r.width() % m != 0) throw new InvalidRequestException("width", "must be a multiple of " + m + " for this model, got " + r.width());
        if (r.height() % m != 0) throw new InvalidRequestException("height", "must be a multiple of " + m + " for this model, got " + r.height());
        int[] lens = dit.config().axesLens();
        if (r.height() / m > lens[1]) throw new InvalidRequestException("height", "must be at most " + lens[1] * m + " for this model, got " + r.height());
        if (r.width() / m > lens[2]) throw new InvalidRequestException("width", "must be at most " + lens[2] * m + " for this model, got " + r.width());
        if (!vae.decoder().fits(latentSide(r.height()), latentSide(r.width())))
            throw new InvalidRequestException("width", "× height " + r.width() + "×" + r.height() + " is too large for one VAE pass "
                    + "(an activation buffer would exceed " + VaeWorkspace.MAX_BUFFER_ELEMENTS + " floats); use fewer pixels");
        if (r.initImage() != null && !vae.hasEncoder())
            throw new InvalidRequestException("image", "img2img needs VAE encoder weights, which this model's VAE file lacks");
    }

    // ------------------------------------------------------------------ stages, public for tools and tests

    /**
     * Caption features of one prompt: {@code hidden_states[-2]} of its templated, truncated ids.
     *
     * @param features {@code [tokens, cap_feat_dim]} row-major
     */
    public record Caption(float[] features, int tokens) {
    }

    /** Encodes {@code prompt} (the pipeline's chat template, 512-token limit). */
    public Caption encodePrompt(String prompt) {
        return encodePrompt(prompt, "prompt");
    }

    private Caption encodePrompt(String prompt, String field) {
        TokenizedPrompt t = prompts.encode(prompt);
        int[] ids = t.ids();
        int maxTokens = ((dit.config().axesLens()[0] - 2) / 32) * 32; // caption positions 1..Lcp and image p₀ = Lcp+1 must fit
        if (ids.length == 0) throw new InvalidRequestException(field, "gives no tokens");
        if ((ids.length + 31) / 32 * 32 > maxTokens)
            throw new InvalidRequestException(field, "is " + ids.length + " tokens with the template; this model takes at most " + maxTokens);
        return new Caption(textEncoder.encode(ids), ids.length);
    }

    /** Called after each denoising step with the step index (0-based) and the latents after it. */
    @FunctionalInterface
    public interface StepListener {
        /** {@code latents} is null for a listener that does not {@link #needsLatents()} when the latents stay on the backend. */
        void afterStep(int step, float[] latents);

        /** Whether {@link #afterStep} reads the latents: if not, a device-resident backend keeps them on the device. */
        default boolean needsLatents() {
            return true;
        }

        /** A listener that only follows progress: it is called when step i has finished, without the latents. */
        static StepListener progress(java.util.function.IntConsumer afterStep) {
            return new StepListener() {
                @Override
                public void afterStep(int step, float[] latents) {
                    afterStep.accept(step);
                }

                @Override
                public boolean needsLatents() {
                    return false;
                }
            };
        }
    }

    /**
     * Runs every step of {@code schedule} on {@code latents} ({@code [16, latentH, latentW]}, consumed) and
     * returns the final latents. {@code negative} is used only where guidance is on at that step.
     */
    public float[] denoise(float[] latents, int latentH, int latentW, Caption positive, Caption negative,
                           FlowMatchSchedule schedule, Guidance guidance, StepListener listener, CancellationToken cancel) {
        if (guidance.enabled() && negative == null) throw new IllegalArgumentException("guidance is on but no negative caption was given");
        if (deviceLoop() && !guidance.enabled() && (listener == null || !listener.needsLatents())
                && schedule.steps() <= DitWorkspace.MAX_SCHEDULE_STEPS)
            return denoiseOnDevice(latents, latentH, latentW, positive, schedule, listener, cancel);
        float[] input = options.bf16ModelInput() ? new float[latents.length] : latents;
        float[] v = new float[latents.length], vNeg = negative == null ? null : new float[latents.length];
        DitWorkspace posWs = ditWorkspace(latentH, latentW, positive.tokens());
        DitWorkspace negWs = negative == null ? null : ditWorkspace(latentH, latentW, negative.tokens());
        for (int i = 0; i < schedule.steps(); i++) {
            if (cancel != null) cancel.check();
            float t = schedule.modelTime(i);
            float g = guidance.scaleAt(t);
            if (options.bf16ModelInput())
                for (int k = 0; k < latents.length; k++) input[k] = FloatConversion.bf16ToFloat(FloatConversion.floatToBf16(latents[k]));
            dit.forward(posWs, input, t, positive.features(), v);
            if (g > 0) {
                dit.forward(negWs, input, t, negative.features(), vNeg);
                guidance.combine(v, vNeg, g, v);
            }
            schedule.step(i, latents, v);
            if (listener != null) listener.afterStep(i, latents);
        }
        return latents;
    }

    /**
     * {@link #denoise} without guidance on a device-resident backend: the latents, caption and schedule are uploaded
     * once, each step is one recorded graph (forward, then the Euler update {@code x += (σᵢ − σᵢ₊₁)·v}) selected by
     * two device-side copies, and the latents come back once at the end. The host waits only for step i − 1 while
     * step i runs (progress, cancellation), so the GPU never idles between steps.
     */
    private float[] denoiseOnDevice(float[] latents, int latentH, int latentW, Caption positive, FlowMatchSchedule schedule,
                                    StepListener listener, CancellationToken cancel) {
        DitWorkspace ws = ditWorkspace(latentH, latentW, positive.tokens());
        int steps = schedule.steps();
        float[] times = new float[steps], factors = new float[steps];
        for (int i = 0; i < steps; i++) {
            times[i] = schedule.modelTime(i);
            factors[i] = schedule.sigma(i) - schedule.sigma(i + 1); // x + (σᵢ₊₁ − σᵢ)·(−v) = x + (σᵢ − σᵢ₊₁)·v
        }
        dit.setInputs(ws, latents, positive.features());
        ws.setSchedule(times, factors);
        Backend.Fence previous = null;
        for (int i = 0; i < steps; i++) {
            if (cancel != null) cancel.check();
            ws.selectStep(i);
            dit.forwardAndUpdate(ws);
            Backend.Fence done = backend.fence();
            if (previous != null) {
                previous.await();
                if (listener != null) listener.afterStep(i - 1, null);
            }
            previous = done;
        }
        backend.download(ws.latent(), latents);
        if (listener != null) listener.afterStep(steps - 1, null);
        return latents;
    }

    /**
     * The DiT workspace for this shape, reused while the shape recurs (e.g. the images of one request, or the
     * same prompt again); allocating one is costly and graph-capturing backends record per workspace.
     */
    private DitWorkspace ditWorkspace(int latentH, int latentW, int tokens) {
        List<Integer> key = List.of(latentH, latentW, tokens);
        synchronized (ditWorkspaces) {
            DitWorkspace ws = ditWorkspaces.remove(key);
            if (ws == null) {
                while (ditWorkspaces.size() >= DIT_WORKSPACES_KEPT) {
                    var eldest = ditWorkspaces.entrySet().iterator().next();
                    ditWorkspaces.remove(eldest.getKey());
                    eldest.getValue().close();
                }
                ws = dit.allocate(latentH, latentW, tokens);
            }
            ditWorkspaces.put(key, ws);
            return ws;
        }
    }

    /** Latents → image {@code [3, H, W]} in [0, 1] (before 8-bit rounding): {@code clamp(decode(z/s + shift)/2 + 0.5, 0, 1)}. */
    public float[] decode(float[] latents, int latentH, int latentW) {
        float[] z = latents.clone();
        vae.decoder().toVaeSpace(z);
        float[] image = vae.decoder().decode(z, latentH, latentW);
        inChunks(image.length, (lo, hi) -> {
            for (int i = lo; i < hi; i++) image[i] = Math.clamp(image[i] / 2f + 0.5f, 0f, 1f);
        });
        return image;
    }

    /**
     * Image bytes (HWC RGB) → latents for img2img: {@code 2·x/255 − 1}, VAE encode, a posterior sample drawn
     * from {@code generator} (diffusers draws it before the noise, from the same generator), scaled into
     * diffusers latent space.
     */
    public float[] encodeImage(byte[] rgb, int width, int height, TorchGenerator generator) {
        float[] chw = new float[3 * width * height];
        int plane = width * height;
        for (int p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++) chw[c * plane + p] = (rgb[3 * p + c] & 0xff) / 255f * 2f - 1f;
        VaeEncoder.Posterior post = vae.encoder().encode(chw, height, width);
        return post.sample(generator.randn(1, vae.config().latentChannels(), post.latentH(), post.latentW()), vae.config());
    }

    /** {@code [3, H, W]} floats in [0, 1] → 8-bit HWC RGB, rounding half to even as numpy's {@code round} does. */
    public static byte[] toRgb8(float[] chw, int height, int width) {
        int plane = height * width;
        if (chw.length != 3 * plane) throw new IllegalArgumentException("image has " + chw.length + " values, not 3×" + height + "×" + width);
        byte[] rgb = new byte[3 * plane];
        inChunks(plane, (lo, hi) -> {
            for (int p = lo; p < hi; p++)
                for (int c = 0; c < 3; c++) rgb[3 * p + c] = (byte) (int) Math.rint(chw[c * plane + p] * 255f);
        });
        return rgb;
    }

    /** Runs {@code body(lo, hi)} over {@code [0, n)} in chunks of 2¹⁶ on the common pool: the per-pixel loops of a 1024² image take milliseconds on one core. */
    private static void inChunks(int n, java.util.function.BiConsumer<Integer, Integer> body) {
        int chunk = 1 << 16;
        java.util.stream.IntStream.range(0, (n + chunk - 1) / chunk).parallel()
                .forEach(i -> body.accept(i * chunk, Math.min(n, (i + 1) * chunk)));
    }

    /**
     * On a device-resident backend the denoising loop replays one captured graph for every step (only the step's
     * time and Euler factor change, on the device), so two steps warm what eight use: the first captures, the
     * second replays. Elsewhere every step runs the same code, which the JIT warms per call: all steps.
     */
    @Override
    public int prewarmSteps(int steps) {
        return deviceLoop() ? Math.min(steps, 2) : steps;
    }

    /** Whether denoising can run on the device (per request it also needs no guidance and no per-step latents). */
    private boolean deviceLoop() {
        return backend.deviceResident() && !options.bf16ModelInput();
    }

    /** Weights held beyond the mapping, plus the DiT and VAE workspaces currently kept. Safe to call during a generation. */
    @Override
    public long residentBytes() {
        long n = textEncoder.ownedWeightBytes() + ditWeightBytes() + vae.ownedBytes() + vae.workspaceBytes();
        synchronized (ditWorkspaces) {
            for (DitWorkspace ws : ditWorkspaces.values()) n += ws.bytes();
        }
        return n;
    }

    @Override
    public void close() {
        synchronized (ditWorkspaces) {
            for (DitWorkspace ws : ditWorkspaces.values()) ws.close();
            ditWorkspaces.clear();
        }
        vae.close();
        dit.close();
        textEncoder.close();
    }
}
