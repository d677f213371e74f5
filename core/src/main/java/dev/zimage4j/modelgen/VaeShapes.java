package dev.zimage4j.modelgen;

import dev.zimage4j.vae.VaeConfig;
import dev.zimage4j.vae.VaeWeights;

import java.util.Map;

/**
 * The shapes of a diffusers {@code AutoencoderKL} checkpoint (spec §4.4, encoder and decoder) and its
 * {@code config.json}, for writing random models. A resnet has a 1×1 {@code conv_shortcut} (with bias)
 * exactly when its input and output channels differ.
 *
 * @param blockOut       block_out_channels, top level first
 * @param layersPerBlock resnets per encoder level (the decoder has one more)
 * @param groups         norm_num_groups
 * @param latent         latent_channels
 * @param sampleSize     sample_size (advisory)
 */
public record VaeShapes(int[] blockOut, int layersPerBlock, int groups, int latent, int sampleSize) {

    /** The FLUX-style VAE of Z-Image-Turbo. */
    public static final VaeShapes FLUX = new VaeShapes(new int[]{128, 256, 512, 512}, 2, 32, 16, 1024);

    /** Every tensor by name, encoder then decoder: the table the loader validates against. */
    public Map<String, long[]> tensors() {
        return VaeWeights.expectedShapes(config());
    }

    /** The loader's view of these shapes (Z-Image's scaling and shift factors, mid attention on, as {@link #configJson}). */
    public VaeConfig config() {
        return new VaeConfig(3, 3, latent, blockOut, layersPerBlock, groups, true, 0.3611f, 0.1159f);
    }

    /** {@code vae/config.json} as diffusers writes it (Z-Image's scaling and shift factors). */
    public String configJson() {
        StringBuilder ch = new StringBuilder(), down = new StringBuilder(), up = new StringBuilder();
        for (int i = 0; i < blockOut.length; i++) {
            String sep = i == 0 ? "" : ", ";
            ch.append(sep).append(blockOut[i]);
            down.append(sep).append("\"DownEncoderBlock2D\"");
            up.append(sep).append("\"UpDecoderBlock2D\"");
        }
        return """
                {
                  "_class_name": "AutoencoderKL",
                  "_diffusers_version": "0.40.0.dev0",
                  "act_fn": "silu",
                  "block_out_channels": [%s],
                  "down_block_types": [%s],
                  "force_upcast": true,
                  "in_channels": 3,
                  "latent_channels": %d,
                  "latents_mean": null,
                  "latents_std": null,
                  "layers_per_block": %d,
                  "mid_block_add_attention": true,
                  "norm_num_groups": %d,
                  "out_channels": 3,
                  "sample_size": %d,
                  "scaling_factor": 0.3611,
                  "shift_factor": 0.1159,
                  "up_block_types": [%s],
                  "use_post_quant_conv": false,
                  "use_quant_conv": false
                }
                """.formatted(ch, down, latent, layersPerBlock, groups, sampleSize, up);
    }
}
