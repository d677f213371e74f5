package dev.zimage4j.modelgen;

import dev.zimage4j.dit.DitKeyMapping;
import dev.zimage4j.dit.DitShapes;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.SafetensorsWriter;
import dev.zimage4j.safetensors.TensorSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Writes a complete Z-Image pipeline directory with seeded random weights, laid out like a Hugging Face
 * download ({@code model_index.json}, {@code scheduler/}, {@code transformer/}, {@code text_encoder/},
 * {@code vae/}; no {@code tokenizer/}, as in the fixtures). Every tensor is generated while it is written
 * (see {@link SafetensorsWriter}), so the real 12 GB DiT never sits in memory. Components above
 * {@link #SHARD_BYTES} are sharded with an index, as the real download is.
 *
 * <p>With {@link DitLayout#SINGLE_FILE} the DiT is one ComfyUI-style file in {@code transformer/}
 * ({@code model.diffusion_model.} prefix, fused {@code attention.qkv}, original names) next to its
 * {@code config.json}; its values are identical to the diffusers layout for the same seed.
 */
public final class RandomModelWriter {
    /** Largest shard written (5 GB, the Hugging Face default). */
    public static final long SHARD_BYTES = 5_000_000_000L;

    /** How the DiT is written. */
    public enum DitLayout { DIFFUSERS, SINGLE_FILE }

    private RandomModelWriter() {
    }

    /**
     * Writes {@code preset} into {@code out}, which must not exist or be an empty directory.
     *
     * @param log receives one line per component written
     */
    public static void write(ModelPreset preset, Path out, DType dtype, DitLayout layout, long seed, Consumer<String> log)
            throws IOException {
        write(preset, out, dtype, layout, seed, SHARD_BYTES, log);
    }

    /** {@link #write(ModelPreset, Path, DType, DitLayout, long, Consumer)} with another shard size (tests). */
    static void write(ModelPreset preset, Path out, DType dtype, DitLayout layout, long seed, long shardBytes,
                      Consumer<String> log) throws IOException {
        if (dtype != DType.BF16 && dtype != DType.F32)
            throw new IllegalArgumentException("dtype " + dtype + " not supported for random models (bf16 or f32)");
        if (Files.exists(out)) {
            if (!Files.isDirectory(out)) throw new IOException(out + " exists and is not a directory");
            try (Stream<Path> s = Files.list(out)) {
                if (s.findAny().isPresent()) throw new IOException(out + " is not empty; give a new or empty directory");
            }
        }
        Files.createDirectories(out);
        Files.writeString(out.resolve("model_index.json"), MODEL_INDEX);
        Files.createDirectories(out.resolve("scheduler"));
        Files.writeString(out.resolve("scheduler/scheduler_config.json"), SCHEDULER_CONFIG);
        String torchDtype = dtype == DType.BF16 ? "bfloat16" : "float32";

        Path transformer = Files.createDirectories(out.resolve("transformer"));
        Files.writeString(transformer.resolve("config.json"), preset.dit().toJson());
        Map<String, long[]> dit = DitShapes.standard(preset.dit()).expected();
        timed(log, "transformer (" + layout.name().toLowerCase().replace('_', '-') + ")", () -> {
            if (layout == DitLayout.DIFFUSERS)
                write(writer(dit, seed, dtype), transformer, "diffusion_pytorch_model", shardBytes);
            else
                singleFile(dit, seed, dtype).write(transformer.resolve("z_image_turbo_" + dtype.name().toLowerCase() + ".safetensors"));
        });

        Path text = Files.createDirectories(out.resolve("text_encoder"));
        Files.writeString(text.resolve("config.json"), preset.text().configJson(torchDtype));
        timed(log, "text_encoder", () -> write(writer(preset.text().tensors(), seed, dtype), text, "model", shardBytes));

        Path vae = Files.createDirectories(out.resolve("vae"));
        Files.writeString(vae.resolve("config.json"), preset.vae().configJson());
        timed(log, "vae", () -> write(writer(preset.vae().tensors(), seed, dtype), vae, "diffusion_pytorch_model", shardBytes));
    }

    private static SafetensorsWriter writer(Map<String, long[]> tensors, long seed, DType dtype) {
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        tensors.forEach((name, shape) -> w.add(name, dtype, shape, RandomInit.source(seed, name, shape, dtype)));
        return w;
    }

    /** One file, or shards plus an index when the component is bigger than {@code shardBytes}. */
    private static void write(SafetensorsWriter w, Path dir, String base, long shardBytes) {
        if (w.dataBytes() > shardBytes) w.writeSharded(dir, base, shardBytes);
        else w.write(dir.resolve(base + ".safetensors"));
    }

    /** The DiT in the single-file layout: same values per diffusers name, q/k/v written fused. */
    private static SafetensorsWriter singleFile(Map<String, long[]> dit, long seed, DType dtype) {
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        String prefix = DitKeyMapping.SINGLE_FILE_PREFIX;
        dit.forEach((name, shape) -> {
            if (name.endsWith(".attention.to_q.weight")) {
                String block = name.substring(0, name.length() - "to_q.weight".length());
                TensorSource q = RandomInit.source(seed, block + "to_q.weight", shape, dtype);
                TensorSource k = RandomInit.source(seed, block + "to_k.weight", shape, dtype);
                TensorSource v = RandomInit.source(seed, block + "to_v.weight", shape, dtype);
                w.add(prefix + block + "qkv.weight", dtype, new long[]{3 * shape[0], shape[1]}, sink -> {
                    q.writeTo(sink);
                    k.writeTo(sink);
                    v.writeTo(sink);
                });
            } else {
                String single = DitKeyMapping.toSingleFile(name);
                if (single != null) w.add(prefix + single, dtype, shape, RandomInit.source(seed, name, shape, dtype));
            }
        });
        return w;
    }

    private interface IoAction {
        void run() throws IOException;
    }

    private static void timed(Consumer<String> log, String what, IoAction a) throws IOException {
        long t0 = System.nanoTime();
        try {
            a.run();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        log.accept(String.format("wrote %s in %.1f s", what, (System.nanoTime() - t0) / 1e9));
    }

    static final String MODEL_INDEX = """
            {
              "_class_name": "ZImagePipeline",
              "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
              "text_encoder": ["transformers", "Qwen3Model"],
              "tokenizer": ["transformers", "Qwen2Tokenizer"],
              "transformer": ["diffusers", "ZImageTransformer2DModel"],
              "vae": ["diffusers", "AutoencoderKL"]
            }
            """;

    static final String SCHEDULER_CONFIG = """
            {
              "_class_name": "FlowMatchEulerDiscreteScheduler",
              "_diffusers_version": "0.40.0.dev0",
              "base_image_seq_len": 256,
              "base_shift": 0.5,
              "invert_sigmas": false,
              "max_image_seq_len": 4096,
              "max_shift": 1.15,
              "num_train_timesteps": 1000,
              "shift": 3.0,
              "shift_terminal": null,
              "stochastic_sampling": false,
              "time_shift_type": "exponential",
              "use_beta_sigmas": false,
              "use_dynamic_shifting": false,
              "use_exponential_sigmas": false,
              "use_karras_sigmas": false
            }
            """;
}
