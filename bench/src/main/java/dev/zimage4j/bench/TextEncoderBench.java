package dev.zimage4j.bench;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.Safetensors;
import dev.zimage4j.safetensors.SafetensorsWriter;
import dev.zimage4j.text.Qwen3Config;
import dev.zimage4j.text.Qwen3TextEncoder;
import dev.zimage4j.text.Qwen3Weights;
import dev.zimage4j.tokenizer.PromptEncoder;
import dev.zimage4j.tokenizer.QwenTokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Text-encoder prefill benchmark at the real Qwen3-4B size (plain main, not part of the test run):
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx2g -cp 'bench/target/dist/lib/*' \
 *      dev.zimage4j.bench.TextEncoderBench --model DIR [--write] [--tokens 32,512] [--layers N] [--repeat R] [--backend cpu]
 * </pre>
 * {@code --write} first writes random bf16 weights with Qwen3-4B's shapes and config into {@code DIR}
 * (streamed, ≈ 8 GB, sharded like the real download) unless a config.json is already there.
 * {@code --layers N} runs only the first N of the 35 layers hidden_states[−2] needs; the printed
 * full-model time is then an extrapolation (×35/N) and is labelled as such. Prints per token count the
 * first-call time (page faults, JIT) and the best and mean of the repeats, the achieved GFLOP/s, and at
 * the end the peak RSS split into anonymous (heap: copies would show here) and file-backed (the mapped
 * checkpoint) memory.
 */
public final class TextEncoderBench {
    private TextEncoderBench() {
    }

    public static void main(String[] argv) throws Exception {
        Path model = null;
        boolean write = false;
        int[] tokenCounts = {32, 512};
        int layers = -1, repeat = 3;
        String backendName = "cpu";
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--model" -> model = Path.of(argv[++i]);
                case "--write" -> write = true;
                case "--tokens" -> tokenCounts = Arrays.stream(argv[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--layers" -> layers = Integer.parseInt(argv[++i]);
                case "--repeat" -> repeat = Integer.parseInt(argv[++i]);
                case "--backend" -> backendName = argv[++i];
                default -> throw new IllegalArgumentException("unknown argument " + argv[i] + "; see the class Javadoc");
            }
        }
        if (model == null) throw new IllegalArgumentException("--model DIR is required");
        if (write && !Files.exists(model.resolve("config.json"))) {
            long t0 = System.nanoTime();
            RandomQwen3.write(model, RandomQwen3.QWEN3_4B, 1234);
            System.out.printf("wrote random Qwen3-4B text encoder (bf16) to %s in %.1f s%n", model, (System.nanoTime() - t0) / 1e9);
        }

        Qwen3Config full = Qwen3Config.load(model.resolve("config.json"));
        boolean partial = layers > 0 && layers < full.layersUsed();
        Qwen3Config config = partial ? new Qwen3Config(full.hiddenSize(), layers + 1, full.numHeads(), full.numKvHeads(), full.headDim(),
                full.intermediateSize(), full.vocabSize(), full.rmsNormEps(), full.ropeTheta()) : full;
        PromptEncoder prompts = new PromptEncoder(QwenTokenizer.bundled());
        System.out.printf("model %s: hidden %d, %d layers (%d used by Z-Image), heads %d/%d × %d, FFN %d; running %d layer%s%s%n",
                model, full.hiddenSize(), full.numLayers(), full.layersUsed(), full.numHeads(), full.numKvHeads(), full.headDim(),
                full.intermediateSize(), config.layersUsed(), config.layersUsed() == 1 ? "" : "s",
                partial ? " — FULL-MODEL TIMES BELOW ARE EXTRAPOLATED ×" + full.layersUsed() + "/" + layers : "");

        try (Backend backend = Backends.create(backendName); Checkpoint ckpt = Safetensors.open(model)) {
            long t0 = System.nanoTime();
            Qwen3Weights weights = Qwen3Weights.load(ckpt, Qwen3Weights.prefix(ckpt), config, backend);
            System.out.printf("backend %s, %d threads; weights prepared in %.2f s, backend-owned weight bytes %d (matrices stay mapped)%n",
                    backend.name(), Runtime.getRuntime().availableProcessors(), (System.nanoTime() - t0) / 1e9, weights.ownedBytes());
            try (Qwen3TextEncoder encoder = new Qwen3TextEncoder(backend, config, weights, null)) {
                for (int n : tokenCounts) {
                    int[] ids = promptOfLength(prompts, n);
                    double flop = flops(config, n);
                    long f0 = System.nanoTime();
                    encoder.encode(ids);
                    double first = (System.nanoTime() - f0) / 1e9;
                    double best = Double.MAX_VALUE, sum = 0, cpu = 0;
                    for (int r = 0; r < repeat; r++) {
                        long c0 = processCpuNanos(), s0 = System.nanoTime();
                        float[] out = encoder.encode(ids);
                        double s = (System.nanoTime() - s0) / 1e9;
                        cpu += (processCpuNanos() - c0) / 1e9;
                        best = Math.min(best, s);
                        sum += s;
                        if (!Float.isFinite(out[out.length - 1])) System.out.println("  warning: non-finite output");
                    }
                    double scale = (double) full.layersUsed() / config.layersUsed();
                    System.out.printf("%4d tokens, %d layer%s (%.2f TFLOP): first %.2f s, best %.2f s, mean %.2f s of %d → %.1f GFLOP/s wall, "
                                    + "%.1f GFLOP per process CPU-second (%.2f CPU-s per run)%s%n",
                            n, config.layersUsed(), config.layersUsed() == 1 ? "" : "s", flop / 1e12, first, best, sum / repeat, repeat,
                            flop / best / 1e9, flop * repeat / cpu / 1e9, cpu / repeat,
                            partial ? String.format("; EXTRAPOLATED full %d-layer prefill ≈ %.1f s (best × %.2f)", full.layersUsed(), best * scale, scale) : "");
                    System.out.println("  " + memory());
                }
            }
        }
    }

