package dev.zimage4j.bench;

import dev.zimage4j.dit.DitConfig;
import dev.zimage4j.dit.DitWorkspace;
import dev.zimage4j.dit.TokenLayout;
import dev.zimage4j.dit.ZImageTransformer;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.kernels.Weight;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One DiT forward per requested image size on a backend: seconds, achieved GFLOP/s (FLOPs counted as in
 * spec §6) and memory (peak RSS, anonymous vs file-backed resident memory, bytes the backend owns beyond the
 * mapped checkpoint). Inputs are seeded random; the model is typically {@code make-random-model --preset real}.
 *
 * <pre>
 * java … dev.zimage4j.bench.DitForwardBenchmark --model DIR [--sizes 256,512] [--caption-tokens 100] [--runs 1] [--backend cpu]
 * </pre>
 */
public final class DitForwardBenchmark {
    private DitForwardBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path model = null;
        List<Integer> sizes = List.of(256, 512);
        int capLen = 100, runs = 1;
        String backendName = "cpu";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> model = Path.of(args[++i]);
                case "--sizes" -> {
                    List<Integer> s = new ArrayList<>();
                    for (String x : args[++i].split(",")) s.add(Integer.parseInt(x.trim()));
                    sizes = s;
                }
                case "--caption-tokens" -> capLen = Integer.parseInt(args[++i]);
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--backend" -> backendName = args[++i];
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; usage: --model DIR [--sizes 256,512] [--caption-tokens N] [--runs N] [--backend cpu]");
            }
        }
        if (model == null) throw new IllegalArgumentException("--model DIR is required (e.g. from zimage make-random-model --preset real)");

        try (Backend backend = Backends.create(backendName)) {
            long t0 = System.nanoTime();
            try (ZImageTransformer dit = ZImageTransformer.load(model, backend)) {
                double loadS = (System.nanoTime() - t0) / 1e9;
                long owned = 0;
                for (Weight w : dit.weights().all()) owned += w.ownedBytes();
                System.out.printf("backend %s, %d threads available; load %.2f s; weights owned beyond the mapping: %d bytes%n",
                        backend.name(), Runtime.getRuntime().availableProcessors(), loadS, owned);
                System.out.println(memory("after load"));
                for (int size : sizes) {
                    if (size % 16 != 0) throw new IllegalArgumentException("size " + size + " is not a multiple of 16");
                    int hl = size / 8;
                    TokenLayout l = new TokenLayout(hl, hl, dit.config().patchSize(), capLen);
                    double flops = flops(dit.config(), dit.weights().shapes().adaLnWidth(), l);
                    SplittableRandom rng = new SplittableRandom(size);
                    float[] latent = gaussian(rng, dit.config().inChannels() * hl * hl);
                    float[] caption = gaussian(rng, capLen * dit.config().capFeatDim());
                    float[] out = new float[latent.length];
                    try (DitWorkspace ws = dit.allocate(hl, hl, capLen)) {
                        for (int r = 0; r < runs; r++) {
                            long s0 = System.nanoTime();
                            dit.forward(ws, latent, 0.5f, caption, out);
                            double sec = (System.nanoTime() - s0) / 1e9;
                            System.out.printf("%d²: %d image + %d caption tokens (S = %d), run %d: %.2f s, %.2f TFLOP, %.1f GFLOP/s; workspace %.0f MB%n",
                                    size, l.imageTokens(), l.paddedCaptionTokens(), l.sequence(), r + 1, sec, flops / 1e12,
                                    flops / sec / 1e9, ws.bytes() / 1e6);
                        }
                    }
                    System.out.println(memory("after " + size + "²"));
                }
            }
        }
    }

    /** FLOPs of one forward, multiply-add = 2 (spec §6), including embedders, adaLN and the final layer. */
    static double flops(DitConfig c, int ada, TokenLayout l) {
        double d = c.dim(), f = c.ffnHidden();
        int np = l.paddedImageTokens(), lcp = l.paddedCaptionTokens(), s = l.sequence();
        double total = 0;
        total += c.nRefinerLayers() * (block(np, d, f) + 2 * ada * 4 * d);
        total += c.nRefinerLayers() * block(lcp, d, f);
        total += c.nLayers() * (block(s, d, f) + 2 * ada * 4 * d);
        total += 2.0 * l.imageTokens() * c.patchVector() * d + 2.0 * l.capLen() * c.capFeatDim() * d;
        total += 2.0 * l.imageTokens() * d * c.patchVector() + 2 * ada * d;
        return total;
    }

    private static double block(int s, double d, double f) {
        return 2.0 * s * (4 * d * d + 3 * d * f) + 4.0 * s * s * d;
    }

    private static float[] gaussian(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** VmHWM (peak RSS), RssAnon (heap, activations, copies) and RssFile (mapped checkpoint pages) of this process. */
    static String memory(String when) throws IOException {
        StringBuilder sb = new StringBuilder("memory " + when + ":");
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM") || line.startsWith("RssAnon") || line.startsWith("RssFile"))
                sb.append(' ').append(line.replaceAll("\\s+", " "));
        }
        return sb.toString();
    }
}
