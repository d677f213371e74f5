package dev.zimage4j.cli;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.pipeline.CancellationToken;
import dev.zimage4j.pipeline.DemoModel;
import dev.zimage4j.pipeline.GeneratedImage;
import dev.zimage4j.pipeline.GenerationRequest;
import dev.zimage4j.pipeline.ModelFiles;
import dev.zimage4j.pipeline.PipelineOptions;
import dev.zimage4j.pipeline.ProgressListener;
import dev.zimage4j.pipeline.ZImagePipeline;
import dev.zimage4j.png.PngImage;
import dev.zimage4j.png.PngReader;
import dev.zimage4j.png.PngWriter;
import dev.zimage4j.server.LocalClient;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** {@code zimage generate}: one prompt → PNG file(s), with progress and a per-stage timing summary. */
public final class GenerateCommand implements Command {
    /** Side of demo-model images when none is given: the demo weights are random, so keep it quick. */
    static final int DEMO_DEFAULT_SIZE = 256;

    @Override
    public String name() {
        return "generate";
    }

    @Override
    public String summary() {
        return "generate an image from a prompt and write it as PNG";
    }

    @Override
    public String usage() {
        return """
                usage: zimage generate -p PROMPT [--model DIR|FILE …] [--seed N] [--steps N] [--width W] [--height H]
                                       [--guidance G] [--negative TEXT] [--image IN.png [--strength S]] [--count N]
                                       [-o OUT.png] [--backend cpu|cuda|auto] [--daemon | --no-daemon]
                  -p, --prompt   the text prompt
                  --model        a Hugging Face Z-Image download (diffusers layout: the directory with model_index.json)
                                 or the three ComfyUI files (--model DIT.safetensors --model qwen_3_4b.safetensors
                                 --model ae.safetensors); without it the built-in demo model (random weights) is used
                  --seed         seed of the initial noise (default: random, printed); image i of --count uses seed+i.
                                 Same seed, same image as diffusers with torch.Generator("cpu").manual_seed(seed)
                  --steps        denoising steps (default 8, Z-Image-Turbo's)
                  --width, --height  image size, multiples of 16 (default 1024; demo model 256; with --image: its size)
                  --guidance     classifier-free guidance g (default 0 = off, Turbo's); pred = pos + g·(pos − neg)
                  --negative     negative prompt for guidance (default "")
                  --image        img2img: start from this PNG (same size as the output)
                  --strength     img2img strength in (0, 1] (default 0.6): how much of the schedule is re-run
                  --count        images to generate (default 1); files OUT-1.png, OUT-2.png, …
                  -o, --output   output file (default zimage-SEED.png)
                  --backend      compute backend (default auto: CUDA when usable, else CPU); runs in this process
                  --daemon       generate on the local background server, starting one if none runs (warm next time)
                  --no-daemon    always generate in this process, even when a local server runs
                Without --backend or --no-daemon, a running local server (zimage serve, zimage daemon) that serves the
                model generates the image: same result, warm.""";
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) throws Exception {
        Args args = new Args(argList, Set.of("-p", "--prompt", "--model", "--seed", "--steps", "--width", "--height", "--guidance",
                "--negative", "--image", "--strength", "--count", "-o", "--output", "--backend"), Set.of("--daemon", "--no-daemon"));
        if (!args.positional().isEmpty()) throw new UsageException("unexpected argument '" + args.positional().getFirst()
                + "' (quote the prompt and pass it with -p)");
        String prompt = args.get("--prompt", args.get("-p", null));
        if (prompt == null || prompt.isBlank()) throw new UsageException("a prompt is required: -p \"a red fox in the snow\"");
        long seed = args.get("--seed", null) != null ? args.getLong("--seed", 0) : new SecureRandom().nextLong(1L << 53);
        int steps = args.getInt("--steps", 8);
        double guidance = args.getDouble("--guidance", 0.0);
        double strength = args.getDouble("--strength", 0.6);
        int count = args.getInt("--count", 1);
        String negative = args.get("--negative", "");
        String output = args.get("--output", args.get("-o", "zimage-" + seed + ".png"));

        List<Path> model = args.all("--model").stream().map(Path::of).toList();
        boolean demo = model.isEmpty();
        ModelFiles files;
        if (demo) {
            Path dir = DemoModel.ensure(err::println);
            err.println("no --model given: using the built-in demo model (tiny random weights from " + dir
                    + "); its images are noise — pass --model with real Z-Image-Turbo weights for real images");
            files = ModelFiles.resolve(List.of(dir));
        } else {
            files = ModelFiles.resolve(model);
        }

        byte[] init = null;
        int defaultSize = demo ? DEMO_DEFAULT_SIZE : 1024;
        int width = args.getInt("--width", defaultSize), height = args.getInt("--height", defaultSize);
        String imageArg = args.get("--image", null);
        if (imageArg != null) {
            PngImage in = PngReader.read(Path.of(imageArg));
            if (args.get("--width", null) == null) width = in.width();
            if (args.get("--height", null) == null) height = in.height();
            if (in.width() != width || in.height() != height)
                throw new UsageException("--image is " + in.width() + "×" + in.height() + " but the output is " + width + "×" + height
                        + "; resize the input or drop --width/--height");
            init = in.rgb();
        } else if (args.get("--strength", null) != null) {
            throw new UsageException("--strength needs --image");
        }
        GenerationRequest request = new GenerationRequest(prompt, negative, width, height, steps, guidance, seed, count, init, strength)
                .validate();

        // a running local server (zimage serve / zimage daemon) generates the same images warm; --daemon starts one
        if (!args.flag("--no-daemon") && args.get("--backend", null) == null) {
            Optional<List<byte[]>> pngs = LocalClient.tryGenerate(request, model, args.flag("--daemon"), err);
            if (pngs.isPresent()) {
                for (int i = 0; i < pngs.get().size(); i++) {
                    Path file = outputFile(Path.of(output), i, pngs.get().size());
                    if (file.getParent() != null) Files.createDirectories(file.getParent());
                    Files.write(file, pngs.get().get(i));
                    out.println("wrote " + file + " (seed " + (seed + i) + ", " + width + "×" + height + ", by the local server)");
                }
                return 0;
            }
        }
        try (Backend backend = Backends.create(args.get("--backend", "auto"));
             ZImagePipeline pipeline = ZImagePipeline.load(files, backend, PipelineOptions.DEFAULT)) {
            out.println("model " + pipeline.modelId() + " on " + backend.name() + "; load " + formatStages(pipeline.loadMillis()));
            Progress progress = new Progress(err, count, isTerminal(err));
            List<GeneratedImage> images = pipeline.generate(request, progress, new CancellationToken());
            progress.done();
            for (int i = 0; i < images.size(); i++) {
                GeneratedImage img = images.get(i);
                Path file = outputFile(Path.of(output), i, images.size());
                if (file.getParent() != null) Files.createDirectories(file.getParent());
                Files.write(file, new PngWriter().encode(img.width(), img.height(), img.rgb(), metadata(img, pipeline.modelId())));
                out.println("image " + (i + 1) + "/" + images.size() + " seed " + img.seed() + ": " + formatStages(img.stageMillis()));
                out.println("wrote " + file + " (" + img.width() + "×" + img.height() + ")");
            }
        }
        return 0;
    }

