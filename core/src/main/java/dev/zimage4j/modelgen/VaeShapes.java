package dev.zimage4j.modelgen;

import java.util.LinkedHashMap;
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

    /** Every tensor by name, encoder then decoder. */
    public Map<String, long[]> tensors() {
        Map<String, long[]> m = new LinkedHashMap<>();
        int levels = blockOut.length, top = blockOut[levels - 1];
        conv(m, "encoder.conv_in", blockOut[0], 3, 3);
        int in = blockOut[0];
        for (int i = 0; i < levels; i++) {
            int out = blockOut[i];
            for (int j = 0; j < layersPerBlock; j++) resnet(m, "encoder.down_blocks." + i + ".resnets." + j, j == 0 ? in : out, out);
            if (i < levels - 1) conv(m, "encoder.down_blocks." + i + ".downsamplers.0.conv", out, out, 3);
            in = out;
        }
        mid(m, "encoder.mid_block", top);
        norm(m, "encoder.conv_norm_out", top);
        conv(m, "encoder.conv_out", 2 * latent, top, 3);

        conv(m, "decoder.conv_in", top, latent, 3);
        mid(m, "decoder.mid_block", top);
        in = top;
        for (int i = 0; i < levels; i++) {
            int out = blockOut[levels - 1 - i];
            for (int j = 0; j <= layersPerBlock; j++) resnet(m, "decoder.up_blocks." + i + ".resnets." + j, j == 0 ? in : out, out);
            if (i < levels - 1) conv(m, "decoder.up_blocks." + i + ".upsamplers.0.conv", out, out, 3);
            in = out;
        }
        norm(m, "decoder.conv_norm_out", blockOut[0]);
        conv(m, "decoder.conv_out", 3, blockOut[0], 3);
        return m;
    }

    private static void conv(Map<String, long[]> m, String p, int out, int in, int k) {
        m.put(p + ".weight", new long[]{out, in, k, k});
        m.put(p + ".bias", new long[]{out});
    }

    private static void norm(Map<String, long[]> m, String p, int c) {
        m.put(p + ".weight", new long[]{c});
        m.put(p + ".bias", new long[]{c});
    }

    private static void resnet(Map<String, long[]> m, String p, int in, int out) {
        norm(m, p + ".norm1", in);
        conv(m, p + ".conv1", out, in, 3);
        norm(m, p + ".norm2", out);
        conv(m, p + ".conv2", out, out, 3);
        if (in != out) conv(m, p + ".conv_shortcut", out, in, 1);
    }

    private static void mid(Map<String, long[]> m, String p, int c) {
        resnet(m, p + ".resnets.0", c, c);
        String a = p + ".attentions.0";
        norm(m, a + ".group_norm", c);
        for (String proj : new String[]{"to_q", "to_k", "to_v", "to_out.0"}) {
            m.put(a + "." + proj + ".weight", new long[]{c, c});
            m.put(a + "." + proj + ".bias", new long[]{c});
        }
        resnet(m, p + ".resnets.1", c, c);
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
