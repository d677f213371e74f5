package dev.zimage4j.bench;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.kernels.cuda.CudaBackend;
import dev.zimage4j.modelgen.RandomInit;
import dev.zimage4j.modelgen.VaeShapes;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.SafetensorsWriter;
import dev.zimage4j.vae.Vae;
import dev.zimage4j.vae.VaeConfig;
import dev.zimage4j.vae.VaeWorkspace;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * VAE decode (and optionally encode) benchmark at the real FLUX / Z-Image size (plain main, not part of the
 * test run):
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp 'bench/target/dist/lib/*' \
 *      dev.zimage4j.bench.VaeBench --vae DIR [--sizes 512,1024] [--repeat 2] [--encode] [--backend cpu] [--profile]
 * </pre>
 * When {@code DIR} has no {@code config.json}, random bf16 weights with the FLUX VAE's shapes (168 MB) are
 * written there first. For each image size: the workspace is allocated once (its size printed), then the
 * first decode (JIT, page faults) and the best and mean of the repeats are timed; the achieved rate is the
 * decoder's arithmetic (convolutions and the mid attention, counted from the config) over the best time.
 * With {@code --profile} on the CUDA backend, one more decode per size runs eagerly with every kernel timed
 * ({@link CudaBackend#startProfile}) and the per-kernel table is printed.
 */
public final class VaeBench {
    private VaeBench() {
    }

    public static void main(String[] argv) throws Exception {
        Path dir = null;
        int[] sizes = {512, 1024};
        int repeat = 2;
        boolean encode = false, profile = false;
        String backendName = "cpu";
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--vae" -> dir = Path.of(argv[++i]);
                case "--sizes" -> sizes = Arrays.stream(argv[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--repeat" -> repeat = Integer.parseInt(argv[++i]);
                case "--encode" -> encode = true;
                case "--profile" -> profile = true;
                case "--backend" -> backendName = argv[++i];
                default -> throw new IllegalArgumentException("unknown argument " + argv[i] + "; see the class Javadoc");
            }
        }
        if (dir == null) throw new IllegalArgumentException("--vae DIR is required");
        if (!Files.exists(dir.resolve("config.json"))) {
            long t0 = System.nanoTime();
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), VaeShapes.FLUX.configJson());
            SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
            VaeShapes.FLUX.tensors().forEach((name, shape) -> w.add(name, DType.BF16, shape, RandomInit.source(7, name, shape, DType.BF16)));
            w.write(dir.resolve("diffusion_pytorch_model.safetensors"));
            System.out.printf("wrote random FLUX-shaped VAE (bf16) to %s in %.1f s%n", dir, (System.nanoTime() - t0) / 1e9);
        }
        try (Backend backend = Backends.create(backendName); Vae vae = Vae.load(dir, backend)) {
            VaeConfig c = vae.config();
            System.out.printf("backend %s, %d cores; VAE %s, %d resnets/level, groups %d%n", backend.name(),
                    Runtime.getRuntime().availableProcessors(), Arrays.toString(c.blockOutChannels()), c.layersPerBlock(), c.normGroups());
            SplittableRandom rnd = new SplittableRandom(1);
            for (int size : sizes) {
                int h = size / c.downFactor();
                float[] z = new float[c.latentChannels() * h * h];
                for (int i = 0; i < z.length; i++) z[i] = (float) rnd.nextGaussian();
                float[] out = new float[3 * size * size];
                double gflop = decoderFlops(c, h, h) / 1e9;
                try (VaeWorkspace ws = vae.decoder().allocate(h, h)) {
                    report("decode", size, ws.bytes(), gflop, repeat, () -> vae.decoder().decode(ws, z, out));
                    if (profile && backend instanceof CudaBackend cuda) {
                        cuda.startProfile();
                        long t0 = System.nanoTime();
                        vae.decoder().decode(ws, z, out);
                        System.out.printf("per-kernel GPU times, one eager (profiled, no graph) decode at %d², wall %.1f ms:%n%s", size,
                                (System.nanoTime() - t0) / 1e6, cuda.profileReport());
                    }
                }
                if (encode && vae.hasEncoder()) {
                    float[] img = new float[3 * size * size];
                    for (int i = 0; i < img.length; i++) img[i] = (float) (rnd.nextDouble() * 2 - 1);
                    try (VaeWorkspace ws = vae.encoder().allocate(size, size)) {
                        report("encode", size, ws.bytes(), Double.NaN, repeat, () -> vae.encoder().encode(ws, img));
                    }
                }
            }
        }
    }

    private static void report(String what, int size, long bytes, double gflop, int repeat, Runnable run) {
        long t0 = System.nanoTime();
        run.run();
        double first = (System.nanoTime() - t0) / 1e9, best = Double.MAX_VALUE, sum = 0;
        for (int r = 0; r < repeat; r++) {
            long t = System.nanoTime();
            run.run();
            double s = (System.nanoTime() - t) / 1e9;
            best = Math.min(best, s);
            sum += s;
        }
        System.out.printf("%s %d×%d: workspace %.2f GiB, first %.2f s, best %.2f s, mean %.2f s over %d%s%n", what, size, size,
                bytes / (double) (1L << 30), first, best, sum / Math.max(1, repeat), repeat,
                Double.isNaN(gflop) ? "" : String.format(", %.0f GFLOP → %.1f GFLOP/s", gflop, gflop / best));
    }

    /** Multiply-adds ×2 of the decoder's convolutions and mid attention at latent {@code h × w}. */
    static double decoderFlops(VaeConfig c, int h, int w) {
        int levels = c.levels(), mid = c.midChannels();
        double f = conv(c.latentChannels(), mid, 3, h, w);
        f += 2 * resnet(mid, mid, h, w);
        long s = (long) h * w;
        if (c.midAttention()) f += 4 * 2.0 * s * mid * mid + 4.0 * s * s * mid;
        int prev = mid;
        for (int i = 0; i < levels; i++) {
            int ch = c.channels(levels - 1 - i);
            for (int j = 0; j <= c.layersPerBlock(); j++) f += resnet(j == 0 ? prev : ch, ch, h, w);
            if (i < levels - 1) {
                h *= 2;
                w *= 2;
                f += conv(ch, ch, 3, h, w);
            }
            prev = ch;
        }
        return f + conv(c.channels(0), c.outChannels(), 3, h, w);
    }

    private static double resnet(int in, int out, int h, int w) {
        return conv(in, out, 3, h, w) + conv(out, out, 3, h, w) + (in != out ? conv(in, out, 1, h, w) : 0);
    }

    private static double conv(int in, int out, int k, int h, int w) {
        return 2.0 * in * out * k * k * h * w;
    }
}
