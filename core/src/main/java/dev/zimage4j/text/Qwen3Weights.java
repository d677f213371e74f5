package dev.zimage4j.text;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.TensorView;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The text encoder's parameters (spec §3.3), prepared by a {@link Backend} from the memory-mapped
 * checkpoint (the CPU backend computes from the mapped bytes: nothing is copied). Only what
 * hidden_states[−2] needs is loaded: the embedding and layers {@code 0 .. numLayers−2}; the last layer
 * and the final norm are never touched.
 *
 * @param embedTokens {@code embed_tokens.weight} [vocab, hidden]
 * @param layers      the {@link Qwen3Config#layersUsed()} decoder layers, in order
 */
public record Qwen3Weights(Weight embedTokens, List<Layer> layers) {

    /** One decoder layer, named as in the checkpoint under {@code layers.i.}. */
    public record Layer(Weight inputLayernorm,
                        Weight qProj, Weight kProj, Weight vProj, Weight oProj, Weight qNorm, Weight kNorm,
                        Weight postAttentionLayernorm,
                        Weight gateProj, Weight upProj, Weight downProj) {
        List<Weight> all() {
            return List.of(inputLayernorm, qProj, kProj, vProj, oProj, qNorm, kNorm, postAttentionLayernorm, gateProj, upProj, downProj);
        }
    }

    /**
     * The key prefix in front of {@code embed_tokens.weight}: {@code "model."} in the Hugging Face
     * {@code text_encoder/} and ComfyUI files, {@code ""} for bare keys, or any longer wrapper prefix.
     *
     * @throws TextEncoderCheckpointException if there is no such tensor or several
     */
    public static String prefix(Checkpoint ckpt) {
        List<String> found = ckpt.names().stream().filter(n -> n.equals("embed_tokens.weight") || n.endsWith(".embed_tokens.weight")).toList();
        if (found.size() != 1)
            throw new TextEncoderCheckpointException(ckpt.source(), List.of(found.isEmpty()
                    ? "no embed_tokens.weight tensor (expected model.embed_tokens.weight): not a Qwen3 text encoder"
                    : "several embed_tokens.weight tensors " + found + ": cannot tell which model to load"));
        String n = found.getFirst();
        return n.substring(0, n.length() - "embed_tokens.weight".length());
    }

    /**
     * Checks every needed tensor's presence, shape and dtype against {@code config} (all problems
     * reported together), then prepares them with {@code backend}. A {@code NAME.scale_weight} scalar next
     * to a weight (ComfyUI's scaled-F8 files) becomes the weight's scale.
     */
    public static Qwen3Weights load(Checkpoint ckpt, String prefix, Qwen3Config config, Backend backend) {
        int h = config.hiddenSize(), hd = config.headDim(), q = config.numHeads() * hd, kv = config.numKvHeads() * hd, f = config.intermediateSize();
        List<String> problems = new ArrayList<>();
        Loader l = new Loader(ckpt, prefix, problems);
        TensorView embed = l.get("embed_tokens.weight", config.vocabSize(), h);
        List<TensorView[]> layerViews = new ArrayList<>();
        for (int i = 0; i < config.layersUsed(); i++) {
            String p = "layers." + i + ".";
            layerViews.add(new TensorView[]{
                    l.get(p + "input_layernorm.weight", h),
                    l.get(p + "self_attn.q_proj.weight", q, h),
                    l.get(p + "self_attn.k_proj.weight", kv, h),
                    l.get(p + "self_attn.v_proj.weight", kv, h),
                    l.get(p + "self_attn.o_proj.weight", h, q),
                    l.get(p + "self_attn.q_norm.weight", hd),
                    l.get(p + "self_attn.k_norm.weight", hd),
                    l.get(p + "post_attention_layernorm.weight", h),
                    l.get(p + "mlp.gate_proj.weight", f, h),
                    l.get(p + "mlp.up_proj.weight", f, h),
                    l.get(p + "mlp.down_proj.weight", h, f)});
        }
        if (!problems.isEmpty()) throw new TextEncoderCheckpointException(ckpt.source(), problems);

        List<Weight> prepared = new ArrayList<>();
        try {
            Weight embedW = l.prepare(backend, embed, prepared);
            List<Layer> layers = new ArrayList<>();
            for (TensorView[] v : layerViews) {
                Weight[] w = new Weight[v.length];
                for (int j = 0; j < v.length; j++) w[j] = l.prepare(backend, v[j], prepared);
                layers.add(new Layer(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10]));
            }
            return new Qwen3Weights(embedW, List.copyOf(layers));
        } catch (RuntimeException e) {
            prepared.forEach(backend::release);
            throw e;
        }
    }

    /** Releases every prepared weight (backend-owned memory); the mapped checkpoint is not touched. */
    public void release(Backend backend) {
        backend.release(embedTokens);
        for (Layer layer : layers) layer.all().forEach(backend::release);
    }

    /** Bytes the backend holds beyond the mapped checkpoint (converted norm vectors on the CPU). */
    public long ownedBytes() {
        long n = embedTokens.ownedBytes();
        for (Layer layer : layers) for (Weight w : layer.all()) n += w.ownedBytes();
        return n;
    }

    /** Looks tensors up by name under a prefix, collecting problems instead of stopping at the first. */
    private record Loader(Checkpoint ckpt, String prefix, List<String> problems) {
        TensorView get(String name, long... shape) {
            String full = prefix + name;
            Optional<TensorView> t = ckpt.find(full);
            if (t.isEmpty()) {
                problems.add("missing " + full + " " + Arrays.toString(shape));
                return null;
            }
            TensorView v = t.get();
            if (!Arrays.equals(v.shape(), shape))
                problems.add(full + " has shape " + Arrays.toString(v.shape()) + ", expected " + Arrays.toString(shape));
            else if (!v.dtype().isFloat())
                problems.add(full + " has dtype " + v.dtype() + ", expected a floating-point type");
            return v;
        }

        Weight prepare(Backend backend, TensorView v, List<Weight> prepared) {
            float scale = 1f;
            String base = v.name().endsWith(".weight") ? v.name().substring(0, v.name().length() - ".weight".length()) : v.name();
            Optional<TensorView> s = ckpt.find(base + ".scale_weight");
            if (s.isPresent()) {
                if (s.get().numel() != 1)
                    throw new TextEncoderCheckpointException(ckpt.source(), List.of(s.get().name() + " has shape "
                            + Arrays.toString(s.get().shape()) + ", expected a single per-tensor scale"));
                scale = s.get().getFloat(0);
            }
            Weight w = backend.weight(v, scale);
            prepared.add(w);
            return w;
        }
    }
}
