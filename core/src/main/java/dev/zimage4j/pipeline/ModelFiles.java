package dev.zimage4j.pipeline;

import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.Safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SortedSet;

/**
 * Where the parts of one Z-Image model are on disk.
 *
 * <p>Two layouts are accepted:
 * <ul>
 *   <li>a Hugging Face download in the diffusers layout: one directory with {@code model_index.json},
 *       {@code transformer/}, {@code text_encoder/}, {@code vae/}, {@code scheduler/} and optionally
 *       {@code tokenizer/};</li>
 *   <li>the ComfyUI trio: the DiT as one file (e.g. {@code z_image_turbo_bf16.safetensors}), the text encoder
 *       {@code qwen_3_4b.safetensors} and the VAE {@code ae.safetensors}, given in any order and told apart
 *       by their tensor names; the scheduler is Turbo's and the tokenizer the bundled Qwen3 one. A
 *       {@code config.json} of the matching kind lying next to a file is used as its configuration; without one
 *       the DiT and text-encoder configurations are inferred from the tensor shapes and the VAE is taken to be
 *       Z-Image's (FLUX.1's).</li>
 * </ul>
 *
 * @param id              the model id reported to clients (directory or DiT file name)
 * @param transformer     DiT checkpoint: a directory (one file or a sharded index) or a file
 * @param transformerConfig the DiT's {@code config.json}, or null to infer it from the tensor shapes
 * @param textEncoder     text-encoder directory or file
 * @param textEncoderConfig its {@code config.json}, or null (a directory's own, or inferred for a file)
 * @param vae             VAE directory or BFL/ComfyUI file
 * @param vaeConfig       its {@code config.json}, or null for Z-Image's VAE
 * @param schedulerConfig {@code scheduler_config.json}, or null for Z-Image-Turbo's scheduler
 * @param tokenizerRoot   model directory whose {@code tokenizer/tokenizer.json} to use, or null for the bundled one
 */
public record ModelFiles(String id, Path transformer, Path transformerConfig, Path textEncoder, Path textEncoderConfig,
                         Path vae, Path vaeConfig, Path schedulerConfig, Path tokenizerRoot) {

    /**
     * Resolves what the user gave: one diffusers directory, or the three ComfyUI files.
     *
     * @throws ModelLoadException saying what is missing or unrecognised
     */
    public static ModelFiles resolve(List<Path> paths) {
        if (paths.isEmpty()) throw new ModelLoadException("no model given: pass a diffusers directory or the three ComfyUI files");
        if (paths.size() == 1 && Files.isDirectory(paths.getFirst())) return diffusers(paths.getFirst());
        Path dit = null, text = null, vae = null;
        for (Path p : paths) {
            if (Files.isDirectory(p))
                throw new ModelLoadException(p + " is a directory; give either one diffusers directory or the three ComfyUI files");
            if (!Files.isRegularFile(p)) throw new ModelLoadException(p + ": no such file");
            Kind k = classify(p);
            switch (k) {
                case DIT -> dit = unique(dit, p, k);
                case TEXT -> text = unique(text, p, k);
                case VAE -> vae = unique(vae, p, k);
            }
        }
        if (dit == null || text == null || vae == null)
            throw new ModelLoadException("the ComfyUI layout needs three files; missing: "
                    + String.join(", ", List.of(dit == null ? "the DiT (e.g. z_image_turbo_bf16.safetensors)" : "",
                    text == null ? "the text encoder (qwen_3_4b.safetensors)" : "", vae == null ? "the VAE (ae.safetensors)" : "")
                    .stream().filter(s -> !s.isEmpty()).toList()));
        String id = dit.getFileName().toString().replaceFirst("\\.safetensors$", "");
        return new ModelFiles(id, dit, sidecar(dit, Kind.DIT), text, sidecar(text, Kind.TEXT), vae, sidecar(vae, Kind.VAE), null, null);
    }

    private static ModelFiles diffusers(Path dir) {
        if (!Files.isRegularFile(dir.resolve("model_index.json")))
            throw new ModelLoadException(dir + " has no model_index.json: give a Hugging Face (diffusers layout) Z-Image "
                    + "directory, or the three ComfyUI files (DiT, qwen_3_4b.safetensors, ae.safetensors)");
        for (String part : new String[]{"transformer", "text_encoder", "vae"})
            if (!Files.isDirectory(dir.resolve(part))) throw new ModelLoadException(dir + " has no " + part + "/ folder");
        Path sched = dir.resolve("scheduler").resolve("scheduler_config.json");
        Path name = dir.toAbsolutePath().normalize().getFileName();
        return new ModelFiles(name == null ? dir.toString() : name.toString(),
                dir.resolve("transformer"), existing(dir.resolve("transformer").resolve("config.json")),
                dir.resolve("text_encoder"), existing(dir.resolve("text_encoder").resolve("config.json")),
                dir.resolve("vae"), existing(dir.resolve("vae").resolve("config.json")),
                existing(sched), dir);
    }

    private static Path existing(Path p) {
        return Files.isRegularFile(p) ? p : null;
    }

    /** A {@code config.json} next to {@code file} that describes a component of kind {@code k}, or null. */
    private static Path sidecar(Path file, Kind k) {
        Path dir = file.toAbsolutePath().getParent();
        Path cfg = dir == null ? null : existing(dir.resolve("config.json"));
        if (cfg == null) return null;
        try {
            JsonNode j = new ObjectMapper().readTree(cfg.toFile());
            boolean fits = switch (k) {
                case DIT -> j.path("_class_name").asText().equals("ZImageTransformer2DModel");
                case VAE -> j.path("_class_name").asText().equals("AutoencoderKL");
                case TEXT -> j.path("model_type").asText().equals("qwen3");
            };
            return fits ? cfg : null;
        } catch (IOException e) {
            return null; // not a JSON config of ours: ignore it, as if absent
        }
    }

    private enum Kind { DIT, TEXT, VAE }

    private static Path unique(Path seen, Path p, Kind k) {
        if (seen != null) throw new ModelLoadException("two " + k.name().toLowerCase().replace("text", "text-encoder") + " files given: " + seen + " and " + p);
        return p;
    }

    /** Tells a DiT, a Qwen3 text encoder and a VAE checkpoint apart by their tensor names (header only). */
    private static Kind classify(Path p) {
        try (Checkpoint c = Safetensors.open(p)) {
            SortedSet<String> names = c.names();
            for (String n : names) {
                if (n.contains("noise_refiner.") || n.contains("context_refiner.") || n.endsWith("x_pad_token")) return Kind.DIT;
                if (n.contains("self_attn.q_proj") || n.endsWith("embed_tokens.weight")) return Kind.TEXT;
                if (n.matches("^(first_stage_model\\.|vae\\.)?decoder\\.conv_in\\.weight$")) return Kind.VAE;
            }
        } catch (RuntimeException e) {
            throw new ModelLoadException(p + " is not a readable safetensors file: " + e.getMessage(), e);
        }
        throw new ModelLoadException(p + " holds neither a Z-Image DiT, a Qwen3 text encoder nor a VAE (by its tensor names)");
    }
}