    /** The PNG text chunks recorded with every image (also by the server, so its files match the CLI's). */
    public static Map<String, String> metadata(GeneratedImage img, String modelId) {
        GenerationRequest r = img.request();
        Map<String, String> m = new LinkedHashMap<>();
        m.put("prompt", r.prompt());
        if (!r.negativePrompt().isEmpty()) m.put("negative_prompt", r.negativePrompt());
        m.put("seed", Long.toString(img.seed()));
        m.put("steps", Integer.toString(r.steps()));
        m.put("guidance", Double.toString(r.guidance()));
        m.put("size", img.width() + "x" + img.height());
        if (r.initImage() != null) m.put("strength", Double.toString(r.strength()));
        m.put("model", modelId);
        m.put("Software", "zimage4j " + VersionCommand.version());
        return m;
    }

    static Path outputFile(Path output, int index, int count) {
        if (count == 1) return output;
        String name = output.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String numbered = dot > 0 ? name.substring(0, dot) + "-" + (index + 1) + name.substring(dot) : name + "-" + (index + 1);
        return output.resolveSibling(numbered);
    }

    static String formatStages(Map<String, Double> ms) {
        List<String> parts = new ArrayList<>();
        for (var e : ms.entrySet()) parts.add(e.getKey() + " " + formatMillis(e.getValue()));
        return String.join(", ", parts);
    }

    private static String formatMillis(double ms) {
        return ms >= 1000 ? String.format(Locale.ROOT, "%.2f s", ms / 1000) : String.format(Locale.ROOT, "%.0f ms", ms);
    }

    private static boolean isTerminal(PrintStream err) {
        return err == System.err && System.console() != null && System.console().isTerminal();
    }

    /** A progress bar redrawn in place on a terminal; one plain line per step otherwise. */
    private static final class Progress implements ProgressListener {
        private final PrintStream err;
        private final int images;
        private final boolean terminal;
        private final long start = System.nanoTime();

        Progress(PrintStream err, int images, boolean terminal) {
            this.err = err;
            this.images = images;
            this.terminal = terminal;
        }

        @Override
        public void onStep(int image, int step, int steps) {
            String which = images > 1 ? "image " + (image + 1) + "/" + images + " " : "";
            double secs = (System.nanoTime() - start) / 1e9;
            if (terminal) {
                int width = 30, filled = step * width / steps;
                err.printf(Locale.ROOT, "\r%s[%s%s] step %d/%d  %.1f s", which, "#".repeat(filled), ".".repeat(width - filled), step, steps, secs);
                if (step == steps) err.println();
                err.flush();
            } else {
                err.printf(Locale.ROOT, "%sstep %d/%d (%.1f s)%n", which, step, steps, secs);
            }
        }

        void done() {
            err.flush();
        }
    }
}
