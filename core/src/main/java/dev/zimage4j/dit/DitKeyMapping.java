package dev.zimage4j.dit;

import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.TensorView;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Maps the tensors of a DiT checkpoint, in either layout, onto the diffusers names (spec §2.6), without
 * copying anything: renamed keys keep their view, the single-file's fused {@code attention.qkv.weight}
 * becomes three zero-copy row slices.
 *
 * <p>Single-file (ComfyUI / "original") rules: strip an optional {@code model.diffusion_model.} prefix;
 * {@code x_embedder.} → {@code all_x_embedder.2-1.}, {@code final_layer.} → {@code all_final_layer.2-1.};
 * {@code .attention.out.} → {@code .attention.to_out.0.}, {@code .attention.q_norm.}/{@code k_norm.} →
 * {@code .attention.norm_q.}/{@code norm_k.}; split {@code .attention.qkv.weight} into q, k, v row
 * blocks; ignore a stray {@code norm_final.weight}.
 */
public final class DitKeyMapping {
    /** The prefix ComfyUI puts on every key of a full-model single file. */
    public static final String SINGLE_FILE_PREFIX = "model.diffusion_model.";

    private DitKeyMapping() {
    }

    /** The two on-disk naming schemes. */
    public enum Layout { DIFFUSERS, SINGLE_FILE }

    /**
     * The result of mapping: tensors by diffusers name, and the problems found while mapping (a fused qkv
     * that cannot be split in three).
     */
    public record Mapped(Layout layout, Map<String, TensorView> tensors, List<String> problems) {
    }

    /** Detects the layout from the key names: any single-file-only key means single-file. */
    public static Layout detect(Iterable<String> names) {
        for (String n : names) {
            if (n.startsWith(SINGLE_FILE_PREFIX) || n.endsWith(".attention.qkv.weight") || n.startsWith("x_embedder.")
                    || n.startsWith("final_layer.") || n.equals("norm_final.weight"))
                return Layout.SINGLE_FILE;
        }
        return Layout.DIFFUSERS;
    }

    /** Maps every tensor of {@code ckpt} onto its diffusers name. */
    public static Mapped map(Checkpoint ckpt) {
        Layout layout = detect(ckpt.names());
        Map<String, TensorView> out = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (String stored : ckpt.names()) {
            TensorView t = ckpt.get(stored);
            if (layout == Layout.DIFFUSERS) {
                out.put(stored, t);
                continue;
            }
            String n = stored.startsWith(SINGLE_FILE_PREFIX) ? stored.substring(SINGLE_FILE_PREFIX.length()) : stored;
            if (n.equals("norm_final.weight")) continue; // unused by the model; diffusers drops it too
            if (n.endsWith(".attention.qkv.weight")) {
                String block = n.substring(0, n.length() - "qkv.weight".length());
                if (t.shape().length != 2 || t.shape()[0] % 3 != 0) {
                    problems.add("mis-shaped " + stored + " " + java.util.Arrays.toString(t.shape())
                            + ": a fused qkv needs [3·dim, dim]");
                    continue;
                }
                long rows = t.shape()[0] / 3;
                out.put(block + "to_q.weight", t.sliceRows(stored + "[q]", 0, rows));
                out.put(block + "to_k.weight", t.sliceRows(stored + "[k]", rows, rows));
                out.put(block + "to_v.weight", t.sliceRows(stored + "[v]", 2 * rows, rows));
                continue;
            }
            out.put(rename(n), t);
        }
        return new Mapped(layout, out, problems);
    }

    /** The diffusers name of a single-file key (prefix already stripped), for every key except the fused qkv. */
    static String rename(String n) {
        if (n.startsWith("x_embedder.")) n = "all_x_embedder.2-1." + n.substring("x_embedder.".length());
        else if (n.startsWith("final_layer.")) n = "all_final_layer.2-1." + n.substring("final_layer.".length());
        return n.replace(".attention.out.", ".attention.to_out.0.")
                .replace(".attention.q_norm.", ".attention.norm_q.")
                .replace(".attention.k_norm.", ".attention.norm_k.");
    }

    /**
     * The inverse mapping for writers: the single-file name of a diffusers key, or null for the q/k/v
     * projections (written fused as {@code attention.qkv.weight}). No prefix is added.
     */
    public static String toSingleFile(String diffusersName) {
        if (diffusersName.matches(".*\\.attention\\.to_[qkv]\\.weight")) return null;
        String n = diffusersName;
        if (n.startsWith("all_x_embedder.2-1.")) n = "x_embedder." + n.substring("all_x_embedder.2-1.".length());
        else if (n.startsWith("all_final_layer.2-1.")) n = "final_layer." + n.substring("all_final_layer.2-1.".length());
        return n.replace(".attention.to_out.0.", ".attention.out.")
                .replace(".attention.norm_q.", ".attention.q_norm.")
                .replace(".attention.norm_k.", ".attention.k_norm.");
    }
}
