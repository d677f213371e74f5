package dev.zimage4j.vae;

import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.TensorView;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Maps the tensors of a VAE checkpoint onto diffusers' {@code AutoencoderKL} names (spec §4.4), zero-copy.
 *
 * <p>BFL / ComfyUI {@code ae.safetensors} rules: {@code *.mid.block_1|2} → {@code *.mid_block.resnets.0|1};
 * {@code *.mid.attn_1.norm|q|k|v|proj_out} → {@code *.mid_block.attentions.0.group_norm|to_q|to_k|to_v|to_out.0}
 * (q/k/v/proj_out weights are 1×1 convs {@code [C, C, 1, 1]}: the unit axes are dropped);
 * {@code decoder.up.{L−1−i}.block.j} → {@code decoder.up_blocks.i.resnets.j} (index <b>reversed</b>: BFL's
 * {@code up.3} runs first), {@code decoder.up.{L−1−i}.upsample.conv} → {@code decoder.up_blocks.i.upsamplers.0.conv};
 * {@code encoder.down.i.block.j} → {@code encoder.down_blocks.i.resnets.j}, {@code encoder.down.i.downsample.conv}
 * → {@code encoder.down_blocks.i.downsamplers.0.conv}; {@code nin_shortcut} → {@code conv_shortcut};
 * {@code *.norm_out} → {@code *.conv_norm_out}. Older diffusers attention names ({@code query, key, value,
 * proj_attn}) and a {@code first_stage_model.} or {@code vae.} prefix are accepted too.
 */
public final class VaeKeyMapping {
    private VaeKeyMapping() {
    }

    private static final Pattern UP = Pattern.compile("^decoder\\.up\\.(\\d+)\\.(block|upsample)\\.(.*)$");
    private static final Pattern DOWN = Pattern.compile("^encoder\\.down\\.(\\d+)\\.(block|downsample)\\.(.*)$");
    private static final Pattern ATTN = Pattern.compile("^(encoder|decoder)\\.mid\\.attn_1\\.(norm|q|k|v|proj_out)\\.(weight|bias)$");

    /** Every tensor of {@code ckpt} under its diffusers name; {@code levels} is needed to reverse BFL's up index. */
    public static Map<String, TensorView> map(Checkpoint ckpt, int levels) {
        Map<String, TensorView> out = new LinkedHashMap<>();
        for (String stored : ckpt.names()) {
            TensorView t = ckpt.get(stored);
            String name = toDiffusers(stripPrefix(stored), levels);
            if (isLinear(name) && t.shape().length == 4 && t.shape()[2] == 1 && t.shape()[3] == 1)
                t = t.reshape(t.shape()[0], t.shape()[1]); // BFL 1×1 conv → Linear
            out.put(name, t);
        }
        return out;
    }

    private static String stripPrefix(String k) {
        for (String p : new String[]{"first_stage_model.", "vae."}) if (k.startsWith(p)) return k.substring(p.length());
        return k;
    }

    private static boolean isLinear(String diffusersName) {
        return diffusersName.matches(".*\\.attentions\\.0\\.(to_q|to_k|to_v|to_out\\.0)\\.weight");
    }

    /** The diffusers name of one (prefix-free) key; diffusers names come back unchanged. */
    static String toDiffusers(String k, int levels) {
        Matcher m = ATTN.matcher(k);
        if (m.matches()) {
            String part = switch (m.group(2)) {
                case "norm" -> "group_norm";
                case "q" -> "to_q";
                case "k" -> "to_k";
                case "v" -> "to_v";
                default -> "to_out.0";
            };
            return m.group(1) + ".mid_block.attentions.0." + part + "." + m.group(3);
        }
        k = k.replace(".mid.block_1.", ".mid_block.resnets.0.").replace(".mid.block_2.", ".mid_block.resnets.1.")
                .replace(".nin_shortcut.", ".conv_shortcut.")
                .replace("encoder.norm_out.", "encoder.conv_norm_out.").replace("decoder.norm_out.", "decoder.conv_norm_out.")
                .replace(".attentions.0.query.", ".attentions.0.to_q.").replace(".attentions.0.key.", ".attentions.0.to_k.")
                .replace(".attentions.0.value.", ".attentions.0.to_v.").replace(".attentions.0.proj_attn.", ".attentions.0.to_out.0.");
        m = UP.matcher(k);
        if (m.matches()) {
            int i = levels - 1 - Integer.parseInt(m.group(1));
            return m.group(2).equals("block")
                    ? "decoder.up_blocks." + i + ".resnets." + m.group(3)
                    : "decoder.up_blocks." + i + ".upsamplers.0." + m.group(3);
        }
        m = DOWN.matcher(k);
        if (m.matches()) {
            return m.group(2).equals("block")
                    ? "encoder.down_blocks." + m.group(1) + ".resnets." + m.group(3)
                    : "encoder.down_blocks." + m.group(1) + ".downsamplers.0." + m.group(3);
        }
        return k;
    }
}
