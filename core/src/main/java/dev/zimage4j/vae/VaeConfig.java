package dev.zimage4j.vae;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code AutoencoderKL} hyper-parameters of {@code vae/config.json} (spec §4.1).
 *
 * @param inChannels       image channels into the encoder (3)
 * @param outChannels      image channels out of the decoder (3)
 * @param latentChannels   latent channels (16)
 * @param blockOutChannels channels per resolution level, finest first ([128, 256, 512, 512]); the image
 *                         is {@code 2^(levels−1)} times the latent on each side
 * @param layersPerBlock   resnets per encoder level (the decoder has one more)
 * @param normGroups       GroupNorm groups everywhere (32)
 * @param midAttention     whether the mid blocks have their single-head self-attention
 * @param scalingFactor    decode: {@code z / scaling + shift}
 * @param shiftFactor      encode: {@code (z − shift) · scaling}
 */
public record VaeConfig(int inChannels, int outChannels, int latentChannels, int[] blockOutChannels, int layersPerBlock,
                        int normGroups, boolean midAttention, float scalingFactor, float shiftFactor) {

    /** GroupNorm eps of every norm in the VAE (hard-coded upstream). */
    public static final float NORM_EPS = 1e-6f;

    /** Z-Image-Turbo's (= FLUX.1's) VAE; also what a BFL/ComfyUI {@code ae.safetensors} implies. */
    public static final VaeConfig Z_IMAGE = new VaeConfig(3, 3, 16, new int[]{128, 256, 512, 512}, 2, 32, true, 0.3611f, 0.1159f);

    public VaeConfig {
        List<String> bad = new ArrayList<>();
        if (inChannels < 1) bad.add("in_channels " + inChannels + " must be positive");
        if (outChannels < 1) bad.add("out_channels " + outChannels + " must be positive");
        if (latentChannels < 1) bad.add("latent_channels " + latentChannels + " must be positive");
        if (blockOutChannels == null || blockOutChannels.length < 1) bad.add("block_out_channels must have at least one entry");
        else for (int c : blockOutChannels)
            if (c < 1 || normGroups < 1 || c % normGroups != 0)
                bad.add("block_out_channels entry " + c + " must be a positive multiple of norm_num_groups " + normGroups);
        if (layersPerBlock < 1) bad.add("layers_per_block " + layersPerBlock + " must be at least 1");
        if (!(scalingFactor > 0) || !Float.isFinite(scalingFactor)) bad.add("scaling_factor " + scalingFactor + " must be positive");
        if (!Float.isFinite(shiftFactor)) bad.add("shift_factor " + shiftFactor + " must be finite");
        if (!bad.isEmpty()) throw new VaeCheckpointException("invalid VAE config: " + String.join("; ", bad));
        blockOutChannels = blockOutChannels.clone();
    }

    /** Resolution levels. */
    public int levels() {
        return blockOutChannels.length;
    }

    /** Image pixels per latent cell on each side: {@code 2^(levels−1)} (8). */
    public int downFactor() {
        return 1 << (levels() - 1);
    }

    /** Width of the deepest level (the mid block). */
    public int midChannels() {
        return blockOutChannels[levels() - 1];
    }

    @Override
    public int[] blockOutChannels() {
        return blockOutChannels.clone();
    }

    /** Channels of level {@code i}. */
    public int channels(int level) {
        return blockOutChannels[level];
    }

    /**
     * Reads {@code vae/config.json}. Absent keys take diffusers' {@code AutoencoderKL} defaults where Z-Image
     * relies on none; options Z-Image does not use (quant convs, other block types) are rejected by name.
     *
     * @throws VaeCheckpointException naming the key at fault
     */
    public static VaeConfig fromJson(Path file) throws IOException {
        JsonNode j = new ObjectMapper().readTree(file.toFile());
        String where = " in " + file;
        for (String flag : new String[]{"use_quant_conv", "use_post_quant_conv"})
            if (j.path(flag).asBoolean(false)) throw new VaeCheckpointException(flag + " = true is not supported" + where + " (Z-Image's VAE has no quant convs)");
        checkTypes(j, "down_block_types", "DownEncoderBlock2D", where);
        checkTypes(j, "up_block_types", "UpDecoderBlock2D", where);
        String act = j.path("act_fn").asText("silu");
        if (!act.equals("silu")) throw new VaeCheckpointException("act_fn \"" + act + "\" is not supported" + where + " (only silu)");
        JsonNode boc = j.get("block_out_channels");
        if (boc == null || !boc.isArray()) throw new VaeCheckpointException("block_out_channels missing or not a list" + where);
        int[] channels = new int[boc.size()];
        for (int i = 0; i < channels.length; i++) channels[i] = boc.get(i).asInt();
        try {
            return new VaeConfig(j.path("in_channels").asInt(3), j.path("out_channels").asInt(3),
                    j.path("latent_channels").asInt(4), channels, j.path("layers_per_block").asInt(1),
                    j.path("norm_num_groups").asInt(32), j.path("mid_block_add_attention").asBoolean(true),
                    (float) j.path("scaling_factor").asDouble(0.18215), (float) j.path("shift_factor").asDouble(0));
        } catch (VaeCheckpointException e) {
            throw new VaeCheckpointException(e.getMessage() + where);
        }
    }

    private static void checkTypes(JsonNode j, String key, String want, String where) {
        for (JsonNode t : j.path(key))
            if (!t.asText().equals(want)) throw new VaeCheckpointException(key + " entry \"" + t.asText() + "\" is not supported" + where + " (only " + want + ")");
    }
}
