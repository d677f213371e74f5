package dev.zimage4j.modelgen;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shapes of a Qwen3 text encoder checkpoint (spec §3.3, keys prefixed {@code model.}) and its
 * {@code config.json}, for writing random models.
 *
 * @param hidden        hidden_size
 * @param layers        num_hidden_layers
 * @param heads         num_attention_heads
 * @param kvHeads       num_key_value_heads
 * @param headDim       head_dim (independent of hidden / heads)
 * @param intermediate  intermediate_size (SwiGLU)
 * @param vocab         vocab_size (embedding rows)
 * @param ropeTheta     rope_theta
 * @param rmsNormEps    rms_norm_eps
 */
public record Qwen3Shapes(int hidden, int layers, int heads, int kvHeads, int headDim, int intermediate, int vocab,
                          double ropeTheta, double rmsNormEps) {

    /** Qwen3-4B as shipped with Z-Image-Turbo. */
    public static final Qwen3Shapes QWEN3_4B = new Qwen3Shapes(2560, 36, 32, 8, 128, 9728, 151936, 1_000_000.0, 1e-6);

    /** Every tensor by name, in checkpoint order. */
    public Map<String, long[]> tensors() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", new long[]{vocab, hidden});
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "input_layernorm.weight", new long[]{hidden});
            m.put(p + "self_attn.q_proj.weight", new long[]{(long) heads * headDim, hidden});
            m.put(p + "self_attn.k_proj.weight", new long[]{(long) kvHeads * headDim, hidden});
            m.put(p + "self_attn.v_proj.weight", new long[]{(long) kvHeads * headDim, hidden});
            m.put(p + "self_attn.o_proj.weight", new long[]{hidden, (long) heads * headDim});
            m.put(p + "self_attn.q_norm.weight", new long[]{headDim});
            m.put(p + "self_attn.k_norm.weight", new long[]{headDim});
            m.put(p + "post_attention_layernorm.weight", new long[]{hidden});
            m.put(p + "mlp.gate_proj.weight", new long[]{intermediate, hidden});
            m.put(p + "mlp.up_proj.weight", new long[]{intermediate, hidden});
            m.put(p + "mlp.down_proj.weight", new long[]{hidden, intermediate});
        }
        m.put("model.norm.weight", new long[]{hidden});
        return m;
    }

    /** {@code text_encoder/config.json} in the layout of the real Qwen3-4B file ({@code rope_theta} at top level). */
    public String configJson(String torchDtype) {
        return """
                {
                  "architectures": ["Qwen3ForCausalLM"],
                  "attention_bias": false,
                  "attention_dropout": 0.0,
                  "bos_token_id": 151643,
                  "eos_token_id": 151645,
                  "head_dim": %d,
                  "hidden_act": "silu",
                  "hidden_size": %d,
                  "initializer_range": 0.02,
                  "intermediate_size": %d,
                  "max_position_embeddings": 40960,
                  "max_window_layers": %d,
                  "model_type": "qwen3",
                  "num_attention_heads": %d,
                  "num_hidden_layers": %d,
                  "num_key_value_heads": %d,
                  "rms_norm_eps": %s,
                  "rope_scaling": null,
                  "rope_theta": %s,
                  "sliding_window": null,
                  "tie_word_embeddings": true,
                  "torch_dtype": "%s",
                  "use_cache": true,
                  "use_sliding_window": false,
                  "vocab_size": %d
                }
                """.formatted(headDim, hidden, intermediate, layers, heads, layers, kvHeads, Double.toString(rmsNormEps),
                Double.toString(ropeTheta), torchDtype, vocab);
    }
}