    /** The ids of a Z-Image prompt whose templated form has exactly {@code n} tokens (the 512 case is truncated). */
    static int[] promptOfLength(PromptEncoder prompts, int n) {
        String[] words = "a red fox in the snow 35mm photo golden hour lighthouse at dusk with waves and gulls over the rocky shore".split(" ");
        StringBuilder p = new StringBuilder();
        int i = 0;
        while (prompts.encode(p.toString()).length() < n) p.append(i == 0 ? "" : " ").append(words[i++ % words.length]);
        int[] ids = prompts.encode(p.toString()).ids();
        return Arrays.copyOf(ids, Math.min(n, ids.length));
    }

    /** Multiply-adds × 2 of {@code layersUsed} layers on n tokens: projections, MLP and causal attention. */
    static double flops(Qwen3Config c, int n) {
        double h = c.hiddenSize(), q = c.numHeads() * c.headDim(), kv = c.numKvHeads() * c.headDim(), f = c.intermediateSize();
        double linear = 2.0 * n * (h * q + 2 * h * kv + q * h + 3 * h * f);
        double attention = 2.0 * c.numHeads() * c.headDim() * (double) n * (n + 1); // q·k and p·v over the causal half
        return c.layersUsed() * (linear + attention);
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Peak and current RSS from /proc/self/status, anonymous vs file-backed. */
    static String memory() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) return "memory: /proc/self/status not available";
        List<String> keep = new ArrayList<>();
        for (String line : Files.readAllLines(status))
            for (String k : new String[]{"VmHWM", "VmRSS", "RssAnon", "RssFile"})
                if (line.startsWith(k + ":")) keep.add(line.replaceAll("\\s+", " "));
        return "memory: " + String.join(", ", keep) + " (VmHWM = peak RSS; RssFile = touched pages of the mapped checkpoint, RssAnon = heap and other private memory)";
    }

    /** Random bf16 weights with Qwen3 shapes, streamed to disk (never held in memory). */
    static final class RandomQwen3 {
        record Shapes(int hidden, int layers, int heads, int kvHeads, int headDim, int inter, int vocab) {
        }

        static final Shapes QWEN3_4B = new Shapes(2560, 36, 32, 8, 128, 9728, 151936);

        static void write(Path dir, Shapes s, long seed) throws IOException {
            Files.createDirectories(dir);
            SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
            tensor(w, "model.embed_tokens.weight", seed, 0.02f, s.vocab(), s.hidden());
            for (int i = 0; i < s.layers(); i++) {
                String p = "model.layers." + i + ".";
                ones(w, p + "input_layernorm.weight", s.hidden());
                tensor(w, p + "self_attn.q_proj.weight", seed, 0.02f, s.heads() * s.headDim(), s.hidden());
                tensor(w, p + "self_attn.k_proj.weight", seed, 0.02f, s.kvHeads() * s.headDim(), s.hidden());
                tensor(w, p + "self_attn.v_proj.weight", seed, 0.02f, s.kvHeads() * s.headDim(), s.hidden());
                tensor(w, p + "self_attn.o_proj.weight", seed, 0.02f, s.hidden(), s.heads() * s.headDim());
                ones(w, p + "self_attn.q_norm.weight", s.headDim());
                ones(w, p + "self_attn.k_norm.weight", s.headDim());
                ones(w, p + "post_attention_layernorm.weight", s.hidden());
                tensor(w, p + "mlp.gate_proj.weight", seed, 0.02f, s.inter(), s.hidden());
                tensor(w, p + "mlp.up_proj.weight", seed, 0.02f, s.inter(), s.hidden());
                tensor(w, p + "mlp.down_proj.weight", seed, 0.02f, s.hidden(), s.inter());
            }
            ones(w, "model.norm.weight", s.hidden());
            w.writeSharded(dir, "model", 4_000_000_000L);
            Files.writeString(dir.resolve("config.json"), """
                    {
                      "architectures": ["Qwen3ForCausalLM"],
                      "attention_bias": false,
                      "head_dim": %d,
                      "hidden_act": "silu",
                      "hidden_size": %d,
                      "intermediate_size": %d,
                      "max_position_embeddings": 40960,
                      "model_type": "qwen3",
                      "num_attention_heads": %d,
                      "num_hidden_layers": %d,
                      "num_key_value_heads": %d,
                      "rms_norm_eps": 1e-06,
                      "rope_scaling": null,
                      "rope_theta": 1000000,
                      "tie_word_embeddings": true,
                      "torch_dtype": "bfloat16",
                      "vocab_size": %d
                    }
                    """.formatted(s.headDim(), s.hidden(), s.inter(), s.heads(), s.layers(), s.kvHeads(), s.vocab()));
        }

        /** Uniform values of standard deviation {@code std}, generated in 64 Ki chunks. */
        private static void tensor(SafetensorsWriter w, String name, long seed, float std, long rows, long cols) {
            w.add(name, DType.BF16, new long[]{rows, cols}, sink -> {
                SplittableRandom r = new SplittableRandom(seed ^ name.hashCode());
                float a = (float) (std * Math.sqrt(3)) / (1 << 23);
                float[] chunk = new float[1 << 16];
                for (long left = rows * cols; left > 0; left -= chunk.length) {
                    int n = (int) Math.min(chunk.length, left);
                    for (int i = 0; i < n; i++) chunk[i] = ((int) r.nextLong() >> 8) * a;
                    sink.putFloats(DType.BF16, chunk, 0, n);
                }
            });
        }

        private static void ones(SafetensorsWriter w, String name, int n) {
            float[] v = new float[n];
            Arrays.fill(v, 1f);
            w.addFloats(name, DType.BF16, new long[]{n}, v);
        }
    }
}
