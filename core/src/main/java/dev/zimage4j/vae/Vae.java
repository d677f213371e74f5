package dev.zimage4j.vae;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.Safetensors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A loaded VAE: its configuration, prepared weights (views of the mapped checkpoint) and the decoder and
 * encoder that run them. Owns the checkpoint mapping; closing it frees everything.
 */
public final class Vae implements AutoCloseable {
    private final VaeConfig config;
    private final VaeWeights weights;
    private final Backend backend;
    private final Checkpoint checkpoint;
    private final VaeDecoder decoder;
    private final VaeEncoder encoder;

    private Vae(VaeConfig config, VaeWeights weights, Backend backend, Checkpoint checkpoint) {
        this.config = config;
        this.weights = weights;
        this.backend = backend;
        this.checkpoint = checkpoint;
        this.decoder = new VaeDecoder(backend, config, weights.decoder());
        this.encoder = weights.encoder() == null ? null : new VaeEncoder(backend, config, weights.encoder());
    }

    /**
     * Loads a diffusers {@code vae/} directory ({@code config.json} + safetensors) or a single BFL/ComfyUI
     * {@code ae.safetensors} file (which implies {@link VaeConfig#Z_IMAGE}).
     *
     * @throws VaeCheckpointException listing what does not match
     */
    public static Vae load(Path path, Backend backend) throws IOException {
        if (Files.isDirectory(path)) {
            Path cfg = path.resolve("config.json");
            if (!Files.isRegularFile(cfg)) throw new VaeCheckpointException(path + " has no config.json (expected a diffusers vae/ folder)");
            VaeConfig config = VaeConfig.fromJson(cfg); // before mapping the weights, so a bad config leaks no mapping
            return load(Safetensors.open(path), config, backend);
        }
        return load(Safetensors.open(path), VaeConfig.Z_IMAGE, backend);
    }

    /** Validates and prepares an open checkpoint; it is closed with the VAE (also when loading fails). */
    public static Vae load(Checkpoint checkpoint, VaeConfig config, Backend backend) {
        try {
            return new Vae(config, VaeWeights.load(checkpoint, config, backend), backend, checkpoint);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    public VaeConfig config() {
        return config;
    }

    public VaeDecoder decoder() {
        return decoder;
    }

    /** Whether the checkpoint had encoder weights (needed for img2img). */
    public boolean hasEncoder() {
        return encoder != null;
    }

    /**
     * The encoder.
     *
     * @throws IllegalStateException if the checkpoint held a decoder only
     */
    public VaeEncoder encoder() {
        if (encoder == null) throw new IllegalStateException("this VAE checkpoint (" + checkpoint.source() + ") has no encoder weights; img2img needs them");
        return encoder;
    }

    /** Bytes the prepared weights hold beyond the mapping. */
    public long ownedBytes() {
        long n = 0;
        for (Weight w : weights.all()) n += w.ownedBytes();
        return n;
    }

    /** Bytes of the decoder's and encoder's cached workspaces. */
    public long workspaceBytes() {
        return decoder.workspaceBytes() + (encoder == null ? 0 : encoder.workspaceBytes());
    }

    @Override
    public void close() {
        decoder.close();
        if (encoder != null) encoder.close();
        for (Weight w : weights.all()) backend.release(w);
        checkpoint.close();
    }
}
