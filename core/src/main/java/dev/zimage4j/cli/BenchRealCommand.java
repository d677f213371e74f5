package dev.zimage4j.cli;

import dev.zimage4j.dit.DitShapes;
import dev.zimage4j.dit.ZImageTransformer;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.kernels.cuda.CudaBackend;
import dev.zimage4j.modelgen.ModelPreset;
import dev.zimage4j.modelgen.Qwen3Shapes;
import dev.zimage4j.modelgen.RandomCheckpoint;
import dev.zimage4j.pipeline.GeneratedImage;
import dev.zimage4j.pipeline.GenerationRequest;
import dev.zimage4j.pipeline.PipelineOptions;
import dev.zimage4j.pipeline.ZImagePipeline;
import dev.zimage4j.text.Qwen3Config;
import dev.zimage4j.text.Qwen3TextEncoder;
import dev.zimage4j.text.Qwen3Weights;
import dev.zimage4j.vae.Vae;
import dev.zimage4j.vae.VaeConfig;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code zimage bench-real}: full txt2img generations at the REAL Z-Image-Turbo sizes (6.15 B DiT, Qwen3-4B,
 * FLUX VAE) with seeded RANDOM weights built in memory ({@link RandomCheckpoint}; no 20 GB model on disk),
 * timed per stage, warm medians beside the diffusers anchors, and the cold-start figures of one process:
 * JVM start → ready (weights resident, first size's graphs captured by a warm-up generation), the first
 * request after ready, and the first request at each new size. The images are noise; only times matter.
 */
public final class BenchRealCommand implements Command {
    /** diffusers eager / torch.compile warm full generation (s), and VAE decode (ms), by side (../shared/docs/anchors.md). */
    private static final Map<Integer, double[]> ANCHORS = Map.of(1024, new double[]{1.36, 0.93, 143.6, 86.3}, 512, new double[]{0.60, 0.28, 100.7, 21.6});
    private static final double ANCHOR_TEXT_MS = 46.9; // text encoder, prompt padded to 512 tokens

    @Override
    public String name() {
        return "bench-real";
    }

    @Override
    public String summary() {
        return "benchmark full generations at the real model sizes with random in-memory weights";
    }

    @Override
    public String usage() {
        return """
                usage: zimage bench-real [--backend cuda|cpu|auto] [--preset real|tiny] [--sizes 1024,512] [--runs N] [--steps N] [--prompt TEXT]
                  Builds the real-size model with seeded RANDOM weights in memory (~20 GB of host memory), loads it
                  on the backend, runs one warm-up generation at the first size (= ready), then per size: the first
                  request and N warm ones (default 5); prints per-stage medians beside the diffusers anchors.
                  --preset tiny uses the demo model's sizes (a quick check of the command itself).""";
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) throws Exception {
        Args args = new Args(argList, Set.of("--backend", "--sizes", "--runs", "--steps", "--prompt", "--seed", "--preset"), Set.of());
        if (!args.positional().isEmpty()) throw new UsageException("unexpected argument '" + args.positional().getFirst() + "'");
        int runs = args.getInt("--runs", 5), steps = args.getInt("--steps", 8);
        if (runs < 1) throw new UsageException("--runs must be at least 1, got " + runs);
        int[] sizes;
        try {
            sizes = Arrays.stream(args.get("--sizes", "1024,512").split(",")).mapToInt(s -> Integer.parseInt(s.strip())).toArray();
        } catch (NumberFormatException e) {
            throw new UsageException("--sizes takes comma-separated image sides, e.g. 1024,512: " + e.getMessage());
        }
        String prompt = args.get("--prompt", "a photograph of a red fox standing in fresh snow, golden hour light, shallow depth of field");
        long seed = args.getLong("--seed", 0);
        long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
        long t0 = System.nanoTime();
        out.printf("JVM start → command: %.2f s%n", (System.currentTimeMillis() - jvmStart) / 1e3);

        Backend backend = Backends.create(args.get("--backend", "auto"));
        long tBackend = System.nanoTime();
        out.printf("backend %s: %.2f s%n", backend.name(), (tBackend - t0) / 1e9);

        ModelPreset real;
        try {
            real = ModelPreset.named(args.get("--preset", "real"));
        } catch (IllegalArgumentException e) {
            throw new UsageException("--preset: " + e.getMessage());
        }
        RandomCheckpoint ditCkpt = RandomCheckpoint.create(DitShapes.standard(real.dit()).expected(), seed, "random " + real.name() + " DiT");
        RandomCheckpoint textCkpt = RandomCheckpoint.create(real.text().tensors(), seed, "random " + real.name() + " Qwen3");
        RandomCheckpoint vaeCkpt = RandomCheckpoint.create(real.vae().tensors(), seed, "random " + real.name() + " VAE");
        long tFill = System.nanoTime();
        out.printf("random weights filled in memory (stands in for mapping the files): %.2f GB in %.2f s%n",
                (ditCkpt.bytes() + textCkpt.bytes() + vaeCkpt.bytes()) / 1e9, (tFill - tBackend) / 1e9);

        Map<String, Double> load = new LinkedHashMap<>();
        Qwen3Shapes q = real.text();
        Qwen3Config qc = new Qwen3Config(q.hidden(), q.layers(), q.heads(), q.kvHeads(), q.headDim(), q.intermediate(), q.vocab(),
                q.rmsNormEps(), q.ropeTheta());
        long l0 = System.nanoTime();
        Qwen3TextEncoder text = new Qwen3TextEncoder(backend, qc, Qwen3Weights.load(textCkpt, Qwen3Weights.prefix(textCkpt), qc, backend), textCkpt);
        load.put("text encoder", (System.nanoTime() - l0) / 1e6);
        l0 = System.nanoTime();
        ZImageTransformer dit = ZImageTransformer.load(ditCkpt, real.dit(), backend);
        load.put("transformer", (System.nanoTime() - l0) / 1e6);
        l0 = System.nanoTime();
        Vae vae = Vae.load(vaeCkpt, new VaeConfig(3, 3, real.vae().latent(), real.vae().blockOut(), real.vae().layersPerBlock(),
                real.vae().groups(), true, VaeConfig.Z_IMAGE.scalingFactor(), VaeConfig.Z_IMAGE.shiftFactor()), backend);
        load.put("vae", (System.nanoTime() - l0) / 1e6);
        long tLoad = System.nanoTime();
        out.printf("weights to the backend: %.2f s %s%n", (tLoad - tFill) / 1e9, fmt(load));

        try (ZImagePipeline pipe = ZImagePipeline.of("random-real", text, dit, vae, backend, PipelineOptions.DEFAULT, load)) {
            GenerationRequest base = GenerationRequest.of(prompt, seed).withSteps(steps);
            GeneratedImage warmup = gen(pipe, base.withSize(sizes[0], sizes[0]), seed);
            long tReady = System.nanoTime();
            double readyS = (System.currentTimeMillis() - jvmStart) / 1e3, fillS = (tFill - tBackend) / 1e9;
            out.printf("warm-up generation %d² (PTX JIT + graph capture + run): %.2f s %s%n", sizes[0], (tReady - tLoad) / 1e9, fmt(warmup.stageMillis()));
            out.printf("READY: JVM start → ready %.2f s; without the random fill (which a real model replaces by mapping files) %.2f s%n",
                    readyS, readyS - fillS);
            if (backend instanceof CudaBackend cuda)
                out.printf("  PTX JIT total %.0f ms, graph capture total %.0f ms (so far)%n", cuda.totalJitMs(), cuda.totalGraphCaptureMs());

            List<String> summary = new ArrayList<>();
            long s = seed + 1;
            for (int side : sizes) {
                GenerationRequest r = base.withSize(side, side);
                long f0 = System.nanoTime();
                GeneratedImage first = gen(pipe, r, s++);
                double firstS = (System.nanoTime() - f0) / 1e9;
                out.printf("%d² first request%s: %.3f s %s%n", side, side == sizes[0] ? " after ready" : " (new size in a running process)",
                        firstS, fmt(first.stageMillis()));
                double[] totals = new double[runs];
                List<Map<String, Double>> stages = new ArrayList<>();
                for (int i = 0; i < runs; i++) {
                    long w0 = System.nanoTime();
                    GeneratedImage g = gen(pipe, r, s++);
                    totals[i] = (System.nanoTime() - w0) / 1e9;
                    stages.add(g.stageMillis());
                    out.printf("%d² warm run %d: %.3f s %s%n", side, i + 1, totals[i], fmt(g.stageMillis()));
                }
                double warm = median(totals);
                double textMs = medianOf(stages, "text"), vaeMs = medianOf(stages, "vae"), denoiseMs = medianOf(stages, "denoise");
                double[] stepMs = new double[steps];
                for (int k = 0; k < steps; k++) stepMs[k] = medianOf(stages, "step " + (k + 1));
                double[] a = steps == 8 ? ANCHORS.get(side) : null; // the anchors are 8-step figures
                String vs = a == null ? "" : String.format("  (diffusers eager %.2f s: %.2f×; torch.compile %.2f s: %.2f×)", a[0], warm / a[0], a[1], warm / a[1]);
                summary.add(String.format("%d² %d-step txt2img warm median %.3f s%s", side, steps, warm, vs));
                summary.add(String.format("  text encoder %.1f ms (%d tokens; diffusers %.1f ms at 512 padded tokens)", textMs, tokens(pipe, prompt), ANCHOR_TEXT_MS));
                summary.add(String.format("  DiT steps (ms, medians): %s; mean %.1f ms/step%s", fmtSteps(stepMs), denoiseMs / steps,
                        a == null ? "" : String.format(" (diffusers DiT forward %.1f ms: %.2f×)", a[2], denoiseMs / steps / a[2])));
                summary.add(String.format("  VAE decode %.1f ms%s", vaeMs, a == null ? "" : String.format(" (diffusers %.1f ms: %.2f×)", a[3], vaeMs / a[3])));
                summary.add(String.format("  first request %s: %.3f s = %.2f× warm", side == sizes[0] ? "after ready" : "at this new size", firstS, firstS / warm));
            }
            out.println();
            out.println("=== summary (RANDOM weights, preset " + real.name() + "; backend " + backend.name() + ")");
            out.printf("JVM start → ready (%d² graphs captured): %.2f s, of which random fill %.2f s (a real model maps its files instead)%n",
                    sizes[0], readyS, fillS);
            summary.forEach(out::println);
            if (backend instanceof CudaBackend cuda)
                out.printf("PTX JIT total %.0f ms, graph capture total %.0f ms%n", cuda.totalJitMs(), cuda.totalGraphCaptureMs());
        } finally {
            backend.close();
        }
        return 0;
    }

    private static int tokens(ZImagePipeline pipe, String prompt) {
        return pipe.encodePrompt(prompt).tokens();
    }

    private static GeneratedImage gen(ZImagePipeline pipe, GenerationRequest r, long seed) {
        GenerationRequest q = new GenerationRequest(r.prompt(), r.negativePrompt(), r.width(), r.height(), r.steps(), r.guidance(),
                seed, 1, null, r.strength());
        return pipe.generate(q, null, null).getFirst();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double medianOf(List<Map<String, Double>> stages, String key) {
        return median(stages.stream().mapToDouble(m -> m.getOrDefault(key, Double.NaN)).toArray());
    }

    private static String fmtSteps(double[] ms) {
        StringBuilder b = new StringBuilder();
        for (double m : ms) b.append(b.isEmpty() ? "" : " ").append(String.format("%.1f", m));
        return b.toString();
    }

    private static String fmt(Map<String, Double> ms) {
        StringBuilder b = new StringBuilder("[");
        ms.forEach((k, v) -> b.append(b.length() == 1 ? "" : ", ").append(k).append(' ').append(String.format("%.1f", v)).append(" ms"));
        return b.append(']').toString();
    }
}
